"""From datasets (:class:`semcom_sim.data.TaskData`) to U-DeepSC inputs and back.

One :class:`Adapter` per trained model, stored in its checkpoint (``extra["adapter"]``): the
vocabulary (built from the training splits, one tokeniser for every text task, as the paper uses
one BERT tokeniser), the VQA answer list and how images, video and audio are fitted to the model.

| model task | sweep task           | embedded data            | real data | target        |
|------------|----------------------|--------------------------|-----------|---------------|
| imgc       | image-classification | shapes32                 | cifar10   | label         |
| imgr       | image-reconstruction | shapes32                 | cifar10   | image         |
| textr      | text-reconstruction  | embedded-text            | europarl  | text (tokens) |
| textc      | sentiment            | embedded-sentiment       | sst2      | label         |
| vqa        | vqa                  | embedded-vqa             | vqav2     | answer_index  |
| msa        | video-sentiment      | embedded-video-sentiment | cmu-mosi  | label (Acc-2) |

Fitting rules: images (and VQA images) are resized to ``image_size`` (bilinear, antialiased) when
their size differs; video keeps ``video_frames`` evenly spaced frames; audio is cut or zero-padded
to ``audio_samples``; text is ``<bos> words <eos>`` truncated to ``text_max_len`` tokens and
padded to the longest sentence of the batch.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from semcom_sim.data.vocab import Vocab
from semcom_sim.errors import CheckpointError, UnknownNameError
from semcom_sim.models.udeepsc.config import UDeepSCConfig
from semcom_sim.models.udeepsc.tasks import ALL_TASKS, task_spec

MODEL_TASK: dict[str, str] = {
    "image-classification": "imgc",
    "image-reconstruction": "imgr",
    "text-reconstruction": "textr",
    "sentiment": "textc",
    "vqa": "vqa",
    "video-sentiment": "msa",
}
SWEEP_TASK: dict[str, str] = {v: k for k, v in MODEL_TASK.items()}
EMBEDDED_DATASET: dict[str, str] = {
    "imgc": "shapes32",
    "imgr": "shapes32",
    "textr": "embedded-text",
    "textc": "embedded-sentiment",
    "vqa": "embedded-vqa",
    "msa": "embedded-video-sentiment",
}
REAL_DATASET: dict[str, str] = {
    "imgc": "cifar10",
    "imgr": "cifar10",
    "textr": "europarl",
    "textc": "sst2",
    "vqa": "vqav2",
    "msa": "cmu-mosi",
}
TEXT_FIELD = {"textr": "text", "textc": "text", "vqa": "question", "msa": "text"}
TARGET_FIELD = {
    "imgc": "label",
    "imgr": "image",
    "textr": "text",
    "textc": "label",
    "vqa": "answer_index",
    "msa": "label",
}


def model_task(name: str) -> str:
    """``imgc`` for ``image-classification`` or ``imgc``; raises listing both spellings."""
    if name in ALL_TASKS:
        return name
    if name in MODEL_TASK:
        return MODEL_TASK[name]
    known = ", ".join(f"{t} ({SWEEP_TASK[t]})" for t in ALL_TASKS)
    raise UnknownNameError(f"unknown U-DeepSC task {name!r}; known tasks: {known}")


def resize(images: Tensor, size: int) -> Tensor:
    """``[..., 3, H, W]`` -> ``[..., 3, size, size]`` (unchanged when already that size)."""
    if images.shape[-2:] == (size, size):
        return images
    lead = images.shape[:-3]
    flat = images.reshape(-1, *images.shape[-3:])
    out = nn.functional.interpolate(
        flat, size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )
    return out.clamp(0, 1).reshape(*lead, 3, size, size)


def frame_indices(num_frames: int, keep: int) -> Tensor:
    """``keep`` evenly spaced frame indices out of ``num_frames`` (first and last included)."""
    if num_frames <= keep:
        return torch.arange(num_frames)
    return torch.linspace(0, num_frames - 1, keep).round().long()


def fit_length(audio: Tensor, samples: int) -> Tensor:
    """Cut or zero-pad ``[B, S]`` audio to ``[B, samples]``."""
    if audio.shape[1] >= samples:
        return audio[:, :samples]
    return nn.functional.pad(audio, (0, samples - audio.shape[1]))


def trim_padding(ids: Tensor, pad_id: int) -> Tensor:
    """Drop the trailing columns that are padding in every row (keeps at least one)."""
    used = (ids != pad_id).any(dim=0).nonzero()
    return ids[:, : int(used.max()) + 1 if len(used) else 1]


@dataclass
class Adapter:
    """How dataset fields become model inputs, targets and task predictions.

    Attributes:
        image_size: side the model's images have.
        video_frames: frames of a video clip the model sees (evenly spaced).
        audio_samples: audio length (``frame_len * speech_max_frames``).
        text_max_len: tokens per sentence, ``<bos>`` and ``<eos>`` included.
        vocab: word tokens (ids 0-3 are ``<pad> <bos> <eos> <unk>``), or empty without text.
        answer_vocab: VQA answers (class ``i`` = ``answer_vocab[i]``), or empty.
    """

    image_size: int
    video_frames: int
    audio_samples: int
    text_max_len: int
    vocab: list[str] = dataclasses.field(default_factory=list)
    answer_vocab: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self._vocab = Vocab(self.vocab) if self.vocab else None

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: Any = "") -> Adapter:
        try:
            return cls(**d)
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"checkpoint {where}: bad adapter in config.json ({e})") from None

    # ------------------------------------------------------------------ text
    @property
    def tokenizer(self) -> Vocab:
        if self._vocab is None:
            raise CheckpointError("this model has no text vocabulary")
        return self._vocab

    def tokenize(self, texts: list[str], device=None) -> Tensor:
        """int64 ``[B, L]`` token ids, ``L <= text_max_len``, padded with 0."""
        return self.tokenizer.encode_batch(texts, max_len=self.text_max_len - 2, device=device)

    # ------------------------------------------------------------------ inputs / targets
    def inputs(self, task: str, fields: dict[str, Any], device=None) -> dict[str, Tensor]:
        """Model keyword inputs of ``task`` from a batch's ``fields``."""
        spec = task_spec(task)
        out: dict[str, Tensor] = {}
        if "image" in spec.modalities:
            if spec.image_input == "video":
                frames = fields["frames"]
                frames = frames[:, frame_indices(frames.shape[1], self.video_frames)]
                out["video"] = resize(frames, self.image_size).to(device)
            else:
                out["image"] = resize(fields["image"], self.image_size).to(device)
        if "text" in spec.modalities:
            out["text"] = self.tokenize(list(fields[TEXT_FIELD[task]]), device)
        if "speech" in spec.modalities:
            out["audio"] = fit_length(fields["audio"], self.audio_samples).to(device)
        return out

    def target(self, task: str, fields: dict[str, Any], inputs: dict[str, Tensor]) -> Tensor:
        """Training target of ``task`` (see :mod:`semcom_sim.models.udeepsc.tasks`)."""
        if task == "imgr":
            return inputs["image"]
        if task == "textr":
            return inputs["text"]
        device = next(iter(inputs.values())).device
        return torch.as_tensor(fields[TARGET_FIELD[task]], dtype=torch.int64).to(device)

    def predictions(self, task: str, output: Tensor) -> Any:
        """Model output -> what the sweep task's metric takes: class ids ``[B]`` (imgc, textc,
        msa), images ``[B, 3, H, W]`` (imgr), sentences (textr) or answer strings (vqa)."""
        return self.render(task, self.reduce(task, output))

    @staticmethod
    def reduce(task: str, output: Tensor) -> Tensor:
        """Model output ``[B, ...]`` -> the row-wise decision it stands for: the image itself
        (imgr), else the argmax ids (``[B]``; ``[B, L]`` tokens for textr); small enough to
        keep for every decoder exit."""
        return output if task == "imgr" else output.argmax(dim=-1)

    def render(self, task: str, reduced: Tensor) -> Any:
        """:meth:`reduce`'s output -> the task's predictions (see :meth:`predictions`)."""
        if task == "textr":
            return self.tokenizer.decode_batch(reduced.cpu())
        if task == "vqa":
            return [self.answer_vocab[int(i)] for i in reduced.cpu()]
        return reduced


