"""The one SNR convention of semcom-sim, as functions.

Convention: ``snr_db`` is Es/N0 per complex channel symbol per receive antenna, with unit average
transmit energy per channel use (summed over transmit antennas). Every scheme, learned or
conventional, normalises its transmitted complex symbols to unit average energy and every channel
adds complex Gaussian noise of variance ``no = 10**(-snr_db/10)`` per receive antenna.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def snr_db_to_no(snr_db: Tensor | float) -> Tensor:
    """Noise variance per complex symbol (``no``, linear) for ``snr_db`` (any shape)."""
    return torch.pow(10.0, -torch.as_tensor(snr_db, dtype=torch.float32) / 10.0)


def no_to_snr_db(no: Tensor | float) -> Tensor:
    """Inverse of :func:`snr_db_to_no`."""
    return -10.0 * torch.log10(torch.as_tensor(no, dtype=torch.float32))


def ebno_db_to_snr_db(
    ebno_db: Tensor | float, num_bits_per_symbol: int, coderate: float
) -> Tensor | float:
    """Es/N0 [dB] = Eb/N0 [dB] + 10 log10(coderate * num_bits_per_symbol)."""
    return ebno_db + 10.0 * math.log10(coderate * num_bits_per_symbol)


def snr_db_to_ebno_db(
    snr_db: Tensor | float, num_bits_per_symbol: int, coderate: float
) -> Tensor | float:
    """Eb/N0 [dB] = Es/N0 [dB] - 10 log10(coderate * num_bits_per_symbol)."""
    return snr_db - 10.0 * math.log10(coderate * num_bits_per_symbol)


def normalize_power(x: Tensor, mask: Tensor | None = None, eps: float = 1e-12) -> Tensor:
    """Scale each example to unit average energy per complex symbol.

    Args:
        x: complex ``[B, ...]``; energy is averaged over all non-batch dims.
        mask: optional bool/float ``[B, ...]`` (same shape as ``x``); only entries with mask 1
            count and are kept (others are set to 0), e.g. dropped features.
    Returns:
        complex ``[B, ...]`` with ``mean(|x|^2) == 1`` per example over the kept entries.
    """
    dims = tuple(range(1, x.dim()))
    if mask is None:
        energy = x.abs().pow(2).mean(dim=dims, keepdim=True)
        return x / torch.sqrt(energy + eps)
    m = mask.to(x.real.dtype)
    count = m.sum(dim=dims, keepdim=True).clamp_min(1.0)
    energy = (x.abs().pow(2) * m).sum(dim=dims, keepdim=True) / count
    return x * m / torch.sqrt(energy + eps)


def real_to_complex(z: Tensor) -> Tensor:
    """Pack real features ``[B, 2n]`` (last dim even) into complex symbols ``[B, n]``.

    Pairs are (z[..., 2i], z[..., 2i+1]) -> z[2i] + j z[2i+1], so two real values make one channel
    use. An odd last dim is zero-padded.
    """
    if z.shape[-1] % 2:
        z = torch.nn.functional.pad(z, (0, 1))
    return torch.view_as_complex(z.reshape(*z.shape[:-1], -1, 2).contiguous().float())


def complex_to_real(x: Tensor, num_real: int | None = None) -> Tensor:
    """Inverse of :func:`real_to_complex`: complex ``[B, n]`` -> real ``[B, 2n]``."""
    z = torch.view_as_real(x).reshape(*x.shape[:-1], -1)
    return z if num_real is None else z[..., :num_real]


def broadcast_snr(snr_db: Tensor | float, batch_size: int, device=None) -> Tensor:
    """``snr_db`` as float32 ``[B]`` (a scalar is repeated); raises on a wrong length."""
    s = torch.as_tensor(snr_db, dtype=torch.float32, device=device)
    if s.dim() == 0:
        return s.expand(batch_size).clone()
    s = s.reshape(-1)
    if s.numel() != batch_size:
        raise ValueError(f"snr_db has {s.numel()} entries for a batch of {batch_size}")
    return s
