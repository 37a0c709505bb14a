"""Unified codebook with domain adaptation (Sec. III, eqs. 10-13).

The unified codebook ``E = {E^I, E^T, E^S}`` (eq. 10) is stored as one ``nn.Parameter`` per
modality (an ``nn.ParameterDict``); :meth:`UnifiedCodebook.unified` concatenates them in the order
image, text, speech, so the unified index of entry ``j`` of modality ``m`` is
``offset(m) + j``. Only the local index ``j`` is transmitted: the receiver knows which modality a
feature belongs to.

A feature of dimension ``D`` is cut into ``G = codewords_per_feature`` sub-vectors of dimension
``D / G``, each replaced by its nearest codeword (G = 1 is the paper's one index per feature).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from semcom_sim.models.udeepsc.tasks import MODALITIES


class UnifiedCodebook(nn.Module):
    """Sub-codebooks ``[K_m, d]`` for the given modalities (``d`` = codeword dimension)."""

    def __init__(self, sizes: dict[str, int], dim: int, modalities, device=None) -> None:
        super().__init__()
        self.dim = dim
        self.books = nn.ParameterDict(
            {
                m: nn.Parameter(torch.randn(sizes[m], dim, device=device) * 0.5)
                for m in MODALITIES
                if m in modalities
            }
        )

    def unified(self) -> Tensor:
        """Eq. (10): the concatenated codebook ``[K, d]``, ``K = K_I + K_T + K_S``."""
        return torch.cat([self.books[m] for m in MODALITIES if m in self.books], dim=0)

    def offset(self, modality: str) -> int:
        """Unified index of the first entry of ``modality``'s sub-codebook."""
        off = 0
        for m in MODALITIES:
            if m == modality:
                return off
            if m in self.books:
                off += self.books[m].shape[0]
        raise KeyError(modality)

    def quantize(self, z: Tensor, modality: str) -> tuple[Tensor, Tensor]:
        """Eq. (11): nearest codeword of ``modality``'s sub-codebook.

        Args:
            z: ``[..., d]``.
        Returns:
            ``(indices int64 [...], codewords [..., d])`` (codewords carry codebook gradients).
        """
        book = self.books[modality]
        flat = z.reshape(-1, self.dim)
        dist = (
            flat.pow(2).sum(-1, keepdim=True) - 2.0 * flat @ book.T + book.pow(2).sum(-1)[None, :]
        )
        idx = dist.argmin(dim=-1).reshape(z.shape[:-1])
        return idx, book[idx]

    def lookup(self, indices: Tensor, modality: str) -> Tensor:
        """Codewords ``[..., d]`` of local ``indices``."""
        return self.books[modality][indices]


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
