"""Fast CPU decoder for Sionna's 5G NR LDPC code (layered offset min-sum in numba)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy as sp
import torch

from semcom_sim.errors import SemcomError
from semcom_sim.link.fastdec._ldpc_kernel import decode_blocks
from semcom_sim.link.fastdec._tasks import bits_to_torch, llr_to_numpy, run_tasks, split_tasks


@dataclass(frozen=True)
class LDPCLayout:
    """Decoder tables of one rate-matched 5G code (see ``_ldpc_kernel`` for their meaning)."""

    z: int
    k: int
    n: int
    src: np.ndarray  # [n_var] int32: input position, -1 punctured, -2 filler
    layer_ptr: np.ndarray  # [num_layers + 1] int32
    edge_col: np.ndarray  # [num_edges] int32 block column
    edge_shift: np.ndarray  # [num_edges] int32 cyclic shift
    check_mask: np.ndarray  # [num_layers, z] int32: 1 = check counted in the syndrome


# pcm objects (shared between codes of one lifting size, see semcom_sim.link.fec) whose layers
# were already checked to re-lift exactly: id -> (pcm, {kept layers})
_CHECKED: dict[int, tuple] = {}


def ldpc_layout(encoder) -> LDPCLayout:
    """Derive the decoder tables from a ``sionna.phy.fec.ldpc.LDPC5GEncoder``.

    Uses only the encoder's public parity-check matrix and code parameters. The n received
    LLRs map onto the n_ldpc codeword positions as in Sionna's ``LDPC5GDecoder``: the first
    2Z systematic bits are punctured (LLR 0), then k - 2Z systematic LLRs, k_ldpc - k filler
    bits (known 0), then parity LLRs until the n received values run out; the rest of the
    parity bits are punctured. Layers whose checks all touch a punctured degree-1 variable
    carry no information and are dropped (Sionna's ``prune_pcm``); such checks in a kept
    layer are left out of the syndrome.
    """
    z, k, n = int(encoder.z), int(encoder.k), int(encoder.n)
    k_ldpc, n_ldpc = int(encoder.k_ldpc), int(encoder.n_ldpc)
    n_sys = k - 2 * z  # systematic LLRs sent
    if n > n_sys + (n_ldpc - k_ldpc):
        raise SemcomError(f"n={n} exceeds the 5G circular buffer for k={k} (no repetition)")
    src = np.full(n_ldpc, -1, dtype=np.int32)
    src[2 * z : k] = np.arange(n_sys)
    src[k:k_ldpc] = -2
    n_par = n - n_sys
    src[k_ldpc : k_ldpc + n_par] = n_sys + np.arange(n_par)

    pcm = encoder.pcm.tocsr()
    num_rows = pcm.shape[0]
    punct_deg1 = (np.asarray(pcm.sum(axis=0)).ravel() == 1) & (src == -1)
    useless_row = np.asarray(pcm[:, punct_deg1].sum(axis=1)).ravel() > 0

    layer_ptr, edge_col, edge_shift, masks, kept = [0], [], [], [], []
    for lay in range(num_rows // z):
        if useless_row[lay * z : (lay + 1) * z].all():
            continue
        for c in np.sort(pcm[lay * z].indices):  # row 0 of the layer: column blk*z + shift
            blk, s = divmod(int(c), z)
            edge_col.append(blk)
            edge_shift.append(s)
        layer_ptr.append(len(edge_col))
        masks.append(~useless_row[lay * z : (lay + 1) * z])
        kept.append(lay)
    checked = _CHECKED.get(id(encoder.pcm))
    if checked is None or checked[0] is not encoder.pcm or tuple(kept) not in checked[1]:
        _check_quasi_cyclic(pcm, z, kept, layer_ptr, edge_col, edge_shift)
        if checked is None or checked[0] is not encoder.pcm:
            checked = _CHECKED[id(encoder.pcm)] = (encoder.pcm, set())
        checked[1].add(tuple(kept))
    n_var = (max(edge_col) + 1) * z
    layer_ptr = np.asarray(layer_ptr, dtype=np.int32)
    return LDPCLayout(
        z=z,
        k=k,
        n=n,
        src=np.ascontiguousarray(src[:n_var]),
        layer_ptr=layer_ptr,
        edge_col=np.asarray(edge_col, dtype=np.int32),
        edge_shift=np.asarray(edge_shift, dtype=np.int32),
        check_mask=np.asarray(masks, dtype=np.int32),
    )


def _check_quasi_cyclic(pcm, z, kept, layer_ptr, edge_col, edge_shift) -> None:
    """Assert that the layer tables re-lift exactly to the kept rows of ``pcm``."""
    rows, cols = [], []
    j = np.arange(z)
    for i in range(len(kept)):
        for e in range(layer_ptr[i], layer_ptr[i + 1]):
            rows.append(i * z + j)
            cols.append(edge_col[e] * z + (j + edge_shift[e]) % z)
    sub = pcm[np.concatenate([np.arange(lay * z, (lay + 1) * z) for lay in kept])]
    lifted = sp.sparse.csr_matrix(
        (np.ones(len(rows) * z), (np.concatenate(rows), np.concatenate(cols))), shape=sub.shape
    )
    if (abs(lifted - (sub != 0)) > 0).nnz:
        raise SemcomError("parity-check matrix is not quasi-cyclic with the expected lifting")


class FastLDPC5GDecoder:
    """Layered offset min-sum decoder for Sionna's 5G NR LDPC code, on the CPU in numba.

    Drop-in for ``sionna.phy.fec.ldpc.LDPC5GDecoder(encoder, hard_out=True,
    return_infobits=True)``: same parity-check matrix, base graph, lifting size, filler bits
    and rate matching (RV 0, no output interleaver). Every code block stops at the first
    iteration whose hard decisions satisfy all parity checks. Blocks run in parallel on all
    cores (threads running GIL-free numba code), 16 or 32 per SIMD group. Messages are int16
    fixed point with 1/8 LLR steps. Offset min-sum assumes correctly scaled LLRs (the offset
    is in LLR units).

    :param encoder: ``sionna.phy.fec.ldpc.LDPC5GEncoder(k, n)``.
    :param num_iter: Maximum number of layered iterations.
    :param offset: Offset subtracted from check-node message magnitudes.
    :param llr_max: Channel LLRs are clipped to +/- ``llr_max`` (Sionna's default is 20).

    :input llr: [..., n] float tensor, Sionna logits log(p(1)/p(0)) (positive means bit 1).
    :output bits: [..., k] tensor of hard decisions 0/1, dtype and device of ``llr``.

    After a call ``last_num_iter`` holds the iterations run per block ([prod(...)] int32).
    """

    def __init__(
        self, encoder, num_iter: int = 20, offset: float = 0.5, llr_max: float = 20.0
    ) -> None:
        if getattr(encoder, "num_bits_per_symbol", None) is not None:
            raise SemcomError("the output interleaver (num_bits_per_symbol) is not supported")
        if num_iter < 1:
            raise SemcomError(f"num_iter must be >= 1, got {num_iter}")
        if offset < 0 or llr_max <= 0:
            raise SemcomError("offset must be >= 0 and llr_max > 0")
        self.encoder = encoder
        self.num_iter = int(num_iter)
        self.offset = float(offset)
        self.llr_max = float(llr_max)
        self.layout = ldpc_layout(encoder)
        # int16 lanes: 32 fill an AVX-512 register; 16 when the messages of 32 blocks would
        # not fit in a 1 MiB L2 cache (large codes)
        lay = self.layout
        msg_bytes = 2 * 32 * lay.z * (lay.edge_col.shape[0] + lay.src.shape[0] // lay.z)
        self.max_lanes = 32 if msg_bytes <= 1 << 20 else 16
        self.last_num_iter = np.zeros(0, dtype=np.int32)

    @property
    def k(self) -> int:
        """Number of information bits per block."""
        return self.layout.k

    @property
    def n(self) -> int:
        """Number of codeword bits (LLRs) per block."""
        return self.layout.n

    def decode_numpy(self, llr: np.ndarray) -> np.ndarray:
        """Decode [B, n] float32 logits into [B, k] uint8 hard bits (sets ``last_num_iter``)."""
        lay = self.layout
        llr = np.ascontiguousarray(llr, dtype=np.float32)
        if llr.ndim != 2 or llr.shape[1] != lay.n:
            raise SemcomError(f"expected LLRs of shape [B, {lay.n}], got {list(llr.shape)}")
        bits = np.empty((llr.shape[0], lay.k), dtype=np.uint8)
        iters = np.zeros(llr.shape[0], dtype=np.int32)
        if llr.shape[0] > 0:
            tasks, lanes = split_tasks(llr.shape[0], self.max_lanes)

            def decode(b0: int, b1: int) -> None:
                decode_blocks(
                    llr,
                    b0,
                    b1,
                    lanes,
                    lay.src,
                    lay.z,
                    lay.layer_ptr,
                    lay.edge_col,
                    lay.edge_shift,
                    lay.check_mask,
                    self.num_iter,
                    np.float32(self.offset),
                    np.float32(self.llr_max),
                    bits,
                    iters,
                )

            run_tasks(llr.shape[0], tasks, decode)
        self.last_num_iter = iters
        return bits

    def __call__(self, llr: torch.Tensor) -> torch.Tensor:
        if llr.shape[-1] != self.n:
            raise SemcomError(f"last dimension must be n={self.n}, got {llr.shape[-1]}")
        bits = self.decode_numpy(llr_to_numpy(llr, self.n))
        return bits_to_torch(bits, llr, (*llr.shape[:-1], self.k))
