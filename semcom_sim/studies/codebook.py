"""Codebook-sharing study (Sec. VI-D, Fig. 11): normalised performance vs total codebook size.

    semcom-sim study codebook --sizes 8,32,128 --seeds 0,1,2 --steps 200 --warmup 20 \\
        --out results/udeepsc/codebook_study --threads 1 --init runs/udeepsc-tiny-s9/final \\
        --set task_grad_normalize=true --set task_encoder_layers=1

For every method x total codebook size ``K`` x seed it trains a tiny multi-task model
(Algorithm 1 through :mod:`~semcom_sim.models.udeepsc.trainers`, i.e.
:func:`~.train.training_step`) on ``--tasks`` (default imgc, imgr, textc, vqa: two modalities,
three image tasks, two text tasks), then evaluates every task at one SNR (default 12 dB AWGN,
digital transmission) on ``--samples`` examples of the embedded test split with the sweep engine
and the sweep's primary metrics.

Methods (``codebook_sharing``, domain adaptation):

- ``Joint``: one book for every task and modality, no DA;
- ``Joint+DA``: one book, DA loss (eq. 13) between tasks of a shared modality;
- ``Sep-M``: one book per modality used by the tasks, no DA;
- ``Sep-T``: one book per task (VQA's image and text share its book), no DA;
- ``U-DeepSC``: one book per modality with DA (the default model).

``--sizes`` are **total** sizes, ``K = K_I + K_T + K_S`` of eq. (10): the entries of all of a
method's books together. A method with ``n`` books gives each ``K / n`` entries (Joint: one book
of ``K``; Sep-M and U-DeepSC: ``K / modalities``; Sep-T: ``K / tasks``); every book must be a
power of two >= 2, and a size that does not divide that way is refused with the sizes that
would work. At one ``K`` the methods therefore store the same number of codewords but **send
different bits per index** (``log2`` of their book size, e.g. at K = 32 with four tasks: Joint
5 bits, Sep-M 4, Sep-T 3), so a method with more books also sends fewer bits (and, at
``num_bits_per_symbol`` bits per symbol, possibly fewer symbols) per index. The CSV and the
README report each run's ``bits_per_index``.

``--init`` warm-starts every run from the given checkpoints (as ``semcom-sim train udeepsc
--init``; the codebooks, whose sizes differ from the checkpoints', start fresh) and ``--set``
sets U-DeepSC config fields of every run; both are stored with each run. Measured: from
scratch, 600 steps leave image classification at chance (0.09-0.16) and sentiment near it
(0.56-0.67) for every method (8 runs of session 9), and from the T-DeepSCs with image
reconstruction's encoder image classification stays at chance too, so the methods cannot be
told apart; the committed study warm-starts from a trained U-DeepSC (command in
``results/udeepsc/codebook_study_init/``).

Outputs in ``--out``: ``runs/<method>-K<size>-s<seed>.json`` (one per run, written when it
completes; a rerun skips them), ``codebook_study.csv`` (columns :data:`COLUMNS`: per method, size
and task the mean and sample standard deviation over ``--seeds`` of the value and of the
normalised value, ``normalized`` = value / the best seed-mean value of that task over all
(method, size); a ``task = mean`` row per method and size with the mean +- std over seeds of
the mean normalised value; std is empty with one seed), ``config.json`` and ``README.md``.
Training directories (checkpoints) go to ``--work`` (default ``runs/codebook_study``, not
committed).
"""

from __future__ import annotations

import json
import math
import re
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
from semcom_sim.models.udeepsc.tasks import ALL_TASKS, MODALITIES, task_spec
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
COLUMNS = (
    "method", "codebook_size", "books", "book_size", "bits_per_index", "task", "metric",
    "value", "value_std", "normalized", "normalized_std", "seeds", "steps",
)  # fmt: skip
_RUN_FILE = re.compile(r"^[a-z-]+-K\d+-s\d+\.json$")


def slug(method: str) -> str:
    """File-name form of a method: ``Joint+DA`` -> ``joint-da``."""
    return method.lower().replace("+", "-")


def run_name(method: str, size: int, seed: int) -> str:
    return f"{slug(method)}-K{size}-s{seed}"


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise SemcomError(f"unknown method {method!r}; known: {', '.join(METHODS)}")


