"""Dynamic channel encoder pieces (Sec. IV): selection module, target keep ratio, rate loss.

Reading choices:
- sigma^2 enters every small network as ``log10(sigma^2) = -snr_db / 10``, a monotone
  reparametrisation of sigma^2 that stays well scaled from -10 to 30 dB.
- rho is task specific (one :class:`KeepRatioNet` per task and modality): Sec. IV says different
  tasks need different numbers of features and Table I shows very different counts per task.
- The Q target ratios are built as cumulative products ``rho^q = prod_{j<=q} r_j(sigma^2)`` of
  per-stage ratios ``r_j`` in (0, 1), so ``rho^1 >= ... >= rho^Q`` (masks only ever shrink) and
  every ``rho^q`` is non-decreasing in sigma^2 for any weights (positive weights via softplus,
  monotone activations).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def masked_mean(x: Tensor, mask: Tensor, eps: float = 1e-6) -> Tensor:
    """Eq. (15): ``sum_i m[i] x_i / sum_i m[i]``; ``x`` ``[B, N, E]``, ``mask`` ``[B, N]``.

    Returns ``[B, E]``.
    """
    m = mask.to(x.dtype).unsqueeze(-1)
    return (x * m).sum(dim=1) / (m.sum(dim=1) + eps)


def gumbel_keep(log_probs: Tensor, tau: float, generator: torch.Generator | None) -> Tensor:
    """Eq. (17): hard Gumbel-softmax sample of the keep decision with straight-through gradient.

    Args:
        log_probs: ``[B, N, 2]`` log of (keep, drop) probabilities (eq. 16).
    Returns:
        float ``[B, N]``: exactly 0 or 1 in the forward pass, gradient of the soft sample.
    """
    u = torch.rand(log_probs.shape, generator=generator, device=log_probs.device)
    g = -torch.log(-torch.log(u.clamp(1e-10, 1.0 - 1e-7)))
    soft = torch.softmax((log_probs + g) / tau, dim=-1)
    hard = nn.functional.one_hot(soft.argmax(dim=-1), 2).to(soft.dtype)
    return (hard - soft.detach() + soft)[..., 0]


def gumbel_topk_keep(
    log_probs: Tensor, current: Tensor, k: Tensor, tau: float, generator: torch.Generator | None
) -> Tensor:
    """Training-time selection that keeps exactly the inference count (leak-free).

    The ``k[b]`` features with the highest Gumbel-perturbed keep logit
    ``log pi_keep - log pi_drop + L`` (``L`` logistic noise: the difference of two Gumbels, so
    the ranking is a sample of eq. 17's decisions conditioned on keeping ``k``) among those still
    kept; the gradient is the straight-through one of the soft decision
    ``sigmoid((logit + L) / tau)`` of the kept features only: a dropped feature is not sent, so
    what the receiver makes of its slot says nothing about its use (measured: with the gradient
    of every slot, the garbage decoded from empty slots pushes all keep probabilities down and
    rho spirals to its floor). The number kept is the same function of ``(N, rho)`` as at
    inference (:func:`keep_count`), so it carries nothing about the example beyond its length
    and SNR — with eq. 17's independent decisions the count alone can encode the label (measured
    on sentiment: 0 % kept for every negative sentence, 77 % for every positive one).

    Args:
        log_probs: ``[B, N, 2]`` log (keep, drop) probabilities; current: ``[B, N]`` 0/1 mask;
            k: int64 ``[B]``.
    Returns:
        float ``[B, N]``: ``min(k[b], current[b].sum())`` ones per row in the forward pass.
    """
    u = torch.rand(log_probs.shape[:-1], generator=generator, device=log_probs.device)
    u = u.clamp(1e-7, 1.0 - 1e-7)
    logit = log_probs[..., 0] - log_probs[..., 1] + torch.log(u) - torch.log1p(-u)
    hard = topk_keep(logit.detach(), current, k)
    soft = torch.sigmoid(logit / tau) * hard
    return hard - soft.detach() + soft


def topk_keep(score: Tensor, current: Tensor, k: Tensor) -> Tensor:
    """Keep the ``k[b]`` highest-scoring features among those still kept (inference path).

    Args:
        score: ``[B, N]`` keep probabilities; current: ``[B, N]`` 0/1 mask (dropped features are
            never revived); k: int64 ``[B]``.
    Returns:
        float ``[B, N]`` 0/1 mask with ``min(k[b], current[b].sum())`` ones per row.
    """
    s = torch.where(current > 0, score, torch.full_like(score, -math.inf))
    order = torch.sort(s, dim=1, descending=True, stable=True).indices
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(s.shape[1], device=s.device).expand_as(order))
    return ((rank < k[:, None]) & (current > 0)).to(score.dtype)


def keep_count(num_valid: Tensor, rho: Tensor) -> Tensor:
    """Features kept at inference: ``max(1, round(N * rho))`` (``torch.round``: half to even)."""
    return torch.round(num_valid.to(rho.dtype) * rho).to(torch.int64).clamp_min(1)


class SelectionModule(nn.Module):
    """One selection module (Fig. 6, eqs. 14-16).

    Local features ``Z^l = f1(F)``, global feature ``z^g = eta(f2(F), m_hat)`` (masked average over
    the features still kept), noise feature ``z^c = f3(sigma^2)``; ``pi = softmax(f4([Z^l, Z^g,
    Z^c]))`` gives (keep, drop) probabilities per feature.

    ``init_keep`` sets the output bias so that every feature starts with that keep probability
    (the other weights are small at initialisation). Starting near 1/2 per module would drop
    three quarters of the features after two modules before the receiver has learnt to use any:
    the task gradient then keeps dropping them and the rate loss cannot catch up (measured on the
    tiny preset: sentiment stuck at chance with a training keep ratio falling from 0.2 to 0).
    """

    def __init__(self, dim: int, hidden: int, init_keep: float = 0.5, device=None) -> None:
        super().__init__()
        if not 0.0 < init_keep < 1.0:
            raise ValueError(f"init_keep must be in (0, 1), got {init_keep}")
        self.f1 = nn.Sequential(
            nn.LayerNorm(dim, device=device), nn.Linear(dim, hidden, device=device), nn.GELU()
        )
        self.f2 = nn.Sequential(
            nn.LayerNorm(dim, device=device), nn.Linear(dim, hidden, device=device), nn.GELU()
        )
        self.f3 = nn.Sequential(nn.Linear(1, hidden, device=device), nn.GELU())
        self.f4 = nn.Sequential(
            nn.Linear(3 * hidden, hidden, device=device),
            nn.GELU(),
            nn.Linear(hidden, 2, device=device),
        )
        with torch.no_grad():
            self.f4[-1].bias.copy_(torch.tensor([math.log(init_keep / (1 - init_keep)), 0.0]))

    def forward(self, features: Tensor, mask: Tensor, log_no: Tensor) -> Tensor:
        """Log keep/drop probabilities.

        Args:
            features: ``[B, N, E]`` (``F^q``); mask: ``[B, N]`` current ``m_hat``;
            log_no: ``[B]`` log10 of the noise variance sigma^2.
        Returns:
            ``[B, N, 2]`` log-probabilities, column 0 = keep.
        """
        n = features.shape[1]
        z_l = self.f1(features)
        z_g = masked_mean(self.f2(features), mask).unsqueeze(1).expand(-1, n, -1)
        z_c = self.f3(log_no[:, None].to(features.dtype)).unsqueeze(1).expand(-1, n, -1)
        return torch.log_softmax(self.f4(torch.cat([z_l, z_g, z_c], dim=-1)), dim=-1)


class KeepRatioNet(nn.Module):
    """Target keep ratios ``rho(sigma^2) = [rho^1, ..., rho^Q]``, non-decreasing in sigma^2.

    ``h = tanh(softplus(a) * t + b)``, ``r_q = sigmoid(softplus(W_q) . h + c_q)``,
    ``rho^q = f + (1 - f) prod_{j<=q} r_j`` with ``t = log10 sigma^2`` and a floor ``f``
    (``rho_min``; 0 = the paper). Every factor is non-negative and non-decreasing in ``t`` for
    any real parameters, so the products are too.
    """

    def __init__(
        self, num_stages: int, hidden: int, init_ratio: float, device=None, floor: float = 0.0
    ) -> None:
        super().__init__()
        if not 0.0 <= floor < init_ratio:
            raise ValueError(f"floor must be in [0, init_ratio), got {floor}")
        self.floor = floor
        init_ratio = (init_ratio - floor) / (1.0 - floor)
        self.a = nn.Parameter(torch.zeros(hidden, device=device))
        self.b = nn.Parameter(torch.linspace(-1.0, 1.0, hidden, device=device))
        self.w = nn.Parameter(torch.full((num_stages, hidden), -2.0, device=device))
        # each stage keeps init_ratio**(1/Q) so that rho^Q starts near init_ratio
        stage = init_ratio ** (1.0 / num_stages)
        self.c = nn.Parameter(
            torch.full((num_stages,), math.log(stage / (1 - stage)), device=device)
        )

    def forward(self, log_no: Tensor) -> Tensor:
        """``log_no`` ``[B]`` -> ``rho`` ``[B, Q]`` in (0, 1), non-increasing along Q."""
        h = torch.tanh(nn.functional.softplus(self.a) * log_no[:, None] + self.b)
        r = torch.sigmoid(h @ nn.functional.softplus(self.w).T + self.c)
        return self.floor + (1.0 - self.floor) * torch.cumprod(r, dim=-1)


def rate_loss(rho: Tensor, ratios: Tensor, l1_weight: float) -> Tensor:
    """Eq. (18) plus the l1 term of Sec. IV-D, averaged over the batch.

    ``mean_q (rho^q - (1/N) sum_i m_hat^q[i])^2 + l1_weight * ||rho||_1``.

    Args:
        rho: ``[B, Q]`` target ratios; ratios: ``[B, Q]`` actual kept fractions after each stage.
    """
    mse = (rho - ratios).pow(2).mean(dim=-1)
    return (mse + l1_weight * rho.abs().sum(dim=-1)).mean()
