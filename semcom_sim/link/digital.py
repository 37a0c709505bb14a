"""The digital link: byte payloads -> CRC'd code blocks -> FEC -> QAM -> channel -> bytes.

Every separate (conventional) scheme sends its payloads through :class:`DigitalLink`, so all of
them count symbols the same way: a payload of ``C`` blocks of codeword length ``n`` uses
``ceil(C * n / num_bits_per_symbol)`` complex symbols (CRC and zero padding included).
"""

from __future__ import annotations

import time
from collections import OrderedDict, defaultdict
from dataclasses import dataclass

import numpy as np
import torch
import xxhash
from torch import Tensor

from semcom_sim.channel.base import Channel
from semcom_sim.channel.conventions import broadcast_snr
from semcom_sim.errors import SemcomError
from semcom_sim.link.crc import attach_crc, check_crc
from semcom_sim.link.fec import code_length, get_code
from semcom_sim.link.mcs import BACKENDS, MCS
from semcom_sim.link.qam import demap_llr, map_bits, qam_info
from semcom_sim.link.segmentation import join_blocks, segment, split_blocks

LLR_MAX = 20.0
CODED_CACHE_BYTES = 1 << 26  # packed coded bits kept per process (see _CodedCache)


@dataclass
class LinkResult:
    """Per payload: received bytes, which blocks failed their CRC, and the resources used.

    Attributes:
        payloads: received bytes (same lengths as sent; failed blocks hold the decoder's guess).
        block_ok: bool ``[C_i]`` per payload, CRC pass per code block.
        num_symbols: int64 ``[P]`` complex symbols sent per payload.
        channel_uses: int64 ``[P]`` channel uses per payload (``num_symbols`` / Nt for MIMO).
    """

    payloads: list[bytes]
    block_ok: list[np.ndarray]
    num_symbols: Tensor
    channel_uses: Tensor

    @property
    def payload_ok(self) -> list[bool]:
        """True where every block of the payload passed its CRC."""
        return [bool(ok.all()) for ok in self.block_ok]


