"""The digital link: byte payloads -> CRC'd code blocks -> FEC -> QAM -> channel -> bytes.

Every separate (conventional) scheme sends its payloads through :class:`DigitalLink`, so all of
them count symbols the same way: a payload of ``C`` blocks of codeword length ``n`` uses
``ceil(C * n / num_bits_per_symbol)`` complex symbols (CRC and zero padding included).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from semcom_sim.channel.base import Channel
from semcom_sim.channel.conventions import broadcast_snr
from semcom_sim.link.crc import attach_crc, check_crc
from semcom_sim.link.fec import code_length, get_code
from semcom_sim.link.mcs import MCS
from semcom_sim.link.qam import demap_llr, map_bits
from semcom_sim.link.segmentation import join_blocks, segment, split_blocks

LLR_MAX = 20.0


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
    """

    def __init__(self, mcs: MCS, device: str | torch.device = "cpu") -> None:
        self.mcs = mcs
        self.device = torch.device(device)

    def num_symbols(self, payload_bytes: int) -> int:
        """Complex symbols a payload of ``payload_bytes`` bytes uses (formula, no simulation)."""
        seg = segment(payload_bytes, self.mcs.max_block_bits)
        if seg.num_blocks == 0:
            return 0
        n = code_length(self.mcs, seg.k, self.device)
        return -(-seg.num_blocks * n // self.mcs.num_bits_per_symbol)

    def config(self) -> dict:
        d = self.mcs.to_dict()
        d["decoder"] = get_code(self.mcs, 1024, self.device).decoder_info
        return d

    def transmit(
        self,
        payloads: list[bytes],
        channel: Channel,
        snr_db: Tensor | float,
        generator: torch.Generator | None = None,
    ) -> LinkResult:
        """Send ``payloads`` (one per example) at ``snr_db`` (scalar or ``[P]``)."""
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
        bits = torch.zeros(p, width, device=self.device)
        info: dict[int, np.ndarray] = {}
        for k, members in groups.items():
            data = np.concatenate([split_blocks(payloads[i], segs[i]) for i, _ in _firsts(members)])
            info[k] = data
            u = torch.from_numpy(np.unpackbits(attach_crc(data), axis=1).astype(np.float32))
            cw = codes[k].encode(u.to(self.device))
            rows, cols = _positions(members, codes[k].n, self.device)
            bits[rows, cols] = cw
        x = map_bits(bits, bps)
        out = channel(x, snr, generator, num_symbols=num_sym.to(self.device))
        # Clip as Sionna's LDPC decoder does internally (llr_max=20); its Turbo decoder does not
        # and breaks on the huge LLRs of high SNR.
        llr = demap_llr(out.y, out.no_eff, bps).clamp(-LLR_MAX, LLR_MAX)
        rx_blocks: dict[int, np.ndarray] = {}
        ok_blocks: dict[int, np.ndarray] = {}
        for k, members in groups.items():
            rows, cols = _positions(members, codes[k].n, self.device)
            hard = codes[k].decode(llr[rows, cols])
            rx = np.packbits(hard.detach().cpu().numpy().astype(np.uint8) > 0, axis=1)
            ok_blocks[k] = check_crc(rx)
            rx_blocks[k] = rx[:, :-3]
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
        return LinkResult(received, block_ok, num_sym, out.channel_uses.cpu())


def _firsts(members: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The (payload, 0) entries: one per payload, in order (blocks of a payload are contiguous)."""
    return [m for m in members if m[1] == 0]


def _positions(members: list[tuple[int, int]], n: int, device) -> tuple[Tensor, Tensor]:
    """Index tensors ``[M, 1]`` rows and ``[M, n]`` columns of each block's coded bits."""
    idx = torch.tensor(members, dtype=torch.int64, device=device).reshape(-1, 2)
    rows = idx[:, :1]
    cols = idx[:, 1:] * n + torch.arange(n, device=device)
    return rows, cols
