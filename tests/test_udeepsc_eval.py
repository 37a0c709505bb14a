"""The issue-12 target table of ``semcom-sim study udeepsc-eval`` (pure bookkeeping)."""

from __future__ import annotations

import math

from semcom_sim.studies.udeepsc_eval import TARGETS_12, issue12_targets


def _task(u, t, ub, refs=None, metric="accuracy"):
    return {"metric": metric, "udeepsc_12db": u, "tdeepsc_12db": t, "upper_bound_12db": ub,
            "references_12db": refs or {}}  # fmt: skip


def test_absolute_reference_and_relative_targets():
    per_task = {
        "image-classification": _task(0.76, 0.79, 0.90),
        "image-reconstruction": _task(18.0, 20.0, 21.0, {"mean-colour": 15.6}, "psnr"),
        "vqa": _task(0.49, 0.55, 0.60, {"question-prior": 0.40}, "vqa_accuracy"),
    }
    rows = {(r["task"], r["model"]): r for r in issue12_targets(per_task)}
    assert len(rows) == 9  # tasks without measurements are left out
    assert rows["image-classification", "upper-bound"]["met"]
    assert not rows["image-classification", "tdeepsc"]["met"]  # 0.79 < 0.80
    assert rows["image-classification", "udeepsc"]["met"]
    assert math.isclose(rows["image-reconstruction", "udeepsc"]["needed"], 18.6)
    assert not rows["image-reconstruction", "udeepsc"]["met"]
    assert rows["image-reconstruction", "tdeepsc"]["met"]  # 20.0 >= 15.6 + 4
    assert rows["vqa", "upper-bound"]["met"]  # 0.60 >= 0.40 + 0.15
    assert rows["vqa", "tdeepsc"]["met"]  # within 10 % of 0.60
    assert not rows["vqa", "udeepsc"]["met"]  # 0.49 < 0.55 - 10 %


def test_every_task_has_three_targets():
    assert all(set(v) == {"upper-bound", "tdeepsc", "udeepsc"} for v in TARGETS_12.values())
    assert len(TARGETS_12) == 6
