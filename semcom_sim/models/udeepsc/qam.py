"""Codeword indices on the air: Gray-labelled QAM symbols and ML index demapping.

An index of a ``2^b``-entry sub-codebook is written MSB first as ``b`` bits and cut into
``S = ceil(b / m)`` symbols of ``m = num_bits_per_symbol`` bits (a 16-entry sub-codebook is one
16-QAM symbol; 256 entries are two). A last symbol carrying ``r < m`` bits uses a ``2^r``-point
rectangular Gray QAM, so every symbol slot is zero-mean with unit average energy.

The receiver scores every index ``k`` jointly over its ``S`` symbols:
``log p(y | k) = -sum_s |y_s - c_s(k)|^2 / no_s`` (+ const), which is exact ML for the per-symbol
Gaussian noise that :mod:`semcom_sim.channel` returns (``no_eff``, after equalisation).
"""

from __future__ import annotations

import torch
from torch import Tensor


def gray_pam(num_bits: int) -> Tensor:
    """Amplitudes ``[2^num_bits]`` indexed by Gray label (unnormalised odd integers)."""
    m = 1 << num_bits
    pos = torch.arange(m)
    label = pos ^ (pos >> 1)
    amp = torch.empty(m)
    amp[label] = (2 * pos - (m - 1)).float()
    return amp


def qam_points(num_bits: int) -> Tensor:
    """Unit-energy rectangular Gray QAM, complex ``[2^num_bits]`` indexed by label.

    The ``ceil(num_bits/2)`` most significant bits pick the in-phase level, the rest the
    quadrature level (``num_bits = 1`` is BPSK, even ``num_bits`` square QAM).
    """
    if num_bits < 1:
        raise ValueError("num_bits must be >= 1")
    bi, bq = (num_bits + 1) // 2, num_bits // 2
    labels = torch.arange(1 << num_bits)
    i = gray_pam(bi)[labels >> bq]
    q = gray_pam(bq)[labels & ((1 << bq) - 1)] if bq else torch.zeros(labels.shape)
    pts = torch.complex(i, q)
    return pts / pts.abs().pow(2).mean().sqrt()


def index_symbol_table(bits_per_index: int, num_bits_per_symbol: int) -> Tensor:
    """Symbols of every index: complex ``[2^bits_per_index, S]``, ``S = ceil(b/m)``."""
    b, m = bits_per_index, num_bits_per_symbol
    k = torch.arange(1 << b)
    cols, done = [], 0
    while done < b:
        r = min(m, b - done)
        label = (k >> (b - done - r)) & ((1 << r) - 1)
        cols.append(qam_points(r)[label])
        done += r
    return torch.stack(cols, dim=1)


def index_log_likelihoods(y: Tensor, no: Tensor, table: Tensor) -> Tensor:
    """``log p(y | k)`` up to a constant for every index.

    Args:
        y: complex ``[..., S]`` received symbols of one index; no: float ``[..., S]`` their noise
            variance; table: complex ``[K, S]`` from :func:`index_symbol_table`.
    Returns:
        float ``[..., K]``.
    """
    inv = 1.0 / no.clamp_min(1e-12)
    t = table.to(y.device)
    cross = (y * inv).real @ t.real.T + (y * inv).imag @ t.imag.T  # Re(sum_s y_s conj(t_ks)/no_s)
    energy = inv @ t.abs().pow(2).T  # sum_s |t_ks|^2 / no_s
    return 2.0 * cross - energy
