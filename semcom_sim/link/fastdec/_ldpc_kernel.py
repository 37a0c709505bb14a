"""Numba kernel: layered offset min-sum decoding of quasi-cyclic LDPC codes.

One compiled kernel serves every (base graph, lifting size Z): the code enters as small
integer tables, so numba compiles it once per machine (``cache=True``).

Code tables. The parity-check matrix is a grid of Z x Z blocks; block (l, c) is zero or the
identity cyclically shifted by ``s``: check ``l*Z + j`` touches variable ``c*Z + (j+s) % Z``.
A *layer* is one block row. Edge ``e`` of layer ``l`` (``layer_ptr[l] <= e < layer_ptr[l+1]``)
has block column ``edge_col[e]`` and shift ``edge_shift[e]``.

Data layout. ``nw`` code blocks (lanes) are decoded side by side; arrays are stored
[position, lane], lane fastest, so the Z checks of a layer read variable block ``c`` as two
contiguous runs ((Z - s) * nw and s * nw values). Messages are int16 fixed point (``QS`` steps
per LLR unit): twice the SIMD width of float32 and half the memory traffic.

Each layer runs two passes over its edges, up to two edges per loop (one stream each) so
the running minima stay in registers: pass 1 folds t = app - r into (min1, min2, argmin,
sign parity); pass 2 recomputes t, writes the new message r and app = t + r. A loop over
several streams is split where any stream wraps around its block; every stream is an
unsigned offset into the flat arrays (no views, whose reference counting per call cost more
than the loops themselves at small Z, and no negative-index checks that would make numba
emit gathers).

Lanes run their iterations in lockstep. After each iteration a lane whose hard decisions
satisfy all checks (or that ran ``num_iter`` iterations) writes its block out and takes the
next block of its task; ``keep`` (0 for a fresh lane, else -1, ANDed with r) drops its stale
messages.

LLRs inside are log(p0/p1) (positive = bit 0); the caller's Sionna logits are negated on
load. Hard decision: bit 1 iff the a-posteriori LLR <= 0 (Sionna's rule).
"""

import numpy as np
from numba import njit

QS = 8.0  # fixed-point steps per LLR unit
APP_MAX = 16000  # |app| clip (2000 LLR units)
MSG_MAX = 8000  # |message| clip, so |app - r| <= 24000 fits int16
_I16 = np.int16
_U = np.uint64


@njit(cache=True)
def _fold(y, d, m1, m2, ix):
    """Fold magnitude y of edge d into the running (min1, min2, argmin)."""
    m2 = min(m2, max(y, m1))
    ix = d if y < m1 else ix
    m1 = min(m1, y)
    return m1, m2, ix


@njit(cache=True)
def _msg(x, d, m1, m2, ix, p):
    """Offset min-sum message to edge d whose input is x (m1, m2 already offset)."""
    mag = m2 if ix == d else m1
    return _I16(-mag) if p != _I16(x < 0) else mag


@njit(cache=True)
def _clip(x, q):
    """app = t + r clipped to +/- APP_MAX; |t + r| <= 32000 so int16 arithmetic suffices."""
    v = _I16(x + q)
    return _I16(min(max(v, _I16(-APP_MAX)), _I16(APP_MAX)))


@njit(cache=True)
def _pass1_1(app, a0, r, r0, kv, mn1, mn2, code, p0, n, d):
    for i in range(n):
        j = p0 + i
        k = kv[j]
        x0 = _I16(app[a0 + i] - (r[r0 + i] & k))
        c = code[j]
        m1, m2, ix = _fold(abs(x0), d, mn1[j], mn2[j], c >> 1)
        mn1[j] = m1
        mn2[j] = m2
        code[j] = _I16((ix << 1) | ((c & 1) ^ (x0 < 0)))


@njit(cache=True)
def _pass1_2(app, a0, a1, r, r0, r1, kv, mn1, mn2, code, p0, n, d):
    for i in range(n):
        j = p0 + i
        k = kv[j]
        x0 = _I16(app[a0 + i] - (r[r0 + i] & k))
        x1 = _I16(app[a1 + i] - (r[r1 + i] & k))
        c = code[j]
        m1, m2, ix = _fold(abs(x0), d, mn1[j], mn2[j], c >> 1)
        m1, m2, ix = _fold(abs(x1), d + 1, m1, m2, ix)
        mn1[j] = m1
        mn2[j] = m2
        code[j] = _I16((ix << 1) | ((c & 1) ^ (x0 < 0) ^ (x1 < 0)))


