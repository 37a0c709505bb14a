"""Gray-mapped QAM (and BPSK) with unit average energy: Sionna's Mapper/Demapper, or a fast
CPU twin that uses Sionna's own constellation.

``backend="sionna"`` runs Sionna's ``Mapper`` and ``Demapper("app")``. Otherwise (``"fast"``,
or ``"auto"`` on the CPU) the mapper indexes Sionna's constellation points with the same bit
labels (bit-exact), and the demapper computes the same exact APP LLRs per dimension: Sionna's
QAM labels the real part with the even bits and the imaginary part with the odd bits, so
``|y - c|^2`` splits into a real and an imaginary term and each bit's log-sum-exp runs over
the sqrt(M) levels of its own dimension (the other dimension's sum cancels exactly). Only
float rounding differs from Sionna (``tests/test_fast_encoders.py``).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from numba import njit
from torch import Tensor

NO_MIN = 1e-10  # noise variance floor of demap_llr


@functools.lru_cache(maxsize=16)
def _blocks(num_bits_per_symbol: int, device: str):
    from sionna.phy.mapping import Demapper, Mapper

    kind = "pam" if num_bits_per_symbol == 1 else "qam"
    mapper = Mapper(kind, num_bits_per_symbol, device=device)
    demapper = Demapper("app", kind, num_bits_per_symbol, device=device)
    return mapper, demapper


def use_fast(backend: str, device: torch.device | str) -> bool:
    """True where the fast CPU path runs: ``fast``, or ``auto`` on the CPU."""
    return backend == "fast" or (backend == "auto" and torch.device(device).type == "cpu")


def qam_info(backend: str, device: torch.device | str) -> str:
    """Which mapper/demapper runs for ``backend`` on ``device`` (recorded with results)."""
    if use_fast(backend, device):
        return "fast numba (Sionna's points, bit-exact mapping, exact APP demapping)"
    return "sionna Mapper / Demapper app"


@functools.lru_cache(maxsize=16)
def _tables(num_bits_per_symbol: int):
    """Sionna's points (complex64 [2^bps]) and per-dimension tables for the fast demapper.

    Returns (points, levels [2, L] float64, labels [2, L] int64, bit_pos [2, nb] int64,
    dims): for dimension d (0 real, 1 imaginary) level ``levels[d, i]`` carries bits
    ``(labels[d, i] >> (nb - 1 - j)) & 1`` at symbol bit positions ``bit_pos[d, j]``.
    """
    mapper, _ = _blocks(num_bits_per_symbol, "cpu")
    pts = mapper.constellation().detach().to(torch.complex64).cpu()
    bps = num_bits_per_symbol
    if bps == 1:
        lv = pts.real.double().numpy()
        levels = np.stack([lv, lv])
        labels = np.array([[0, 1], [0, 1]])
        return pts, levels, labels, np.array([[0], [0]]), 1
    nb = bps // 2
    levels = np.zeros((2, 2**nb))
    labels = np.zeros((2, 2**nb), dtype=np.int64)
    for d in range(2):
        pos = np.arange(d, bps, 2)  # bits of dimension d, MSB first
        for lab in range(2**nb):
            idx = sum(((lab >> (nb - 1 - j)) & 1) << (bps - 1 - int(p)) for j, p in enumerate(pos))
            c = complex(pts[idx])
            levels[d, lab] = c.real if d == 0 else c.imag
            labels[d, lab] = lab
    _check_separable(pts.numpy(), levels, bps)
    bit_pos = np.stack([np.arange(0, bps, 2), np.arange(1, bps, 2)])
    return pts, levels, labels, bit_pos, 2


def _check_separable(pts: np.ndarray, levels: np.ndarray, bps: int) -> None:
    """Every point is (level of its even bits) + j (level of its odd bits)."""
    for idx in range(2**bps):
        bits = [(idx >> (bps - 1 - i)) & 1 for i in range(bps)]
        re = int("".join(map(str, bits[0::2])), 2)
        im = int("".join(map(str, bits[1::2])), 2)
        want = levels[0, re] + 1j * levels[1, im]
        if abs(pts[idx] - want) > 1e-6:
            raise RuntimeError("QAM constellation is not a product of two Gray PAMs")


def map_bits(bits: Tensor, num_bits_per_symbol: int, backend: str = "auto") -> Tensor:
    """0/1 bits ``[..., m * bps]`` (float or uint8) -> complex64 ``[..., m]`` unit-energy
    symbols; bits ``b_0 .. b_{bps-1}`` of a symbol (MSB first) index Sionna's constellation."""
    if not use_fast(backend, bits.device):
        mapper, _ = _blocks(num_bits_per_symbol, str(bits.device))
        return mapper(bits.to(torch.float32)).to(torch.complex64)
    bps = num_bits_per_symbol
    pts = _tables(bps)[0]
    b = bits.detach().to("cpu").numpy().astype(np.uint8, copy=False)
    shape = (*b.shape[:-1], b.shape[-1] // bps)
    out = _map_points(np.ascontiguousarray(b).reshape(-1), bps, pts.numpy())
    return torch.from_numpy(out).reshape(shape).to(bits.device)


@njit(cache=True)
def _map_points(b, bps, pts):
    """0/1 bits ``[m * bps]`` (uint8) -> complex64 ``[m]``: the point each group of ``bps``
    bits (MSB first) indexes in ``pts`` (no int64 index array in between)."""
    m = b.shape[0] // bps
    out = np.empty(m, dtype=pts.dtype)
    for s in range(m):
        v = 0
        for j in range(bps):
            v = (v << 1) | (b[s * bps + j] & 1)
        out[s] = pts[v]
    return out


@njit(cache=True)
def _lse_bit(e, labels_d, sh, want):
    """log sum exp(e[i]) over the levels whose bit ``sh`` equals ``want`` (own maximum)."""
    m = -np.inf
    for i in range(e.shape[0]):
        if ((labels_d[i] >> sh) & 1) == want:
            m = max(m, e[i])
    acc = 0.0
    for i in range(e.shape[0]):
        if ((labels_d[i] >> sh) & 1) == want:
            acc += math.exp(e[i] - m)
    return m + math.log(acc)


@njit(cache=True)
def _demap(y, no, no_div, levels, labels, ones, zeros, bit_pos, dims, out):
    """Exact APP LLRs log p(1)/p(0) per symbol: per dimension, weights exp(e_i - max e) once,
    each bit's two sums over precomputed level lists (``ones[d, j]`` / ``zeros[d, j]``: the
    levels whose bit j is 1 / 0, in label order, so the sums are added in the same order as
    a per-level bit test would add them); a bit whose smaller sum would lose precision
    (< 1e-280) recomputes both sums exactly. ``y`` float32 ``[m, 2]`` (real, imaginary);
    symbol s's noise variance is ``no[s // no_div]`` (``no_div`` = the symbols per row when
    the variance is constant along a row, 1 when it is per symbol, m when it is one value).
    The largest weight is exp(0) = 1 and is not computed. One level pair (BPSK/QPSK
    dimension): the LLR is ``e_1 - e_0`` itself, the exact value of log(exp(e_1) / exp(e_0))."""
    num_lv = levels.shape[1]
    nb = bit_pos.shape[1]
    half = ones.shape[2]
    e = np.empty(num_lv)
    w = np.empty(num_lv)
    for s in range(y.shape[0]):
        inv = 1.0 / no[s // no_div]
        for d in range(dims):
            v = np.float64(y[s, d])
            if num_lv == 2:
                t0 = v - levels[d, zeros[d, 0, 0]]
                t1 = v - levels[d, ones[d, 0, 0]]
                out[s, bit_pos[d, 0]] = (t0 * t0 - t1 * t1) * inv
                continue
            mx = -np.inf
            for i in range(num_lv):
                t = v - levels[d, i]
                e[i] = -t * t * inv
                mx = max(mx, e[i])
            for i in range(num_lv):
                w[i] = 1.0 if e[i] == mx else math.exp(e[i] - mx)
            for j in range(nb):
                s0 = 0.0
                s1 = 0.0
                for q in range(half):
                    s1 += w[ones[d, j, q]]
                    s0 += w[zeros[d, j, q]]
                if min(s0, s1) > 1e-280:
                    llr = math.log(s1 / s0)
                else:
                    sh = nb - 1 - j
                    llr = _lse_bit(e, labels[d], sh, 1) - _lse_bit(e, labels[d], sh, 0)
                out[s, bit_pos[d, j]] = llr


@functools.lru_cache(maxsize=16)
def _bit_lists(num_bits_per_symbol: int) -> tuple[np.ndarray, np.ndarray]:
    """``ones``, ``zeros`` int64 ``[2, nb, L/2]``: per dimension and bit (MSB first) the
    levels whose label has that bit 1 / 0, in increasing label order."""
    _, _, labels, bit_pos, _ = _tables(num_bits_per_symbol)
    nb = bit_pos.shape[1]
    ones = np.zeros((2, nb, labels.shape[1] // 2), dtype=np.int64)
    zeros = np.zeros_like(ones)
    for d in range(2):
        for j in range(nb):
            bit = (labels[d] >> (nb - 1 - j)) & 1
            ones[d, j] = np.nonzero(bit == 1)[0]
            zeros[d, j] = np.nonzero(bit == 0)[0]
    return ones, zeros


def demap_llr(y: Tensor, no: Tensor, num_bits_per_symbol: int, backend: str = "auto") -> Tensor:
    """Exact (APP) LLRs ``log p(1)/p(0)`` (Sionna's sign): ``[..., m]`` -> ``[..., m * bps]``.

    ``no`` is the noise variance of each ``y`` (same shape, or broadcastable); it is floored
    at ``NO_MIN``.
    """
    no = torch.as_tensor(no, device=y.device)
    if not use_fast(backend, y.device):
        _, demapper = _blocks(num_bits_per_symbol, str(y.device))
        return demapper(y, no.clamp_min(NO_MIN))
    _, levels, labels, bit_pos, dims = _tables(num_bits_per_symbol)
    yc = y.detach().to("cpu", torch.complex64)
    shape = yc.shape
    yr = torch.view_as_real(yc.resolve_conj().contiguous()).reshape(-1, 2).numpy()
    nof, no_div = _noise_rows(no.detach().to("cpu", torch.float32), shape)
    out = np.empty((yr.shape[0], num_bits_per_symbol), dtype=np.float32)
    ones, zeros = _bit_lists(num_bits_per_symbol)
    _demap(yr, nof, no_div, levels, labels, ones, zeros, bit_pos, dims, out)
    llr = torch.from_numpy(out).reshape(*shape[:-1], shape[-1] * num_bits_per_symbol)
    return llr.to(y.device)


def _noise_rows(no32: Tensor, shape: torch.Size) -> tuple[np.ndarray, int]:
    """float64 noise variances (floored at ``NO_MIN``) and the divisor mapping a flat symbol
    index to its entry: one value (``no_div`` = all symbols), one per row of the last
    dimension when ``no`` is constant along it (a broadcast ``[..., 1]`` or an expanded view),
    else one per symbol. Every symbol gets the value it has in ``no`` broadcast to ``shape``."""
    m = max(1, math.prod(shape))
    if no32.numel() == 1:  # one noise variance for every symbol (AWGN): no per-symbol copy
        return np.maximum(no32.reshape(1).numpy().astype(np.float64), NO_MIN), m
    nob = torch.broadcast_to(no32, shape)
    if len(shape) and shape[-1] > 0 and nob.stride(-1) == 0:
        rows = nob[..., 0].reshape(-1)
        return np.maximum(rows.numpy().astype(np.float64), NO_MIN), shape[-1]
    return np.maximum(nob.reshape(-1).numpy().astype(np.float64), NO_MIN), 1
