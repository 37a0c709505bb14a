"""One iteration of Algorithm 1 (joint training of two sampled tasks).

A batch is a dict ``{"task": name, "target": tensor, <inputs>}`` with the inputs named as in
:mod:`semcom_sim.models.udeepsc.tasks` (``image``/``video``/``text``/``audio``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from semcom_sim.channel import CHANNELS, Channel
from semcom_sim.models.udeepsc.codebook import domain_adaptation_loss
from semcom_sim.models.udeepsc.losses import task_objective
from semcom_sim.models.udeepsc.model import UDeepSC
from semcom_sim.models.udeepsc.tasks import shared_modalities

INPUT_KEYS = ("image", "video", "text", "audio")


def algorithm1_phase(step: int) -> int:
    """Phase of iteration ``step`` (1-based) in Algorithm 1: odd -> 1, even -> 2."""
    return 1 if step % 2 == 1 else 2


def sample_snr_db(
    low_high: tuple[float, float], generator: torch.Generator | None = None, device=None
) -> Tensor:
    """One SNR drawn uniformly from ``[low, high]`` dB (line 3 of Algorithm 1), scalar tensor."""
    low, high = low_high
    u = torch.rand((), generator=generator, device=device)
    return low + (high - low) * u


def _features(out: dict, modality: str) -> Tensor:
    """Kept encoded features of one modality as rows ``[sum kept, D]`` (dropped rows are zero)."""
    z = out["features"][modality]
    keep = (out["keep_masks"][modality].detach() * out["valid"][modality])[..., None]
    return (z * keep).flatten(0, 1)


def training_step(
    model: UDeepSC,
    batch_a: dict,
    batch_b: dict,
    snr_db: Tensor | float | None = None,
    phase: int = 1,
    generator: torch.Generator | None = None,
    *,
    channel: Channel | str | None = "awgn",
    optimizer: torch.optim.Optimizer | None = None,
) -> dict[str, Tensor]:
    """Losses of one iteration of Algorithm 1 for tasks A and B.

    ``L = L_p^A + L_p^B + w_c (L_c^A + L_c^B) + w_r (L_r^A + L_r^B) [+ w_a L_a]`` where
    ``L_p`` is eq. (6) of ``phase``, ``L_c`` eq. (12), ``L_r`` eq. (18) with the l1 term, and the
    domain-adaptation loss eq. (13) is added for every modality the two tasks share.

    Args:
        snr_db: one value for both tasks (or ``[B]`` per example); ``None`` samples one value
            uniformly from ``model.config.train_snr_db`` with ``generator``.
        channel: a channel, a ``CHANNELS`` name, or ``None`` (noiseless).
        optimizer: if given, also runs ``zero_grad``, ``backward``, ``step`` and
            :meth:`UDeepSC.after_step` (codebook restarts).

    Returns:
        dict of scalar tensors: ``loss`` (the total, with graph unless an optimizer ran),
        ``task_a``, ``task_b``, ``codebook``, ``rate``, ``da``, ``snr_db``.
    """
    cfg = model.config
    device = next(model.parameters()).device
    if isinstance(channel, str):
        channel = CHANNELS.create(channel)
    if snr_db is None:
        snr_db = sample_snr_db(cfg.train_snr_db, generator, device)
    model.train()
    outs, objectives = [], []
    codebook = rate = torch.zeros((), device=device)
    for batch in (batch_a, batch_b):
        inputs = {k: batch[k] for k in INPUT_KEYS if k in batch}
        out = model(batch["task"], snr_db, channel, generator, **inputs)
        objectives.append(task_objective(cfg, batch["task"], out, batch["target"], phase))
        codebook = codebook + out["loss_codebook"]
        rate = rate + out["loss_rate"]
        outs.append(out)
    da = torch.zeros((), device=device)
    for m in shared_modalities(batch_a["task"], batch_b["task"]):
        da = da + domain_adaptation_loss(
            _features(outs[0], m), _features(outs[1], m), normalize=cfg.da_normalize
        )
    shared = cfg.codebook_weight * codebook + cfg.rate_weight * rate + cfg.da_weight * da
    loss = objectives[0] + objectives[1] + shared
    if optimizer is not None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        model.after_step(generator)
        loss = loss.detach()
    out = {
        "loss": loss,
        "task_a": objectives[0].detach(),
        "task_b": objectives[1].detach(),
        "codebook": codebook.detach(),
        "rate": rate.detach(),
        "da": da.detach(),
        "snr_db": torch.as_tensor(snr_db).detach().float().mean(),
    }
    if optimizer is None:  # the parts with their graphs, for normalized_backward
        out["objectives"], out["rest"] = objectives, shared
    return out


def normalized_backward(
    objectives: list[Tensor], rest: Tensor, params: list[torch.nn.Parameter], eps: float = 1e-12
) -> list[float]:
    """Accumulate ``sum_t w_t grad(L_t) + mean(w) grad(rest)`` into ``params``' ``.grad``, with
    ``w_t = 1 / ||grad(L_t)||`` (each task's gradient at unit norm; the codebook, rate and
    domain-adaptation terms keep their ratio to the tasks on average). Returns the tasks'
    gradient norms (before scaling). One backward pass per part (the graphs share only the
    parameters, so this costs about one combined backward plus the shared terms)."""
    grads, norms = [], []
    for obj in objectives:
        g = torch.autograd.grad(obj, params, retain_graph=True, allow_unused=True)
        n = torch.sqrt(sum((x.detach().pow(2).sum() for x in g if x is not None), torch.zeros(())))
        grads.append(g)
        norms.append(float(n))
    weights = [1.0 / (n + eps) for n in norms]
    mean_w = sum(weights) / len(weights)
    rest_g = (
        torch.autograd.grad(rest, params, allow_unused=True)
        if rest.requires_grad
        else (None,) * len(params)
    )
    for i, p in enumerate(params):
        total = None
        for w, g in zip(weights, grads, strict=True):
            if g[i] is not None:
                total = w * g[i] if total is None else total + w * g[i]
        if rest_g[i] is not None:
            total = mean_w * rest_g[i] if total is None else total + mean_w * rest_g[i]
        if total is not None:
            p.grad = total if p.grad is None else p.grad + total
    return norms