def book_keys(method: str, tasks: tuple[str, ...]) -> tuple[str, ...]:
    """The books of ``method`` for ``tasks`` (as ``UDeepSCConfig.codebook_keys`` names them)."""
    _check_method(method)
    sharing = METHODS[method][0]
    if sharing == "joint":
        return ("joint",)
    if sharing == "task":
        return tuple(t for t in ALL_TASKS if t in tasks)
    used = {m for t in tasks for m in task_spec(t).modalities}
    return tuple(m for m in MODALITIES if m in used)


def _fits(size: int, n: int) -> bool:
    per, rest = divmod(size, n)
    return rest == 0 and per >= 2 and not per & (per - 1)


def book_sizes(method: str, size: int, tasks: tuple[str, ...]) -> dict[str, int]:
    """``{book: entries}`` of ``method`` at total size ``size``: ``size / number of books`` each
    (the entries sum to ``size``); a one-line error if that is not a power of two >= 2."""
    keys = book_keys(method, tasks)
    if not _fits(size, len(keys)):
        raise SemcomError(
            f"total codebook size {size}: {method} has {len(keys)} book(s) "
            f"({', '.join(keys)}), and {size} / {len(keys)} is not a power of two >= 2"
        )
    return {k: size // len(keys) for k in keys}


def valid_sizes(methods, tasks: tuple[str, ...], limit: int = 4096) -> list[int]:
    """Total sizes up to ``limit`` that every method in ``methods`` can split."""
    counts = {len(book_keys(m, tasks)) for m in methods}
    return [k for k in range(2, limit + 1) if all(_fits(k, n) for n in counts)]


def check_sizes(sizes: list[int], methods, tasks: tuple[str, ...]) -> None:
    """A one-line error naming the sizes that would work if one of ``sizes`` does not split."""
    bad = [k for k in sizes if not all(_fits(k, len(book_keys(m, tasks))) for m in methods)]
    if not bad:
        return
    books = ", ".join(f"{m} {len(book_keys(m, tasks))}" for m in methods)
    ok = valid_sizes(methods, tasks)
    hint = (
        f"sizes that work: {', '.join(map(str, ok[:8]))}{', ...' if len(ok) > 8 else ''}"
        if ok
        else "no size up to 4096 works for all of them; run those methods separately"
    )
    raise SemcomError(
        f"--sizes {','.join(map(str, bad))}: a total size K must split into books of K / "
        f"(number of books) entries, each a power of two >= 2 (books: {books}); {hint}"
    )


def bits_per_index(method: str, size: int, tasks: tuple[str, ...]) -> int:
    """Bits one index of ``method`` sends at total size ``size`` (log2 of its book size)."""
    return int(math.log2(next(iter(book_sizes(method, size, tasks).values()))))


def method_overrides(method: str, size: int, tasks: tuple[str, ...], da_weight: float) -> dict:
    """Config overrides of one run at total codebook size ``size``.

    Every method's books have equal size (``size / books``); ``codebook_sizes`` is set to it
    for every modality explicitly, so the preset's own sizes (e.g. a larger text book) never
    leak in and ``joint`` / ``task`` sharing gets the equal sizes it needs.
    """
    per = next(iter(book_sizes(method, size, tasks).values()))
    sharing, da = METHODS[method]
    return {
        "codebook_sizes": {m: per for m in MODALITIES},
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


def train_run(args, method: str, size: int, seed: int, work: Path) -> Path:
    """Train one model with the U-DeepSC trainer; returns its ``final/`` checkpoint."""
    from semcom_sim.models.udeepsc.trainers import _parser, _run

    out = work / run_name(method, size, seed)
    argv = ["--out", str(out), "--steps", str(args.steps), "--seed", str(seed)]
    argv += ["--batch-size", str(args.batch_size), "--warmup", str(args.warmup)]
    argv += ["--checkpoint-every", str(args.steps), "--lr", str(args.lr), "--quiet"]
    for path in args.init:
        argv += ["--init", path]
    for item in args.set:
        argv += ["--set", item]
    targs = _parser("codebook_study", multi=True).parse_args(argv)
    overrides = method_overrides(method, size, args.tasks, args.da_weight)
    _run(targs, args.tasks, multi=True, overrides=overrides)
    return out / "final"


def evaluate_run(args, final: Path, name: str, seed: int, work: Path) -> dict[str, dict]:
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
        seed=seed,
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


def _run_settings(args, method: str, size: int, seed: int) -> dict[str, Any]:
    """What a stored run must have been made with to be reused."""
    return {
        "method": method,
        "codebook_size": size,
        "seed": seed,
        "tasks": list(args.tasks),
        "steps": args.steps,
        "samples": args.samples,
        "snr_db": args.snr_db,
        "books": book_sizes(method, size, args.tasks),
        "bits_per_index": bits_per_index(method, size, args.tasks),
        "overrides": method_overrides(method, size, args.tasks, args.da_weight),
        "init": [_init_record(p) for p in args.init],
        "set": list(args.set),
    }


def _init_record(path: str) -> dict[str, str]:
    """A warm-start checkpoint as stored with a run: its path and weights' sha256 (so a run
    made from other weights is not reused)."""
    from semcom_sim.checkpoint import MANIFEST, WEIGHTS

    manifest = json.loads((Path(path) / MANIFEST).read_text())
    return {"path": str(path), "sha256": manifest["files"][WEIGHTS]}


def run_one(args, method: str, size: int, seed: int, out: Path, work: Path) -> dict:
    """Train and evaluate one run unless its result file exists; returns the result."""
    name = run_name(method, size, seed)
    path = out / "runs" / f"{name}.json"
    settings = _run_settings(args, method, size, seed)
    if path.exists():
        res = json.loads(path.read_text())
        differ = sorted(k for k, v in settings.items() if res.get(k) != v)
        if differ:
            raise SemcomError(f"{path} was made with other {', '.join(differ)}; move it away")
        return res
    t0 = time.perf_counter()
    final = train_run(args, method, size, seed, work)
    t1 = time.perf_counter()
    metrics = evaluate_run(args, final, name, seed, work)
    res = settings | {
        "metrics": metrics,
        "train_s": t1 - t0,
        "eval_s": time.perf_counter() - t1,
    }
    write_json(path, res)
    return res


def _mean_std(xs: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1; NaN with one value; NaN in, NaN out)."""
    mean = sum(xs) / len(xs)
    if len(xs) < 2:
        return mean, math.nan
    return mean, math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))


def _mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs)


def _groups(results: list[dict]) -> dict[tuple[str, int], list[dict]]:
    """Runs by (method, total size), in first-seen order, each group sorted by seed."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in results:
        groups.setdefault((r["method"], r["codebook_size"]), []).append(r)
    for (method, size), runs in groups.items():
        seeds = [r["seed"] for r in runs]
        if len(set(seeds)) != len(seeds):
            raise SemcomError(f"{method} K={size}: seed repeated in {sorted(seeds)}")
        runs.sort(key=lambda r: r["seed"])
    return groups


def table_rows(results: list[dict]) -> list[dict[str, Any]]:
    """CSV rows: per (method, size) one row per task with mean and std over the seeds of the
    value and of ``value / best``, where ``best`` is the best seed-mean value of that task over
    all (method, size); then a ``mean`` row: mean and std over the seeds of each seed's mean
    normalised value (the mean over tasks of its ``value / best``)."""
    groups = _groups(results)
    tasks = list(dict.fromkeys(t for r in results for t in r["metrics"]))
    best = {
        t: max(_mean(r["metrics"][t]["value"] for r in runs) for runs in groups.values())
        for t in tasks
    }
    rows = []
    for runs in groups.values():
        per_seed = []  # per seed: normalised value of every task
        for r in runs:
            per_seed.append(
                {t: r["metrics"][t]["value"] / best[t] if best[t] > 0 else math.nan for t in tasks}
            )
        for t in tasks:
            value = _mean_std([r["metrics"][t]["value"] for r in runs])
            norm = _mean_std([n[t] for n in per_seed])
            rows.append(_row(runs, t, runs[0]["metrics"][t]["metric"], value, norm))
        mean = _mean_std([_mean(n.values()) for n in per_seed])
        rows.append(_row(runs, "mean", "mean_normalized", mean, mean))
    return rows


def _cell(x: float) -> float | str:
    return "" if math.isnan(x) else round(x, 6)


def _row(runs: list[dict], task: str, metric: str, value, norm) -> dict[str, Any]:
    r = runs[0]
    books = r.get("books") or {}
    per = next(iter(books.values()), None)
    return {
        "method": r["method"],
        "codebook_size": r["codebook_size"],
        "books": len(books) or "",
        "book_size": per or "",
        "bits_per_index": r.get("bits_per_index", ""),
        "task": task,
        "metric": metric,
        "value": _cell(value[0]),
        "value_std": _cell(value[1]),
        "normalized": _cell(norm[0]),
        "normalized_std": _cell(norm[1]),
        "seeds": " ".join(str(x["seed"]) for x in runs),
        "steps": r["steps"],
    }


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    write_table_csv(path, rows, COLUMNS, fmt=None)


def _pm(mean: Any, std: Any, digits: int) -> str:
    if mean == "":
        return "n/a"
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std != "" else "")


def readme(args, rows: list[dict[str, Any]], results: list[dict], command: str) -> str:
    """``README.md`` of the output folder: what the numbers are and the tables."""
    sizes = sorted({r["codebook_size"] for r in results})
    methods = list(dict.fromkeys(r["method"] for r in results))
    tasks = list(dict.fromkeys(t for r in results for t in r["metrics"]))
    by = {(r["method"], r["codebook_size"], r["task"]): r for r in rows}
    seeds = ", ".join(str(s) for s in args.seeds)

    def grid(cell) -> list[str]:
        return markdown_table(
            ["method", *(f"K={k}" for k in sizes)],
            (
                [m, *(cell(by[(m, k, "mean")]) if (m, k, "mean") in by else "" for k in sizes)]
                for m in methods
            ),  # fmt: skip
        )

    lines = [
        "# Codebook-sharing study (U-DeepSC Sec. VI-D, Fig. 11)",
        "",
        f"Command: `{command}`",
        "",
        f"Tiny preset, tasks {', '.join(args.tasks)} trained jointly (Algorithm 1) for "
        f"{args.steps} steps (batch {args.batch_size} per task), once per seed ({seeds}); "
        f"evaluated at {args.snr_db:g} dB {args.channel.upper()}, digital transmission, "
        f"{args.samples} examples of each embedded test split (drawn with the run's seed), "
        "primary sweep metric per task.",
        "",
        "Methods: Joint = one codebook for all tasks and modalities; Joint+DA = the same with the "
        "domain-adaptation loss (eq. 13, between tasks sharing a modality); Sep-M = one codebook "
        "per modality; Sep-T = one codebook per task; U-DeepSC = one per modality with DA.",
        "",
        "`codebook_size` K is the **total** size of eq. (10), K = K_I + K_T + K_S: the entries "
        "of all of a method's books together, split equally (`books` books of `book_size` = "
        "K / books entries). At one K every method stores the same number of codewords, but the "
        "methods **send different bits per index**: `bits_per_index` = log2(book_size), so a "
        "method with more books sends fewer bits per index (a coarser quantiser per feature).",
        "",
        "`normalized` = value / the best seed-mean value of that task over all (method, K) of "
        "this table; the row with task `mean` is the mean over tasks of the normalised values "
        "(Fig. 11's y-axis). Every number is the mean ± sample standard deviation over the "
        "seeds.",
        "",
        f"Mean normalised performance (mean ± std over seeds {seeds}):",
        "",
        *grid(lambda r: _pm(r["normalized"], r["normalized_std"], 3)),
        "",
        "Books x entries per book (bits per index):",
        "",
        *grid(lambda r: f"{r['books']} x {r['book_size']} ({r['bits_per_index']} b)"),
        "",
        "Each task's metric (mean ± std over seeds):",
        "",
    ]
    metric = {t: next(r["metric"] for r in rows if r["task"] == t) for t in tasks}
    lines += markdown_table(
        ["method", "K", "bits/index", *(f"{t} ({metric[t]})" for t in tasks)],
        (
            [
                m,
                k,
                by[(m, k, tasks[0])]["bits_per_index"],
                *(_pm(by[(m, k, t)]["value"], by[(m, k, t)]["value_std"], 3) for t in tasks),
            ]
            for m in methods
            for k in sizes
            if (m, k, tasks[0]) in by
        ),  # fmt: skip
    )
    wall = sum(r["train_s"] + r["eval_s"] for r in results)
    lines += [
        "",
        f"Wall time ({len(results)} runs, one CPU thread): {wall / 60:.1f} min "
        f"({wall / max(1, len(results)):.0f} s per run).",
        "",
    ]
    return "\n".join(lines)


def _int_list(text: str, name: str) -> list[int]:
    try:
        values = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise SemcomError(f"{name} must be comma-separated integers (got {text!r})") from None
    if not values:
        raise SemcomError(f"{name} is empty")
    if len(set(values)) != len(values):
        raise SemcomError(f"{name} has repeated values ({text!r})")
    return values


def parse_args(argv: list[str] | None = None):
    p = ArgParser(
        prog="semcom-sim study codebook",
        description=(__doc__ or "").splitlines()[0],
    )
    p.add_argument("--sizes", default="8,32,128",
                   help="total codebook sizes K (all of a method's books together)")  # fmt: skip
    p.add_argument("--seeds", default="0", help="seeds; every (method, size) runs once per seed")
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
    p.add_argument("--out", required=True, help="results folder (rerun to resume)")
    p.add_argument("--work", default="runs/codebook_study", help="training directories")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--init", action="append", default=[], metavar="CHECKPOINT",
                   help="warm start of every run (repeatable, as for semcom-sim train udeepsc; "
                   "codebooks of another size start fresh)")  # fmt: skip
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="U-DeepSC config field of every run (repeatable, as for train udeepsc)",
    )
    args = p.parse_args(argv)
    args.sizes = _int_list(args.sizes, "--sizes")
    args.seeds = _int_list(args.seeds, "--seeds")
    args.methods = [m for m in args.methods.split(",") if m]
    args.tasks = tuple(t for t in args.tasks.split(",") if t)
    if not args.methods or not args.tasks:
        raise SemcomError("--methods and --tasks need at least one name each")
    for m in args.methods:
        _check_method(m)
    for t in args.tasks:
        task_spec(t)
        if t not in SWEEP_TASK:
            raise SemcomError(f"--tasks: {t!r} has no sweep task to evaluate it")
    check_sizes(args.sizes, args.methods, args.tasks)
    # every value checked before the first file is written (the trainer would check later)
    check_int(args.steps, "--steps", 1, 10**9)
    check_int(args.batch_size, "--batch-size", 1, 100_000)
    check_int(args.warmup, "--warmup", 0, 10**9)
    check_int(args.samples, "--samples", 1, MAX_SAMPLES)
    check_int(args.threads, "--threads", 1, 1024)
    check_float(args.lr, "--lr", 0.0, 10.0, lo_open=True)
    check_float(args.da_weight, "--da-weight", 0.0)
    check_float(args.snr_db, "--snr-db", -100.0, 200.0)
    for s in args.seeds:
        check_seed(s, "--seeds")
    from semcom_sim.channel import CHANNELS
    from semcom_sim.models.udeepsc.config import tiny_config

    CHANNELS.check(args.channel)
    from semcom_sim.models.udeepsc.trainers import config_overrides
    from semcom_sim.options import check_input_dir

    for path in args.init:
        check_input_dir(path, "--init")
    sets = config_overrides(args.set)
    for key in ("tasks", "codebook_sizes", "codebook_sharing", "da_weight"):
        if key in sets:
            raise SemcomError(f"--set {key}=...: the study sets it per method and size")
    for m in args.methods:  # the configs the trainer will build must validate
        for k in args.sizes:
            tiny_config(
                tasks=args.tasks, **sets, **method_overrides(m, k, args.tasks, args.da_weight)
            )
    check_writable_dir(args.out)
    check_writable_dir(args.work, "--work")
    runs = Path(args.out) / "runs"
    old = sorted(p.name for p in runs.glob("*.json") if not _RUN_FILE.match(p.name))
    if old:
        raise SemcomError(
            f"{runs} holds {', '.join(old[:3])}{' ...' if len(old) > 3 else ''}, not runs of "
            "this study (<method>-K<total size>-s<seed>.json; older runs counted K per book); "
            "move them away or use another --out"
        )
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
    settings["books"] = {
        m: {str(k): book_sizes(m, k, args.tasks) for k in args.sizes} for m in args.methods
    }
    write_json(out / "config.json", {"command": command, "settings": settings})
    results = []
    for size in args.sizes:
        for method in args.methods:
            for seed in args.seeds:
                t0 = time.perf_counter()
                res = run_one(args, method, size, seed, out, work)
                results.append(res)
                print(
                    f"{run_name(method, size, seed)}: "
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
