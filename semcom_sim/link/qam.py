"""Gray-mapped QAM (and BPSK) with unit average energy, via Sionna's Mapper/Demapper."""

from __future__ import annotations

import functools

import torch
from torch import Tensor


@functools.lru_cache(maxsize=16)
def _blocks(num_bits_per_symbol: int, device: str):
    from sionna.phy.mapping import Demapper, Mapper

    kind = "pam" if num_bits_per_symbol == 1 else "qam"
    mapper = Mapper(kind, num_bits_per_symbol, device=device)
    demapper = Demapper("app", kind, num_bits_per_symbol, device=device)
    return mapper, demapper


def map_bits(bits: Tensor, num_bits_per_symbol: int) -> Tensor:
    """float32 0/1 ``[..., m * bps]`` -> complex64 ``[..., m]`` unit-energy symbols."""
    mapper, _ = _blocks(num_bits_per_symbol, str(bits.device))
    return mapper(bits).to(torch.complex64)


def demap_llr(y: Tensor, no: Tensor, num_bits_per_symbol: int) -> Tensor:
    """Exact (APP) LLRs ``log p(1)/p(0)`` (Sionna's sign): ``[..., m]`` -> ``[..., m * bps]``.

    ``no`` is the noise variance of each ``y`` (same shape, or broadcastable).
    """
    _, demapper = _blocks(num_bits_per_symbol, str(y.device))
    return demapper(y, no.clamp_min(1e-10))
