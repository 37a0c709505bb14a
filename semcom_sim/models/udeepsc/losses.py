"""Task losses, ground-truth certainty (eqs. 8-9) and the two-phase multi-exit objective (eq. 6).

Reading choices:
- Eq. (9) ``c_hat = 1 - tanh(||g_i(U) - y||)``: the text says the certainty is "evaluated by the
  absolute error", so the norm is read as the per-example mean absolute error, scaled by
  ``recon_certainty_scale`` (an unscaled full-image norm would saturate tanh for any image:
  with scale 10, an MAE of 0.02 on [0, 1] pixels gives 0.80, 0.05 gives 0.54).
- Text reconstruction is a per-token classification, so its certainty target is eq. (8) averaged
  over the token positions (token accuracy); its loss is cross-entropy over all L positions,
  padding included, so that the receiver learns where a sentence ends.
- ``L_i^LCM`` is added to ``L_i`` and weighted by ``lambda_i`` with it (Sec. II-D: "adding
  L_i^LCM to the loss function of the corresponding heads").
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from semcom_sim.models.udeepsc.config import UDeepSCConfig
from semcom_sim.models.udeepsc.tasks import task_spec


def certainty_target_classification(logits: Tensor, target: Tensor) -> Tensor:
    """Eq. (8): ``1(argmax_j g_i^j = y)`` per example, float ``[B]``.

    ``target`` is int64 ``[B]`` or class scores ``[B, C]`` (then its argmax is the label).
    """
    label = target.argmax(dim=-1) if target.is_floating_point() else target
    return (logits.argmax(dim=-1) == label).to(logits.dtype)


def certainty_target_reconstruction(pred: Tensor, target: Tensor, scale: float = 1.0) -> Tensor:
    """Eq. (9): ``1 - tanh(scale * mean |pred - target|)`` per example, float ``[B]``."""
    err = (pred - target).abs().flatten(1).mean(dim=1)
    return 1.0 - torch.tanh(scale * err)


def certainty_target_tokens(logits: Tensor, target: Tensor, ignore_id: int | None = None) -> Tensor:
    """Eq. (8) averaged over positions: token accuracy per example; logits ``[B, L, V]``.
    Positions whose target is ``ignore_id`` (padding) are left out."""
    hit = (logits.argmax(dim=-1) == target).to(logits.dtype)
    if ignore_id is None:
        return hit.mean(dim=1)
    w = (target != ignore_id).to(logits.dtype)
    return (hit * w).sum(dim=1) / w.sum(dim=1).clamp_min(1.0)


def loss_scale(kind: str, output: Tensor, target: Tensor) -> Tensor:
    """The loss of the task's trivial predictor, by which ``loss_normalize`` divides (no grad):
    ``log C`` (uniform over the classes / the vocabulary) for cross-entropies, and for image
    MSE the batch's pixel variance (the mean-image predictor). Every task loss then starts near
    1, instead of image MSE ~0.02 beside cross-entropies ~2 (measured: 20-40x smaller gradient
    share of image reconstruction on the shared layers)."""
    if kind == "image_reconstruction":
        return target.detach().var().clamp_min(1e-4)
    return torch.tensor(float(output.shape[-1]), device=output.device).log()


def task_loss(kind: str, output: Tensor, target: Tensor, ignore_id: int | None = None) -> Tensor:
    """``C(g_i(U_i), y)``: cross-entropy (classification, per-token for text reconstruction) or
    MSE (image reconstruction, as the paper trains for PSNR). ``ignore_id``: text positions
    whose target is this id (padding) are left out of the text-reconstruction loss."""
    if kind == "classification":
        return nn.functional.cross_entropy(output, target)
    if kind == "text_reconstruction":
        ignore = -100 if ignore_id is None else ignore_id
        return nn.functional.cross_entropy(output.transpose(1, 2), target, ignore_index=ignore)
    return nn.functional.mse_loss(output, target)


def certainty_target(
    kind: str, output: Tensor, target: Tensor, scale: float, ignore_id: int | None = None
) -> Tensor:
    """Ground-truth certainty ``c_hat_i`` ``[B]`` (no gradient)."""
    with torch.no_grad():
        if kind == "classification":
            return certainty_target_classification(output, target)
        if kind == "text_reconstruction":
            return certainty_target_tokens(output, target, ignore_id)
        return certainty_target_reconstruction(output, target, scale)


def exit_losses(
    cfg: UDeepSCConfig, task: str, out: dict, target: Tensor
) -> tuple[list[Tensor], list[Tensor]]:
    """``(L_i, L_i^LCM)`` for every executed decoder layer ``i``."""
    kind = task_spec(task).kind
    ignore = cfg.pad_id if cfg.text_loss_ignore_pad else None
    task_losses, lcm_losses = [], []
    for i, o in enumerate(out["exit_outputs"]):
        loss = task_loss(kind, o, target, ignore)
        if cfg.loss_normalize:
            loss = loss / loss_scale(kind, o, target)
        task_losses.append(loss)
        c_hat = certainty_target(kind, o, target, cfg.recon_certainty_scale, ignore)
        lcm_losses.append((out["certainty"][:, i] - c_hat).pow(2).mean())
    return task_losses, lcm_losses


def multi_exit_loss(
    task_losses: list[Tensor], lcm_losses: list[Tensor], phase: int, weights
) -> Tensor:
    """Eq. (6) with the LCM terms.

    Phase 1: ``lambda_n (L_n + L_n^LCM)``; phase 2: ``sum_i lambda_i (L_i + L_i^LCM)``.
    """
    if phase == 1:
        return weights[-1] * (task_losses[-1] + lcm_losses[-1])
    if phase == 2:
        return sum(
            w * (lt + lc) for w, lt, lc in zip(weights, task_losses, lcm_losses, strict=True)
        )
    raise ValueError(f"phase must be 1 or 2, got {phase}")


def task_objective(cfg: UDeepSCConfig, task: str, out: dict, target: Tensor, phase: int) -> Tensor:
    """``L_p1`` or ``L_p2`` of one task (eq. 6 with the LCM terms)."""
    task_losses, lcm_losses = exit_losses(cfg, task, out, target)
    return multi_exit_loss(task_losses, lcm_losses, phase, cfg.exit_weights())
