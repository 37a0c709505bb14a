"""Numba kernel: iterative BCJR (log-MAP or max-log-MAP) decoding of the LTE turbo code.

Constituent code: the LTE rate-1/2 recursive systematic code, feedback 1 + D^2 + D^3 and
feed-forward 1 + D + D^3 ((13, 15) octal), 8 states. State s = 4*r1 + 2*r2 + r3 (r1 newest
register bit), as in Sionna's ``Trellis``. Input u: a = u ^ r2 ^ r3, parity p = a ^ r1 ^ r3,
next state 4*a + (s >> 1). Each encoder ends in state 0 after 3 tail steps. Branch metric
(logits, positive = bit 1): u * Lu + p * Lp, Lu = systematic + a-priori LLR. The trellis is
written out by hand so every state update is one vector operation over lanes.

SIMD over code blocks: ``NW`` blocks (lanes) are decoded side by side. Every array is flat
with rows of NW lanes (or 8 states x NW lanes); each loop runs over the lanes of one or two
row views with constant offsets, so LLVM vectorises it without gathers and with few
run-time alias checks (a compile-time NW also fixes those offsets).

Per decoder ``rec`` holds rows [Ls | Lp] in its trellis order (decoder 2: interleaved
systematic), rows k..k+2 its tail. ``nat`` holds rows [ext | app] in natural bit order, plus a
zero row k for the tail steps: each decoder reads its a-priori LLR from ``ext`` and overwrites
it with its extrinsic (scaled, clipped), and overwrites ``app``; a lane whose hard decisions
(app > 0) did not change from the previous half-iteration is done. Lanes run half-iterations
in lockstep; a finished lane takes the next block of its task (a fresh block may start with
either decoder: they are symmetric).

``_mx`` is the max* operator log(e^a + e^b): max(a, b) plus the correction log(1 + e^-|a-b|)
~ 0.051 * max(0, 3.6 - |a-b|)^2 (log-MAP; the fitted correction is off by < 0.032 and
decodes like exact log-MAP), or the plain max (max-log-MAP).
Kernels are released from the GIL (``nogil``) and run on several threads by the caller.
"""

import numpy as np
from numba import njit

NW = 16  # lanes per task: one AVX-512 register of float32
_S = 8 * NW  # one trellis column (8 states x NW lanes)
_NEG = np.float32(-1e20)  # log(0) of unreachable states (finite: fastmath assumes no inf)


MAXLOG = ()  # ``mode`` of max-log-MAP
LOGMAP = (1,)  # ``mode`` of log-MAP (a different tuple type: its own compiled variant)


@njit(cache=True, fastmath=True, inline="always")
def _mx(a, b, mode):
    """max*(a, b): max, plus the correction when ``mode`` is LOGMAP (decided at compile time)."""
    m = max(a, b)
    if len(mode) == 1:  # log(1 + exp(-|a - b|)) ~ 0.051 * max(0, 3.6 - |a - b|)^2, error < 0.032
        r = max(np.float32(0.0), np.float32(3.6) - abs(a - b))
        m += np.float32(0.051) * r * r
    return m


@njit(cache=True, fastmath=True, inline="always")
def _fwd(mode, a, o, dr, nr):
    """alpha_{t+1} (o) from alpha_t (a); state 0 normalised to 0."""
    for w in range(NW):
        lu = dr[w] + nr[w]
        lp = dr[NW + w]
        g = lu + lp
        a0, a1, a2, a3 = a[w], a[NW + w], a[2 * NW + w], a[3 * NW + w]
        a4, a5, a6, a7 = a[4 * NW + w], a[5 * NW + w], a[6 * NW + w], a[7 * NW + w]
        n0 = _mx(a0, a1 + g, mode)
        o[w] = 0.0
        o[4 * NW + w] = _mx(a0 + g, a1, mode) - n0
        o[NW + w] = _mx(a2 + lu, a3 + lp, mode) - n0
        o[5 * NW + w] = _mx(a2 + lp, a3 + lu, mode) - n0
        o[2 * NW + w] = _mx(a4 + lp, a5 + lu, mode) - n0
        o[6 * NW + w] = _mx(a4 + lu, a5 + lp, mode) - n0
        o[3 * NW + w] = _mx(a6 + g, a7, mode) - n0
        o[7 * NW + w] = _mx(a6, a7 + g, mode) - n0


