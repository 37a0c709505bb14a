"""Additive white Gaussian noise."""

from __future__ import annotations

import torch
from torch import Tensor

from semcom_sim.channel.base import Channel, ChannelOutput, complex_noise


class AWGN(Channel):
    """``y = x + n``, ``n ~ CN(0, no)`` with ``no = 10**(-snr_db/10)`` per example."""

    name = "awgn"

    def forward(
        self, x: Tensor, no: Tensor, generator: torch.Generator | None, num_symbols: Tensor
    ) -> ChannelOutput:
        no_b = no[:, None].expand(x.shape)  # no draw for the gains (all 1)
        y = complex_noise(x.shape, no[:, None], generator, x.device).add_(x)  # n + x == x + n
        return ChannelOutput(y=y, no_eff=no_b, h=None, channel_uses=self.channel_uses(num_symbols))

    def sample_gains(
        self, batch: int, num_symbols: int, generator: torch.Generator | None, device="cpu"
    ) -> Tensor:
        """All-one gains ``[B, n]``; draws nothing from ``generator``."""
        return torch.ones(batch, num_symbols, dtype=torch.complex64, device=device)

    def capacity_bits(
        self,
        num_symbols: Tensor,
        snr_db: Tensor,
        generator: torch.Generator | None = None,
        device: str | torch.device = "cpu",
    ) -> Tensor:
        """``U log2(1 + snr)`` for ``U`` channel uses (float64 ``[P]``)."""
        device, num_symbols, snr, _ = self._capacity_setup(num_symbols, snr_db, device)
        return self.channel_uses(num_symbols).double() * torch.log2(1.0 + snr)
