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
    - OFDM (:class:`~semcom_sim.channel.ofdm.OFDMChannel`): ``sum log2(1 + snr |h_k|^2)`` over
      the data resource elements of the example, ``h_k`` the drawn per-subcarrier gains (perfect
      CSI; with estimated CSI it remains this perfect-CSI bound; pilots, CP and guards are in the
      channel uses, so the bound and the real schemes pay the same bandwidth).

Each formula lives in its channel class (``Channel.capacity_bits``); this module only calls it.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from semcom_sim.channel.base import Channel
from semcom_sim.channel.conventions import broadcast_snr
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

    Delegates to :meth:`Channel.capacity_bits` (each channel draws its own realisation with
    ``generator``, the same draw its forward pass makes).

    Args:
        channel: any channel implementing ``capacity_bits`` (AWGN, Rayleigh, MIMO, OFDM).
        num_symbols: int ``[P]`` complex symbols per example.
        snr_db: float ``[P]`` per-example SNR (Es/N0 per receive antenna).
        generator: draws the fading realisations (unused for AWGN).
    """
    return channel.capacity_bits(num_symbols, snr_db, generator, device)


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