class DigitalLink:
    """Sends variable-length byte payloads with one :class:`MCS` over a :class:`Channel`.

    All blocks of all payloads (and all SNR points, when the caller batches them) of the same
    size go through each decoder in one call.

    Args:
        mcs: the modulation and coding; its ``backend`` picks the decoders.
        device: torch device of the symbols.
        blocks: backend of the encoder, QAM mapper and demapper (``auto``, ``fast``,
            ``sionna``); default the MCS's. Fast and Sionna encoders and mappers give identical
            bits and symbols, the demappers LLRs equal to float rounding.
    """

    def __init__(
        self, mcs: MCS, device: str | torch.device = "cpu", blocks: str | None = None
    ) -> None:
        self.mcs = mcs
        self.device = torch.device(device)
        self.blocks = mcs.backend if blocks is None else blocks
        if self.blocks not in BACKENDS:
            raise SemcomError(f"unknown blocks backend {self.blocks!r}; known: {BACKENDS}")

    def num_symbols(self, payload_bytes: int) -> int:
        """Complex symbols a payload of ``payload_bytes`` bytes uses (formula, no simulation)."""
        seg = segment(payload_bytes, self.mcs.max_block_bits)
        if seg.num_blocks == 0:
            return 0
        n = code_length(self.mcs, seg.k, self.device)
        return -(-seg.num_blocks * n // self.mcs.num_bits_per_symbol)

    def config(self) -> dict:
        d = self.mcs.to_dict()
        code = get_code(self.mcs, 1024, self.device)
        d["decoder"] = code.decoder_info
        d["encoder"] = code.encoder_info(self.blocks)
        d["qam"] = qam_info(self.blocks, self.device)
        return d

    def transmit(
        self,
        payloads: list[bytes],
        channel: Channel,
        snr_db: Tensor | float,
        generator: torch.Generator | None = None,
        timings: dict[str, float] | None = None,
    ) -> LinkResult:
        """Send ``payloads`` (one per example) at ``snr_db`` (scalar or ``[P]``).

        ``timings``, if given, accumulates wall seconds per stage (``segment_crc``, ``encode``,
        ``map``, ``channel``, ``demap``, ``decode``, ``crc_join``) for profiling.
        """
        clock = _Clock(timings)
        p = len(payloads)
        bps = self.mcs.num_bits_per_symbol
        snr = broadcast_snr(snr_db, p, device=self.device)
        segs = [segment(len(b), self.mcs.max_block_bits) for b in payloads]
        groups: dict[int, list[tuple[int, int]]] = defaultdict(list)  # k -> [(payload, block)]
        for i, s in enumerate(segs):
            if s.num_blocks:
                groups[s.k].extend((i, j) for j in range(s.num_blocks))
        codes = {k: get_code(self.mcs, k, self.device) for k in groups}
        coded_bits = [s.num_blocks * codes[s.k].n if s.num_blocks else 0 for s in segs]
        num_sym = torch.tensor([-(-c // bps) for c in coded_bits], dtype=torch.int64)
        if p == 0 or int(num_sym.max()) == 0:
            return LinkResult(
                payloads=[b"" for _ in payloads],
                block_ok=[np.ones(s.num_blocks, dtype=bool) for s in segs],
                num_symbols=num_sym,
                channel_uses=channel.channel_uses(num_sym),
            )
        width = int(num_sym.max()) * bps
        blocks = self.blocks
        key = (self.mcs, blocks, str(self.device), _payloads_digest(payloads))
        bits = CODED.get(key, width)
        if bits is None:
            bits = np.zeros((p, width), dtype=np.uint8)
            for k, members in groups.items():
                firsts = _firsts(members)
                data = np.concatenate([split_blocks(payloads[i], segs[i]) for i, _ in firsts])
                u = np.unpackbits(attach_crc(data), axis=1)
                clock.lap("segment_crc")
                cw = codes[k].encode_numpy(u, blocks)
                _scatter(bits, cw, members)
                clock.lap("encode")
            CODED.put(key, bits)
        x = map_bits(torch.from_numpy(bits).to(self.device), bps, blocks)
        clock.lap("map")
        out = channel(x, snr, generator, num_symbols=num_sym.to(self.device))
        clock.lap("channel")
        # Clip as Sionna's LDPC decoder does internally (llr_max=20); its Turbo decoder does not
        # and breaks on the huge LLRs of high SNR.
        llr = demap_llr(out.y, out.no_eff, bps, blocks).detach().cpu().numpy()
        clock.lap("demap")
        rx_blocks: dict[int, np.ndarray] = {}
        ok_blocks: dict[int, np.ndarray] = {}
        for k, members in groups.items():
            block_llr = _gather(llr, members, codes[k].n, LLR_MAX)
            hard = codes[k].decode_numpy(block_llr)
            clock.lap("decode")
            rx = np.packbits(hard > 0, axis=1)
            ok_blocks[k] = check_crc(rx)
            rx_blocks[k] = rx[:, :-3]
            clock.lap("crc_join")
        received, block_ok = [], []
        cursor = dict.fromkeys(groups, 0)
        for s in segs:
            if s.num_blocks == 0:
                received.append(b"")
                block_ok.append(np.ones(0, dtype=bool))
                continue
            c0 = cursor[s.k]
            cursor[s.k] += s.num_blocks
            received.append(join_blocks(rx_blocks[s.k][c0 : c0 + s.num_blocks], s))
            block_ok.append(ok_blocks[s.k][c0 : c0 + s.num_blocks])
        clock.lap("crc_join")
        return LinkResult(received, block_ok, num_sym, out.channel_uses.cpu())


def _payloads_digest(payloads: list[bytes]) -> bytes:
    """XXH3-128 of the payloads and their lengths (a cache key within one process)."""
    h = xxhash.xxh3_128()
    for b in payloads:
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.digest()


class _CodedCache:
    """Coded bits per (MCS, backend, device, payloads), packed, LRU within ``max_bytes``.

    The encoder is deterministic, so an envelope or a sweep that sends the same payloads at
    every SNR point encodes them once per MCS (a hit is bit for bit what encoding gives:
    ``tests/test_link.py``)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._store: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple, width: int) -> np.ndarray | None:
        packed = self._store.get(key)
        if packed is None:
            return None
        self._store.move_to_end(key)
        return np.unpackbits(packed, axis=1, count=width)

    def put(self, key: tuple, bits: np.ndarray) -> None:
        packed = np.packbits(bits, axis=1)
        if packed.nbytes > self.max_bytes:
            return
        self._store[key] = packed
        self._bytes += packed.nbytes
        while self._bytes > self.max_bytes:
            _, old = self._store.popitem(last=False)
            self._bytes -= old.nbytes

    def clear(self) -> None:
        self._store.clear()
        self._bytes = 0


CODED = _CodedCache(CODED_CACHE_BYTES)


class _Clock:
    """Adds the wall time since the previous lap to ``timings[stage]`` (no-op without a dict)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.t = time.perf_counter()

    def lap(self, stage: str) -> None:
        if self.timings is not None:
            now = time.perf_counter()
            self.timings[stage] = self.timings.get(stage, 0.0) + now - self.t
            self.t = now


def _firsts(members: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The (payload, 0) entries: one per payload, in order (blocks of a payload are contiguous)."""
    return [m for m in members if m[1] == 0]


def _runs(members: list[tuple[int, int]]):
    """(payload, first member row, blocks) per payload: its blocks are consecutive members."""
    for r, (i, j) in enumerate(members):
        if j == 0:
            c = 1
            while r + c < len(members) and members[r + c][0] == i and members[r + c][1] == c:
                c += 1
            yield i, r, c


def _scatter(bits: np.ndarray, cw: np.ndarray, members: list[tuple[int, int]]) -> None:
    """Write codewords ``cw [M, n]`` into each payload's row of ``bits [P, width]``."""
    n = cw.shape[1]
    for i, r, c in _runs(members):
        bits[i, : c * n] = cw[r : r + c].reshape(-1)


def _gather(
    llr: np.ndarray, members: list[tuple[int, int]], n: int, clip: float | None = None
) -> np.ndarray:
    """float32 ``[M, n]``: each member block's LLRs out of ``llr [P, width]``, clipped to
    ``[-clip, clip]`` on the way (no second pass) when ``clip`` is given."""
    out = np.empty((len(members), n), dtype=np.float32)
    for i, r, c in _runs(members):
        src = llr[i, : c * n].reshape(c, n)
        if clip is None:
            out[r : r + c] = src
        else:
            np.clip(src, -clip, clip, out=out[r : r + c])
    return out
