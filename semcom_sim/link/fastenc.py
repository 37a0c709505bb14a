"""Fast CPU encoders (numba) bit-exact with Sionna's 5G LDPC and LTE Turbo encoders.

Sionna's encoders are correct but slow at the link's batch sizes (a torch gather per
parity-check matrix block for LDPC, a Python loop over trellis steps for Turbo). These
classes compute exactly the same codewords from the tables of a Sionna encoder:

- :class:`FastLDPC5GEncoder`: the parity bits as XORs over Sionna's own sparse index tables
  (``p_a = B^-1 A s``, ``p_b = C1 s + C2 p_a``), then Sionna's rate matching (filler bits
  removed, the first 2Z systematic bits punctured, the first ``n`` bits of the circular
  buffer: RV 0, no output interleaver).
- :class:`FastTurboEncoder`: the LTE (13, 15) octal RSC pair with the encoder's 3GPP
  interleaver, 3 tail steps each, Sionna's bit order and puncturing pattern.

Bits are uint8 0/1 ``[M, k]`` in, ``[M, n]`` out (``encode_numpy``) or float tensors
(``__call__``); ``tests/test_fast_encoders.py`` compares them with Sionna on random inputs.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit

from semcom_sim.errors import SemcomError


@njit(cache=True)
def _xor_gather(src, ind, out):
    """out[m, i] = XOR_j src[m, ind[i, j]] over j with ind[i, j] < src.shape[1] (pad: skip)."""
    width = src.shape[1]
    for m in range(src.shape[0]):
        for i in range(ind.shape[0]):
            acc = np.uint8(0)
            for j in range(ind.shape[1]):
                c = ind[i, j]
                if c < width:
                    acc ^= src[m, c]
            out[m, i] = acc


@njit(cache=True)
def _ldpc_encode(u, k_ldpc, z, n, ind_a, ind_binv, ind_c1, ind_c2, out):
    """Sionna's ``_encode_fast`` + RV-0 rate matching for ``u`` uint8 [M, k] -> out [M, n]."""
    m_blocks, k = u.shape
    s = np.zeros((m_blocks, k_ldpc), dtype=np.uint8)
    s[:, :k] = u
    tmp = np.empty((m_blocks, ind_a.shape[0]), dtype=np.uint8)
    p_a = np.empty((m_blocks, ind_binv.shape[0]), dtype=np.uint8)
    p_b = np.empty((m_blocks, ind_c1.shape[0]), dtype=np.uint8)
    p_b2 = np.empty((m_blocks, ind_c2.shape[0]), dtype=np.uint8)
    _xor_gather(s, ind_a, tmp)
    _xor_gather(tmp, ind_binv, p_a)
    _xor_gather(s, ind_c1, p_b)
    _xor_gather(p_a, ind_c2, p_b2)
    n_a = p_a.shape[1]
    n_sys = k - 2 * z
    for mb in range(m_blocks):
        for i in range(n):
            if i < n_sys:
                out[mb, i] = u[mb, 2 * z + i]
            else:
                j = i - n_sys  # index into [p_a, p_b]
                out[mb, i] = p_a[mb, j] if j < n_a else p_b[mb, j - n_a] ^ p_b2[mb, j - n_a]


class FastLDPC5GEncoder:
    """Numba twin of ``sionna.phy.fec.ldpc.LDPC5GEncoder(k, n)`` (RV 0, no interleaver).

    :param encoder: the Sionna encoder whose code (base graph, Z, tables) is reproduced.

    :input bits: ``[..., k]`` 0/1 tensor (any real dtype).
    :output cw: ``[..., n]`` codeword, dtype and device of ``bits``.
    """

    def __init__(self, encoder) -> None:
        if getattr(encoder, "num_bits_per_symbol", None) is not None:
            raise SemcomError("the output interleaver (num_bits_per_symbol) is not supported")
        try:
            tables = [
                np.ascontiguousarray(getattr(encoder, a).cpu().numpy(), dtype=np.int32)
                for a in ("_pcm_a_ind", "_pcm_b_inv_ind", "_pcm_c1_ind", "_pcm_c2_ind")
            ]
        except AttributeError as e:
            raise SemcomError(f"this Sionna LDPC5GEncoder has no encoding tables ({e})") from e
        self.k, self.n = int(encoder.k), int(encoder.n)
        self.z, self.k_ldpc, self.n_ldpc = int(encoder.z), int(encoder.k_ldpc), int(encoder.n_ldpc)
        if self.n > self.k - 2 * self.z + self.n_ldpc - self.k_ldpc:
            raise SemcomError(f"n={self.n} exceeds the circular buffer for k={self.k}")
        self._tables = tables

    def encode_numpy(self, bits: np.ndarray) -> np.ndarray:
        """uint8 0/1 ``[M, k]`` -> uint8 ``[M, n]``."""
        u = np.ascontiguousarray(bits, dtype=np.uint8)
        if u.ndim != 2 or u.shape[1] != self.k:
            raise SemcomError(f"expected bits of shape [M, {self.k}], got {list(u.shape)}")
        out = np.empty((u.shape[0], self.n), dtype=np.uint8)
        if u.shape[0]:
            _ldpc_encode(u, self.k_ldpc, self.z, self.n, *self._tables, out)
        return out

    def __call__(self, bits: torch.Tensor) -> torch.Tensor:
        return _tensor_call(self.encode_numpy, bits, self.k)


