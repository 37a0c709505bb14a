"""Accuracy, PSNR, VQA soft accuracy and mIoU."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from semcom_sim.data.textproc import normalise_answer
from semcom_sim.metrics.base import MeanMetric, Metric, clamp_range, to_numpy


class Accuracy(MeanMetric):
    """Fraction of examples whose predicted class equals the target.

    ``pred`` is int [B] class ids or float [B, C] scores (argmax taken); ``target`` int [B].
    Reports "accuracy" and "accuracy_stderr".
    """

    name = "accuracy"
    bounds = (0.0, 1.0)

    def values(self, pred: Any, target: Any) -> np.ndarray:
        p, t = to_numpy(pred), to_numpy(target)
        if p.ndim == t.ndim + 1:
            p = p.argmax(axis=-1)
        if p.shape != t.shape:
            raise ValueError(f"accuracy: pred shape {p.shape} does not match target {t.shape}")
        return (p == t).astype(np.float64).reshape(len(t), -1).mean(axis=1)


class PSNR(MeanMetric):
    """Peak signal-to-noise ratio in dB, per image, averaged over images (U-DeepSC's definition).

    Both images float [B, C, H, W] in [0, 1] are clamped to [0, 1], scaled to 0-255 and rounded
    to integers (uint8 levels, as the U-DeepSC code's ``as_img_array``); then per image
    PSNR = 10 log10(255^2 / MSE). An exact reconstruction (MSE = 0) scores ``max_db`` (100 dB, the
    cap U-DeepSC's ``psnr`` uses). Reports "psnr" and "psnr_stderr".
    """

    name = "psnr"

    def __init__(self, max_db: float = 100.0) -> None:
        super().__init__()
        self.max_db = max_db

    def values(self, pred: Any, target: Any) -> np.ndarray:
        p = torch.as_tensor(pred).detach().double().clamp(0, 1).mul(255).round()
        t = torch.as_tensor(target).detach().double().clamp(0, 1).mul(255).round()
        if p.shape != t.shape:
            raise ValueError(
                f"psnr: pred shape {tuple(p.shape)} does not match target {tuple(t.shape)}"
            )
        mse = (p - t).pow(2).flatten(1).mean(dim=1).cpu().numpy()
        with np.errstate(divide="ignore"):
            db = 10 * np.log10(255.0**2 / mse)
        return np.where(mse == 0, self.max_db, db)


class VQAAccuracy(MeanMetric):
    """VQA soft accuracy: per question min(#annotators who gave the predicted answer / 3, 1).

    ``pred`` is list[str] answers, or int [B] indices into ``answer_vocab`` (an index outside it,
    e.g. -1, counts as a wrong answer); ``target`` is list[list[str]], the annotators' answers.
    Answers are compared after :func:`~semcom_sim.data.textproc.normalise_answer`.
    With ``official=True`` the score is the official evaluation's average over the 10 subsets of
    9 annotators of min(#matches in the subset / 3, 1) (for 10 answers; other counts use the plain
    rule). The default is the plain rule. Reports "vqa_accuracy" and "vqa_accuracy_stderr".
    """

    name = "vqa_accuracy"
    bounds = (0.0, 1.0)

    def __init__(self, answer_vocab: Sequence[str] | None = None, official: bool = False) -> None:
        super().__init__()
        self.answer_vocab = list(answer_vocab) if answer_vocab is not None else None
        self.official = official

    def _answer(self, p: Any) -> str | None:
        if isinstance(p, str):
            return normalise_answer(p)
        if self.answer_vocab is None:
            raise ValueError("vqa_accuracy: index predictions need answer_vocab")
        i = int(p)
        return normalise_answer(self.answer_vocab[i]) if 0 <= i < len(self.answer_vocab) else None

    def values(self, pred: Any, target: Any) -> np.ndarray:
        preds = pred.tolist() if isinstance(pred, torch.Tensor) else list(pred)
        if len(preds) != len(target):
            raise ValueError(f"vqa_accuracy: {len(preds)} predictions for {len(target)} questions")
        out = np.zeros(len(preds))
        for k, (p, answers) in enumerate(zip(preds, target, strict=True)):
            a = self._answer(p)
            hits = (
                [normalise_answer(g) == a for g in answers]
                if a is not None
                else [False] * len(answers)
            )
            if self.official and len(hits) == 10:
                out[k] = np.mean([min((sum(hits) - h) / 3, 1.0) for h in hits])
            else:
                out[k] = min(sum(hits) / 3, 1.0)
        return out


class MeanIoU(Metric):
    """Mean intersection over union from a confusion matrix accumulated over all pixels.

    ``pred`` and ``target`` are int [B, H, W] class maps. Target pixels equal to ``ignore_index``
    are skipped. A prediction outside 0..num_classes-1 counts as a false negative of its target
    class (and a false positive of no class). IoU_c = TP_c / (TP_c + FP_c + FN_c); a class with
    TP + FP + FN = 0 (absent from target and prediction) is left out of the mean. Reports "miou"
    and "pixel_accuracy" (correct / non-ignored pixels); :meth:`per_class_iou` gives each IoU.
    mIoU is a ratio of pixel counts over the whole set, so it has no per-example standard error.
    """

    name = "miou"
    bounds = (0.0, 1.0)

    def __init__(self, num_classes: int, ignore_index: int = 255) -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.reset()

    def reset(self) -> None:
        self.confusion = np.zeros((self.num_classes, self.num_classes), np.int64)  # [target, pred]
        self._missed = np.zeros(self.num_classes, np.int64)  # out-of-range predictions per target

    def update(self, pred: Any, target: Any) -> None:
        p, t = (
            to_numpy(pred).reshape(-1).astype(np.int64),
            to_numpy(target).reshape(-1).astype(np.int64),
        )
        if p.shape != t.shape:
            raise ValueError(f"miou: pred has {p.size} pixels, target {t.size}")
        keep = t != self.ignore_index
        p, t = p[keep], t[keep]
        if t.size and (t.min() < 0 or t.max() >= self.num_classes):
            raise ValueError(
                f"miou: target class outside 0..{self.num_classes - 1} and not ignore_index"
            )
        valid = (p >= 0) & (p < self.num_classes)
        self._missed += np.bincount(t[~valid], minlength=self.num_classes)
        k = self.num_classes
        self.confusion += np.bincount(t[valid] * k + p[valid], minlength=k * k).reshape(k, k)

    def per_class_iou(self) -> np.ndarray:
        """float64 [num_classes]: IoU per class, NaN for a class absent from target and pred."""
        tp = np.diag(self.confusion).astype(np.float64)
        fn = self.confusion.sum(axis=1) - tp + self._missed
        fp = self.confusion.sum(axis=0) - tp
        denom = tp + fp + fn
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denom > 0, tp / denom, np.nan)

    def compute(self) -> dict[str, float]:
        iou = self.per_class_iou()
        total = self.confusion.sum() + self._missed.sum()
        return {
            "miou": clamp_range(np.nanmean(iou)) if np.isfinite(iou).any() else math.nan,
            "pixel_accuracy": clamp_range(np.trace(self.confusion) / total) if total else math.nan,
        }
