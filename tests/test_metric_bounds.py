"""Bounded metrics report values inside their range, even when floating point rounds outside."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sacrebleu.metrics import BLEU as SacreBLEU

from semcom_sim.metrics import BLEU, METRICS, Accuracy, MeanAP, MeanIoU, VQAAccuracy
from semcom_sim.metrics.base import clamp_range

# sacrebleu scores this exact match 100.00000000000004 (exp of a sum of logs, times 100)
SENTENCE = "assignment is defined recursively depending on the form of the target list"


def test_clamp_range():
    assert clamp_range(1.0000000000000004) == 1.0 and clamp_range(-1e-17) == 0.0
    assert clamp_range(0.25) == 0.25 and clamp_range(-1.0) == 0.0  # pycocotools' -1: no GT
    assert math.isnan(clamp_range(math.nan)) and clamp_range(7.0, 0.0, 10.0) == 7.0


def test_bleu_exact_match_is_exactly_one():
    raw4 = SacreBLEU().corpus_score([SENTENCE], [[SENTENCE]]).score / 100
    raw1 = SacreBLEU(max_ngram_order=1, effective_order=True).sentence_score(SENTENCE, [SENTENCE])
    assert raw4 > 1.0 and raw1.score / 100 > 1.0  # the rounding is real (else this test is moot)
    m = BLEU()
    m.update([SENTENCE] * 3, [SENTENCE] * 3)
    out = m.compute()
    assert out["bleu"] == 1.0 and out["bleu1"] == 1.0 and out["sentence_bleu1"] == 1.0
    assert out["sentence_bleu1_stderr"] == 0.0


def test_registered_bounded_metrics_declare_unit_range():
    for cls in (Accuracy, VQAAccuracy, BLEU, MeanIoU, MeanAP):
        assert cls.bounds == (0.0, 1.0), cls
    assert METRICS.create("psnr").bounds is None  # PSNR is unbounded above (dB)


@pytest.mark.parametrize("cls", [Accuracy, VQAAccuracy])
def test_mean_metrics_clamp_their_final_value(cls, monkeypatch):
    monkeypatch.setattr(cls, "values", lambda self, p, t: np.array([1.0000000000000004] * 4))
    m = cls()
    m.update(None, None)
    assert m.compute()[m.name] == 1.0
    monkeypatch.setattr(cls, "values", lambda self, p, t: np.array([-1e-16, 0.0]))
    m.reset()
    m.update(None, None)
    assert m.compute()[m.name] == 0.0


def test_miou_clamps(monkeypatch):
    m = MeanIoU(num_classes=2)
    m.update(np.array([[0, 1]]), np.array([[0, 1]]))
    assert m.compute() == {"miou": 1.0, "pixel_accuracy": 1.0}
    monkeypatch.setattr(MeanIoU, "per_class_iou", lambda self: np.array([1.0000000000000004, 1.0]))
    assert m.compute()["miou"] == 1.0
