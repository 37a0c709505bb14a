"""Speech reconstruction: SNR / segmental SNR metrics by hand, and PCM + LDPC on embedded speech."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from semcom_sim.cli import main
from semcom_sim.metrics import METRICS, SegmentalSNR, SpeechSNR


def _snr_ref(x: np.ndarray, y: np.ndarray) -> float:
    """Mean over utterances of 10 log10(sum x^2 / sum (y - x)^2) (plain numpy)."""
    return float(
        np.mean(
            [10 * np.log10(np.sum(a**2) / np.sum((b - a) ** 2)) for a, b in zip(x, y, strict=True)]
        )
    )


def _segsnr_ref(x: np.ndarray, y: np.ndarray, n: int, lo: float = -10, hi: float = 35) -> float:
    """Plain-loop segmental SNR: non-overlapping frames of n, each clamped, mean of means."""
    per_utt = []
    for a, b in zip(x, y, strict=True):
        vals = []
        for k in range(len(a) // n):
            s, e = a[k * n : (k + 1) * n], b[k * n : (k + 1) * n] - a[k * n : (k + 1) * n]
            vals.append(min(max(10 * np.log10(np.sum(s**2) / np.sum(e**2)), lo), hi))
        per_utt.append(np.mean(vals))
    return float(np.mean(per_utt))


def _compute(metric, pred, target) -> dict:
    metric.update(torch.as_tensor(pred), torch.as_tensor(target))
    return metric.compute()


def test_snr_hand_cases():
    x = np.array([[0.5, -0.25, 0.1, 0.0], [1.0, 1.0, -1.0, 0.5]])
    assert _compute(SpeechSNR(), 0 * x, x)["speech_snr"] == pytest.approx(0.0, abs=1e-12)
    assert _compute(SpeechSNR(), 2 * x, x)["speech_snr"] == pytest.approx(0.0, abs=1e-12)
    assert _compute(SpeechSNR(), 1.1 * x, x)["speech_snr"] == pytest.approx(20.0, abs=1e-9)
    assert _compute(SpeechSNR(), x, x)["speech_snr"] == 100.0  # exact: the cap
    # utterance 1 at 20 dB, utterance 2 at 0 dB -> mean 10 dB, stderr = std(ddof=1) / sqrt(2) = 10
    out = _compute(SpeechSNR(), np.stack([1.1 * x[0], 0 * x[1]]), x)
    assert out["speech_snr"] == pytest.approx(10.0) and out["speech_snr_stderr"] == pytest.approx(
        10.0
    )


def test_snr_matches_numpy_formula_over_uneven_batches():
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.8, 0.8, (7, 800))
    y = x + rng.normal(0, 1, (7, 1)) * 0.05 * rng.normal(size=(7, 800))
    m = METRICS.create("speech-snr")
    m.update(torch.from_numpy(y[:3]), torch.from_numpy(x[:3]))
    m.update(torch.from_numpy(y[3:]), torch.from_numpy(x[3:]))
    assert m.compute()["speech_snr"] == pytest.approx(_snr_ref(x, y), rel=1e-12)


def test_segsnr_frames_and_clamping_by_hand():
    # frame_len 4: frame 1 at 50 dB (-> 35), frame 2 at exactly 10 dB, frame 3 at -30 dB (-> -10),
    # then 2 trailing samples (a partial frame, dropped) with a huge error
    s = np.ones(4)
    x = np.concatenate([s, s, s, [1.0, 1.0]])[None]
    e = np.concatenate([10**-2.5 * s, 10**-0.5 * s, 10**1.5 * s, [100.0, 100.0]])[None]
    out = _compute(SegmentalSNR(frame_len=4), x + e, x)
    assert out["segsnr"] == pytest.approx((35 + 10 - 10) / 3, abs=1e-9)
    # a frame with zero error scores the upper clamp, a silent frame with an error the lower
    x2 = np.concatenate([s, 0 * s])[None]
    assert _compute(SegmentalSNR(frame_len=4), x2 + np.concatenate([0 * s, s]), x2)[
        "segsnr"
    ] == pytest.approx(12.5)


def test_segsnr_default_20ms_frames_match_numpy_loop():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 0.3, (5, 8000)) * np.repeat(rng.uniform(0.01, 1, (5, 50)), 160, axis=1)
    y = x + rng.normal(0, 0.02, (5, 8000))  # frames from about -20 to +35 dB: both clamps hit
    m = METRICS.create("segsnr")
    assert m.frame_len == 160 and (m.lo_db, m.hi_db) == (-10.0, 35.0)
    assert _compute(m, y, x)["segsnr"] == pytest.approx(_segsnr_ref(x, y, 160), rel=1e-12)


def test_speech_metrics_reject_shape_mismatch():
    with pytest.raises(ValueError, match="segsnr"):
        SegmentalSNR().update(torch.zeros(2, 10), torch.zeros(2, 11))


def test_pcm_ldpc_on_speech_reconstruction(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["sweep", "--schemes", "pcm-ldpc", "--tasks", "speech-reconstruction"]
    argv += ["--snr", "0,12", "--samples", "2", "--quiet", "--no-plot", "--out", str(out)]
    assert main(argv) == 0
    with open(out / "results.csv") as f:
        rows = {(float(r["snr_db"]), r["metric"]): float(r["value"]) for r in csv.DictReader(f)}
    # 12 dB is above the R=1/2 QPSK LDPC cliff: error-free, 16-bit PCM quantisation only
    assert rows[(12.0, "extra:payload_ok")] == 1.0
    assert rows[(12.0, "speech_snr")] > 75 and rows[(12.0, "segsnr")] == 35.0
    # 0 dB is below it: every payload fails and bit errors in the samples dominate
    assert rows[(0.0, "extra:payload_ok")] == 0.0
    assert rows[(0.0, "speech_snr")] < 0 and rows[(0.0, "segsnr")] < 0
