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
        no_b = no[:, None].expand(x.shape)
        y = x + complex_noise(x.shape, no_b, generator, x.device)
        return ChannelOutput(y=y, no_eff=no_b, h=None, channel_uses=self.channel_uses(num_symbols))
