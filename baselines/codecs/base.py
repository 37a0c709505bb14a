"""The interface shared by every source codec (modelled on CompressAI's bench ``Codec``).

A codec turns a batch into one byte string per example (exactly the bytes the digital link
carries) and turns possibly corrupted byte strings back into a batch. ``decode`` never raises on
corrupted payloads: an example whose payload cannot be decoded gets the codec's documented
fallback and is flagged in ``Decoded.failed``.

What the receiver is assumed to know: the codec configuration (``config()``), the number of
examples and their shapes (passed as ``like``: image size, number of frames, audio length,
feature shape). Payload lengths are framed by the link layer and are not counted as payload.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from semcom_sim.errors import SemcomError
from semcom_sim.registry import Registry

Like = torch.Tensor | torch.Size | Sequence[int] | None


@dataclass
class Decoded:
    """Output of ``Codec.decode``.

    Attributes:
        data: the reconstruction (a float32 tensor shaped like ``like``, or ``list[str]``).
        failed: one flag per example; True where the fallback (or, for text, replacement
            characters; for video, frame concealment) was used instead of a clean decode.
    """

    data: Any
    failed: list[bool]

    @property
    def num_failed(self) -> int:
        return sum(self.failed)


class Codec(ABC):
    """A source codec. Subclasses set ``name`` and implement the four methods below."""

    name: str

    @property
    @abstractmethod
    def description(self) -> str:
        """Human-readable description recording the library and its version."""

    @abstractmethod
    def encode(self, batch: Any) -> list[bytes]:
        """Encode a batch; returns one payload per example: exactly the bytes sent."""

    @abstractmethod
    def decode(
        self, payloads: Sequence[bytes], like: Like = None, *, device: torch.device | None = None
    ) -> Decoded:
        """Decode payloads (any corruption allowed) into a batch shaped like ``like``."""

    @abstractmethod
    def config(self) -> dict:
        """JSON-serialisable configuration; ``codec_from_config(config())`` rebuilds the codec."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config()})"


CODECS: Registry[Codec] = Registry("codec")


def create_codec(name: str, **kwargs) -> Codec:
    """Build a registered codec by factory name ("jpeg", "h264", "utf8", "pcm", "feature-jpeg")."""
    return CODECS.create(name, **kwargs)


def codec_from_config(config: dict) -> Codec:
    """Rebuild a codec from ``Codec.config()`` output."""
    cfg = dict(config)
    name = cfg.pop("codec", None)
    if name is None:
        raise SemcomError("codec config has no 'codec' key")
    return CODECS.create(name, **cfg)


# ---------------------------------------------------------------- helpers used by the codecs


def like_shape(like: Like, num: int, ndim: int, what: str) -> tuple[int, ...]:
    """The batch shape the receiver expects, checked against the number of payloads."""
    if like is None:
        raise SemcomError(f"{what} decode needs like= (the expected batch shape or a tensor)")
    shape = tuple(int(s) for s in (like.shape if isinstance(like, torch.Tensor) else like))
    if len(shape) != ndim or any(s < 0 for s in shape):
        raise SemcomError(f"{what} decode: like must have {ndim} dims, got shape {shape}")
    if shape[0] != num:
        raise SemcomError(f"{what} decode: {num} payloads but like has batch size {shape[0]}")
    return shape


def like_device(like: Like, device: torch.device | None) -> torch.device | None:
    if device is None and isinstance(like, torch.Tensor):
        return like.device
    return device


def to_numpy(batch: Any, ndim: int, what: str) -> np.ndarray:
    """A finite float32 numpy array of exactly ``ndim`` dims (from a tensor or array)."""
    if isinstance(batch, torch.Tensor):
        arr = batch.detach().to("cpu", torch.float32).numpy()
    else:
        arr = np.asarray(batch, dtype=np.float32)
    if arr.ndim != ndim:
        raise SemcomError(f"{what} expects a {ndim}-dim batch, got shape {tuple(arr.shape)}")
    if not np.isfinite(arr).all():
        raise SemcomError(f"{what} input contains NaN or inf")
    return arr


def to_uint8(x: np.ndarray) -> np.ndarray:
    """[0, 1] floats -> uint8 (values outside [0, 1] are clipped)."""
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)
