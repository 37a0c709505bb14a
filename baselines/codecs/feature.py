"""Feature codec for split inference (FFMNet's separate baseline): 8-bit quantisation + JPEG.

Per example, the float feature [C, H, W] is quantised uniformly to 8 bits between its own min
and max, q = round((x - min) / (max - min) * 255) (all zeros when max == min), its channels are
tiled row-major into one grayscale mosaic of rows x cols tiles (cols = ceil(sqrt(C)),
rows = ceil(C / cols); unused tiles are 0), and the mosaic is JPEG-coded at ``quality``.

Payload: min and max as two little-endian float32 (8 bytes, counted) followed by the JPEG payload
(scan data only with ``count="entropy"``, the default; the whole file with ``count="file"``; see
``jpeg.py``). Fallback: an example whose payload cannot be decoded, or whose min/max are not
finite or not ordered, decodes to zeros and is flagged in ``Decoded.failed``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import numpy as np
import torch

from semcom_sim.errors import SemcomError

from .base import CODECS, Codec, Decoded, Like, like_device, like_shape, to_numpy
from .jpeg import check_count, check_quality, decode_array, encode_array, library_version

SIDE = struct.Struct("<2f")  # min, max as float32


def grid(channels: int) -> tuple[int, int]:
    """(rows, cols) of the near-square mosaic for ``channels`` tiles."""
    cols = max(1, math.ceil(math.sqrt(channels)))
    return max(1, math.ceil(channels / cols)), cols


@CODECS.register("feature-jpeg", help="8-bit quantised feature mosaic + JPEG (split inference)")
class FeatureJPEGCodec(Codec):
    """Float features [B, C, H, W] -> min/max + grayscale JPEG of the channel mosaic.

    Args:
        quality: JPEG quality 1..100.
        count: "entropy" (JPEG tables shared, default) or "file".

    ``decode(payloads, like)`` needs ``like`` = the batch shape [B, C, H, W] (or a tensor).
    """

    def __init__(self, quality: int = 50, count: str = "entropy") -> None:
        self.quality = check_quality(quality)
        self.count = check_count(count)
        self.name = f"feature-jpeg-q{quality}" + ("-file" if count == "file" else "")

    @property
    def description(self) -> str:
        tables = "tables shared" if self.count == "entropy" else "whole file counted"
        return (
            f"8-bit uniform quantisation (per-example float32 min/max, 8 bytes counted), "
            f"channel mosaic, grayscale JPEG via {library_version()}, quality {self.quality}, "
            f"{tables}"
        )

    def config(self) -> dict:
        return {"codec": "feature-jpeg", "quality": self.quality, "count": self.count}

    def encode(self, batch: torch.Tensor) -> list[bytes]:
        """[B, C, H, W] float -> B payloads."""
        x = to_numpy(batch, 4, "feature codec")
        b, c, h, w = x.shape
        rows, cols = grid(c)
        if min(c, h, w) < 1 or max(rows * h, cols * w) > 65500:
            raise SemcomError(f"feature codec: cannot tile a feature of shape {x.shape[1:]}")
        out = []
        for f in x:
            lo, hi = np.float32(f.min()), np.float32(f.max())
            span = np.float64(hi) - np.float64(lo)
            q = np.zeros(f.shape, np.uint8)
            if span > 0:
                q = np.clip(np.rint((f - np.float64(lo)) / span * 255), 0, 255).astype(np.uint8)
            mosaic = np.zeros((rows, cols, h, w), np.uint8)
            mosaic.reshape(rows * cols, h, w)[:c] = q
            image = mosaic.transpose(0, 2, 1, 3).reshape(rows * h, cols * w)
            jpeg = encode_array(image, self.quality, "4:2:0", self.count)
            out.append(SIDE.pack(lo, hi) + jpeg)
        return out

    def decode(
        self, payloads: Sequence[bytes], like: Like = None, *, device: torch.device | None = None
    ) -> Decoded:
        """B payloads -> ``Decoded(data=[B, C, H, W] float32, failed)``; fallback zeros."""
        b, c, h, w = like_shape(like, len(payloads), 4, "feature codec")
        rows, cols = grid(c)
        out = np.zeros((b, c, h, w), np.float32)
        failed = []
        for i, p in enumerate(payloads):
            image = None
            if len(p) >= SIDE.size and c * h * w > 0:
                lo, hi = SIDE.unpack(bytes(p[: SIDE.size]))
                span = float(np.float64(hi) - np.float64(lo))
                if math.isfinite(lo) and math.isfinite(hi) and math.isfinite(span) and span >= 0:
                    image = decode_array(
                        p[SIDE.size :], rows * h, cols * w, 1, self.quality, "4:2:0", self.count
                    )
            if image is not None:
                tiles = image.reshape(rows, h, cols, w).transpose(0, 2, 1, 3).reshape(-1, h, w)
                out[i] = (np.float64(lo) + tiles[:c] / 255.0 * span).astype(np.float32)
            failed.append(image is None)
        data = torch.from_numpy(out).to(like_device(like, device))
        return Decoded(data, failed)
