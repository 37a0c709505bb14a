"""JPEG image codec via Pillow, in memory.

Byte counting (``count``):
    "entropy" (default): both ends share the JPEG tables, so only the entropy-coded scan data
        is sent. A real system would not resend static quantisation and Huffman tables with
        every 32x32 image: they are ~570 of the ~630 bytes of a 32x32 JPEG at quality 50, which
        would make JPEG look far worse than it is. The receiver rebuilds the file as
        ``header + scan + EOI`` where the header is made by encoding a blank image with the same
        size, colour mode, quality and subsampling (Pillow writes standard, non-optimised Huffman
        tables, so the header does not depend on the image; ``encode`` checks this).
    "file": the whole JFIF file is sent and counted.

Rate control: a fixed ``quality``, or a ``target_bytes`` budget per image: the largest quality in
1..100 whose payload fits, found by bisection (payload size is nearly monotone in quality). If
even quality 1 does not fit, quality 1 is sent and the payload exceeds the budget. With a budget
and entropy counting the payload starts with one byte holding the quality (counted), because
the receiver needs it to rebuild the tables.

Fallback: an image whose payload cannot be decoded (wrong size or colour mode, broken stream) is
mid-grey (0.5 everywhere) and flagged in ``Decoded.failed``; so is an empty payload. Corrupted
scan data that libjpeg can still decode (it conceals errors) gives a corrupted image, not a
failure.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import PIL
import torch
from PIL import Image, features

from semcom_sim.errors import SemcomError

from .base import CODECS, Codec, Decoded, Like, like_device, like_shape, to_numpy, to_uint8

EOI = b"\xff\xd9"
SUBSAMPLINGS = ("4:4:4", "4:2:2", "4:2:0")
COUNTS = ("entropy", "file")


def _save(arr: np.ndarray, quality: int, subsampling: str) -> bytes:
    """uint8 [H, W] or [H, W, 3] -> baseline JPEG file bytes (standard Huffman tables)."""
    buf = io.BytesIO()
    mode = "L" if arr.ndim == 2 else "RGB"
    Image.fromarray(arr, mode).save(
        buf, "JPEG", quality=quality, subsampling=subsampling, optimize=False, progressive=False
    )
    return buf.getvalue()


def split_jfif(data: bytes) -> tuple[bytes, bytes]:
    """Split a baseline JPEG file into (header up to the end of the SOS segment, scan data).

    The scan data excludes the final EOI marker. Only for files written by this module.
    """
    if data[:2] != b"\xff\xd8" or data[-2:] != EOI:
        raise RuntimeError("not a complete JPEG file")
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise RuntimeError(f"bad JPEG marker at byte {i}")
        marker = data[i + 1]
        end = i + 2 + (data[i + 2] << 8 | data[i + 3])
        if marker == 0xDA:  # start of scan: entropy-coded data follows its header
            return data[:end], data[end:-2]
        i = end
    raise RuntimeError("JPEG file has no SOS segment")


@lru_cache(maxsize=512)
def shared_header(height: int, width: int, channels: int, quality: int, subsampling: str) -> bytes:
    """The JPEG header both ends build from the codec settings and the image size."""
    shape = (height, width) if channels == 1 else (height, width, 3)
    return split_jfif(_save(np.zeros(shape, np.uint8), quality, subsampling))[0]


def encode_array(arr: np.ndarray, quality: int, subsampling: str, count: str) -> bytes:
    """uint8 [H, W] or [H, W, 3] -> payload (scan data only, or the whole file)."""
    data = _save(arr, quality, subsampling)
    if count == "file":
        return data
    header, scan = split_jfif(data)
    channels = 1 if arr.ndim == 2 else 3
    if header != shared_header(arr.shape[0], arr.shape[1], channels, quality, subsampling):
        raise RuntimeError("Pillow wrote an image-dependent JPEG header; entropy count invalid")
    return scan


def decode_array(
    payload: bytes,
    height: int,
    width: int,
    channels: int,
    quality: int,
    subsampling: str,
    count: str,
) -> np.ndarray | None:
    """Payload -> uint8 [H, W] or [H, W, 3], or None if it cannot be decoded (never raises)."""
    if not payload:
        return None  # nothing received (libjpeg would conceal it as a flat image)
    try:
        data = bytes(payload)
        if count == "entropy":
            data = shared_header(height, width, channels, quality, subsampling) + data + EOI
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data), formats=["JPEG"]) as im:
                # Check the declared size before decoding: a corrupted header may claim a huge one.
                if im.size != (width, height) or im.mode != ("L" if channels == 1 else "RGB"):
                    return None
                im.load()
                arr = np.asarray(im, dtype=np.uint8)
    except Exception:  # any broken stream -> fallback; decode must never raise
        return None
    expected = (height, width) if channels == 1 else (height, width, 3)
    return arr if arr.shape == expected else None


def library_version() -> str:
    turbo = features.version("libjpeg_turbo")
    lib = f"libjpeg-turbo {turbo}" if turbo else f"libjpeg {features.version('jpg')}"
    return f"Pillow {PIL.__version__} ({lib})"


def check_quality(quality: int) -> int:
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise SemcomError(f"JPEG quality must be an int in 1..100, got {quality!r}")
    return quality


def check_count(count: str) -> str:
    if count not in COUNTS:
        raise SemcomError(f"count must be one of {COUNTS}, got {count!r}")
    return count


@CODECS.register("jpeg", help="JPEG images via Pillow (fixed quality or byte budget)")
class JPEGCodec(Codec):
    """JPEG for images, float32 [B, C, H, W] in [0, 1] with C = 3 (RGB) or 1 (grayscale).

    Args:
        quality: JPEG quality 1..100 (default 50 when no ``target_bytes``).
        target_bytes: per-image payload budget in bytes instead of a fixed quality.
        count: "entropy" (tables shared, default) or "file" (whole file sent); see module doc.
        subsampling: chroma subsampling for RGB, "4:2:0" (default), "4:2:2" or "4:4:4".

    ``decode(payloads, like)`` needs ``like`` = the batch shape [B, C, H, W] (or a tensor).
    """

    def __init__(
        self,
        quality: int | None = None,
        target_bytes: int | None = None,
        count: str = "entropy",
        subsampling: str = "4:2:0",
    ) -> None:
        if quality is not None and target_bytes is not None:
            raise SemcomError("give JPEG quality or target_bytes, not both")
        if target_bytes is not None and (isinstance(target_bytes, bool) or target_bytes < 1):
            raise SemcomError(f"target_bytes must be a positive int, got {target_bytes!r}")
        if subsampling not in SUBSAMPLINGS:
            raise SemcomError(f"subsampling must be one of {SUBSAMPLINGS}, got {subsampling!r}")
        self.quality = (
            None if target_bytes is not None else check_quality(50 if quality is None else quality)
        )
        self.target_bytes = None if target_bytes is None else int(target_bytes)
        self.count = check_count(count)
        self.subsampling = subsampling
        rate = f"q{self.quality}" if self.quality is not None else f"b{self.target_bytes}"
        self.name = f"jpeg-{rate}" + ("-file" if count == "file" else "")

    @property
    def description(self) -> str:
        rate = (
            f"quality {self.quality}"
            if self.quality is not None
            else f"largest quality within {self.target_bytes} bytes"
        )
        tables = (
            "tables shared (scan data counted)" if self.count == "entropy" else "whole file counted"
        )
        return f"JPEG via {library_version()}, {rate}, {self.subsampling}, {tables}"

    def config(self) -> dict:
        return {
            "codec": "jpeg",
            "quality": self.quality,
            "target_bytes": self.target_bytes,
            "count": self.count,
            "subsampling": self.subsampling,
        }

    def _encode_one(self, arr: np.ndarray) -> bytes:
        if self.quality is not None:
            return encode_array(arr, self.quality, self.subsampling, self.count)
        prefix = b"" if self.count == "file" else b"\x00"  # quality byte, filled in below
        lo, hi = 1, 100
        best = encode_array(arr, 1, self.subsampling, self.count)
        best_q = 1
        while lo < hi:  # largest q with len(prefix + payload(q)) <= target_bytes
            mid = (lo + hi + 1) // 2
            p = encode_array(arr, mid, self.subsampling, self.count)
            if len(prefix) + len(p) <= self.target_bytes:
                lo, best, best_q = mid, p, mid
            else:
                hi = mid - 1
        return best if self.count == "file" else bytes([best_q]) + best

    def encode(self, batch: torch.Tensor) -> list[bytes]:
        """[B, C, H, W] float in [0, 1] (clipped) -> B payloads."""
        x = to_numpy(batch, 4, "JPEG")
        if x.shape[1] not in (1, 3) or x.shape[2] < 1 or x.shape[3] < 1:
            raise SemcomError(f"JPEG expects [B, 1 or 3, H, W] with H, W >= 1, got {x.shape}")
        if max(x.shape[2:]) > 65500:
            raise SemcomError(f"JPEG images are at most 65500 pixels a side, got {x.shape}")
        img = to_uint8(x)
        return [
            self._encode_one(im[0] if im.shape[0] == 1 else im.transpose(1, 2, 0)) for im in img
        ]

    def decode(
        self, payloads: Sequence[bytes], like: Like = None, *, device: torch.device | None = None
    ) -> Decoded:
        """B payloads -> ``Decoded(data=[B, C, H, W] float32, failed)``; fallback mid-grey 0.5."""
        b, c, h, w = like_shape(like, len(payloads), 4, "JPEG")
        if c not in (1, 3):
            raise SemcomError(f"JPEG decode: like must have 1 or 3 channels, got {c}")
        out = np.full((b, c, h, w), 0.5, np.float32)
        failed = []
        for i, p in enumerate(payloads):
            q = self.quality
            if q is None and self.count == "entropy":
                q, p = (p[0], p[1:]) if len(p) > 0 else (0, p)
            arr = None
            if q is None or 1 <= q <= 100:
                arr = decode_array(p, h, w, c, q or 1, self.subsampling, self.count)
            if arr is not None:
                out[i] = (arr[None] if c == 1 else arr.transpose(2, 0, 1)) / np.float32(255)
            failed.append(arr is None)
        data = torch.from_numpy(out).to(like_device(like, device))
        return Decoded(data, failed)
