"""The U-DeepSC model: per-modality transmitters, feature link, unified receiver.

``UDeepSC(config)`` built for all six tasks is U-DeepSC; built with ``tasks=[task]`` it is
T-DeepSC (same architecture, one task); T-DeepSC called with ``channel=None`` is the paper's upper
bound (features delivered noiselessly).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from semcom_sim.channel import Channel, broadcast_snr
from semcom_sim.errors import SemcomError
from semcom_sim.models.udeepsc.config import UDeepSCConfig, preset_config
from semcom_sim.models.udeepsc.receiver import UnifiedReceiver
from semcom_sim.models.udeepsc.selection import rate_loss
from semcom_sim.models.udeepsc.tasks import MODALITIES, TASKS, task_spec
from semcom_sim.models.udeepsc.transmission import FeatureLink
from semcom_sim.models.udeepsc.transmitter import Transmitter, TransmitterOutput

INPUT_OF_MODALITY = {"text": "text", "speech": "audio"}


class UDeepSC(nn.Module):
    """Unified multi-task semantic communication system (Zhang et al., Fig. 3).

    Args:
        config: sizes and loss weights (default: the ``tiny`` preset).
        tasks: optional override of ``config.tasks`` (one task = T-DeepSC).
        device: where parameters are created.
    """

    def __init__(self, config: UDeepSCConfig | None = None, tasks=None, device=None) -> None:
        super().__init__()
        cfg = config or UDeepSCConfig()
        if tasks is not None:
            cfg = dataclasses.replace(cfg, tasks=tuple(tasks))
        self.config = cfg
        self.transmitters = nn.ModuleDict(
            {m: Transmitter(cfg, m, device=device) for m in cfg.modalities}
        )
        self.link = FeatureLink(cfg, device=device)
        self.receiver = UnifiedReceiver(cfg, device=device)

    @property
    def tasks(self) -> tuple[str, ...]:
        return self.config.tasks

    def forward(
        self,
        task: str,
        snr_db: Tensor | float,
        channel: Channel | None = None,
        generator: torch.Generator | None = None,
        *,
        image: Tensor | None = None,
        video: Tensor | None = None,
        text: Tensor | None = None,
        audio: Tensor | None = None,
        exit_threshold: float | None = None,
        early_exit: bool = True,
        repeats: int = 1,
    ) -> dict:
        """Run one task end to end (inputs as in :mod:`semcom_sim.models.udeepsc.tasks`).

        Args:
            task: one of ``self.tasks``.
            snr_db: scalar or ``[B]`` (Es/N0 per complex symbol); sets sigma^2 for the selection
                modules, the keep ratio rho and the LCM, and the channel noise.
            channel: e.g. ``AWGN()``; ``None`` = noiseless delivery (upper bound).
            generator: drives the Gumbel sampling (training) and the channel noise; it must live
                on the model's device.
            exit_threshold: ``delta_e`` (default ``config.exit_threshold``). Eval mode only: an
                example exits at the first layer with certainty ``> delta_e`` (``1.0`` = never,
                i.e. always the last layer); training mode always reports the last layer.
            early_exit: eval mode: skip the remaining decoder layers once every example has
                exited (``False`` runs all layers, e.g. to study thresholds afterwards).
            repeats: ``R`` > 1 evaluates the ``B0`` given inputs at ``R`` SNRs in one pass:
                ``snr_db`` is ``[R * B0]`` in SNR-major order and every output has ``R * B0``
                rows; the SNR-independent part of the transmitters (embedding and the layers
                before the first selection module) runs once per input, not once per SNR.

        Returns:
            dict with ``output`` (also under ``logits`` or ``recon``), ``exit_outputs`` (list per
            decoder layer), ``certainty`` ``[B, n_layers]``, ``exit_layer`` int64 ``[B]`` (1-based),
            ``num_symbols`` and ``channel_uses`` int64 ``[B]``, ``keep_ratio`` ``[B]`` (kept /
            existing features over the task's modalities), ``keep_masks``, ``rho``,
            ``features`` (``z_en``), ``valid`` (modality -> tensors), ``indices`` (digital),
            ``loss_codebook`` (eq. 12) and ``loss_rate`` (eq. 18 + l1) scalars, ``snr_db`` ``[B]``.
        """
        spec = task_spec(task)
        if task not in self.tasks:
            raise SemcomError(f"this model was built for tasks {self.tasks}, not {task!r}")
        inputs = {"image": image, "video": video, "text": text, "audio": audio}
        names = [
            spec.image_input if m == "image" else INPUT_OF_MODALITY[m] for m in spec.modalities
        ]
        missing = [k for k in names if inputs[k] is None]
        extra = [k for k, v in inputs.items() if v is not None and k not in names]
        if missing or extra:
            raise SemcomError(
                f"task {task!r} takes inputs {names}; missing {missing}, unexpected {extra}"
            )
        if repeats < 1:
            raise SemcomError(f"repeats must be >= 1, got {repeats}")
        b = inputs[names[0]].shape[0] * repeats
        device = next(self.parameters()).device
        snr = broadcast_snr(snr_db, b, device=device)
        log_no = -snr / 10.0
        sent: dict[str, TransmitterOutput] = {
            m: self.transmitters[m](inputs[k], task, log_no, generator, repeats)
            for m, k in zip(spec.modalities, names, strict=True)
        }
        link = self.link(sent, snr, channel, generator, task=task)
        masks = {m: o.mask for m, o in sent.items()}
        text_emb = None
        num_outputs = None
        if spec.kind == "text_reconstruction":
            text_emb = self.transmitters["text"].embed.tokens.weight
            num_outputs = text.shape[1]
        dec = self.receiver(
            task,
            link.received,
            masks,
            log_no,
            self.config.exit_threshold if exit_threshold is None else exit_threshold,
            early_exit,
            num_outputs=num_outputs,
            token_embedding=text_emb,
        )
        kept = sum((o.mask.detach() * o.valid).sum(dim=1) for o in sent.values())
        valid = sum(o.valid.sum(dim=1) for o in sent.values())
        l_rate = torch.zeros((), device=device)
        for o in sent.values():
            if o.rho is not None:
                l_rate = l_rate + rate_loss(o.rho, o.ratios, self.config.rate_l1_weight)
        out = dict(dec)
        out[{"image_reconstruction": "recon"}.get(spec.kind, "logits")] = dec["output"]
        out.update(
            task=task,
            snr_db=snr,
            num_symbols=link.num_symbols,
            channel_uses=link.channel_uses,
            side_info_bits=link.side_info_bits,
            keep_ratio=kept / valid.clamp_min(1.0),
            keep_masks=masks,
            valid={m: o.valid for m, o in sent.items()},
            rho={m: o.rho for m, o in sent.items()},
            features={m: o.features for m, o in sent.items()},
            indices=link.indices,
            received_indices=link.received_indices,
            loss_codebook=link.codebook_loss,
            loss_rate=l_rate,
        )
        return out

    def after_step(self, generator: torch.Generator | None = None) -> int:
        """Housekeeping after an optimiser step: dead-codeword restarts and unit-norm projection
        of the codebook (``config.codebook_restart`` / ``codebook_normalize``); returns the
        number of codewords moved."""
        codebook = getattr(self.link, "codebook", None)
        return 0 if codebook is None else codebook.maintain(generator)


def build_udeepsc(preset: str = "tiny", tasks=None, device=None, **overrides) -> UDeepSC:
    """``UDeepSC`` from a preset (``tiny`` / ``paper``) with config overrides."""
    cfg = preset_config(preset, **overrides)
    return UDeepSC(cfg, tasks=tasks, device=device)


# ---------------------------------------------------------------------- parameter bookkeeping
def parameter_belongs_to(name: str, task: str, config: UDeepSCConfig) -> bool:
    """Whether parameter ``name`` is used by ``task``.

    Rule: a parameter belongs to every task unless its dotted name contains another task's name
    (task tokens, keep-ratio nets, queries, heads, LCMs) or a modality the task does not use
    (transmitters, sub-codebooks, channel-decoder branches).
    """
    spec = task_spec(task)
    for part in name.split("."):
        if part in TASKS and part != task:
            return False
        if part in MODALITIES and part not in spec.modalities:
            return False
    return task in config.tasks


def task_parameter_names(model: UDeepSC, task: str) -> list[str]:
    """Names of the trainable parameters ``task`` uses (see :func:`parameter_belongs_to`)."""
    return [
        n
        for n, p in model.named_parameters()
        if p.requires_grad and parameter_belongs_to(n, task, model.config)
    ]


COMPONENTS = {
    "semantic_encoder": ("embed", "task_tokens", "layers", "norm"),
    "channel_encoder": ("selectors", "rho_nets", "proj"),
}


def _component(name: str) -> str:
    parts = name.split(".")
    if parts[0] == "transmitters":
        sub = parts[4] if parts[2] == "task_top" else parts[2]  # task_top.<task>.<layers|norm|proj>
        for comp, subs in COMPONENTS.items():
            if sub in subs:
                return f"{parts[1]}.{comp}"
    if parts[0] == "link":
        return "codebook"
    return {
        "channel_decoder": "channel_decoder",
        "layers": "semantic_decoder",
        "queries": "task_queries",
        "heads": "task_heads",
        "lcm": "certainty_modules",
    }[parts[1]]


def count_parameters(model: UDeepSC) -> dict[str, int]:
    """Parameter counts per component (``image.semantic_encoder``, ``codebook``,
    ``semantic_decoder``, ...), per task (``task/imgc``: what a T-DeepSC of that task would hold,
    Table II style) and ``total`` (stored parameters)."""
    counts: dict[str, int] = {}
    for n, p in model.named_parameters():
        c = _component(n)
        counts[c] = counts.get(c, 0) + p.numel()
    params = dict(model.named_parameters())
    for t in model.tasks:
        counts[f"task/{t}"] = sum(params[n].numel() for n in task_parameter_names(model, t))
    counts["total"] = sum(p.numel() for p in model.parameters())
    return counts
