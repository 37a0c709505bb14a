"""Block codes behind one small interface: 5G NR LDPC, LTE Turbo (Sionna's codes), uncoded.

Bits are float32 0/1 tensors (``encode``/``decode``) or uint8 / float32 numpy arrays
(``encode_numpy``/``decode_numpy``, the link's path); LLRs follow Sionna's sign
(``log p(1)/p(0)``: positive means 1). With backend ``fast`` (or ``auto`` on the CPU) the
numba encoders of :mod:`semcom_sim.link.fastenc` (bit-exact with Sionna's) and decoders of
:mod:`semcom_sim.link.fastdec` run; ``sionna`` runs Sionna's blocks. Instances are cached per
(code, k, rate, decoder settings) so that a sweep builds each once.
"""

from __future__ import annotations

import functools
from fractions import Fraction
from typing import Any

import numpy as np
import torch
from torch import Tensor

from semcom_sim.link.mcs import MCS


class BlockCode:
    """One code instance with information length ``k`` and codeword length ``n``."""

    code: str
    k: int
    n: int
    decoder_info: dict
    device: str = "cpu"

    def encode(self, bits: Tensor) -> Tensor:
        """``[M, k]`` -> ``[M, n]`` (float32 0/1)."""
        raise NotImplementedError

    def decode(self, llr: Tensor) -> Tensor:
        """``[M, n]`` LLRs (positive = 1) -> hard information bits ``[M, k]``."""
        raise NotImplementedError

    def encoder_info(self, blocks: str) -> str:
        """The encoder that ``encode_numpy(..., blocks)`` runs."""
        return "none"

    def encode_numpy(self, bits: np.ndarray, blocks: str = "auto") -> np.ndarray:
        """uint8 0/1 ``[M, k]`` -> uint8 ``[M, n]``; ``blocks`` (``auto``/``fast``/``sionna``)
        picks the numba encoder or Sionna's (identical codewords)."""
        u = torch.from_numpy(np.ascontiguousarray(bits).astype(np.float32)).to(self.device)
        return self.encode(u).detach().cpu().numpy().astype(np.uint8)

    def decode_numpy(self, llr: np.ndarray) -> np.ndarray:
        """float32 LLRs ``[M, n]`` -> uint8 hard bits ``[M, k]``."""
        dec = getattr(self, "_dec", None)
        if hasattr(dec, "decode_numpy"):
            return dec.decode_numpy(llr)
        hard = self.decode(torch.from_numpy(np.ascontiguousarray(llr)).to(self.device))
        return (hard.detach().cpu().numpy() > 0).astype(np.uint8)


class UncodedCode(BlockCode):
    code = "uncoded"

    def __init__(self, k: int) -> None:
        self.k = self.n = k
        self.decoder_info = {"decoder": "hard decision"}

    def encode(self, bits: Tensor) -> Tensor:
        return bits

    def encode_numpy(self, bits: np.ndarray, blocks: str = "auto") -> np.ndarray:
        return np.ascontiguousarray(bits, dtype=np.uint8)

    def decode_numpy(self, llr: np.ndarray) -> np.ndarray:
        return (llr > 0).astype(np.uint8)

    def decode(self, llr: Tensor) -> Tensor:
        return (llr > 0).to(torch.float32)


class _SionnaCode(BlockCode):
    """A code with a Sionna encoder ``_enc`` (named ``sionna_encoder``), its numba twin built
    on first use, and a decoder ``_dec``."""

    sionna_encoder = ""

    def encode(self, bits: Tensor) -> Tensor:
        return self._enc(bits)

    def encoder_info(self, blocks: str) -> str:
        return _encoder_name(blocks, self.device, self.sionna_encoder)

    def encode_numpy(self, bits: np.ndarray, blocks: str = "auto") -> np.ndarray:
        if not _use_fast(blocks, self.device):
            return super().encode_numpy(bits)
        if self._fast_enc is None:
            self._fast_enc = _fast_encoder(self._enc, self.k)
        return self._fast_enc.encode_numpy(bits)

    def decode(self, llr: Tensor) -> Tensor:
        return self._dec(llr)


class LDPCCode(_SionnaCode):
    code = "ldpc"
    sionna_encoder = "LDPC5GEncoder"  # also for the shared-table subclass: the same code

    def __init__(self, k: int, n: int, num_iter: int | None, backend: str, device: str) -> None:
        from sionna.phy.fec.ldpc import LDPC5GDecoder

        self.k, self.n, self.device = k, n, device
        self._enc = _shared_tables_encoder()(k, n, device=device)
        self._fast_enc = None
        self._dec, name = _fast_decoder("ldpc", self._enc, num_iter, backend, device)
        if self._dec is None:
            num_iter = num_iter or 20
            self._dec = LDPC5GDecoder(self._enc, num_iter=num_iter, hard_out=True, device=device)
            name = "sionna LDPC5GDecoder boxplus-phi flooding BP"
        else:
            num_iter = self._dec.num_iter
        self.decoder_info = {"decoder": name, "num_iter": num_iter}



