"""Linear PCM speech codec: uniform quantisation to ``bits_per_sample`` bits, bit-packed.

The codec quantises what it is given (no resampling); ``sample_rate`` is recorded only for the
bit rate. Samples: q = round(x * 2^(b-1)) clipped to [-2^(b-1), 2^(b-1) - 1], sent as b-bit
two's complement, most significant bit first, packed across sample boundaries: a clip of T
samples costs ceil(T * b / 8) bytes (16 bits: 2T bytes, big-endian int16).

Every payload of the right length decodes (bit errors give wrong samples, not failures). A
payload of the wrong length decodes to silence (zeros) and is flagged in ``Decoded.failed``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from semcom_sim.errors import SemcomError

from .base import CODECS, Codec, Decoded, Like, like_device, like_shape, to_numpy


@CODECS.register("pcm", help="linear PCM speech, 16 bits (or fewer) per sample")
class PCMCodec(Codec):
    """PCM for speech, float32 [B, T] in [-1, 1] (clipped).

    Args:
        bits_per_sample: 2..16 (16 = the usual 16-bit PCM).
        sample_rate: samples per second, recorded for ``bit_rate`` and the description.

    ``decode(payloads, like)`` needs ``like`` = the batch shape [B, T] (or a tensor).
    """

    def __init__(self, bits_per_sample: int = 16, sample_rate: int = 8000) -> None:
        if isinstance(bits_per_sample, bool) or bits_per_sample not in range(2, 17):
            raise SemcomError(f"bits_per_sample must be an int in 2..16, got {bits_per_sample!r}")
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate < 1:
            raise SemcomError(f"sample_rate must be a positive int, got {sample_rate!r}")
        self.bits_per_sample = bits_per_sample
        self.sample_rate = sample_rate
        self.name = f"pcm{bits_per_sample}"

    @property
    def bit_rate(self) -> int:
        """Bits per second."""
        return self.bits_per_sample * self.sample_rate

    @property
    def description(self) -> str:
        return (
            f"linear PCM (numpy {np.__version__}), {self.bits_per_sample} bits/sample "
            f"two's complement MSB first, {self.sample_rate} Hz ({self.bit_rate / 1000:g} kbit/s)"
        )

    def config(self) -> dict:
        return {
            "codec": "pcm",
            "bits_per_sample": self.bits_per_sample,
            "sample_rate": self.sample_rate,
        }

    def _levels(self, x: np.ndarray) -> np.ndarray:
        half = 1 << (self.bits_per_sample - 1)
        return np.clip(np.rint(x.astype(np.float64) * half), -half, half - 1).astype(np.int32)

    def quantise(self, batch: torch.Tensor) -> torch.Tensor:
        """What ``decode(encode(x))`` returns for an uncorrupted link: [B, T] float32."""
        x = to_numpy(batch, 2, "PCM")
        half = 1 << (self.bits_per_sample - 1)
        out = (self._levels(x) / half).astype(np.float32)
        dev = batch.device if isinstance(batch, torch.Tensor) else None
        return torch.from_numpy(out).to(dev)

    def encode(self, batch: torch.Tensor) -> list[bytes]:
        """[B, T] float in [-1, 1] -> B payloads of ceil(T * bits / 8) bytes."""
        x = to_numpy(batch, 2, "PCM")
        b = self.bits_per_sample
        u = (self._levels(x) & ((1 << b) - 1)).astype(np.uint32)  # two's complement, b bits
        shifts = np.arange(b - 1, -1, -1, dtype=np.uint32)
        bits = ((u[..., None] >> shifts) & 1).astype(np.uint8).reshape(len(x), -1)
        return [np.packbits(row).tobytes() for row in bits]

    def decode(
        self, payloads: Sequence[bytes], like: Like = None, *, device: torch.device | None = None
    ) -> Decoded:
        """B payloads -> ``Decoded(data=[B, T] float32, failed)``; fallback silence (zeros)."""
        n, t = like_shape(like, len(payloads), 2, "PCM")
        b = self.bits_per_sample
        nbytes = (t * b + 7) // 8
        ok = [len(p) == nbytes for p in payloads]
        out = np.zeros((n, t), np.float32)
        rows = [i for i in range(n) if ok[i]]
        if rows and t > 0:
            raw = np.frombuffer(b"".join(bytes(payloads[i]) for i in rows), np.uint8)
            bits = np.unpackbits(raw.reshape(len(rows), nbytes), axis=1)[:, : t * b]
            weights = (1 << np.arange(b - 1, -1, -1)).astype(np.int32)
            u = bits.reshape(len(rows), t, b).astype(np.int32) @ weights
            half = 1 << (b - 1)
            levels = np.where(u >= half, u - 2 * half, u)
            out[rows] = levels / np.float32(half)
        data = torch.from_numpy(out).to(like_device(like, device))
        return Decoded(data, [not k for k in ok])
