"""The six U-DeepSC tasks and their input/target contract (plain tensors).

=====  ==========================  =====================================  ==========================
task   inputs (keyword arguments)  target                                 output
=====  ==========================  =====================================  ==========================
imgc   image  float [B,3,H,W] 0..1  int64 [B] in [0, 10)                   logits [B, 10]
imgr   image  float [B,3,H,W] 0..1  the image itself [B,3,H,W]             recon [B,3,H,W] in (0,1)
textr  text   int64 [B,L]           the token ids [B,L] (pads ignored)     logits [B, L, vocab]
textc  text   int64 [B,L]           int64 [B] in {0 negative, 1 positive}  logits [B, 2]
vqa    image [B,3,H,W] + text [B,L]  int64 [B] answer id, or float [B,A]    logits [B, A]
                                    soft answer scores (VQAv2 style)
msa    video float [B,T,3,H,W] 0..1  int64 [B] in {0 negative, 1 positive} logits [B, 2]
       + text [B,L] + audio [B,S]   (binary sentiment, MOSI "Acc-2")
=====  ==========================  =====================================  ==========================

Text is token ids (``pad_id`` marks padding, default 0; tokenising is the data layer's job),
``L <= text_max_len``. Audio is float in [-1, 1], ``S <= speech_max_frames * frame_len`` samples
(zero-padded to whole frames; all examples of a batch have the same length). Video has
``T <= video_max_frames`` frames; each frame is patched like an image and the frames' patch
features are concatenated into one image-modality sequence (Sec. II-B1).

MSA reading: the paper reports classification accuracy with cross-entropy for video sentiment
analysis, so ``msa`` is binary classification (``num_classes["msa"] = 2``); a 7-class variant is a
config change.
"""

from __future__ import annotations

from dataclasses import dataclass

from semcom_sim.errors import UnknownNameError

MODALITIES: tuple[str, ...] = ("image", "text", "speech")


@dataclass(frozen=True)
class TaskSpec:
    """What a task consumes and produces.

    Attributes:
        modalities: transmitters the task uses, in the order their features are concatenated at
            the receiver (``U^en = [U^I, U^T, U^S]``).
        kind: ``"classification"``, ``"image_reconstruction"`` or ``"text_reconstruction"``.
        image_input: keyword holding the image-modality input (``"image"`` or ``"video"``).
    """

    modalities: tuple[str, ...]
    kind: str
    image_input: str = "image"

    @property
    def is_classification(self) -> bool:
        return self.kind == "classification"


TASKS: dict[str, TaskSpec] = {
    "imgc": TaskSpec(("image",), "classification"),
    "imgr": TaskSpec(("image",), "image_reconstruction"),
    "textr": TaskSpec(("text",), "text_reconstruction"),
    "textc": TaskSpec(("text",), "classification"),
    "vqa": TaskSpec(("image", "text"), "classification"),
    "msa": TaskSpec(("image", "text", "speech"), "classification", image_input="video"),
}
ALL_TASKS: tuple[str, ...] = tuple(TASKS)


def task_spec(task: str) -> TaskSpec:
    """The :class:`TaskSpec` of ``task``; raises :class:`UnknownNameError` listing known tasks."""
    if task not in TASKS:
        raise UnknownNameError(f"unknown task {task!r}; known tasks: {', '.join(ALL_TASKS)}")
    return TASKS[task]


def shared_modalities(task_a: str, task_b: str) -> tuple[str, ...]:
    """Modalities used by both tasks (where Algorithm 1 adds the domain-adaptation loss)."""
    b = set(task_spec(task_b).modalities)
    return tuple(m for m in task_spec(task_a).modalities if m in b)
