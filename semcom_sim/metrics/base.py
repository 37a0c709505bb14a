"""The Metric interface and an exact per-example mean accumulator.

A metric is fed batch by batch with ``update(pred, target)`` and reports with ``compute()``.
Metrics that are means over examples keep every per-example value (float64), so the result over
uneven batches is exactly the mean over all examples, never a mean of batch means, and they also
report ``<name>_stderr`` = sample standard deviation (ddof=1) / sqrt(count) (0 for one example).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import torch


def clamp_range(value: float, lo: float = 0.0, hi: float = 1.0) -> float:
    """``value`` clamped to ``[lo, hi]`` (NaN stays NaN): a bounded metric's final value.

    Floating-point rounding can push a bounded metric just outside its range (sacrebleu scores an
    exact match 100.00000000000004, i.e. BLEU 1.0000000000000004); every bounded metric
    (BLEU, accuracies, mIoU, mAP: [0, 1]) passes its reported values through this.
    """
    value = float(value)
    return value if math.isnan(value) else min(max(value, lo), hi)


class Metric(ABC):
    """Accumulates predictions against targets over batches."""

    name: str = ""
    higher_is_better: bool = True
    # The range of the metric's reported values, or None when it is unbounded (e.g. PSNR).
    bounds: tuple[float, float] | None = None

    @abstractmethod
    def update(self, pred: Any, target: Any) -> None:
        """Add one batch."""

    @abstractmethod
    def compute(self) -> dict[str, float]:
        """The metric over everything added since the last reset (NaN if nothing was added)."""

    @abstractmethod
    def reset(self) -> None:
        """Forget everything added."""


def to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


class MeanMetric(Metric):
    """Mean of per-example values with its standard error; subclasses define ``values``."""

    def __init__(self) -> None:
        self._values: list[np.ndarray] = []

    @abstractmethod
    def values(self, pred: Any, target: Any) -> np.ndarray:
        """Per-example values float64 [B] of one batch."""

    def update(self, pred: Any, target: Any) -> None:
        self._values.append(np.asarray(self.values(pred, target), dtype=np.float64).reshape(-1))

    def all_values(self) -> np.ndarray:
        """float64 [N]: every per-example value added so far."""
        return np.concatenate(self._values) if self._values else np.zeros(0)

    def compute(self) -> dict[str, float]:
        v = self.all_values()
        if len(v) == 0:
            return {self.name: math.nan, f"{self.name}_stderr": math.nan}
        stderr = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0
        mean = float(v.mean())
        if self.bounds is not None:
            mean = clamp_range(mean, *self.bounds)
        return {self.name: mean, f"{self.name}_stderr": stderr}

    def reset(self) -> None:
        self._values = []