@njit(cache=True, fastmath=True, inline="always")
def _bwd(mode, b, o, dr, nr):
    """beta_t (o) from beta_{t+1} (b); state 0 normalised to 0."""
    for w in range(NW):
        lu = dr[w] + nr[w]
        lp = dr[NW + w]
        g = lu + lp
        b0, b1, b2, b3 = b[w], b[NW + w], b[2 * NW + w], b[3 * NW + w]
        b4, b5, b6, b7 = b[4 * NW + w], b[5 * NW + w], b[6 * NW + w], b[7 * NW + w]
        n0 = _mx(b0, g + b4, mode)
        o[w] = 0.0
        o[NW + w] = _mx(b4, g + b0, mode) - n0
        o[2 * NW + w] = _mx(lp + b5, lu + b1, mode) - n0
        o[3 * NW + w] = _mx(lp + b1, lu + b5, mode) - n0
        o[4 * NW + w] = _mx(lp + b2, lu + b6, mode) - n0
        o[5 * NW + w] = _mx(lp + b6, lu + b2, mode) - n0
        o[6 * NW + w] = _mx(b7, g + b3, mode) - n0
        o[7 * NW + w] = _mx(b3, g + b7, mode) - n0


@njit(cache=True, fastmath=True, inline="always")
def _extrinsic(mode, a, b, dr, nr, changed, scale, clip):
    """Extrinsic LLR of step t from alpha_t (a), beta_{t+1} (b); update the nat row nr."""
    for w in range(NW):
        lu = dr[w] + nr[w]
        lp = dr[NW + w]
        a0, a1, a2, a3 = a[w], a[NW + w], a[2 * NW + w], a[3 * NW + w]
        a4, a5, a6, a7 = a[4 * NW + w], a[5 * NW + w], a[6 * NW + w], a[7 * NW + w]
        b0, b1, b2, b3 = b[w], b[NW + w], b[2 * NW + w], b[3 * NW + w]
        b4, b5, b6, b7 = b[4 * NW + w], b[5 * NW + w], b[6 * NW + w], b[7 * NW + w]
        one = _mx(
            _mx(_mx(a0 + b4, a1 + b0, mode), _mx(a6 + b3, a7 + b7, mode), mode) + lp,
            _mx(_mx(a2 + b1, a3 + b5, mode), _mx(a4 + b6, a5 + b2, mode), mode),
            mode,
        )
        zero = _mx(
            _mx(_mx(a0 + b0, a1 + b4, mode), _mx(a6 + b7, a7 + b3, mode), mode),
            _mx(_mx(a2 + b5, a3 + b1, mode), _mx(a4 + b2, a5 + b6, mode), mode) + lp,
            mode,
        )
        e = one - zero
        app = lu + e
        changed[w] |= (app > 0) != (nr[NW + w] > 0)
        nr[w] = min(max(scale * e, -clip), clip)
        nr[NW + w] = app


@njit(cache=True, fastmath=True)
def _half_iteration(mode, rec, nat, idx, alpha, beta, changed, scale, clip):
    """One constituent decoder on all lanes: forward, then backward with extrinsics.

    Step t reads rec row t and nat row idx[t] (idx[t] = k for the tail steps).
    """
    steps = idx.shape[0]  # k + 3
    alpha[:_S] = _NEG
    alpha[:NW] = 0.0
    for t in range(steps):
        r = idx[t] * 2 * NW
        _fwd(
            mode,
            alpha[t * _S : (t + 1) * _S],
            alpha[(t + 1) * _S : (t + 2) * _S],
            rec[t * 2 * NW : (t + 1) * 2 * NW],
            nat[r : r + 2 * NW],
        )
    beta[:_S] = _NEG
    beta[:NW] = 0.0
    cur = 0
    for t in range(steps - 1, -1, -1):
        r = idx[t] * 2 * NW
        dr = rec[t * 2 * NW : (t + 1) * 2 * NW]
        nr = nat[r : r + 2 * NW]
        b = beta[cur * _S : (cur + 1) * _S]
        o = beta[(1 - cur) * _S : (2 - cur) * _S]
        _bwd(mode, b, o, dr, nr)
        if t < steps - 3:
            _extrinsic(mode, alpha[t * _S : (t + 1) * _S], b, dr, nr, changed, scale, clip)
        cur = 1 - cur


@njit(cache=True, fastmath=True)
def _get(llr, blk, i, llr_max):
    if i < 0:
        return np.float32(0.0)
    return min(max(llr[blk, i], -llr_max), llr_max)


