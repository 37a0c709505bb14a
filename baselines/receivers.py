"""Where decision tasks get their task models (components from the learned-model code).

The conventional schemes of decision tasks run a task model on the reconstructed data. The model
comes from elsewhere (a trained checkpoint), so a task's model is *registered* here by task name
and built when a sweep prepares that task; until one is registered the schemes report that they
do not apply to the task (``supports() is False``) instead of failing.

    from semcom_sim.baselines.receivers import TASK_RECEIVERS, ModelReceiver
    @TASK_RECEIVERS.register("image-classification", "ViT classifier on JPEG reconstructions")
    def _classifier(device="cpu"):
        return ModelReceiver(load_classifier(device), inputs=("image",))

``FEATURE_SPLITS`` does the same for split inference (FFMNet's separate baseline): a factory
returns ``(extractor, head)``, the device-side and the server-side halves of the task network.
Components can also be passed directly to :func:`semcom_sim.baselines.families.family_scheme`.
"""

from __future__ import annotations

from semcom_sim.baselines.separation import ModelReceiver, Receiver
from semcom_sim.registry import Registry

TASK_RECEIVERS: Registry = Registry("task receiver")
FEATURE_SPLITS: Registry = Registry("feature split")

__all__ = ["FEATURE_SPLITS", "TASK_RECEIVERS", "ModelReceiver", "Receiver"]
