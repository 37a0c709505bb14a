"""Per-modality transmitters (Sec. II-B): semantic encoder with a task token + dynamic channel
encoder (selection modules at chosen encoder layers, Sec. IV) + projection to the feature space.

Each transmitter implements ``x_hat = F_C(F_S(x; theta_S); theta_C)`` (eqs. 1-3): the trainable
task-embedding token ``w_task`` (one ``nn.Parameter`` per task in an ``nn.ParameterDict``) is
concatenated to the preliminary features ``[x, w_task]`` and attends with them in every layer.
The selection modules sit after the layers named in ``select_after``; the task token is never
selected or transmitted (the receiver knows the task).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from semcom_sim.errors import SemcomError
from semcom_sim.models.udeepsc.config import UDeepSCConfig
from semcom_sim.models.udeepsc.layers import EncoderLayer
from semcom_sim.models.udeepsc.selection import (
    KeepRatioNet,
    SelectionModule,
    gumbel_keep,
    gumbel_topk_keep,
    keep_count,
    topk_keep,
)
from semcom_sim.models.udeepsc.tasks import task_spec


def _table(n: int, dim: int, device) -> nn.Parameter:
    return nn.Parameter(nn.init.trunc_normal_(torch.empty(n, dim, device=device), std=0.02))


def conv_stem(cin: int, dim: int, patch: int, device=None) -> nn.Sequential:
    """3x3 convolutions mapping ``[N, cin, H, W]`` to ``[N, dim, H/patch, W/patch]``.

    A stride-1 convolution to ``dim/2`` channels, then ``log2(patch)`` stride-2 convolutions
    doubling the width up to ``dim`` (GroupNorm + GELU between them).
    """
    width = max(4, dim // 2)
    layers: list[nn.Module] = [
        nn.Conv2d(cin, width, 3, 1, 1, device=device),
        nn.GroupNorm(1, width, device=device),
        nn.GELU(),
    ]
    steps = patch.bit_length() - 1
    for i in range(steps):
        out = dim if i == steps - 1 else min(dim, width * 2)
        layers.append(nn.Conv2d(width, out, 3, 2, 1, device=device))
        if i < steps - 1:
            layers += [nn.GroupNorm(1, out, device=device), nn.GELU()]
        width = out
    if steps == 0:
        layers.append(nn.Conv2d(width, dim, 1, device=device))
    return nn.Sequential(*layers)


class ImageEmbedding(nn.Module):
    """Images ``[B,3,H,W]`` or video ``[B,T,3,H,W]`` -> patch features ``[B, T*P, dim]``.

    A still image is a one-frame video, so the frame embedding row 0 is shared by all image tasks.
    Tokens come from ``cfg.image_stem`` (see :class:`UDeepSCConfig`), optionally fed the frame
    standardised per channel next to its RGB values (``cfg.image_standardize``).
    """

    def __init__(self, cfg: UDeepSCConfig, dim: int, device=None) -> None:
        super().__init__()
        self.cfg = cfg
        p = cfg.patch_size
        cin = 6 if cfg.image_standardize else 3
        if cfg.image_stem == "patch":
            self.patch = nn.Conv2d(cin, dim, kernel_size=p, stride=p, device=device)
        else:
            self.patch = conv_stem(cin, dim, p, device)
        self.pos = _table(cfg.num_patches, dim, device)
        self.frame_pos = _table(max(1, cfg.video_max_frames), dim, device)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        cfg = self.cfg
        if x.dim() == 4:
            x = x.unsqueeze(1)
        if x.dim() != 5 or x.shape[2:] != (3, cfg.image_size, cfg.image_size):
            raise SemcomError(
                f"image input must be [B,3,{cfg.image_size},{cfg.image_size}] or "
                f"[B,T,3,{cfg.image_size},{cfg.image_size}], got {list(x.shape)}"
            )
        b, t = x.shape[:2]
        if t > self.frame_pos.shape[0]:
            raise SemcomError(f"video has {t} frames, model supports {self.frame_pos.shape[0]}")
        frames = x.flatten(0, 1)
        if self.cfg.image_standardize:
            mean = frames.mean(dim=(2, 3), keepdim=True)
            std = frames.std(dim=(2, 3), keepdim=True)
            frames = torch.cat([frames, (frames - mean) / (std + 0.05)], dim=1)
        f = self.patch(frames).flatten(2).transpose(1, 2)  # [B*T, P, dim]
        f = f.reshape(b, t, -1, f.shape[-1]) + self.pos + self.frame_pos[:t, None, :]
        f = f.flatten(1, 2)
        return f, torch.ones(f.shape[:2], dtype=f.dtype, device=f.device)


class TextEmbedding(nn.Module):
    """Token ids ``[B, L]`` -> ``[B, L, dim]`` plus validity (``id != pad_id``)."""

    def __init__(self, cfg: UDeepSCConfig, dim: int, device=None) -> None:
        super().__init__()
        self.cfg = cfg
        self.tokens = nn.Embedding(cfg.vocab_size, dim, device=device)
        nn.init.trunc_normal_(self.tokens.weight, std=cfg.text_embed_std)  # cut at +-2
        self.pos = _table(cfg.text_max_len, dim, device)

    def forward(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        if ids.dim() != 2 or ids.dtype not in (torch.int64, torch.int32):
            raise SemcomError(
                f"text input must be int64 token ids [B, L], got {ids.dtype} {list(ids.shape)}"
            )
        if ids.shape[1] > self.cfg.text_max_len:
            raise SemcomError(f"text length {ids.shape[1]} > text_max_len {self.cfg.text_max_len}")
        f = self.tokens(ids) + self.pos[: ids.shape[1]]
        return f, (ids != self.cfg.pad_id).to(f.dtype)


class SpeechEmbedding(nn.Module):
    """Audio ``[B, S]`` framed into ``ceil(S / frame_len)`` frames -> ``[B, F, dim]``."""

    def __init__(self, cfg: UDeepSCConfig, dim: int, device=None) -> None:
        super().__init__()
        self.cfg = cfg
        self.frame = nn.Linear(cfg.frame_len, dim, device=device)
        self.pos = _table(cfg.speech_max_frames, dim, device)

    def forward(self, audio: Tensor) -> tuple[Tensor, Tensor]:
        if audio.dim() != 2 or not audio.is_floating_point():
            raise SemcomError(
                f"audio input must be float [B, S], got {audio.dtype} {list(audio.shape)}"
            )
        fl = self.cfg.frame_len
        frames = nn.functional.pad(audio, (0, (-audio.shape[1]) % fl)).unflatten(1, (-1, fl))
        if frames.shape[1] > self.cfg.speech_max_frames:
            raise SemcomError(
                f"audio has {frames.shape[1]} frames, model supports {self.cfg.speech_max_frames}"
            )
        f = self.frame(frames) + self.pos[: frames.shape[1]]
        return f, torch.ones(f.shape[:2], dtype=f.dtype, device=f.device)


EMBEDDINGS = {"image": ImageEmbedding, "text": TextEmbedding, "speech": SpeechEmbedding}


@dataclass
class TransmitterOutput:
    """What one modality's transmitter hands to the link.

    Attributes:
        features: ``[B, N, D]`` encoded features ``z_en`` (before quantisation).
        mask: ``[B, N]`` final selection mask ``m_hat`` (0/1; straight-through gradient when
            training).
        valid: ``[B, N]`` 0/1, features that exist (text padding is 0).
        rho: ``[B, Q]`` target keep ratios, or ``None`` without dynamic selection.
        ratios: ``[B, Q]`` actual kept fraction after each selection stage, or ``None``.
        stage_masks: the mask after each selection stage (for inspection and tests).
    """

    features: Tensor
    mask: Tensor
    valid: Tensor
    rho: Tensor | None = None
    ratios: Tensor | None = None
    stage_masks: list[Tensor] = field(default_factory=list)


class Transmitter(nn.Module):
    """Semantic encoder + dynamic channel encoder of one modality."""

    def __init__(self, cfg: UDeepSCConfig, modality: str, device=None) -> None:
        super().__init__()
        self.cfg = cfg
        self.modality = modality
        dim, depth, heads, select_after = cfg.encoder_dims(modality)
        tasks = [t for t in cfg.tasks if modality in task_spec(t).modalities]
        self.embed = EMBEDDINGS[modality](cfg, dim, device=device)
        self.task_tokens = nn.ParameterDict({t: _table(1, dim, device) for t in tasks})
        # the last ``task_encoder_layers`` layers (with the final norm and projection) are the
        # task's own when several tasks share this transmitter (``task_top``); T-DeepSC and the
        # default U-DeepSC share every layer
        split = len(tasks) > 1 and modality in cfg.task_encoder_modalities
        top = min(cfg.task_encoder_layers, depth) if split else 0

        def layers(n: int) -> nn.ModuleList:
            return nn.ModuleList(
                EncoderLayer(dim, heads, cfg.mlp_ratio, cfg.dropout, device=device)
                for _ in range(n)
            )

        self.depth = depth
        self.layers = layers(depth - top)
        self.task_top = nn.ModuleDict()
        if top:
            self.task_top = nn.ModuleDict(
                {
                    t: nn.ModuleDict(
                        {
                            "layers": layers(top),
                            "norm": nn.LayerNorm(dim, device=device),
                            "proj": nn.Linear(dim, cfg.feature_dim, device=device),
                        }
                    )
                    for t in tasks
                }
            )
        self.select_after = tuple(select_after) if cfg.dynamic else ()
        hidden = max(4, int(round(dim * cfg.selection_dim_ratio)))
        # each module starts keeping rho_init ** (1/Q), so the masks start near rho_init
        init_keep = cfg.rho_init ** (1.0 / max(1, len(self.select_after)))
        keep_all = set(cfg.keep_all_tasks)

        def selectors() -> nn.ModuleList:
            return nn.ModuleList(
                SelectionModule(dim, hidden, init_keep, device=device) for _ in self.select_after
            )

        # the paper's selection modules are task specific; ``selection_per_task = False`` shares
        # one set per modality (the earlier reading)
        if cfg.selection_per_task:
            self.selectors = nn.ModuleDict(
                {t: selectors() for t in tasks if t not in keep_all or not self.select_after}
            )
        else:
            self.selectors = nn.ModuleDict({"shared": selectors()})
        self.rho_nets = nn.ModuleDict(
            {
                t: KeepRatioNet(
                    len(self.select_after), cfg.rho_hidden, cfg.rho_init, device, cfg.rho_min
                )
                for t in (tasks if self.select_after else [])
                if t not in keep_all
            }
        )
        if not top:
            self.norm = nn.LayerNorm(dim, device=device)
            self.proj = nn.Linear(dim, cfg.feature_dim, device=device)

    def _stack(self, task: str) -> tuple[list[nn.Module], nn.Module, nn.Module]:
        """``task``'s encoder layers (shared, then its own), final norm and projection."""
        if not self.task_top:
            return list(self.layers), self.norm, self.proj
        own = self.task_top[task]
        return list(self.layers) + list(own["layers"]), own["norm"], own["proj"]

    @property
    def shared_layers(self) -> int:
        """Encoder layers that do not depend on the SNR: those up to the first selection module
        (all of them without dynamic selection). Their output is computed once per input when
        :meth:`forward` is called with ``repeats > 1``."""
        return self.select_after[0] if self.select_after else self.depth

    def forward(
        self,
        x: Tensor,
        task: str,
        log_no: Tensor,
        generator: torch.Generator | None = None,
        repeats: int = 1,
    ) -> TransmitterOutput:
        """Encode ``x`` for ``task`` at noise level ``log_no`` (``[B]``, log10 sigma^2).

        Training mode samples the masks with Gumbel-softmax; eval mode keeps the top
        ``max(1, round(N rho^q))`` features at stage ``q``.

        ``repeats = R > 1`` evaluates ``x`` (``B0`` examples) at ``R`` noise levels at once:
        ``log_no`` is ``[R * B0]`` in SNR-major order (row ``r * B0 + i`` = example ``i`` at
        level ``r``); the embedding and the first :attr:`shared_layers` layers run once on the
        ``B0`` inputs and their output is repeated (the same numbers as ``R`` separate calls).
        """
        stack, norm, proj = self._stack(task)
        h, valid = self.embed(x)
        n = h.shape[1]
        token = self.task_tokens[task].expand(h.shape[0], 1, -1)
        h = torch.cat([h, token], dim=1)
        ones = torch.ones(h.shape[0], 1, dtype=h.dtype, device=h.device)
        weight = None if bool(valid.all()) else torch.cat([valid, ones], dim=1)
        for layer in stack[: self.shared_layers]:
            h = layer(h, weight)
        if repeats > 1:
            h, valid = h.repeat(repeats, 1, 1), valid.repeat(repeats, 1)
            weight = None if weight is None else weight.repeat(repeats, 1)
            ones = ones.repeat(repeats, 1)
        if h.shape[0] != log_no.shape[0]:
            raise SemcomError(
                f"{log_no.shape[0]} noise levels for {h.shape[0] // repeats} inputs x {repeats}"
            )
        mask = valid
        num_valid = valid.sum(dim=1).clamp_min(1.0)
        select = bool(self.select_after) and task not in self.cfg.keep_all_tasks
        rho = self.rho_nets[task](log_no) if select else None
        ratios, stage_masks = [], []
        for i, layer in enumerate(stack, start=1):
            if i > self.shared_layers:
                h = layer(h, weight)
            if not select or i not in self.select_after:
                continue
            q = self.select_after.index(i)
            selector = self.selectors[task if self.cfg.selection_per_task else "shared"][q]
            log_p = selector(h[:, :n], mask, log_no)
            k = keep_count(num_valid, rho[:, q])
            if self.training and self.cfg.train_selection == "gumbel":
                mask = mask * gumbel_keep(log_p, self.cfg.gumbel_tau, generator)
                ratios.append((mask * valid).sum(dim=1) / num_valid)
            elif self.training:
                # the count is fixed by rho; rho follows the keep probabilities the task asks
                # for (eq. 18 against their mean) instead of the sampled count
                before = mask
                mask = gumbel_topk_keep(log_p, mask, k, self.cfg.gumbel_tau, generator)
                wanted = (before * valid * log_p[..., 0].exp()).sum(dim=1) / num_valid
                ratios.append(wanted)
            else:
                mask = topk_keep(log_p[..., 0].exp(), mask, k)
                ratios.append((mask * valid).sum(dim=1) / num_valid)
            stage_masks.append(mask)
            weight = torch.cat([mask, ones], dim=1)
        z = proj(norm(h[:, :n]))
        return TransmitterOutput(
            features=z,
            mask=mask,
            valid=valid,
            rho=rho,
            ratios=torch.stack(ratios, dim=1) if ratios else None,
            stage_masks=stage_masks,
        )
