"""Segmentation of byte payloads into CRC-protected code blocks (5G-style).

A payload of ``B`` bytes is cut into ``C = ceil(B / cap)`` blocks of (nearly) equal size, where
``cap = (max_block_bits - 24) / 8`` bytes; each block's information size ``k`` (payload bits + the
24-bit CRC, zero padding included) is rounded up to the next size of :func:`block_size_ladder` so
that blocks of many payloads share a few (k, n) code instances and decode in few large calls.
The receiver is assumed to know each payload's length (control information, not counted);
a zero-length payload sends nothing.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass

import numpy as np

from semcom_sim.link.crc import CRC_BITS


@functools.cache
def block_size_ladder(max_bits: int = 8448) -> tuple[int, ...]:
    """Allowed information block sizes ``k`` (bits, CRC included), like LTE's Turbo table.

    Multiples of 8 from 40 to 512, of 16 to 1024, of 32 to 2048, then of 64 up to ``max_bits``.
    Every entry is a multiple of 8, so ``k - 24`` payload bits are whole bytes.
    """
    sizes = list(range(40, 513, 8)) + list(range(528, 1025, 16)) + list(range(1056, 2049, 32))
    sizes += list(range(2112, max_bits + 1, 64))
    return tuple(s for s in sizes if s <= max_bits)


def ladder_ceil(bits: int, max_bits: int) -> int:
    """Smallest ladder size ``>= bits``."""
    ladder = block_size_ladder(max_bits)
    i = bisect.bisect_left(ladder, bits)
    if i == len(ladder):
        raise ValueError(f"{bits} bits exceed the largest block of {max_bits}")
    return ladder[i]


@dataclass(frozen=True)
class Segmentation:
    """How one payload is split: ``num_blocks`` blocks of ``k`` bits, ``bytes_per_block`` each."""

    payload_bytes: int
    num_blocks: int
    bytes_per_block: int  # payload bytes carried per block (the last block may carry fewer)
    k: int  # information bits per block including the CRC (and zero padding)


def segment(payload_bytes: int, max_block_bits: int) -> Segmentation:
    """Segmentation of a payload of ``payload_bytes`` bytes."""
    if payload_bytes == 0:
        return Segmentation(0, 0, 0, 0)
    cap = (block_size_ladder(max_block_bits)[-1] - CRC_BITS) // 8
    c = -(-payload_bytes // cap)
    per = -(-payload_bytes // c)
    k = ladder_ceil(8 * per + CRC_BITS, max_block_bits)
    return Segmentation(payload_bytes, c, per, k)


def split_blocks(payload: bytes, seg: Segmentation) -> np.ndarray:
    """uint8 ``[C, (k-24)/8]``: the payload cut into blocks, zero padded (CRC not yet added)."""
    width = (seg.k - CRC_BITS) // 8
    out = np.zeros((seg.num_blocks, width), dtype=np.uint8)
    data = np.frombuffer(payload, dtype=np.uint8)
    for i in range(seg.num_blocks):
        part = data[i * seg.bytes_per_block : (i + 1) * seg.bytes_per_block]
        out[i, : part.size] = part
    return out


def join_blocks(blocks: np.ndarray, seg: Segmentation) -> bytes:
    """Inverse of :func:`split_blocks` (``blocks`` without CRC bytes)."""
    parts = [blocks[i, : seg.bytes_per_block] for i in range(seg.num_blocks)]
    data = np.concatenate(parts).tobytes() if parts else b""
    return data[: seg.payload_bytes]