@njit(cache=True)
def _pass2_1(app, a0, r, r0, kv, mn1, mn2, code, p0, n, d):
    for i in range(n):
        j = p0 + i
        k = kv[j]
        m1 = mn1[j]
        m2 = mn2[j]
        ix = _I16(code[j] >> 1)
        p = _I16(code[j] & 1)
        x0 = _I16(app[a0 + i] - (r[r0 + i] & k))
        q0 = _msg(x0, d, m1, m2, ix, p)
        r[r0 + i] = q0
        app[a0 + i] = _clip(x0, q0)


@njit(cache=True)
def _pass2_2(app, a0, a1, r, r0, r1, kv, mn1, mn2, code, p0, n, d):
    for i in range(n):
        j = p0 + i
        k = kv[j]
        m1 = mn1[j]
        m2 = mn2[j]
        ix = _I16(code[j] >> 1)
        p = _I16(code[j] & 1)
        x0 = _I16(app[a0 + i] - (r[r0 + i] & k))
        x1 = _I16(app[a1 + i] - (r[r1 + i] & k))
        q0 = _msg(x0, d, m1, m2, ix, p)
        q1 = _msg(x1, d + 1, m1, m2, ix, p)
        r[r0 + i] = q0
        r[r1 + i] = q1
        app[a0 + i] = _clip(x0, q0)
        app[a1 + i] = _clip(x1, q1)


@njit(cache=True)
def _stream(col, shift, p0, zw, nw):
    """Offset into app of the values that lanes p0.. of an edge (col, shift) read."""
    off = p0 + shift * nw
    if off >= zw:
        off -= zw
    return _U(col * zw + off)


@njit(cache=True)
def _pass(which, app, r, kv, mn1, mn2, code, p0, p1, e, g, d, zw, nw, edge_col, edge_shift):
    """Run pass ``which`` (1 or 2) on lanes p0..p1-1 of edges e..e+g-1 (g = 1 or 2).

    Offsets are unsigned, so numba emits no negative-index wraparound and the loops stay
    contiguous (no views: a view per stream costs reference counting per call)."""
    a0 = _stream(edge_col[e], edge_shift[e], p0, zw, nw)
    r0 = _U(e * zw + p0)
    q0 = _U(p0)
    n = _U(p1 - p0)
    if g == 1:
        if which == 1:
            _pass1_1(app, a0, r, r0, kv, mn1, mn2, code, q0, n, d)
        else:
            _pass2_1(app, a0, r, r0, kv, mn1, mn2, code, q0, n, d)
    else:
        a1 = _stream(edge_col[e + 1], edge_shift[e + 1], p0, zw, nw)
        r1 = _U((e + 1) * zw + p0)
        if which == 1:
            _pass1_2(app, a0, a1, r, r0, r1, kv, mn1, mn2, code, q0, n, d)
        else:
            _pass2_2(app, a0, a1, r, r0, r1, kv, mn1, mn2, code, q0, n, d)


@njit(cache=True)
def _group(which, app, r, kv, mn1, mn2, code, e, g, d, zw, nw, edge_col, edge_shift):
    """Pass ``which`` over edges e..e+g-1 (local indices d..), cut where a stream wraps."""
    c0 = zw - edge_shift[e] * nw  # lane where edge e wraps around its block (zw: never)
    c1 = zw - edge_shift[e + g - 1] * nw
    lo = min(c0, c1)
    hi = max(c0, c1)
    if lo > 0:
        _pass(which, app, r, kv, mn1, mn2, code, 0, lo, e, g, d, zw, nw, edge_col, edge_shift)
    if hi > lo:
        _pass(which, app, r, kv, mn1, mn2, code, lo, hi, e, g, d, zw, nw, edge_col, edge_shift)
    if zw > hi:
        _pass(which, app, r, kv, mn1, mn2, code, hi, zw, e, g, d, zw, nw, edge_col, edge_shift)


@njit(cache=True)
def _iteration(app, r, kv, mn1, mn2, code, z, nw, layer_ptr, edge_col, edge_shift, off):
    """One layered offset min-sum iteration over all layers and lanes."""
    zw = z * nw
    for lay in range(layer_ptr.shape[0] - 1):
        e0 = layer_ptr[lay]
        e1 = layer_ptr[lay + 1]
        mn1[:] = 32767
        mn2[:] = 32767
        code[:] = 0
        for which in range(1, 3):
            if which == 2:
                for i in range(zw):
                    mn1[i] = min(max(mn1[i] - off, 0), MSG_MAX)
                    mn2[i] = min(max(mn2[i] - off, 0), MSG_MAX)
            e = e0
            while e < e1:
                g = min(2, e1 - e)
                _group(
                    which,
                    app,
                    r,
                    kv,
                    mn1,
                    mn2,
                    code,
                    e,
                    g,
                    _I16(e - e0),
                    zw,
                    nw,
                    edge_col,
                    edge_shift,
                )
                e += g


