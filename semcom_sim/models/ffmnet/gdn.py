"""Generalized divisive normalization (Balle, Laparra, Simoncelli 2016), written in plain torch.

``GDN``:  ``y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)``
``IGDN``: ``y_i = x_i * sqrt(beta_i + sum_j gamma_ij x_j^2)`` (one fixed-point step of the
inverse, as in Balle's code; exact only when gamma = 0).

``beta`` and ``gamma`` must stay non-negative (beta >= beta_min > 0). As in Balle's
tensorflow_compression code, they are stored reparametrised: ``p = sqrt(value + pedestal)`` with
``pedestal = reparam_offset**2``, and read back as ``lower_bound(p, bound)**2 - pedestal``, where
the lower bound lets through gradients that push ``p`` up again (so a parameter pushed below its
bound is never stuck there).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class _LowerBound(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, bound: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.bound = bound
        return x.clamp_min(bound)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (x,) = ctx.saved_tensors
        # Pass the gradient where x is above the bound, or where descent would raise x.
        pass_through = (x >= ctx.bound) | (grad < 0)
        return grad * pass_through.to(grad.dtype), None


def lower_bound(x: Tensor, bound: float) -> Tensor:
    """``max(x, bound)`` whose gradient still flows when it would move ``x`` above ``bound``."""
    return _LowerBound.apply(x, bound)


class GDN(nn.Module):
    """GDN over the channel dim of ``[B, C, H, W]`` (or ``[B, C]``).

    Args:
        channels: C.
        inverse: False for GDN, True for IGDN.
        beta_min: lower bound of beta (keeps the denominator away from 0).
        gamma_init: initial value of gamma's diagonal (off-diagonal starts at 0).
        reparam_offset: sets the pedestal ``reparam_offset**2`` and gamma's bound.
    """

    def __init__(
        self,
        channels: int,
        inverse: bool = False,
        beta_min: float = 1e-6,
        gamma_init: float = 0.1,
        reparam_offset: float = 2.0**-18,
        device=None,
    ) -> None:
        super().__init__()
        self.channels = channels
        self.inverse = inverse
        self.pedestal = reparam_offset**2
        self.beta_bound = (beta_min + self.pedestal) ** 0.5
        self.gamma_bound = reparam_offset
        beta = torch.ones(channels, device=device)
        gamma = gamma_init * torch.eye(channels, device=device)
        self.beta_p = nn.Parameter(torch.sqrt(beta + self.pedestal))
        self.gamma_p = nn.Parameter(torch.sqrt(gamma + self.pedestal))

    @property
    def beta(self) -> Tensor:
        """Effective beta ``[C]``, >= beta_min."""
        return lower_bound(self.beta_p, self.beta_bound).pow(2) - self.pedestal

    @property
    def gamma(self) -> Tensor:
        """Effective gamma ``[C, C]`` (row i weights the inputs of output i), >= 0."""
        return lower_bound(self.gamma_p, self.gamma_bound).pow(2) - self.pedestal

    @torch.no_grad()
    def set_parameters(self, beta: Tensor, gamma: Tensor) -> None:
        """Set the effective ``beta [C]`` (> 0) and ``gamma [C, C]`` (>= 0)."""
        self.beta_p.copy_(torch.sqrt(beta.to(self.beta_p) + self.pedestal))
        self.gamma_p.copy_(torch.sqrt(gamma.to(self.gamma_p) + self.pedestal))

    def forward(self, x: Tensor) -> Tensor:
        """``x`` float ``[B, C, ...]`` -> same shape."""
        shape = x.shape
        x4 = x.reshape(shape[0], shape[1], -1, 1) if x.dim() != 4 else x
        weight = self.gamma.reshape(self.channels, self.channels, 1, 1)
        norm = F.conv2d(x4 * x4, weight, self.beta)
        out = x4 * torch.sqrt(norm) if self.inverse else x4 * torch.rsqrt(norm)
        return out.reshape(shape)

    def extra_repr(self) -> str:
        return f"{self.channels}, inverse={self.inverse}"


def igdn(channels: int, **kwargs) -> GDN:
    """An inverse GDN layer (``GDN(channels, inverse=True)``)."""
    return GDN(channels, inverse=True, **kwargs)
