"""The three-step training strategy of Sec. II-D, one optimiser step per call.

1. :func:`train_step_ffmnet`: FFMNet alone with ``L = L_det + L_seg`` (eq. 2).
2. :func:`train_step_jscc`: the JSCC with ``L1(D1, D1_hat) + L`` while FFMNet is frozen, the
   L1 measured in units of each channel's std (D1's channels differ in scale by orders of
   magnitude)
   (parameters fixed and BatchNorm statistics kept: FFMNet in eval mode).
3. :func:`train_step_end_to_end`: everything with ``L``.

Robust models are trained over AWGN at ``SNR_train`` in ``TRAIN_SNRS_DB`` (0, 5, 10 dB) or
noiseless (``snr_train_db=None``); see :func:`training_channel`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from semcom_sim.channel import AWGN, Channel
from semcom_sim.errors import SemcomError
from semcom_sim.models.ffmnet.jscc import FFMNetJSCC
from semcom_sim.models.ffmnet.model import FFMNet

TRAIN_SNRS_DB: tuple[float, ...] = (0.0, 5.0, 10.0)


def training_channel(snr_train_db: float | None) -> tuple[Channel | None, float | None]:
    """``(AWGN(), snr_train_db)``, or ``(None, None)`` for noiseless training."""
    return (None, None) if snr_train_db is None else (AWGN(), float(snr_train_db))


def set_requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def make_optimizer(
    model: FFMNet | FFMNetJSCC, step: int, lr: float = 1e-4
) -> torch.optim.Optimizer:
    """Adam over the parameters trained in ``step`` (1: FFMNet, 2: the JSCC, 3: all)."""
    if step == 1:
        params = (model.ffmnet if isinstance(model, FFMNetJSCC) else model).parameters()
    elif step in (2, 3):
        if not isinstance(model, FFMNetJSCC):
            raise SemcomError(f"training step {step} needs an FFMNetJSCC model")
        params = model.jscc.parameters() if step == 2 else model.parameters()
    else:
        raise SemcomError(f"training step must be 1, 2 or 3, got {step}")
    return torch.optim.Adam(params, lr=lr)


def _finish(optimizer: torch.optim.Optimizer, losses: dict[str, Tensor]) -> dict[str, float]:
    optimizer.zero_grad(set_to_none=True)
    loss = losses["loss"]
    if not torch.isfinite(loss):
        raise FloatingPointError(f"non-finite training loss {loss.item()}")
    loss.backward()
    optimizer.step()
    return {k: float(v.detach()) for k, v in losses.items()}


def train_step_ffmnet(
    model: FFMNet, optimizer: torch.optim.Optimizer, images: Tensor, targets: dict
) -> dict[str, float]:
    """Step 1: one update of FFMNet with ``L_det + L_seg``. Returns the loss terms."""
    model.train()
    return _finish(optimizer, model.loss(model(images), targets))


def train_step_jscc(
    model: FFMNetJSCC,
    optimizer: torch.optim.Optimizer,
    images: Tensor,
    targets: dict,
    channel: Channel | None = None,
    snr_db: Tensor | float | None = None,
    generator: torch.Generator | None = None,
    l1_weight: float = 1.0,
) -> dict[str, float]:
    """Step 2: one update of the JSCC with ``l1_weight * mean(|D1 - D1_hat| / std_c) + L_det +
    L_seg`` (the L1 in standardised units, :func:`jscc.l1_terms`);
    FFMNet is frozen (``requires_grad=False``, eval mode). ``optimizer`` should hold the JSCC
    parameters only (:func:`make_optimizer` with step 2)."""
    set_requires_grad(model.ffmnet, False)
    model.ffmnet.eval()
    model.jscc.train()
    out = model(images, channel, snr_db, generator)
    losses = model.loss(out, targets)
    losses["task"] = losses["loss"]
    losses["loss"] = l1_weight * losses["l1_std"] + losses["task"]
    return _finish(optimizer, losses)


def train_step_end_to_end(
    model: FFMNetJSCC,
    optimizer: torch.optim.Optimizer,
    images: Tensor,
    targets: dict,
    channel: Channel | None = None,
    snr_db: Tensor | float | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """Step 3: one update of the whole split model with ``L_det + L_seg`` (unfreezes FFMNet)."""
    set_requires_grad(model, True)
    model.train()
    out = model(images, channel, snr_db, generator)
    return _finish(optimizer, model.loss(out, targets))
