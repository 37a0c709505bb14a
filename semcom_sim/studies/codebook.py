"""Codebook-sharing study (Sec. VI-D, Fig. 11): normalised performance vs codebook size.

    semcom-sim study codebook --sizes 4,16,64 --steps 400 \\
        --out results/udeepsc/codebook_study --threads 1 --seed 0

For every method x codebook size ``K`` it trains a tiny multi-task model (Algorithm 1 through
:mod:`~semcom_sim.models.udeepsc.trainers`, i.e. :func:`~.train.training_step`) on ``--tasks``
(default imgc, imgr, textc, vqa: two modalities, three image tasks, two text tasks), then
evaluates every task at one SNR (default 12 dB AWGN, digital transmission) on ``--samples``
examples of the embedded test split with the sweep engine and the sweep's primary metrics.

Methods (``codebook_sharing``, domain adaptation):

- ``Joint``: one book for every task and modality, no DA;
- ``Joint+DA``: one book, DA loss (eq. 13) between tasks of a shared modality;
- ``Sep-M``: one book per modality, no DA;
- ``Sep-T``: one book per task (VQA's image and text share its book), no DA;
- ``U-DeepSC``: one book per modality with DA (the default model).

Every book has ``K`` entries, so every method sends ``log2 K`` bits per index (same rate).

Outputs in ``--out``: ``runs/<method>-K<size>.json`` (one per run, written when it completes;
a rerun skips them), ``codebook_study.csv`` (method, codebook_size, task, metric, value,
normalized, steps, seed; ``normalized`` = value / the best value of that task over all runs, and
a ``task = mean`` row per method and size with the mean normalised value), ``config.json`` and
``README.md``. Training directories (checkpoints) go to ``--work`` (default
``runs/codebook_study``, not committed).
"""

from __future__ import annotations

import json
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch

from semcom_sim.errors import SemcomError
from semcom_sim.fileio import atomic_write, markdown_table, write_json
from semcom_sim.fileio import write_csv as write_table_csv
from semcom_sim.models.udeepsc.adapters import SWEEP_TASK
from semcom_sim.models.udeepsc.schemes import DeepSCScheme
from semcom_sim.options import (
    MAX_SAMPLES,
    ArgParser,
    check_float,
    check_int,
    check_seed,
    check_writable_dir,
)

# method -> (codebook_sharing, domain adaptation on)
METHODS: dict[str, tuple[str, bool]] = {
    "Joint": ("joint", False),
    "Joint+DA": ("joint", True),
    "Sep-M": ("modality", False),
    "Sep-T": ("task", False),
    "U-DeepSC": ("modality", True),
}
DEFAULT_TASKS = ("imgc", "imgr", "textc", "vqa")
COLUMNS = ("method", "codebook_size", "task", "metric", "value", "normalized", "steps", "seed")


def slug(method: str) -> str:
    """File-name form of a method: ``Joint+DA`` -> ``joint-da``."""
    return method.lower().replace("+", "-")


def run_name(method: str, size: int) -> str:
    return f"{slug(method)}-K{size}"


def method_overrides(method: str, size: int, tasks: tuple[str, ...], da_weight: float) -> dict:
    """Config overrides of one run: every modality's book has ``size`` entries."""
    if method not in METHODS:
        raise SemcomError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    sharing, da = METHODS[method]
    return {
        "codebook_sizes": {"image": size, "text": size, "speech": size},
        "codebook_sharing": sharing,
        "da_weight": da_weight if da else 0.0,
    }


class _RunScheme(DeepSCScheme):
    """The ``udeepsc`` scheme serving every task from one training run's checkpoint."""

    def __init__(self, path: Path, name: str) -> None:
        super().__init__("udeepsc")
        self.name = name
        self._run_path = Path(path)

    def _path(self, task: str) -> Path:
        return self._run_path


def train_run(args, method: str, size: int, work: Path) -> Path:
    """Train one model with the U-DeepSC trainer; returns its ``final/`` checkpoint."""
    from semcom_sim.models.udeepsc.trainers import _parser, _run

    out = work / run_name(method, size)
    argv = ["--out", str(out), "--steps", str(args.steps), "--seed", str(args.seed)]
    argv += ["--batch-size", str(args.batch_size), "--warmup", str(args.warmup)]
    argv += ["--checkpoint-every", str(args.steps), "--lr", str(args.lr), "--quiet"]
    targs = _parser("codebook_study", multi=True).parse_args(argv)
    overrides = method_overrides(method, size, args.tasks, args.da_weight)
    _run(targs, args.tasks, multi=True, overrides=overrides)
    return out / "final"