class TurboCode(_SionnaCode):
    code = "turbo"
    sionna_encoder = "TurboEncoder"

    def __init__(
        self, k: int, rate: Fraction, num_iter: int | None, backend: str, device: str
    ) -> None:
        from sionna.phy.fec.turbo import TurboDecoder, TurboEncoder

        self.k, self.device = k, device
        self._enc = TurboEncoder(
            rate=float(rate), constraint_length=4, terminate=True, k=k, device=device
        )
        self.n = int(self._enc(torch.zeros(1, k, device=device)).shape[-1])
        self._fast_enc = None
        self._dec, name = _fast_decoder("turbo", self._enc, num_iter, backend, device)
        if self._dec is None:
            num_iter = num_iter or 6
            self._dec = TurboDecoder(self._enc, num_iter=num_iter, algorithm="map", device=device)
            name = "sionna TurboDecoder MAP"
        else:
            num_iter = self._dec.num_iter
        self.decoder_info = {"decoder": name, "num_iter": num_iter}



@functools.cache
def _shared_tables_encoder():
    """``LDPC5GEncoder`` whose lifted matrices and index tables are shared between instances.

    Sionna builds them from the base graph, its set index and the lifting size alone (not from
    ``k`` or ``n``), yet an instance spends ~50 ms on them; a sweep needs one code per distinct
    payload length (hundreds) over a few dozen lifting sizes. Shared tables are never written
    (encoding gathers from them), so every instance equals a fresh ``LDPC5GEncoder(k, n)``
    (``tests/test_fast_encoders.py`` compares their tables and codewords).
    """
    from sionna.phy.fec.ldpc import LDPC5GEncoder

    lifted: dict[tuple, Any] = {}
    basegraphs: dict[tuple, Any] = {}
    submats: dict[tuple, tuple] = {}
    indices: dict[int, tuple] = {}

    def memo(store: dict, key, build):
        if key not in store:
            store[key] = build()
        return store[key]

    class SharedTablesLDPC5GEncoder(LDPC5GEncoder):
        def _load_basegraph(self, i_ls, bg):  # read from a text file by Sionna
            key = (int(i_ls), bg)
            return memo(basegraphs, key, lambda: LDPC5GEncoder._load_basegraph(self, i_ls, bg))

        def _lift_basegraph(self, bm, z):
            bm = np.asarray(bm)  # also lifts sub-blocks of the base graph (in _gen_submat)
            key = (bm.shape, bm.dtype.str, bm.tobytes(), int(z))
            return memo(lifted, key, lambda: LDPC5GEncoder._lift_basegraph(self, bm, z))

        def _gen_submat(self, bm, k_b, z, bg):
            key = (bg, self._i_ls, int(k_b), int(z))
            return memo(submats, key, lambda: LDPC5GEncoder._gen_submat(self, bm, k_b, z, bg))

        def _mat_to_ind(self, mat):
            hit = indices.get(id(mat))
            if hit is None or hit[0] is not mat:  # cached by identity of a cached sub-matrix
                hit = indices[id(mat)] = (mat, super()._mat_to_ind(mat))
            return hit[1]

    return SharedTablesLDPC5GEncoder


def _use_fast(blocks: str, device: str) -> bool:
    return blocks == "fast" or (blocks == "auto" and torch.device(device).type == "cpu")


def _fast_encoder(encoder, k: int):
    """The numba encoder bit-exact with Sionna's ``encoder``."""
    from sionna.phy.fec.ldpc import LDPC5GEncoder

    from semcom_sim.link.fastenc import FastLDPC5GEncoder, FastTurboEncoder

    if isinstance(encoder, LDPC5GEncoder):
        return FastLDPC5GEncoder(encoder)
    return FastTurboEncoder(encoder, k)


def _encoder_name(blocks: str, device: str, sionna_name: str) -> str:
    if _use_fast(blocks, device):
        return f"fast numba (bit-exact with sionna {sionna_name})"
    return f"sionna {sionna_name}"


def _fast_decoder(code: str, encoder, num_iter: int | None, backend: str, device: str):
    """The numba decoder for ``backend`` fast/auto on CPU, or ``(None, "")`` for Sionna's."""
    if backend == "sionna" or (backend == "auto" and torch.device(device).type != "cpu"):
        return None, ""
    try:
        from semcom_sim.link import fastdec
    except ImportError:
        if backend == "fast":
            raise
        return None, ""
    return fastdec.make_decoder(code, encoder, num_iter)


@functools.lru_cache(maxsize=1024)
def _cached(
    code: str, k: int, rate: str, num_iter: int | None, backend: str, device: str
) -> BlockCode:
    r = Fraction(rate)
    if code == "uncoded":
        return UncodedCode(k)
    if code == "ldpc":
        return LDPCCode(k, round(k / r), num_iter, backend, device)
    return TurboCode(k, r, num_iter, backend, device)


def get_code(mcs: MCS, k: int, device: str | torch.device = "cpu") -> BlockCode:
    """The (cached) block code of ``mcs`` for information length ``k``."""
    return _cached(mcs.code, k, mcs.rate, mcs.num_iter, mcs.backend, str(torch.device(device)))


def code_length(mcs: MCS, k: int, device: str | torch.device = "cpu") -> int:
    """Codeword length ``n`` of ``mcs`` for ``k`` information bits.

    LDPC (``round(k / R)``, as :func:`get_code` builds it) and uncoded (``k``) need no code
    instance, so symbol budgets can be checked for many sizes cheaply; Turbo builds its code.
    """
    if mcs.code == "uncoded":
        return k
    if mcs.code == "ldpc":
        return round(k / Fraction(mcs.rate))
    return get_code(mcs, k, device).n
