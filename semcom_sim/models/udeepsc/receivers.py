"""Task models for the conventional schemes of the four U-DeepSC decision tasks.

The papers' conventional baselines (JPEG/H.264 + LDPC, UTF-8 + Turbo, PCM + LDPC) rebuild the
source and then need a task model to classify it. So that conventional and learned schemes are
judged by the same back end, that model is the task's T-DeepSC run **noiselessly** on the
reconstructed data: exactly the ``upper-bound`` scheme, fed with what the conventional link
delivered instead of the original. With error-free delivery the conventional scheme therefore
scores what the upper bound scores; every loss it shows comes from the link and the codec.

The T-DeepSC needs a nominal SNR for its keep ratio and certainty modules (the features cross no
channel here): :data:`NOMINAL_SNR_DB`, the top of the paper's training range, with the
checkpoint's exit threshold. Registered in :data:`semcom_sim.baselines.receivers.TASK_RECEIVERS`
for ``image-classification``, ``sentiment``, ``vqa`` and ``video-sentiment``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch

from semcom_sim.baselines.receivers import TASK_RECEIVERS
from semcom_sim.baselines.separation import OUTPUTS
from semcom_sim.channel import AWGN
from semcom_sim.models.udeepsc.adapters import MODEL_TASK
from semcom_sim.models.udeepsc.schemes import PREDICTIONS, DeepSCScheme, checkpoint_name

NOMINAL_SNR_DB = 12.0
DECISION_TASKS = ("image-classification", "sentiment", "vqa", "video-sentiment")


class DeepSCTaskReceiver:
    """``{field: reconstruction}`` of one batch -> predictions of the task's noiseless T-DeepSC.

    Args:
        task: sweep task name (one of :data:`DECISION_TASKS`).
        device: torch device of the model.
    """

    def __init__(self, task: str, device: str | torch.device = "cpu") -> None:
        self.task = task
        self.model_task = MODEL_TASK[task]
        self.name = f"{checkpoint_name('upper-bound', self.model_task)} (noiseless)"
        self._scheme = DeepSCScheme("upper-bound", device=device)
        # loads the checkpoint now, so a bad one fails when the sweep prepares the task
        self._scheme.prepare(SimpleNamespace(name=task), torch.device(device))
        self._channel = AWGN()

    def identity(self) -> dict:
        """What determines this receiver's predictions: its checkpoint and nominal SNR."""
        ident = self._scheme.identity(SimpleNamespace(name=self.task))
        ident.pop("implementation", None)  # symbol accounting: not part of the predictions
        if PREDICTIONS > 1:  # (version 1 keys are those written before the counter existed)
            ident["predictions"] = PREDICTIONS
        return ident | {"nominal_snr_db": NOMINAL_SNR_DB}

    def __call__(self, received: dict[str, Any]) -> Any:
        """Predictions for ``received`` (a copy of the earlier ones when every envelope member
        or SNR point delivered the same reconstructions: the model is deterministic here)."""
        fields = sorted(received)
        values = [received[f] for f in fields]
        return OUTPUTS.run((self,), tuple(fields), values, lambda: self._predict(received))

    def _predict(self, received: dict[str, Any]) -> Any:
        n = _batch_size(received)
        snr = torch.full((n,), NOMINAL_SNR_DB)
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            pred, _ = self._scheme.forward(received, self._channel, snr, gen)
        return pred


def _batch_size(received: dict[str, Any]) -> int:
    first = next(iter(received.values()))
    return int(first.shape[0]) if isinstance(first, torch.Tensor) else len(first)


def _factory(task: str):
    def make(device: str = "cpu", **_: Any) -> DeepSCTaskReceiver:
        return DeepSCTaskReceiver(task, device=device)

    return make


for _task in DECISION_TASKS:
    TASK_RECEIVERS.register(_task, f"noiseless T-DeepSC ({MODEL_TASK[_task]}) on the rebuilt data")(
        _factory(_task)
    )