@njit(cache=True)
def _rsc(u, perm, k, out_par, out_tail):
    """LTE RSC (feedback 1+D^2+D^3, parity 1+D+D^3) of u[perm] (perm may be the identity).

    State s = 4*r1 + 2*r2 + r3; a = u ^ r2 ^ r3, parity a ^ r1 ^ r3, next 4*a + (s >> 1).
    Tail: 3 steps with u = r2 ^ r3 (a = 0); out_tail = [x, z] per step.
    """
    s = 0
    for t in range(k):
        b = u[perm[t]]
        r1, r2, r3 = (s >> 2) & 1, (s >> 1) & 1, s & 1
        a = b ^ r2 ^ r3
        out_par[t] = a ^ r1 ^ r3
        s = 4 * a + (s >> 1)
    for t in range(3):
        r1, r2, r3 = (s >> 2) & 1, (s >> 1) & 1, s & 1
        out_tail[2 * t] = r2 ^ r3
        out_tail[2 * t + 1] = r1 ^ r3
        s = s >> 1


@njit(cache=True)
def _turbo_encode(u, perm, ident, keep, out):
    """Full sequence (x, z1, z2 per step; then the 12 tail bits) and the kept positions."""
    m_blocks, k = u.shape
    full = np.empty(3 * k + 12, dtype=np.uint8)
    p1 = np.empty(k, dtype=np.uint8)
    p2 = np.empty(k, dtype=np.uint8)
    t1 = np.empty(6, dtype=np.uint8)
    t2 = np.empty(6, dtype=np.uint8)
    for mb in range(m_blocks):
        row = u[mb]
        _rsc(row, ident, k, p1, t1)
        _rsc(row, perm, k, p2, t2)
        for t in range(k):
            full[3 * t] = row[t]
            full[3 * t + 1] = p1[t]
            full[3 * t + 2] = p2[t]
        full[3 * k : 3 * k + 6] = t1
        full[3 * k + 6 : 3 * k + 12] = t2
        for i in range(keep.shape[0]):
            out[mb, i] = full[keep[i]]


class FastTurboEncoder:
    """Numba twin of ``sionna.phy.fec.turbo.TurboEncoder(rate, constraint_length=4,
    terminate=True, k=k)`` (LTE code, 3GPP interleaver, rate 1/3 or punctured 1/2).

    :param encoder: the Sionna encoder (its interleaver and puncturing pattern are used).
    :param k: information bits per block.

    :input bits: ``[..., k]`` 0/1 tensor. :output cw: ``[..., n]``, n = 3k+12 or 2k+8.
    """

    def __init__(self, encoder, k: int) -> None:
        from semcom_sim.link.fastdec.turbo import LTE_GEN_POLY

        if tuple(encoder.gen_poly) != LTE_GEN_POLY or not encoder.terminate:
            raise SemcomError("FastTurboEncoder needs the LTE code (constraint 4, terminated)")
        self.k = int(k)
        x = torch.arange(self.k, dtype=torch.float32).reshape(1, self.k)
        perm = encoder.internal_interleaver(x).reshape(-1).round().to(torch.int64).cpu().numpy()
        if not np.array_equal(np.sort(perm), np.arange(self.k)):
            raise SemcomError("the encoder's interleaver is not a permutation")
        pattern = np.asarray(encoder.punct_pattern.cpu(), dtype=bool)  # [period, 3]
        rows = self.k + 4  # k triples, then the 12 tail bits read as 4 triples
        mask = np.tile(pattern, (rows // pattern.shape[0] + 1, 1))[:rows].reshape(-1)
        self._keep = np.flatnonzero(mask).astype(np.int64)
        self.n = int(self._keep.shape[0])
        self._perm = np.ascontiguousarray(perm)
        self._ident = np.arange(self.k, dtype=np.int64)

    def encode_numpy(self, bits: np.ndarray) -> np.ndarray:
        """uint8 0/1 ``[M, k]`` -> uint8 ``[M, n]``."""
        u = np.ascontiguousarray(bits, dtype=np.uint8)
        if u.ndim != 2 or u.shape[1] != self.k:
            raise SemcomError(f"expected bits of shape [M, {self.k}], got {list(u.shape)}")
        out = np.empty((u.shape[0], self.n), dtype=np.uint8)
        if u.shape[0]:
            _turbo_encode(u, self._perm, self._ident, self._keep, out)
        return out

    def __call__(self, bits: torch.Tensor) -> torch.Tensor:
        return _tensor_call(self.encode_numpy, bits, self.k)


def _tensor_call(encode, bits: torch.Tensor, k: int) -> torch.Tensor:
    """Run ``encode`` (uint8 [M, k] -> [M, n]) on a tensor ``[..., k]``; same dtype/device."""
    if bits.shape[-1] != k:
        raise SemcomError(f"last dimension must be k={k}, got {bits.shape[-1]}")
    flat = bits.detach().reshape(-1, k).to("cpu")
    out = encode(flat.numpy().astype(np.uint8) if flat.dtype != torch.uint8 else flat.numpy())
    res = torch.from_numpy(out).to(bits.dtype)
    return res.reshape(*bits.shape[:-1], out.shape[1]).to(bits.device)
