"""Unified receiver (Sec. II-C, II-D): channel decoder, one Transformer decoder shared by all
tasks and fed with task-specific query vectors, light task heads after every decoder layer and a
learnable certainty module (LCM) per task for early exit.

Reading choices:
- Exit head ``g_i`` of layer ``i`` = a per-layer LayerNorm (``psi_i``) followed by a projection
  shared by the exits of that task. Table II shows text reconstruction with no more parameters
  than sentiment analysis, so the paper cannot hold one vocabulary projection per layer; the
  text-reconstruction projection is also tied to the text transmitter's token embedding
  (``logits = W x E^T + b``), as BERT's masked-LM head does.
- Classification exits average the decoded query vectors; reconstruction tasks use one query per
  output patch / token position (so dropped features can still be reconstructed).
- Image reconstruction optionally ends in a residual post-filter over the assembled image
  (``image_refine_width``, :class:`ImageRefiner`), shared by the task's exits: the patch-wise
  projection alone has nothing that smooths across patch borders.
- The LCM (eq. 7) reads the layer output averaged over queries (own LayerNorm, shared by all
  layers of its task) and ``log10 sigma^2``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from semcom_sim.models.udeepsc.config import UDeepSCConfig
from semcom_sim.models.udeepsc.layers import DecoderLayer
from semcom_sim.models.udeepsc.tasks import task_spec


class ChannelDecoder(nn.Module):
    """Received features ``[B, N_m, D]`` per modality -> memory ``U^en`` ``[B, sum N_m, d]``.

    Each modality has its own projection and positional table (positions of kept features are
    known at the receiver); the modalities are concatenated in transmission order.
    """

    def __init__(self, cfg: UDeepSCConfig, device=None) -> None:
        super().__init__()
        d = cfg.decoder_dim
        self.proj = nn.ModuleDict(
            {
                m: nn.Sequential(
                    nn.Linear(cfg.feature_dim, d, device=device), nn.LayerNorm(d, device=device)
                )
                for m in cfg.modalities
            }
        )
        self.pos = nn.ParameterDict(
            {
                m: nn.Parameter(
                    nn.init.trunc_normal_(
                        torch.empty(cfg.max_features(m), d, device=device), std=cfg.decoder_pos_std
                    )
                )
                for m in cfg.modalities
            }
        )

    def forward(
        self, received: dict[str, Tensor], masks: dict[str, Tensor]
    ) -> tuple[Tensor, Tensor]:
        """Returns ``(memory [B, sum N_m, d], weight [B, sum N_m])``."""
        mem = [self.proj[m](x) + self.pos[m][: x.shape[1]] for m, x in received.items()]
        return torch.cat(mem, dim=1), torch.cat([masks[m] for m in received], dim=1)


class ImageRefiner(nn.Module):
    """Residual post-filter ``x + f(x)`` clamped to ``[0, 1]``: three 3x3 convolutions of
    ``width`` channels with GELU between them, the last zero-initialised (the identity at the
    start, so a trained head keeps its output until the filter learns)."""

    def __init__(self, width: int, device=None) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1, device=device),
            nn.GELU(),
            nn.Conv2d(width, width, 3, padding=1, device=device),
            nn.GELU(),
            nn.Conv2d(width, 3, 3, padding=1, device=device),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, img: Tensor) -> Tensor:
        """``img`` ``[B, 3, H, W]`` in ``[0, 1]`` -> refined ``[B, 3, H, W]`` in ``[0, 1]``."""
        return (img + self.net(img)).clamp(0.0, 1.0)


class ExitHeads(nn.Module):
    """Task head ``g_i`` for every decoder layer ``i`` of one task."""

    def __init__(self, cfg: UDeepSCConfig, task: str, device=None) -> None:
        super().__init__()
        self.cfg = cfg
        self.kind = task_spec(task).kind
        d = cfg.decoder_dim
        self.norms = nn.ModuleList(nn.LayerNorm(d, device=device) for _ in range(cfg.decoder_depth))
        if self.kind == "text_reconstruction":
            self.proj = nn.Linear(d, cfg.text_dim, device=device)
            self.bias = nn.Parameter(torch.zeros(cfg.vocab_size, device=device))
        else:
            self.proj = nn.Linear(d, cfg.output_dim(task), device=device)
        width = cfg.image_refine_width if self.kind == "image_reconstruction" else 0
        self.refine = ImageRefiner(width, device=device) if width > 0 else nn.Identity()

    def forward(self, x: Tensor, layer: int, token_embedding: Tensor | None = None) -> Tensor:
        """Decoded queries ``x`` ``[B, Nq, d]`` after ``layer`` (0-based) -> task output."""
        h = self.norms[layer](x)
        if self.kind == "classification":
            return self.proj(h.mean(dim=1))  # [B, C]
        if self.kind == "text_reconstruction":
            return self.proj(h) @ token_embedding.T + self.bias  # [B, L, V]
        p, side = self.cfg.patch_size, self.cfg.image_size // self.cfg.patch_size
        patches = torch.sigmoid(self.proj(h))  # [B, P, 3 p p]
        img = patches.reshape(-1, side, side, 3, p, p).permute(0, 3, 1, 4, 2, 5)
        img = img.reshape(-1, 3, side * p, side * p)
        return self.refine(img)


class CertaintyModule(nn.Module):
    """Eq. (7): ``c_i = sigmoid(f(U_i^de, sigma^2))``, one module per task shared by all layers."""

    def __init__(self, dim: int, hidden: int, device=None) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim, device=device)
        self.mlp = nn.Sequential(
            nn.Linear(dim + 1, hidden, device=device),
            nn.GELU(),
            nn.Linear(hidden, 1, device=device),
        )

    def forward(self, x: Tensor, log_no: Tensor) -> Tensor:
        """``x`` ``[B, Nq, d]``, ``log_no`` ``[B]`` -> certainty ``[B]`` in (0, 1)."""
        h = torch.cat([self.norm(x.mean(dim=1)), log_no[:, None].to(x.dtype)], dim=-1)
        return torch.sigmoid(self.mlp(h)).squeeze(-1)


class UnifiedReceiver(nn.Module):
    """Channel decoder + shared semantic decoder + per-task queries, exit heads and LCMs."""

    def __init__(self, cfg: UDeepSCConfig, device=None) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.decoder_dim
        self.channel_decoder = ChannelDecoder(cfg, device=device)
        # reconstruction queries are positions: unit-scale like the LayerNorm-ed memory they are
        # added to (see :meth:`forward`); classification queries start small as in DETR/ViT
        self.queries = nn.ParameterDict(
            {
                t: nn.Parameter(
                    nn.init.trunc_normal_(
                        torch.empty(cfg.num_queries(t), d, device=device),
                        std=self._query_std(cfg, t),
                    )
                )
                for t in cfg.tasks
            }
        )
        self.layers = nn.ModuleList(
            DecoderLayer(d, cfg.decoder_heads, cfg.mlp_ratio, cfg.dropout, device=device)
            for _ in range(cfg.decoder_depth)
        )
        self.heads = nn.ModuleDict({t: ExitHeads(cfg, t, device=device) for t in cfg.tasks})
        self.lcm = nn.ModuleDict(
            {t: CertaintyModule(d, cfg.lcm_hidden, device=device) for t in cfg.tasks}
        )

    @staticmethod
    def _query_std(cfg: UDeepSCConfig, task: str) -> float:
        recon = task_spec(task).kind in ("image_reconstruction", "text_reconstruction")
        return 1.0 if recon and cfg.recon_from_received else 0.02

    def initial_queries(
        self, task: str, memory: Tensor, weight: Tensor, n_out: int | None
    ) -> Tensor:
        """Decoder input ``[B, Nq, d]``: the task's queries; with ``recon_from_received`` a
        reconstruction query also starts from the received feature at its position (the
        channel-decoded memory row of the patch / word, zero where the feature was dropped), as
        the official code decodes reconstruction from the received features themselves, and a
        classification query from the mean of the received features."""
        q = self.queries[task]
        if n_out is not None:
            q = q[:n_out]
        x = q.unsqueeze(0).expand(memory.shape[0], -1, -1)
        kind = task_spec(task).kind
        if not self.cfg.recon_from_received:
            return x
        if kind in ("image_reconstruction", "text_reconstruction"):
            n = x.shape[1]  # the modality's features come first in the memory
            return x + memory[:, :n] * weight[:, :n, None]
        # classification queries start from the mean received feature (a direct path like a
        # ViT's mean pooling; measured: the queries alone learn shapes32 about 2x slower)
        w = weight[..., None]
        pooled = (memory * w).sum(dim=1) / w.sum(dim=1).clamp_min(1.0)
        return x + pooled[:, None, :]

    def forward(
        self,
        task: str,
        received: dict[str, Tensor],
        masks: dict[str, Tensor],
        log_no: Tensor,
        exit_threshold: float,
        early_exit: bool,
        num_outputs: int | None = None,
        token_embedding: Tensor | None = None,
    ) -> dict[str, Tensor | list[Tensor]]:
        """Decode. In eval mode each example exits at the first layer whose certainty exceeds
        ``exit_threshold``; with ``early_exit`` the remaining layers are skipped once every
        example of the batch has exited (else all layers run; the decisions are the same).

        Returns ``output`` (at the exit layer), ``exit_outputs`` (one per executed layer),
        ``certainty`` ``[B, n]`` (NaN for layers not executed) and ``exit_layer`` int64 ``[B]``
        (1-based; ``n`` when no layer was certain enough, and always ``n`` in training).
        """
        memory, weight = self.channel_decoder(received, masks)
        b, n = memory.shape[0], len(self.layers)
        x = self.initial_queries(task, memory, weight, num_outputs)
        head, lcm = self.heads[task], self.lcm[task]
        outs, certs = [], []
        exit_layer = torch.full((b,), n, dtype=torch.int64, device=memory.device)
        exited = torch.zeros(b, dtype=torch.bool, device=memory.device)
        decide = not self.training
        for i, layer in enumerate(self.layers):
            x = layer(x, memory, weight)
            outs.append(head(x, i, token_embedding))
            c = lcm(x, log_no)
            certs.append(c)
            if decide:
                now = ~exited & (c > exit_threshold)
                exit_layer = torch.where(now, i + 1, exit_layer)
                exited = exited | now
                if early_exit and i + 1 < n and bool(exited.all()):
                    break
        certainty = nn.functional.pad(
            torch.stack(certs, dim=1), (0, n - len(certs)), value=torch.nan
        )
        if decide:
            output = torch.stack(outs)[exit_layer - 1, torch.arange(b, device=memory.device)]
        else:
            output = outs[-1]
        return {
            "output": output,
            "exit_outputs": outs,
            "certainty": certainty,
            "exit_layer": exit_layer,
        }