def evaluate_run(args, final: Path, name: str, work: Path) -> dict[str, dict[str, float]]:
    """``{task: {"metric": name, "value": v}}`` at ``args.snr_db`` with the sweep engine."""
    from semcom_sim.catalog import load_catalog
    from semcom_sim.channel import CHANNELS
    from semcom_sim.sim.engine import SweepConfig, run_sweep
    from semcom_sim.sim.store import ResultStore

    _, tasks_reg = load_catalog()
    tasks = [tasks_reg.create(SWEEP_TASK[t]) for t in args.tasks]
    channel = CHANNELS.create(args.channel)
    config = SweepConfig(
        schemes=[name],
        tasks=[t.name for t in tasks],
        channel=channel.config() | {"key": channel.key},
        snr_db=[args.snr_db],
        samples=args.samples,
        seed=args.seed,
    )
    store = ResultStore(work / name / "eval")
    try:
        run_sweep(config, [_RunScheme(final, name)], tasks, channel, store)
        recs = {r.task: r for r in store.records() if r.scheme == name}
    finally:
        store.close()
    out = {}
    for model_task, task in zip(args.tasks, tasks, strict=True):
        metric = task.primary_metric
        out[model_task] = {"metric": metric, "value": float(recs[task.name].metrics[metric])}
    return out


def run_one(args, method: str, size: int, out: Path, work: Path) -> dict:
    """Train and evaluate one run unless its result file exists; returns the result."""
    path = out / "runs" / f"{run_name(method, size)}.json"
    if path.exists():
        res = json.loads(path.read_text())
        if (res["steps"], res["seed"], res["samples"]) != (args.steps, args.seed, args.samples):
            raise SemcomError(f"{path} was made with other steps/seed/samples; move it away")
        return res
    t0 = time.perf_counter()
    final = train_run(args, method, size, work)
    t1 = time.perf_counter()
    metrics = evaluate_run(args, final, run_name(method, size), work)
    res = {
        "method": method,
        "codebook_size": size,
        "steps": args.steps,
        "seed": args.seed,
        "samples": args.samples,
        "snr_db": args.snr_db,
        "overrides": method_overrides(method, size, args.tasks, args.da_weight),
        "metrics": metrics,
        "train_s": t1 - t0,
        "eval_s": time.perf_counter() - t1,
    }
    write_json(path, res)
    return res


def table_rows(results: list[dict]) -> list[dict[str, Any]]:
    """CSV rows: one per (run, task) with ``normalized`` = value / best value of the task over
    all runs, then a ``mean`` row per run (mean of its tasks' normalised values)."""
    best: dict[str, float] = {}
    for r in results:
        for t, m in r["metrics"].items():
            best[t] = max(best.get(t, -math.inf), m["value"])
    rows = []
    for r in results:
        norms = []
        for t, m in r["metrics"].items():
            norm = m["value"] / best[t] if best[t] > 0 else math.nan
            norms.append(norm)
            rows.append(_row(r, t, m["metric"], m["value"], norm))
        mean = sum(norms) / len(norms)
        rows.append(_row(r, "mean", "mean_normalized", mean, mean))
    return rows


def _row(r: dict, task: str, metric: str, value: float, norm: float) -> dict[str, Any]:
    return {
        "method": r["method"],
        "codebook_size": r["codebook_size"],
        "task": task,
        "metric": metric,
        "value": round(value, 6),
        "normalized": round(norm, 6),
        "steps": r["steps"],
        "seed": r["seed"],
    }


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    write_table_csv(path, rows, COLUMNS, fmt=None)


