"""Rayleigh block fading (SISO) with perfect CSI at the receiver."""

from __future__ import annotations

import torch
from torch import Tensor

from semcom_sim.channel.base import Channel, ChannelOutput, complex_gaussian, complex_noise


def block_gains(
    batch: int, n: int, coherence_symbols: int, generator: torch.Generator | None, device
) -> Tensor:
    """Per-symbol gains ``[B, n]``: one CN(0, 1) draw per block of ``coherence_symbols``."""
    num_blocks = -(-n // coherence_symbols)
    h = complex_gaussian((batch, num_blocks), generator, device)
    return h[:, torch.arange(n, device=device) // coherence_symbols]


class RayleighBlockFading(Channel):
    """``y = h x + n`` with ``h ~ CN(0, 1)`` constant over ``coherence_symbols`` symbols.

    The noise is set from the SNR convention alone (not from the faded signal power), so the
    average received SNR equals ``snr_db`` because ``E|h|^2 = 1``.

    Args:
        coherence_symbols: symbols per fading block (``>= 1``; 1 = fast fading).
        equalize: if true (default) the receiver divides by ``h`` (perfect CSI) and ``no_eff`` is
            ``no / |h|^2``; if false ``y`` is the raw received signal, ``no_eff = no`` and ``h`` is
            returned as CSI.
    """

    name = "rayleigh"

    def __init__(self, coherence_symbols: int = 64, equalize: bool = True) -> None:
        if coherence_symbols < 1:
            raise ValueError("coherence_symbols must be >= 1")
        self.coherence_symbols = int(coherence_symbols)
        self.equalize = equalize

    def forward(
        self, x: Tensor, no: Tensor, generator: torch.Generator | None, num_symbols: Tensor
    ) -> ChannelOutput:
        b, n = x.shape
        h = self.sample_gains(b, n, generator, x.device)
        no_b = no[:, None].expand(x.shape)
        y = h * x + complex_noise(x.shape, no_b, generator, x.device)
        uses = self.channel_uses(num_symbols)
        if not self.equalize:
            return ChannelOutput(y=y, no_eff=no_b, h=h, channel_uses=uses)
        g = h.abs().pow(2).clamp_min(1e-12)
        return ChannelOutput(y=y * h.conj() / g, no_eff=no_b / g, h=h, channel_uses=uses)

    @property
    def key(self) -> str:
        """``rayleigh`` for the default channel, else e.g. ``rayleigh-coh1`` / ``-noeq``: stores
        and figures never mix two coherence times under one name."""
        coh = self.coherence_symbols
        key = self.name if coh == 64 else f"{self.name}-coh{coh}"
        return key if self.equalize else f"{key}-noeq"

    def sample_gains(
        self, batch: int, num_symbols: int, generator: torch.Generator | None, device="cpu"
    ) -> Tensor:
        """Per-symbol gains complex ``[B, n]``, one CN(0, 1) per block (:func:`block_gains`)."""
        return block_gains(batch, num_symbols, self.coherence_symbols, generator, device)

    def capacity_bits(
        self,
        num_symbols: Tensor,
        snr_db: Tensor,
        generator: torch.Generator | None = None,
        device: str | torch.device = "cpu",
    ) -> Tensor:
        """Instantaneous capacity of the drawn blocks, ``sum_i log2(1 + snr |h_i|^2)`` over the
        example's symbols (ideal code spanning the blocks; CSI at the receiver only)."""
        device, num_symbols, snr, smax = self._capacity_setup(num_symbols, snr_db, device)
        if smax == 0:
            return torch.zeros(num_symbols.numel(), dtype=torch.float64, device=device)
        h = self.sample_gains(num_symbols.numel(), smax, generator, device)
        per = torch.log2(1.0 + snr[:, None] * h.abs().pow(2).double())
        return self._sum_first(per, num_symbols)

    def config(self) -> dict:
        return {
            "name": self.name,
            "coherence_symbols": self.coherence_symbols,
            "equalize": self.equalize,
        }
