"""Waveform fidelity of speech reconstruction: SNR and segmental SNR in dB.

Both compare a reconstruction ``pred`` float [B, T] with the original ``target`` float [B, T]
sample by sample (no alignment, no gain correction: a scaled or delayed copy is an error).

- ``speech_snr`` (metric "speech-snr"): per utterance ``10 log10(sum x^2 / sum (x_hat - x)^2)``,
  averaged over utterances (as PSNR is per image). An exact reconstruction scores ``max_db``
  (100 dB) and a silent target with a non-zero error ``-max_db``; values are capped to
  ``[-max_db, max_db]``.
- ``segsnr`` (metric "segsnr"): the classic segmental SNR. Each utterance is cut into
  non-overlapping frames of ``frame_len`` samples (default 160 = 20 ms at 8 kHz; a trailing
  partial frame is dropped, a clip shorter than one frame is one frame); per frame
  ``10 log10(sum x^2 / sum e^2)`` is clamped to ``[lo_db, hi_db]`` = [-10, 35] dB (a frame with
  zero error scores ``hi_db``, a silent frame with an error ``lo_db``), the frames are averaged
  per utterance and the utterances averaged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from semcom_sim.metrics.base import MeanMetric, to_numpy


def _pair(pred: Any, target: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    p = to_numpy(pred).astype(np.float64)
    t = to_numpy(target).astype(np.float64)
    if p.shape != t.shape or t.ndim != 2:
        raise ValueError(f"{name}: pred {p.shape} and target {t.shape} must both be [B, T]")
    return p, t


def _ratio_db(signal: np.ndarray, error: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``10 log10(signal / error)`` clamped to [lo, hi]; error 0 -> hi, signal 0 -> lo."""
    with np.errstate(divide="ignore", invalid="ignore"):
        db = 10 * np.log10(signal / error)
    db = np.where(error == 0, hi, np.where(signal == 0, lo, db))
    return np.clip(db, lo, hi)


class SpeechSNR(MeanMetric):
    """Waveform SNR in dB per utterance, averaged; ``pred``, ``target`` float [B, T].

    Reports "speech_snr" and "speech_snr_stderr".
    """

    name = "speech_snr"

    def __init__(self, max_db: float = 100.0) -> None:
        super().__init__()
        self.max_db = max_db

    def values(self, pred: Any, target: Any) -> np.ndarray:
        p, t = _pair(pred, target, self.name)
        signal = np.sum(t**2, axis=1)
        error = np.sum((p - t) ** 2, axis=1)
        return _ratio_db(signal, error, -self.max_db, self.max_db)


class SegmentalSNR(MeanMetric):
    """Segmental SNR in dB (frames of ``frame_len`` samples, each clamped to [lo_db, hi_db]).

    ``pred``, ``target`` float [B, T]. Reports "segsnr" and "segsnr_stderr".
    """

    name = "segsnr"

    def __init__(self, frame_len: int = 160, lo_db: float = -10.0, hi_db: float = 35.0) -> None:
        super().__init__()
        if frame_len < 1 or lo_db >= hi_db:
            raise ValueError("segsnr: frame_len must be >= 1 and lo_db < hi_db")
        self.frame_len, self.lo_db, self.hi_db = frame_len, lo_db, hi_db

    def values(self, pred: Any, target: Any) -> np.ndarray:
        p, t = _pair(pred, target, self.name)
        b, n = t.shape
        frames = max(n // self.frame_len, 1)
        size = self.frame_len if n >= self.frame_len else n
        tf = t[:, : frames * size].reshape(b, frames, size)
        ef = p[:, : frames * size].reshape(b, frames, size) - tf
        db = _ratio_db(np.sum(tf**2, axis=2), np.sum(ef**2, axis=2), self.lo_db, self.hi_db)
        return db.mean(axis=1)