@njit(cache=True, fastmath=True)
def _load_lane(
    w, llr, blk, perm, idx_sys, idx_p1, idx_p2, idx_t1, idx_t2, llr_max, rec1, rec2, nat
):
    """Scatter block ``blk`` of ``llr`` (index -1: punctured, LLR 0) into lane ``w``."""
    k = perm.shape[0]
    for t in range(k):
        rec1[t * 2 * NW + w] = _get(llr, blk, idx_sys[t], llr_max)
        rec1[t * 2 * NW + NW + w] = _get(llr, blk, idx_p1[t], llr_max)
        rec2[t * 2 * NW + w] = _get(llr, blk, idx_sys[perm[t]], llr_max)
        rec2[t * 2 * NW + NW + w] = _get(llr, blk, idx_p2[t], llr_max)
        nat[t * 2 * NW + w] = 0.0
        nat[t * 2 * NW + NW + w] = 0.0
    for t in range(3):
        for j in range(2):
            rec1[(k + t) * 2 * NW + j * NW + w] = _get(llr, blk, idx_t1[t, j], llr_max)
            rec2[(k + t) * 2 * NW + j * NW + w] = _get(llr, blk, idx_t2[t, j], llr_max)


@njit(cache=True, fastmath=True, nogil=True)
def decode_blocks(
    mode,
    llr,
    b0,
    b1,
    perm,
    idx_sys,
    idx_p1,
    idx_p2,
    idx_t1,
    idx_t2,
    max_halves,
    stop_halves,
    scale,
    clip,
    llr_max,
    out_bits,
    out_iters,
):
    """Decode blocks b0..b1-1 of ``llr`` ([B, n] float32 Sionna logits), NW lanes at a time.

    mode: MAXLOG or LOGMAP. perm: [k] int64 interleaver (decoder 2's step t sees info bit
    perm[t]). idx_*: input position of each systematic / parity-1 / parity-2 LLR ([k]) and of
    the tail LLRs of encoder 1 / 2 ([3, 2]: systematic, parity), -1 where punctured.
    max_halves: 2 * num_iter. stop_halves: stop a block once its hard decisions went unchanged
    through this many half-iterations in a row (0: never stop early).
    out_bits: [B, k] uint8. out_iters: [B] int32 iterations run (half-iterations rounded up).
    """
    k = perm.shape[0]
    rec1 = np.zeros((k + 3) * 2 * NW, dtype=np.float32)
    rec2 = np.zeros((k + 3) * 2 * NW, dtype=np.float32)
    nat = np.zeros((k + 1) * 2 * NW, dtype=np.float32)  # row k: zero a-priori of the tail
    alpha = np.empty((k + 4) * _S, dtype=np.float32)
    beta = np.empty(2 * _S, dtype=np.float32)
    idx1 = np.full(k + 3, k, dtype=np.int64)
    idx1[:k] = np.arange(k)
    idx2 = np.full(k + 3, k, dtype=np.int64)
    idx2[:k] = perm
    changed = np.zeros(NW, dtype=np.bool_)
    fresh = np.zeros(NW, dtype=np.bool_)
    lane_blk = np.full(NW, -1, dtype=np.int64)
    lane_half = np.zeros(NW, dtype=np.int32)
    stable = np.zeros(NW, dtype=np.int32)  # half-iterations in a row without a change
    nxt = b0
    active = 0
    for w in range(NW):
        if nxt < b1:
            _load_lane(
                w, llr, nxt, perm, idx_sys, idx_p1, idx_p2, idx_t1, idx_t2, llr_max, rec1, rec2, nat
            )
            lane_blk[w] = nxt
            fresh[w] = True
            nxt += 1
            active += 1
    half = 0
    while active > 0:
        for w in range(NW):
            changed[w] = fresh[w]
            fresh[w] = False
        if half == 0:
            _half_iteration(mode, rec1, nat, idx1, alpha, beta, changed, scale, clip)
        else:
            _half_iteration(mode, rec2, nat, idx2, alpha, beta, changed, scale, clip)
        half = 1 - half
        for w in range(NW):
            blk = lane_blk[w]
            if blk < 0:
                continue
            lane_half[w] += 1
            stable[w] = 0 if changed[w] else stable[w] + 1
            if (stop_halves > 0 and stable[w] >= stop_halves) or lane_half[w] >= max_halves:
                for i in range(k):
                    out_bits[blk, i] = np.uint8(nat[i * 2 * NW + NW + w] > 0)
                out_iters[blk] = (lane_half[w] + 1) // 2
                lane_half[w] = 0
                stable[w] = 0
                if nxt < b1:
                    _load_lane(
                        w,
                        llr,
                        nxt,
                        perm,
                        idx_sys,
                        idx_p1,
                        idx_p2,
                        idx_t1,
                        idx_t2,
                        llr_max,
                        rec1,
                        rec2,
                        nat,
                    )
                    lane_blk[w] = nxt
                    fresh[w] = True
                    nxt += 1
                else:
                    lane_blk[w] = -1
                    active -= 1
