"""The capacity bound: a source codec + an ideal, capacity-achieving channel code.

A payload of ``B`` bytes arrives intact iff its ``8 B`` bits fit into the mutual information the
channel offers over the channel uses it is given; otherwise it is lost (the receiver gets no
bytes and the codec's fallback is used). No code of any length can do better with the same
bandwidth, so this is the dashed "source codec + capacity" curve of the cliff-effect figures.

Channel uses: a payload gets exactly the complex symbols that a reference :class:`MCS` would
spend on it through :class:`~semcom_sim.link.digital.DigitalLink` (CRC, padding and
segmentation included, :meth:`DigitalLink.num_symbols`). The registered ``*-capacity`` schemes use
the lowest-rate entry of the declared MCS table (``ldpc-1/3-qpsk``), i.e. the largest bandwidth
any member of the MCS envelope spends on that payload, so the bound lies above the envelope at
every SNR (not merely above the rate-1/2 paper default).

Capacity per channel, per-example SNR ``snr = 10**(snr_db/10)``:
    - AWGN: ``U log2(1 + snr)`` for ``U`` channel uses.
    - SISO Rayleigh block fading (:class:`RayleighBlockFading`): the instantaneous capacity of
      each fading block, ``sum over the U symbols of log2(1 + snr |h_i|^2)`` with ``h`` drawn
      per block of ``coherence_symbols`` (an ideal code spanning the blocks; perfect CSI at the
      receiver, none at the transmitter, so no water-filling).
    - MIMO Nt x Nr Rayleigh (:class:`MIMORayleigh`): ``ceil(S / Nt)`` channel uses for ``S``
      symbols, each with the log-det capacity at equal power per transmit antenna,
      ``log2 det(I + snr/Nt H H^H)``, ``H`` drawn per block of ``coherence_uses`` uses.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from semcom_sim.channel.awgn import AWGN
from semcom_sim.channel.base import Channel, complex_gaussian
from semcom_sim.channel.conventions import broadcast_snr
from semcom_sim.channel.mimo import MIMORayleigh
from semcom_sim.channel.rayleigh import RayleighBlockFading
from semcom_sim.errors import SemcomError
from semcom_sim.link.digital import DigitalLink, LinkResult
from semcom_sim.link.mcs import MCS


def capacity_bits(
    channel: Channel,
    num_symbols: Tensor,
    snr_db: Tensor,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
) -> Tensor:
    """Bits an ideal code delivers over each example's symbols: float64 ``[P]``.

    Args:
        channel: an :class:`AWGN`, :class:`RayleighBlockFading` or :class:`MIMORayleigh`.
        num_symbols: int ``[P]`` complex symbols per example.
        snr_db: float ``[P]`` per-example SNR (Es/N0 per receive antenna).
        generator: draws the fading realisations (unused for AWGN).
    """
    device = torch.device(device)
    num_symbols = num_symbols.to(device=device, dtype=torch.int64)
    snr = torch.pow(10.0, snr_db.to(device=device, dtype=torch.float64) / 10.0)
    p = num_symbols.numel()
    if isinstance(channel, RayleighBlockFading):
        s = int(num_symbols.max()) if p else 0
        if s == 0:
            return torch.zeros(p, dtype=torch.float64, device=device)
        coh = channel.coherence_symbols
        # as block_gains(), indexing blocks instead of repeat_interleave (long coherence times)
        hb = complex_gaussian((p, -(-s // coh)), generator, device)
        h = hb[:, torch.arange(s, device=device) // coh]
        per = torch.log2(1.0 + snr[:, None] * h.abs().pow(2).double())
        mask = torch.arange(s, device=device)[None, :] < num_symbols[:, None]
        return (per * mask).sum(dim=1)
    if isinstance(channel, MIMORayleigh):
        uses = channel.channel_uses(num_symbols)
        u = int(uses.max()) if p else 0
        if u == 0:
            return torch.zeros(p, dtype=torch.float64, device=device)
        nt, nr, coh = channel.nt, channel.nr, channel.coherence_uses
        blocks = -(-u // coh)
        h = complex_gaussian((p, blocks, nr, nt), generator, device).to(torch.complex128)
        h = h[:, torch.arange(u, device=device) // coh]
        eye = torch.eye(nr, dtype=torch.complex128, device=device)
        a = eye + (snr / nt)[:, None, None, None] * (h @ h.mH)
        per = torch.linalg.slogdet(a).logabsdet / math.log(2.0)
        mask = torch.arange(u, device=device)[None, :] < uses[:, None]
        return (per * mask).sum(dim=1)
    if isinstance(channel, AWGN):
        return channel.channel_uses(num_symbols).double() * torch.log2(1.0 + snr)
    raise SemcomError(
        f"the capacity bound knows AWGN, Rayleigh block fading and MIMO Rayleigh channels, "
        f"not {type(channel).__name__}"
    )


class CapacityLink:
    """Drop-in for :class:`DigitalLink` with an ideal code; ``mcs`` only sets the bandwidth.

    A payload is delivered intact iff ``8 * len(payload) <= capacity_bits`` over the symbols the
    reference ``mcs`` would use for it; otherwise the receiver gets ``b""`` (the payload's single
    "block" is marked failed). Zero-length payloads send nothing and arrive.
    """

    def __init__(self, mcs: MCS, device: str | torch.device = "cpu") -> None:
        self.mcs = mcs
        self.device = torch.device(device)
        self._link = DigitalLink(mcs, device=device)
        self._symbols: dict[int, int] = {}

    def num_symbols(self, payload_bytes: int) -> int:
        """Complex symbols granted to a payload: those of the reference MCS (formula)."""
        if payload_bytes not in self._symbols:
            self._symbols[payload_bytes] = self._link.num_symbols(payload_bytes)
        return self._symbols[payload_bytes]

    def config(self) -> dict:
        return {
            "code": "ideal (capacity-achieving)",
            "bandwidth_of": self.mcs.name,
            "rule": "intact iff 8*bytes <= sum of per-use capacity over the reference MCS's "
            "channel uses, else lost",
        }

    def transmit(
        self,
        payloads: list[bytes],
        channel: Channel,
        snr_db: Tensor | float,
        generator: torch.Generator | None = None,
    ) -> LinkResult:
        """Same contract as :meth:`DigitalLink.transmit` (received bytes are exact or empty)."""
        p = len(payloads)
        snr = broadcast_snr(snr_db, p, device=self.device)
        num_sym = torch.tensor([self.num_symbols(len(b)) for b in payloads], dtype=torch.int64)
        cap = capacity_bits(channel, num_sym, snr, generator, self.device).cpu()
        need = torch.tensor([8.0 * len(b) for b in payloads], dtype=torch.float64)
        fits = (need <= cap * (1.0 + 1e-12)).tolist()
        received = [bytes(b) if ok else b"" for b, ok in zip(payloads, fits, strict=True)]
        block_ok = [
            np.ones(0, dtype=bool) if len(b) == 0 else np.array([ok])
            for b, ok in zip(payloads, fits, strict=True)
        ]
        return LinkResult(received, block_ok, num_sym, channel.channel_uses(num_sym).cpu())


def awgn_threshold_snr_db(payload_bytes: int, num_symbols: int) -> float:
    """The AWGN SNR [dB] above which an ideal code carries the payload in ``num_symbols`` uses."""
    if payload_bytes == 0:
        return -math.inf
    return 10.0 * math.log10(2.0 ** (8.0 * payload_bytes / num_symbols) - 1.0)
