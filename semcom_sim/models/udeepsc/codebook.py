"""Unified codebook with domain adaptation (Sec. III, eqs. 10-13).

The unified codebook ``E = {E^I, E^T, E^S}`` (eq. 10) is stored as one ``nn.Parameter`` per
modality (an ``nn.ParameterDict``); :meth:`UnifiedCodebook.unified` concatenates them in the order
image, text, speech, so the unified index of entry ``j`` of modality ``m`` is
``offset(m) + j``. Only the local index ``j`` is transmitted: the receiver knows which modality a
feature belongs to.

Sharing variants (Sec. VI-D, Fig. 11): the books may instead be keyed by task (Sep-T) or be a
single book ``"joint"`` for every task and modality (``keys``; the caller, :class:`~.transmission.
FeatureLink`, picks the key of each feature from ``UDeepSCConfig.codebook_key``). Every method
taking a ``key`` takes the modality in the default per-modality codebook.

A feature of dimension ``D`` is cut into ``G = codewords_per_feature`` sub-vectors of dimension
``D / G``, each replaced by its nearest codeword (G = 1 is the paper's one index per feature).

With ``normalize=True`` the codewords (and, in :class:`~.transmission.FeatureLink`, the
sub-vectors) are unit vectors: nearest = highest cosine similarity (ViT-VQGAN's l2-normalised
codes). The codewords are initialised on the unit sphere and put back on it by
:meth:`UnifiedCodebook.maintain` after every optimiser step (projected gradient descent).

Dead-code restarts (``restart=True``, as in Jukebox and SoundStream): :meth:`track_usage` keeps an
exponential average of how often each codeword is chosen in training; after the optimiser step,
:meth:`maintain` (via ``UDeepSC.after_step``) moves every codeword whose share fell below
a quarter of uniform onto a randomly drawn encoder output of the last batch. Measured on the
tiny preset, without restarts the codebook collapses before the receiver learns anything:
shapes32 classification used 2 of 16 image codewords after 100 steps (with or without
normalised codes) and stayed at chance.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from semcom_sim.models.udeepsc.tasks import MODALITIES


class UnifiedCodebook(nn.Module):
    """Sub-codebooks ``[K_m, d]`` for the given modalities (``d`` = codeword dimension).

    ``keys`` (optional) names the books instead (in that order), ``sizes`` then maps each key to
    its size; by default the books are the ``modalities`` in canonical order.
    """

    usage_decay = 0.95
    dead_share = 0.25  # restart below this fraction of the uniform share 1/K

    def __init__(
        self,
        sizes: dict[str, int],
        dim: int,
        modalities,
        device=None,
        normalize: bool = False,
        restart: bool = False,
        keys=None,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.normalize = normalize
        self.restart = restart
        if keys is None:
            keys = [m for m in MODALITIES if m in modalities]
        self.keys = tuple(keys)  # order of unified() (the ParameterDict sorts its keys)
        self.books = nn.ParameterDict(
            {k: nn.Parameter(torch.randn(sizes[k], dim, device=device) * 0.5) for k in keys}
        )
        if normalize:
            with torch.no_grad():
                for b in self.books.values():
                    b.copy_(nn.functional.normalize(b, dim=-1))
        self._candidates: dict[str, Tensor] = {}
        if restart:
            for m, b in self.books.items():
                k = b.shape[0]
                self.register_buffer(f"usage_{m}", torch.full((k,), 1.0 / k, device=device))

    def usage(self, key: str) -> Tensor:
        """Running share ``[K_m]`` of each codeword in training (restart mode only)."""
        return getattr(self, f"usage_{key}")

    @torch.no_grad()
    def track_usage(self, key: str, indices: Tensor, z: Tensor, weight: Tensor) -> None:
        """Update the running shares with the codewords chosen where ``weight > 0.5`` and keep
        those sub-vectors ``z`` ``[..., d]`` as restart candidates (no parameter changes here,
        so several forward passes may share one backward pass)."""
        keep = weight > 0.5
        chosen = indices[keep]
        if chosen.numel() == 0:
            return
        usage = self.usage(key)
        counts = torch.bincount(chosen.flatten(), minlength=usage.shape[0]).to(usage.dtype)
        usage.mul_(self.usage_decay).add_((1 - self.usage_decay) * counts / counts.sum())
        self._candidates[key] = z.detach()[keep]  # the last call's, as for one modality

    @torch.no_grad()
    def maintain(self, generator: torch.Generator | None = None) -> int:
        """After an optimiser step: dead-codeword restarts (``restart``), then back onto the unit
        sphere (``normalize``). Returns the number of restarted codewords."""
        moved = self.restart_dead(generator) if self.restart else 0
        if self.normalize:
            for b in self.books.values():
                b.copy_(nn.functional.normalize(b, dim=-1))
        return moved

    @torch.no_grad()
    def restart_dead(self, generator: torch.Generator | None = None) -> int:
        """Move every dead codeword onto a random candidate of the last training batch of its
        modality (call after the optimiser step); returns how many moved."""
        moved = 0
        for m, cand in self._candidates.items():
            usage = self.usage(m)
            dead = (usage < self.dead_share / usage.shape[0]).nonzero().flatten()
            if dead.numel() == 0 or cand.shape[0] == 0:
                continue
            pick = torch.randint(
                cand.shape[0], (dead.numel(),), generator=generator, device=cand.device
            )
            self.books[m][dead] = cand[pick].to(self.books[m].dtype)
            usage[dead] = 1.0 / usage.shape[0]
            moved += int(dead.numel())
        self._candidates = {}
        return moved

    def book(self, key: str) -> Tensor:
        """The codewords ``[K_m, d]`` of book ``key`` (a modality by default)."""
        return self.books[key]

    def unified(self) -> Tensor:
        """Eq. (10): the concatenated codebook ``[K, d]``, ``K = K_I + K_T + K_S``."""
        return torch.cat([self.books[k] for k in self.keys], dim=0)

    def offset(self, key: str) -> int:
        """Unified index of the first entry of sub-codebook ``key``."""
        off = 0
        for k in self.keys:
            if k == key:
                return off
            off += self.books[k].shape[0]
        raise KeyError(key)

    def quantize(self, z: Tensor, key: str) -> tuple[Tensor, Tensor]:
        """Eq. (11): nearest codeword of sub-codebook ``key``.

        Args:
            z: ``[..., d]``.
        Returns:
            ``(indices int64 [...], codewords [..., d])`` (codewords carry codebook gradients).
        """
        book = self.book(key)
        flat = z.reshape(-1, self.dim)
        dist = (
            flat.pow(2).sum(-1, keepdim=True) - 2.0 * flat @ book.T + book.pow(2).sum(-1)[None, :]
        )
        idx = dist.argmin(dim=-1).reshape(z.shape[:-1])
        return idx, book[idx]

    def lookup(self, indices: Tensor, key: str) -> Tensor:
        """Codewords ``[..., d]`` of local ``indices`` of book ``key``."""
        return self.book(key)[indices]


def straight_through(z: Tensor, q: Tensor) -> Tensor:
    """Forward ``q``, backward identity to ``z`` ("gradients copied from the decoder input to the
    encoder output", Sec. III-A)."""
    return z + (q - z).detach()


def codebook_loss(z: Tensor, e: Tensor, beta: float, weight: Tensor | None = None) -> Tensor:
    """Eq. (12): ``||ng[z] - e||^2 + beta ||z - ng[e]||^2``, mean squared per element.

    Args:
        z: ``[..., d]`` encoder outputs; e: ``[..., d]`` their nearest codewords.
        weight: optional ``[...]`` (e.g. the keep mask: only transmitted features count).
    """
    per = (z.detach() - e).pow(2).mean(-1) + beta * (z - e.detach()).pow(2).mean(-1)
    if weight is None:
        return per.mean()
    w = weight.detach().to(per.dtype)
    return (per * w).sum() / w.sum().clamp_min(1.0)


def domain_adaptation_loss(e_a: Tensor, e_b: Tensor, normalize: bool = True) -> Tensor:
    """Eq. (13): ``L_a = -||E_A E_B^T||_F`` for feature matrices of two tasks of one modality.

    Args:
        e_a: ``[N_A, D]``; e_b: ``[N_B, D]`` (rows = encoded feature vectors; zero rows, e.g.
            dropped features, add nothing).
        normalize: ``False`` is the literal eq. (13). It is unbounded below: scaling the features
            up lowers it. ``True`` (default) divides by ``sqrt(||E_A^T E_A||_F ||E_B^T E_B||_F)``.
            Since ``||E_A E_B^T||_F^2 = <E_A^T E_A, E_B^T E_B>_F``, the normalised loss is minus
            the square root of the cosine similarity of the two tasks' feature second-moment
            matrices, in ``[-1, 0]``: it is scale-free and reaches -1 whenever the two second-
            moment matrices are proportional (same feature domain), without asking the features
            to collapse onto one direction (which a row-normalised version would reward).
    """
    sim = _frobenius(e_a @ e_b.T)
    if not normalize:
        return -sim
    scale = torch.sqrt(_frobenius(e_a.T @ e_a) * _frobenius(e_b.T @ e_b))
    return -sim / scale


def _frobenius(x: Tensor) -> Tensor:
    """Frobenius norm with a finite gradient at 0 (an all-dropped batch gives a zero product)."""
    return torch.sqrt(x.pow(2).sum() + 1e-12)