@njit(cache=True)
def _parity_pass(app, a0, par, p0, n):
    for i in range(n):
        par[p0 + i] ^= np.int16(app[a0 + i] <= 0)


@njit(cache=True)
def _syndrome_bad(app, par, badv, bad, z, nw, layer_ptr, edge_col, edge_shift, check_mask):
    """bad[w] = 1 iff lane w's hard decisions violate a check with ``check_mask`` set."""
    zw = z * nw
    badv[:] = 0
    for lay in range(layer_ptr.shape[0] - 1):
        par[:] = 0
        for e in range(layer_ptr[lay], layer_ptr[lay + 1]):
            base = edge_col[e] * zw
            a = (z - edge_shift[e]) * nw
            b = edge_shift[e] * nw
            _parity_pass(app, _U(base + b), par, _U(0), _U(a))
            _parity_pass(app, _U(base), par, _U(a), _U(b))
        if check_mask[lay].all():
            for i in range(zw):
                badv[i] |= par[i]
        else:
            for j in range(z):
                if check_mask[lay, j]:
                    for w in range(nw):
                        badv[j * nw + w] |= par[j * nw + w]
    bad[:] = 0
    for j in range(z):
        for w in range(nw):
            bad[w] |= badv[j * nw + w]


@njit(cache=True)
def _load_lane(app, keep, w, nw, llr, blk, src, llr_max):
    """Put block ``blk`` of ``llr`` into lane ``w``; its old messages will count as zero."""
    for i in range(src.shape[0]):
        p = src[i]
        if p >= 0:
            v = _I16(round(-min(max(llr[blk, p], -llr_max), llr_max) * QS))
        elif p == -1:
            v = _I16(0)
        else:  # filler bit: known 0
            v = _I16(APP_MAX)
        app[i * nw + w] = v
    keep[w] = 0


@njit(cache=True, nogil=True)
def decode_blocks(
    llr,
    b0,
    b1,
    nw,
    src,
    z,
    layer_ptr,
    edge_col,
    edge_shift,
    check_mask,
    num_iter,
    offset,
    llr_max,
    out_bits,
    out_iters,
):
    """Decode blocks b0..b1-1 of ``llr`` on one core, ``nw`` lanes at a time."""
    k = out_bits.shape[1]
    zw = z * nw
    off = _I16(round(offset * QS))
    app = np.zeros(src.shape[0] * nw, dtype=np.int16)
    r = np.zeros(edge_col.shape[0] * zw, dtype=np.int16)
    kv = np.empty(zw, dtype=np.int16)
    mn1 = np.empty(zw, dtype=np.int16)
    mn2 = np.empty(zw, dtype=np.int16)
    code = np.empty(zw, dtype=np.int16)
    keep = np.full(nw, -1, dtype=np.int16)
    bad = np.empty(nw, dtype=np.int16)
    lane_blk = np.full(nw, -1, dtype=np.int64)
    lane_it = np.zeros(nw, dtype=np.int32)
    nxt = b0
    active = 0
    for w in range(nw):
        if nxt < b1:
            _load_lane(app, keep, w, nw, llr, nxt, src, llr_max)
            lane_blk[w] = nxt
            nxt += 1
            active += 1
    while active > 0:
        for j in range(z):
            kv[j * nw : (j + 1) * nw] = keep
        _iteration(app, r, kv, mn1, mn2, code, z, nw, layer_ptr, edge_col, edge_shift, off)
        keep[:] = -1
        _syndrome_bad(app, mn1, mn2, bad, z, nw, layer_ptr, edge_col, edge_shift, check_mask)
        for w in range(nw):
            blk = lane_blk[w]
            if blk < 0:
                continue
            lane_it[w] += 1
            if bad[w] == 0 or lane_it[w] >= num_iter:
                for i in range(k):
                    out_bits[blk, i] = np.uint8(app[i * nw + w] <= 0)
                out_iters[blk] = lane_it[w]
                lane_it[w] = 0
                if nxt < b1:
                    _load_lane(app, keep, w, nw, llr, nxt, src, llr_max)
                    lane_blk[w] = nxt
                    nxt += 1
                else:
                    lane_blk[w] = -1
                    active -= 1
