"""Procedural test data for the codecs: natural-looking images and clips, speech-like audio.

No data files are needed; every function takes a ``torch.Generator`` for reproducibility.
"""

from __future__ import annotations

import math

import torch


def _colour(n: int, g: torch.Generator) -> torch.Tensor:
    """[n, 3, 1, 1] shape colours: like natural images, mostly luminance contrast, weak chroma."""
    return torch.rand(n, 1, 1, 1, generator=g) + 0.3 * (torch.rand(n, 3, 1, 1, generator=g) - 0.5)


def smooth_images(
    n: int, height: int, width: int, generator: torch.Generator, noise: float = 0.02
) -> torch.Tensor:
    """[n, 3, H, W] float32 in [0, 1]: colour gradients + a few soft discs + mild noise."""
    g = generator
    yy = torch.linspace(0, 1, height).view(1, 1, height, 1)
    xx = torch.linspace(0, 1, width).view(1, 1, 1, width)
    a, b, c = (torch.rand(n, 3, 1, 1, generator=g) for _ in range(3))
    img = 0.2 + 0.6 * (a * (1 - yy) * (1 - xx) + b * yy + c * xx) / (a + b + c)
    for _ in range(3):
        cy, cx, r = (torch.rand(n, 1, 1, 1, generator=g) for _ in range(3))
        colour = _colour(n, g)
        d2 = (yy - cy) ** 2 + (xx - cx) ** 2
        mask = torch.sigmoid((r * 0.3 + 0.05) ** 2 * 400 - d2 * 400)
        img = img * (1 - mask) + colour * mask
    img = img + noise * torch.randn(n, 3, height, width, generator=g)
    return img.clamp(0, 1).float()


def moving_clips(
    n: int, frames: int, height: int, width: int, generator: torch.Generator
) -> torch.Tensor:
    """[n, T, 3, H, W] float32 in [0, 1]: a smooth background with a disc moving across."""
    g = generator
    bg = smooth_images(n, height, width, g, noise=0.0)
    yy = torch.linspace(0, 1, height).view(1, height, 1)
    xx = torch.linspace(0, 1, width).view(1, 1, width)
    y0, x0, vy, vx = (torch.rand(n, 1, 1, generator=g) for _ in range(4))
    colour = _colour(n, g)
    out = []
    for t in range(frames):
        cy, cx = y0 + 0.03 * t * (vy - 0.5), x0 + 0.03 * t * (vx - 0.5)
        mask = torch.sigmoid(0.04 * 400 - ((yy - cy) ** 2 + (xx - cx) ** 2) * 400).unsqueeze(1)
        out.append(bg * (1 - mask) + colour * mask)
    return torch.stack(out, 1).clamp(0, 1).float()


def tone_speech(
    n: int, num_samples: int, sample_rate: int, generator: torch.Generator
) -> torch.Tensor:
    """[n, T] float32 in [-1, 1]: a few harmonics under a syllable-like envelope, plus noise."""
    g = generator
    t = torch.arange(num_samples, dtype=torch.float64) / sample_rate
    f0 = 100 + 150 * torch.rand(n, 1, generator=g, dtype=torch.float64)
    x = sum(torch.sin(2 * math.pi * k * f0 * t) / k for k in range(1, 6))
    env = 0.5 * (1 - torch.cos(2 * math.pi * 4 * t)).clamp(min=0)
    x = 0.3 * env * x + 0.01 * torch.randn(n, num_samples, generator=g, dtype=torch.float64)
    return x.clamp(-1, 1).float()
