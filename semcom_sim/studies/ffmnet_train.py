"""Train every shipped tiny FFMNet checkpoint through the paper's three steps (Sec. II-D).

    semcom-sim study ffmnet-train                      # everything, resumable: rerun to continue
    semcom-sim study ffmnet-train --only jscc-512x-snr5,jscc-512x-noiseless

Runs, in order (each exactly the ``semcom-sim train ffmnet ...`` command it prints):

1. ``ffmnet-tiny``: step 1 (FFMNet alone), copied to ``checkpoints/ffmnet-tiny``.
2. Per ratio: step 2, noiseless (the JSCC alone on the shipped, frozen ``ffmnet-tiny``, D1
   standardised per channel, loss L1 + L), shipped as ``jscc-<ratio>-noiseless-step2`` (Table
   III's steps-1-2 rows).
3. Per JSCC setting (:data:`SETTINGS`): step 3, the whole split model end to end at the
   setting's SNR_train (AWGN) from its ratio's step-2 JSCC, shipped as
   ``checkpoints/jscc-<ratio>-<train>`` in float16 (:func:`export_half`).

Reading of the paper: it trains "with channel noise under different SNRs" without saying in which
step; here noise enters in step 3 (end to end), where both the JSCC and the FFMNet halves adapt
to it, and step 2 (reconstructing D1) is shared by the settings of one ratio.

Each run's ``log.jsonl`` is copied to ``--logs`` (default ``results/ffmnet/train_logs``) as
``<run>.jsonl``. The runs share one Python process only so that the generated train split and
the frozen FFMNet's D1 cache are made once. Run from the repository root.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from semcom_sim.models.ffmnet.pretrained import CHECKPOINT_DIR, KIND_E2E, export_half
from semcom_sim.options import ArgParser
from semcom_sim.training import load_trainers

COMMON = [
    "--preset", "tiny", "--batch-size", "16", "--train-examples", "4000", "--seed", "0",
    "--threads", "1", "--checkpoint-every", "50", "--log-every", "25",
]  # fmt: skip
STEP1 = ["--stage", "ffmnet", "--steps", "1200", "--lr", "2e-3", "--lr-decay-at", "1000"]
STEP2 = ["--stage", "jscc", "--snr-train", "noiseless", "--lr", "2e-3"]
STEP3 = ["--stage", "e2e", "--lr", "5e-4"]
# Optimiser steps of steps 2 and 3 (lr / 10 at 80 %), the same at every ratio so that Table III
# compares like with like (session 6; sessions 4-5 ran 60-120 of each, most to 512x).
STEPS = {"step2": 300, "step3": 800}
# (ratio, SNR_train), the headline first: a partial run gives the most important models.
SETTINGS = [
    ("512x", "5"),
    ("512x", "noiseless"),
    ("128x", "noiseless"),
    ("256x", "noiseless"),
    ("512x", "0"),
    ("512x", "10"),
    ("1024x", "noiseless"),
]


def schedule(step: str) -> list[str]:
    """``--steps N --lr-decay-at 0.8N`` of ``step`` ("step2" or "step3")."""
    n = STEPS[step]
    return ["--steps", str(n), "--lr-decay-at", str(n * 4 // 5)]


def setting_name(ratio: str, snr: str) -> str:
    return f"jscc-{ratio}-" + ("noiseless" if snr == "noiseless" else f"snr{snr}")


def runs(work: str) -> list[tuple[str, list[str]]]:
    """``(run name, argv of semcom-sim train ffmnet)`` in order: each ratio's step 2 right
    before the first step 3 that needs it."""
    out = [("ffmnet-tiny", [*COMMON, *STEP1, "--out", f"{work}/ffmnet-tiny"])]
    for ratio, snr in SETTINGS:
        step2 = f"jscc-{ratio}-noiseless-step2"
        if step2 not in {n for n, _ in out}:
            argv = [*COMMON, "--ratio", ratio, *STEP2, *schedule("step2")]
            out.append((step2, [*argv, "--out", f"{work}/{step2}"]))
        name = setting_name(ratio, snr)
        common = [*COMMON, "--ratio", ratio, "--snr-train", snr, *STEP3, *schedule("step3")]
        out.append((f"{name}-e2e", [*common, "--jscc", f"{work}/{step2}/final",
                                   "--out", f"{work}/{name}-e2e"]))  # fmt: skip
    return out


def ship(run: str, work: str) -> Path | None:
    """Copy a finished run's checkpoint into the package (see the module docstring)."""
    final = Path(work) / run / "final"
    if run == "ffmnet-tiny":
        return Path(shutil.copytree(final, CHECKPOINT_DIR / run, dirs_exist_ok=True))
    if run.endswith("-e2e"):
        return export_half(final, CHECKPOINT_DIR / run.removesuffix("-e2e"), KIND_E2E)
    if run.endswith("-step2"):
        return Path(shutil.copytree(final, CHECKPOINT_DIR / run, dirs_exist_ok=True))
    return None


def main(argv: list[str] | None = None) -> int:
    """Train the runs of :func:`runs` (resumable: rerun to continue)."""
    p = ArgParser(prog="semcom-sim study ffmnet-train", description=__doc__.splitlines()[0])
    p.add_argument("--work", default="runs", help="training directories")
    p.add_argument("--logs", default="results/ffmnet/train_logs", help="where logs are copied")
    p.add_argument("--only", default=None, help="comma list of run names (default: all)")
    a = p.parse_args([] if argv is None else argv)
    plan = runs(a.work)
    if a.only:
        wanted = a.only.split(",")
        known = {n for n, _ in plan} | {setting_name(r, s) for r, s in SETTINGS}
        bad = [w for w in wanted if w not in known]
        if bad:
            p.error(f"--only: unknown run {bad[0]!r}; known: {', '.join(sorted(known))}")
        plan = [(n, v) for n, v in plan if n in wanted or n.rsplit("-", 1)[0] in wanted]
    train = load_trainers().create("ffmnet")
    logs = Path(a.logs)
    logs.mkdir(parents=True, exist_ok=True)
    for name, args in plan:
        print("semcom-sim train ffmnet " + " ".join(args), flush=True)
        t0, c0 = time.perf_counter(), time.process_time()
        if train(args) != 0:
            sys.exit(f"{name} failed")
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"{name}: {wall:.0f} s wall, {cpu:.0f} s CPU", flush=True)
        shutil.copyfile(Path(a.work) / name / "log.jsonl", logs / f"{name}.jsonl")
        shipped = ship(name, a.work)
        if shipped is not None:
            print(f"shipped {shipped}", flush=True)
    return 0
