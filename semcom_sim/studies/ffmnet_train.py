"""Train every shipped tiny FFMNet checkpoint through the paper's three steps (Sec. II-D).

    semcom-sim study ffmnet-train                      # everything, resumable: rerun to continue
    semcom-sim study ffmnet-train --only jscc-512x-snr5,jscc-512x-noiseless

Runs, in order (each exactly the ``semcom-sim train ffmnet ...`` command it prints):

1. ``ffmnet-tiny``: step 1 (FFMNet alone), copied to ``checkpoints/ffmnet-tiny``.
2. Per JSCC setting (:data:`SETTINGS`): step 2 (the JSCC alone on the shipped, frozen
   ``ffmnet-tiny``; D1 standardised per channel), then step 3 (the whole split model end to end
   from that JSCC), both at the setting's SNR_train. Step 3's result is shipped as
   ``checkpoints/jscc-<ratio>-<train>`` in float16 (:func:`export_half`); the noiseless step-2
   JSCCs are shipped too, as ``jscc-<ratio>-noiseless-step2`` (Table III's steps-1-2 rows).

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
STEP1 = ["--stage", "ffmnet", "--steps", "1500", "--lr", "2e-3", "--lr-decay-at", "1200"]
STEP2 = ["--stage", "jscc", "--steps", "150", "--lr", "5e-3", "--lr-decay-at", "120"]
STEP3 = ["--stage", "e2e", "--steps", "200", "--lr", "5e-4", "--lr-decay-at", "160"]
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


def setting_name(ratio: str, snr: str) -> str:
    return f"jscc-{ratio}-" + ("noiseless" if snr == "noiseless" else f"snr{snr}")


def runs(work: str) -> list[tuple[str, list[str]]]:
    """``(run name, argv of semcom-sim train ffmnet)`` in order."""
    out = [("ffmnet-tiny", [*COMMON, *STEP1, "--out", f"{work}/ffmnet-tiny"])]
    for ratio, snr in SETTINGS:
        name = setting_name(ratio, snr)
        common = [*COMMON, "--ratio", ratio, "--snr-train", snr]
        out.append((f"{name}-step2", [*common, *STEP2, "--out", f"{work}/{name}-step2"]))
        step3 = ["--jscc", f"{work}/{name}-step2/final", "--out", f"{work}/{name}-e2e"]
        out.append((f"{name}-e2e", [*common, *STEP3, *step3]))
    return out


def ship(run: str, work: str) -> Path | None:
    """Copy a finished run's checkpoint into the package (see the module docstring)."""
    final = Path(work) / run / "final"
    if run == "ffmnet-tiny":
        return Path(shutil.copytree(final, CHECKPOINT_DIR / run, dirs_exist_ok=True))
    if run.endswith("-e2e"):
        return export_half(final, CHECKPOINT_DIR / run.removesuffix("-e2e"), KIND_E2E)
    if run.endswith("noiseless-step2"):
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