def build_vocab(texts: list[str]) -> list[str]:
    """Tokens of the vocabulary of ``texts`` (every word seen in the training splits)."""
    return Vocab.build(texts).tokens


def fit_config(cfg: UDeepSCConfig, data: dict[str, Any]) -> tuple[UDeepSCConfig, Adapter]:
    """Adjust a preset to the training data and return ``(config, adapter)``.

    Args:
        cfg: the preset (its ``tasks`` say which models are built).
        data: ``{"vocab": tokens or [], "answer_vocab": list or [], "max_words": int,
            "video_frames": int, "audio_samples": int}`` from the training splits (0 = absent).

    ``vocab_size`` = the vocabulary's size, ``num_classes["vqa"]`` = the number of answers,
    ``text_max_len`` >= longest training sentence + 2, ``frame_len`` grown so that
    ``speech_max_frames`` frames hold the clips' audio, at most ``video_max_frames`` frames.
    """
    over: dict[str, Any] = {}
    if data.get("vocab"):
        over["vocab_size"] = len(data["vocab"])
        over["text_max_len"] = max(cfg.text_max_len, int(data.get("max_words", 0)) + 2)
    if data.get("answer_vocab"):
        over["num_classes"] = {**cfg.num_classes, "vqa": len(data["answer_vocab"])}
    samples = int(data.get("audio_samples", 0))
    if samples > cfg.frame_len * cfg.speech_max_frames:
        over["frame_len"] = math.ceil(samples / cfg.speech_max_frames)
    fitted = dataclasses.replace(cfg, **over)
    video = int(data.get("video_frames", 0)) or cfg.video_max_frames
    adapter = Adapter(
        image_size=fitted.image_size,
        video_frames=min(fitted.video_max_frames, video),
        audio_samples=fitted.frame_len * fitted.speech_max_frames,
        text_max_len=fitted.text_max_len,
        vocab=list(data.get("vocab") or []),
        answer_vocab=list(data.get("answer_vocab") or []),
    )
    return fitted, adapter
