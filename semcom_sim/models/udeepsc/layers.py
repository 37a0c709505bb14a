"""Transformer building blocks whose attention takes per-key weights (DynamicViT-style masks).

A feature that the dynamic channel encoder dropped must stop influencing the others, yet during
training the drop decision carries a straight-through gradient. So attention over keys ``j`` is

    a_ij = w_j exp(s_ij) / (sum_k w_k exp(s_ik) + eps)

with ``w`` in ``[0, 1]`` (``0`` = dropped or padding). For 0/1 weights this is ordinary masked
softmax attention; its gradient with respect to ``w`` is what trains the selection modules through
the task loss. All operations act per example, so a batch with mixed SNRs gives the same result as
per-SNR batches.
"""

from __future__ import annotations

from torch import Tensor, nn

EPS_ATTN = 1e-6


def weighted_attention(q: Tensor, k: Tensor, v: Tensor, key_weight: Tensor | None) -> Tensor:
    """Scaled dot-product attention with multiplicative key weights.

    Args:
        q: ``[B, H, Nq, dh]``; k, v: ``[B, H, Nk, dh]``.
        key_weight: float ``[B, Nk]`` in ``[0, 1]`` or ``None`` (all keys count).
    Returns:
        ``[B, H, Nq, dh]``.
    """
    if key_weight is None:
        return nn.functional.scaled_dot_product_attention(q, k, v)
    scores = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5
    scores = scores - scores.amax(dim=-1, keepdim=True).detach()
    e = scores.exp() * key_weight[:, None, None, :].to(scores.dtype)
    attn = e / (e.sum(dim=-1, keepdim=True) + EPS_ATTN)
    return attn @ v


class MultiHeadAttention(nn.Module):
    """Multi-head attention with optional key weights (see :func:`weighted_attention`)."""

    def __init__(self, dim: int, num_heads: int, kv_dim: int | None = None, device=None) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        kv_dim = kv_dim or dim
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim, device=device)
        self.kv = nn.Linear(kv_dim, 2 * dim, device=device)
        self.out = nn.Linear(dim, dim, device=device)

    def forward(self, x: Tensor, memory: Tensor, key_weight: Tensor | None = None) -> Tensor:
        """``x`` ``[B, Nq, dim]`` attends to ``memory`` ``[B, Nk, kv_dim]`` -> ``[B, Nq, dim]``."""
        b, nq, d = x.shape
        h = self.num_heads
        q = self.q(x).reshape(b, nq, h, d // h).transpose(1, 2)
        k, v = self.kv(memory).reshape(b, memory.shape[1], 2, h, d // h).permute(2, 0, 3, 1, 4)
        y = weighted_attention(q, k, v, key_weight)
        return self.out(y.transpose(1, 2).reshape(b, nq, d))


class FeedForward(nn.Sequential):
    """``Linear -> GELU -> Linear`` with hidden size ``mlp_ratio * dim``."""

    def __init__(self, dim: int, mlp_ratio: float, dropout: float = 0.0, device=None) -> None:
        hidden = int(dim * mlp_ratio)
        super().__init__(
            nn.Linear(dim, hidden, device=device),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, dim, device=device),
        )


class EncoderLayer(nn.Module):
    """Pre-norm Transformer encoder layer: self-attention (key-weighted) + feed-forward."""

    def __init__(
        self, dim: int, num_heads: int, mlp_ratio: float, dropout: float = 0.0, device=None
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, device=device)
        self.attn = MultiHeadAttention(dim, num_heads, device=device)
        self.norm2 = nn.LayerNorm(dim, device=device)
        self.ffn = FeedForward(dim, mlp_ratio, dropout, device=device)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, key_weight: Tensor | None = None) -> Tensor:
        """``x`` ``[B, N, dim]``, ``key_weight`` ``[B, N]`` or ``None``; returns ``[B, N, dim]``."""
        h = self.norm1(x)
        x = x + self.drop(self.attn(h, h, key_weight))
        return x + self.drop(self.ffn(self.norm2(x)))


class DecoderLayer(nn.Module):
    """Pre-norm Transformer decoder layer: query self-attention, cross-attention to the received
    features (weighted by their keep mask), feed-forward."""

    def __init__(
        self, dim: int, num_heads: int, mlp_ratio: float, dropout: float = 0.0, device=None
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, device=device)
        self.self_attn = MultiHeadAttention(dim, num_heads, device=device)
        self.norm2 = nn.LayerNorm(dim, device=device)
        self.cross_attn = MultiHeadAttention(dim, num_heads, device=device)
        self.norm3 = nn.LayerNorm(dim, device=device)
        self.ffn = FeedForward(dim, mlp_ratio, dropout, device=device)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, memory: Tensor, memory_weight: Tensor | None) -> Tensor:
        """Queries ``x`` ``[B, Nq, dim]``, ``memory`` ``[B, Nk, dim]``, its weight ``[B, Nk]``."""
        h = self.norm1(x)
        x = x + self.drop(self.self_attn(h, h))
        x = x + self.drop(self.cross_attn(self.norm2(x), memory, memory_weight))
        return x + self.drop(self.ffn(self.norm3(x)))