def readme(args, rows: list[dict[str, Any]], results: list[dict], command: str) -> str:
    """``README.md`` of the output folder: what the numbers are and the mean table."""
    sizes = sorted({r["codebook_size"] for r in results})
    mean = {(r["method"], r["codebook_size"]): r["normalized"] for r in rows if r["task"] == "mean"}
    lines = [
        "# Codebook-sharing study (U-DeepSC Sec. VI-D, Fig. 11)",
        "",
        f"Command: `{command}`",
        "",
        f"Tiny preset, tasks {', '.join(args.tasks)} trained jointly (Algorithm 1) for "
        f"{args.steps} steps (batch {args.batch_size} per task, seed {args.seed}); evaluated at "
        f"{args.snr_db:g} dB {args.channel.upper()}, digital transmission, {args.samples} "
        "examples of each embedded test split, primary sweep metric per task.",
        "",
        "Methods: Joint = one codebook for all tasks and modalities; Joint+DA = the same with the "
        "domain-adaptation loss (eq. 13, between tasks sharing a modality); Sep-M = one codebook "
        "per modality; Sep-T = one codebook per task; U-DeepSC = one per modality with DA. "
        "`codebook_size` = entries of every (sub-)codebook, so all methods send the same bits "
        "per index.",
        "",
        "`normalized` = value / the best value of that task over all runs of this table; the row "
        "with task `mean` is the mean normalised value of the run's tasks (Fig. 11's y-axis).",
        "",
        "Mean normalised performance:",
        "",
    ]
    lines += markdown_table(
        ["method", *(f"K={k}" for k in sizes)],
        (
            [m, *(f"{mean[(m, k)]:.3f}" if (m, k) in mean else "" for k in sizes)]
            for m in dict.fromkeys(r["method"] for r in results)
        ),
    )
    lines += ["", "Range of each task's value over the runs:", ""]
    for t in results[0]["metrics"]:
        vals = [r["metrics"][t]["value"] for r in results]
        metric = results[0]["metrics"][t]["metric"]
        lines.append(f"- {t} ({metric}): {min(vals):.4g} to {max(vals):.4g}")
    wall = sum(r["train_s"] + r["eval_s"] for r in results)
    lines += ["", f"Wall time (all runs, one CPU thread): {wall / 60:.1f} min.", ""]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None):
    p = ArgParser(
        prog="semcom-sim study codebook",
        description=(__doc__ or "").splitlines()[0],
    )
    p.add_argument("--sizes", default="4,16,64", help="codebook sizes (powers of two)")
    p.add_argument("--methods", default=",".join(METHODS), help="subset of the methods")
    p.add_argument("--tasks", default=",".join(DEFAULT_TASKS), help="model tasks trained")
    p.add_argument("--steps", type=int, default=400, help="optimiser steps per run")
    p.add_argument("--batch-size", type=int, default=32, help="examples per task per step")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW peak learning rate")
    p.add_argument("--warmup", type=int, default=50, help="linear warm-up steps")
    p.add_argument("--da-weight", type=float, default=1.0, help="DA weight of the DA methods")
    p.add_argument("--snr-db", type=float, default=12.0, help="evaluation SNR")
    p.add_argument("--channel", default="awgn", help="evaluation channel")
    p.add_argument("--samples", type=int, default=200, help="test examples per task")
    p.add_argument("--seed", type=int, default=0, help="training and evaluation seed")
    p.add_argument("--out", required=True, help="results folder (rerun to resume)")
    p.add_argument("--work", default="runs/codebook_study", help="training directories")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = p.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.methods = [m for m in args.methods.split(",") if m]
    args.tasks = tuple(t for t in args.tasks.split(",") if t)
    for m in args.methods:
        method_overrides(m, 2, args.tasks, 0.0)  # raises on an unknown name
    if any(k < 2 or k & (k - 1) for k in args.sizes):
        raise SemcomError(f"--sizes must be powers of two >= 2, got {args.sizes}")
    # every value checked before the first file is written (the trainer would check later)
    check_int(args.steps, "--steps", 1, 10**9)
    check_int(args.batch_size, "--batch-size", 1, 100_000)
    check_int(args.warmup, "--warmup", 0, 10**9)
    check_int(args.samples, "--samples", 1, MAX_SAMPLES)
    check_int(args.threads, "--threads", 1, 1024)
    check_float(args.lr, "--lr", 0.0, 10.0, lo_open=True)
    check_float(args.da_weight, "--da-weight", 0.0)
    check_float(args.snr_db, "--snr-db", -100.0, 200.0)
    check_seed(args.seed)
    from semcom_sim.channel import CHANNELS

    CHANNELS.check(args.channel)
    check_writable_dir(args.out)
    check_writable_dir(args.work, "--work")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    out, work = Path(args.out), Path(args.work)
    command = "semcom-sim study codebook " + shlex.join(argv)
    settings = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(args).items()}
    settings["methods_resolved"] = {
        m: {"codebook_sharing": METHODS[m][0], "da_weight": args.da_weight * METHODS[m][1]}
        for m in args.methods
    }
    write_json(out / "config.json", {"command": command, "settings": settings})
    results = []
    for size in args.sizes:
        for method in args.methods:
            t0 = time.perf_counter()
            res = run_one(args, method, size, out, work)
            results.append(res)
            print(
                f"{run_name(method, size)}: "
                + " ".join(f"{t}={m['value']:.4g}" for t, m in res["metrics"].items())
                + f" ({time.perf_counter() - t0:.0f} s)",
                file=sys.stderr,
            )
    rows = table_rows(results)
    write_csv(out / "codebook_study.csv", rows)
    with atomic_write(out / "README.md") as f:
        f.write(readme(args, rows, results, command))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
