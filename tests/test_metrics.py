"""Metrics: hand-computed cases, agreement with sacrebleu/pycocotools, exact batch aggregation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sacrebleu
import torch

from semcom_sim.metrics import (
    BLEU,
    METRICS,
    PSNR,
    Accuracy,
    MeanAP,
    MeanIoU,
    VQAAccuracy,
    normalised_performance,
)


def test_registry_names():
    assert METRICS.names() == [
        "accuracy",
        "bleu",
        "map",
        "miou",
        "psnr",
        "segsnr",
        "speech-snr",
        "vqa-accuracy",
    ]
    assert isinstance(METRICS.create("miou", num_classes=3), MeanIoU)


def test_accuracy_exact_over_uneven_batches_and_stderr():
    rng = np.random.default_rng(0)
    target = torch.from_numpy(rng.integers(0, 4, 23))
    logits = torch.from_numpy(rng.normal(size=(23, 4)))
    m = Accuracy()
    for lo, hi in ((0, 1), (1, 11), (11, 23)):  # batch sizes 1, 10, 12: batch means would differ
        m.update(logits[lo:hi], target[lo:hi])
    correct = (logits.argmax(1) == target).double().numpy()
    out = m.compute()
    assert out["accuracy"] == pytest.approx(correct.mean(), abs=1e-15)
    assert out["accuracy_stderr"] == pytest.approx(correct.std(ddof=1) / math.sqrt(23))
    m.reset()
    m.update(torch.tensor([1, 2]), torch.tensor([1, 0]))
    assert m.compute()["accuracy"] == 0.5
    assert math.isnan(Accuracy().compute()["accuracy"])


def test_psnr_hand_cases():
    target = torch.zeros(3, 3, 4, 4)
    pred = target.clone()
    pred[0] = 10 / 255  # MSE = 100 on 0-255 levels -> 10 log10(255^2 / 100)
    pred[1] = 0.4 / 255  # rounds to level 0: exact -> capped
    pred[2, 0, 0, 0] = 1.0  # one pixel of 48 off by 255 -> MSE = 255^2 / 48
    m = PSNR()
    m.update(pred[:1], target[:1])
    m.update(pred[1:], target[1:])
    vals = [10 * math.log10(255**2 / 100), 100.0, 10 * math.log10(48)]
    out = m.compute()
    assert out["psnr"] == pytest.approx(np.mean(vals))
    assert out["psnr_stderr"] == pytest.approx(np.std(vals, ddof=1) / math.sqrt(3))
    assert PSNR(max_db=60).values(target[:1], target[:1]).tolist() == [60.0]
    clipped = PSNR().values(torch.full((1, 3, 2, 2), 2.0), torch.ones(1, 3, 2, 2))
    assert clipped.tolist() == [100.0]  # clamped to [0, 1] first


HYP = ["the cat sat on the mat", "a quick brown fox", "hello there general", "it is raining"]
REF = [
    "the cat sat on a mat",
    "the quick brown fox jumps",
    "hello there general kenobi",
    "it is raining",
]


def test_bleu_equals_sacrebleu_corpus_bleu():
    m = BLEU()
    m.update(HYP[:1], REF[:1])
    m.update(HYP[1:], REF[1:])
    out = m.compute()
    assert out["bleu"] == pytest.approx(sacrebleu.corpus_bleu(HYP, [REF]).score / 100, abs=1e-12)
    bleu1 = sacrebleu.metrics.BLEU(max_ngram_order=1).corpus_score(HYP, [REF]).score / 100
    assert out["bleu1"] == pytest.approx(bleu1, abs=1e-12)
    sent = sacrebleu.metrics.BLEU(max_ngram_order=1, effective_order=True)
    per = [sent.sentence_score(h, [r]).score / 100 for h, r in zip(HYP, REF, strict=True)]
    assert out["sentence_bleu1"] == pytest.approx(np.mean(per))
    perfect = BLEU()
    perfect.update(REF, REF)
    assert perfect.compute()["bleu"] == pytest.approx(1.0) and perfect.compute()[
        "bleu1"
    ] == pytest.approx(1.0)


def test_vqa_soft_accuracy_plain_and_official():
    answers = [["red"] * 2 + ["blue"] * 8, ["Two"] * 3 + ["3"] * 7, ["yes"] * 10]
    m = VQAAccuracy()
    m.update(["red", "2"], answers[:2])  # 2 agree -> 2/3; "2" matches normalised "Two" x3 -> 1
    m.update(["no"], answers[2:])
    assert m.compute()["vqa_accuracy"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    official = VQAAccuracy(official=True)
    official.update(["2"], answers[1:2])  # 3 annotators of 10 agree
    # leave-one-out: 3 subsets keep 2 matches (2/3), 7 keep 3 (1)
    assert official.compute()["vqa_accuracy"] == pytest.approx((3 * 2 / 3 + 7) / 10)
    vocab = ["yes", "no", "red"]
    idx = VQAAccuracy(answer_vocab=vocab)
    idx.update(torch.tensor([0, -1, 2]), [["yes"] * 10, ["yes"] * 10, ["red"] * 1 + ["x"] * 9])
    assert idx.compute()["vqa_accuracy"] == pytest.approx((1 + 0 + 1 / 3) / 3)


def det(boxes, scores=None, labels=None):
    boxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    out = {
        "boxes": boxes,
        "labels": torch.tensor(labels if labels is not None else [1] * len(boxes)),
    }
    if scores is not None:
        out["scores"] = torch.tensor(scores)
    return out


def test_map_known_answers():
    gt = [det([[0, 0, 10, 10], [20, 20, 40, 30]], labels=[1, 2]), det([[5, 5, 25, 25]], labels=[1])]
    perfect = [
        det([[0, 0, 10, 10], [20, 20, 40, 30]], [0.9, 0.8], [1, 2]),
        det([[5, 5, 25, 25]], [0.7], [1]),
    ]
    m = MeanAP()
    m.update(perfect, gt)
    assert m.compute() == {"map": pytest.approx(1.0), "map50": pytest.approx(1.0)}

    # one image, two objects of one class, one found: recall 1/2 at precision 1 -> 51 of the
    # 101 recall points have precision 1 -> AP = 51/101 at every IoU threshold
    m = MeanAP()
    m.update([det([[0, 0, 10, 10]], [0.9])], [det([[0, 0, 10, 10], [50, 50, 60, 60]])])
    assert m.compute()["map"] == pytest.approx(51 / 101)
    assert m.compute()["map50"] == pytest.approx(51 / 101)

    # a box with IoU 0.62 counts at thresholds 0.50, 0.55, 0.60 only -> mAP = 3/10, mAP50 = 1
    m = MeanAP()
    m.update([det([[0, 0, 10, 6.2]], [0.9])], [det([[0, 0, 10, 10]])])
    assert m.compute()["map"] == pytest.approx(0.3) and m.compute()["map50"] == pytest.approx(1.0)

    # a low-score false positive after every true positive leaves AP = 1; a wrong class is ignored
    m = MeanAP()
    m.update(
        [det([[0, 0, 10, 10], [30, 30, 40, 40], [0, 0, 10, 10]], [0.9, 0.1, 0.95], [1, 1, 3])],
        [det([[0, 0, 10, 10]])],
    )
    assert m.compute()["map"] == pytest.approx(1.0)


def test_map_same_over_batches_as_at_once():
    rng = np.random.default_rng(1)
    preds, gts = [], []
    for _ in range(6):
        g = rng.uniform(0, 50, (3, 2))
        gb = np.concatenate([g, g + rng.uniform(5, 20, (3, 2))], axis=1)
        pb = gb + rng.normal(0, 2, gb.shape)
        gts.append(det(gb.tolist(), labels=rng.integers(1, 3, 3).tolist()))
        preds.append(det(pb.tolist(), rng.uniform(0, 1, 3).tolist(), gts[-1]["labels"].tolist()))
    a, b = MeanAP(), MeanAP()
    a.update(preds, gts)
    b.update(preds[:1], gts[:1])
    b.update(preds[1:], gts[1:])
    assert a.compute() == b.compute()
    assert 0 < a.compute()["map"] < 1


def test_miou_hand_confusion_matrix():
    target = torch.tensor([[0, 0, 1], [1, 2, 255]])
    pred = torch.tensor([[0, 1, 1], [1, 0, 2]])
    m = MeanIoU(num_classes=3)
    m.update(pred[:1], target[:1])
    m.update(pred[1:], target[1:])
    assert m.confusion.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    # IoU0 = 1/(1+1+1), IoU1 = 2/(2+1+0), IoU2 = 0/(0+0+1)
    assert m.per_class_iou() == pytest.approx([1 / 3, 2 / 3, 0.0])
    out = m.compute()
    assert out["miou"] == pytest.approx(1 / 3) and out["pixel_accuracy"] == pytest.approx(3 / 5)
    absent = MeanIoU(num_classes=4)  # class 3 never appears: left out of the mean
    absent.update(pred, target)
    assert absent.compute()["miou"] == pytest.approx(1 / 3)
    out_of_range = MeanIoU(num_classes=2)
    out_of_range.update(torch.tensor([5, 1]), torch.tensor([0, 1]))  # 5 is a miss for class 0
    assert out_of_range.per_class_iou() == pytest.approx([0.0, 1.0])


def test_normalised_performance():
    m = Accuracy()
    m.update(torch.tensor([1, 1, 0, 0]), torch.tensor([1, 1, 1, 0]))
    out = normalised_performance(m, reference=0.9)
    assert out == {"value": 0.75, "reference": 0.9, "normalised": pytest.approx(0.75 / 0.9)}
    assert normalised_performance(2.0, 4.0, higher_is_better=False)["normalised"] == 2.0
    assert math.isnan(normalised_performance(1.0, 0.0)["normalised"])


def test_map_equals_cocoeval_summarize_on_random_boxes():
    """MeanAP evaluates only 'all sizes, 100 detections': the same two numbers as a full
    COCOeval.summarize (stats[0], stats[1]) on random images, boxes and classes."""
    import contextlib
    import io

    import numpy as np

    from semcom_sim.metrics.detection import MeanAP

    rng = np.random.default_rng(0)
    for _ in range(8):
        preds, tgts = [], []
        for _ in range(int(rng.integers(1, 20))):
            m, k = int(rng.integers(0, 5)), int(rng.integers(0, 20))
            g = rng.uniform(0, 100, (m, 2))
            g = np.concatenate([g, g + rng.uniform(1, 60, (m, 2))], 1)
            rand = np.sort(rng.uniform(0, 128, (k, 2, 2)), 1).reshape(k, 4)
            p = np.concatenate([g + rng.normal(0, 5, g.shape), rand])
            tgts.append({"boxes": torch.tensor(g), "labels": torch.tensor(rng.integers(1, 4, m))})
            preds.append(
                {
                    "boxes": torch.tensor(p),
                    "scores": torch.tensor(rng.uniform(0, 1, len(p))),
                    "labels": torch.tensor(rng.integers(1, 4, len(p))),
                }
            )
        metric = MeanAP()
        metric.update(preds, tgts)
        got = metric.compute()
        if not metric._dt or not metric._gt:
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            ev = metric.evaluator()  # default parameters: every size range and cap
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        want = [min(max(float(v), 0.0), 1.0) for v in ev.stats[:2]]
        assert [got["map"], got["map50"]] == want
