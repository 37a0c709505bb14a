"""Profile of the main job: ``semcom-sim sweep`` with time per stage, per scheme family.

Runs ``semcom-sim sweep ARGS`` (default: the default sweep, every scheme and task, 64 examples
per point, into a fresh temporary folder) with explicit stage timers wrapped around the
library's stage functions, and writes ``results/benchmarks/sweep.json``:

- ``stages_s[family][stage]``: self time per stage (a stage called inside another is charged
  to the inner one only), stages: data, source_encode, channel_encode, map, channel, demap,
  decode, source_decode, task_model, metrics, store, and ``other`` (the rest of the points'
  time: learned models' own forward passes, Python glue);
- ``wall_s`` (the whole command: process-level imports excluded, figures and tables included),
  ``sweep_s`` (the engine alone), ``peak_rss_mb`` (this process; with ``--workers N`` also each
  worker's), the load average before and after (the machine is shared: say so with the numbers);
- ``conventional_over_decode``: the conventional families' point time / their decode time;
- with ``--cprofile``: the 40 functions of highest own time (cProfile inflates the wall).

With ``--workers N`` > 1 the points run in worker processes, which this process does not time:
use ``--workers 1`` for the stage profile and ``--workers N`` for the wall time and each
worker's peak RSS (``worker_peak_rss_mb``).

    OMP_NUM_THREADS=1 python benchmarks/bench_sweep.py --out-json results/benchmarks/sweep.json \
        -- --snr -6:18 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

STAGES = (
    "data", "source_encode", "channel_encode", "map", "channel", "demap", "decode",
    "source_decode", "task_model", "metrics", "store", "other",
)  # fmt: skip


class StageTimers:
    """Self time per (family, stage); the innermost running stage gets the time."""

    def __init__(self) -> None:
        self.family = "setup"
        self.times: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.point_s: dict[str, float] = defaultdict(float)
        self.points: dict[str, int] = defaultdict(int)
        self._stack: list[list] = []  # [stage, start, child time]

    def wrap(self, fn, stage: str):
        timers = self

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            timers._stack.append([stage, t0, 0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                _, start, child = timers._stack.pop()
                total = time.perf_counter() - start
                timers.times[timers.family][stage] += total - child
                if timers._stack:
                    timers._stack[-1][2] += total

        timed.__wrapped__ = fn
        return timed

    def as_dict(self) -> dict:
        out = {}
        for fam, st in sorted(self.times.items()):
            d = {s: round(st.get(s, 0.0), 3) for s in STAGES if s != "other"}
            if fam in self.point_s:
                d["other"] = round(max(0.0, self.point_s[fam] - sum(d.values())), 3)
            out[fam] = d
        return out


REFERENCES = ("majority-class", "question-prior", "mean-image", "block-colour", "mean-colour")


def family_of(scheme: str) -> str:
    """The family a scheme's time is charged to, e.g. ``h264/envelope``, ``udeepsc``."""
    if scheme in REFERENCES:
        return "references"
    for learned in ("udeepsc", "tdeepsc", "upper-bound", "ffmnet"):
        if scheme.startswith(learned):
            return learned
    head, _, rest = scheme.partition("-")
    if scheme.startswith("best-image"):
        head, rest = "best-image", scheme[len("best-image-") :]
    kind = "envelope" if rest.endswith("envelope") else "capacity" if "capacity" in rest else None
    if kind is None:
        kind = "paper" if rest in ("ldpc", "turbo") else rest or "scheme"
    return f"{head}/{kind}"


def install(timers: StageTimers) -> None:
    """Wrap the stage functions of the library (codecs, codes, QAM, channel, receivers, ...)."""
    import semcom_sim.catalog  # noqa: F401  (registers every scheme, codec and task)
    import semcom_sim.link.digital as digital
    import semcom_sim.sim.engine as engine
    from semcom_sim.baselines.codecs.base import Codec
    from semcom_sim.baselines.separation import ModelReceiver
    from semcom_sim.catalog import load_catalog
    from semcom_sim.channel.base import Channel
    from semcom_sim.link.fec import BlockCode
    from semcom_sim.sim.store import ResultStore

    def subclasses(cls):
        out, todo = [cls], [cls]
        while todo:
            for sub in todo.pop().__subclasses__():
                out.append(sub)
                todo.append(sub)
        return out

    for cls in subclasses(Codec):
        for meth, stage in (("encode", "source_encode"), ("decode", "source_decode")):
            if meth in cls.__dict__:
                setattr(cls, meth, timers.wrap(cls.__dict__[meth], stage))
    for cls in subclasses(BlockCode):
        for meth, stage in (
            ("encode", "channel_encode"), ("encode_numpy", "channel_encode"),
            ("decode", "decode"), ("decode_numpy", "decode"),
        ):  # fmt: skip
            if meth in cls.__dict__:
                setattr(cls, meth, timers.wrap(cls.__dict__[meth], stage))
    digital.map_bits = timers.wrap(digital.map_bits, "map")
    digital.demap_llr = timers.wrap(digital.demap_llr, "demap")
    Channel.__call__ = timers.wrap(Channel.__call__, "channel")
    ModelReceiver.__call__ = timers.wrap(ModelReceiver.__call__, "task_model")
    ResultStore.put = timers.wrap(ResultStore.put, "store")
    _, tasks = load_catalog()
    for name in tasks.names():
        cls = type(tasks.create(name))
        if "load" in cls.__dict__:
            cls.load = timers.wrap(cls.__dict__["load"], "data")
        if "new_accumulator" in cls.__dict__:
            cls.new_accumulator = _accumulators(timers, cls.__dict__["new_accumulator"])
    _wrap_points(timers, engine)


def _accumulators(timers: StageTimers, new_accumulator):
    def make(self):
        acc = new_accumulator(self)
        for meth in ("update", "compute"):
            setattr(acc, meth, timers.wrap(getattr(acc, meth), "metrics"))
        return acc

    return make


def _wrap_points(timers: StageTimers, engine) -> None:
    """Charge each chunk of points (and what follows it until the next) to its family."""
    run_chunk = engine._run_chunk

    def timed_chunk(config, scheme, task, *args, **kwargs):
        timers.family = family_of(scheme.name)
        t0 = time.perf_counter()
        try:
            recs = run_chunk(config, scheme, task, *args, **kwargs)
        finally:
            timers.point_s[timers.family] += time.perf_counter() - t0
        timers.points[timers.family] += len(recs)
        return recs

    engine._run_chunk = timed_chunk


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out-json", default="results/benchmarks/sweep.json")
    p.add_argument("--cprofile", action="store_true", help="also cProfile (inflates the wall)")
    p.add_argument("--label", default="", help="stored with the numbers (e.g. before / after)")
    p.add_argument("sweep_args", nargs="*", help="arguments of semcom-sim sweep (after --)")
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    load_before = os.getloadavg()
    t_import = time.perf_counter()
    from semcom_sim.cli import main as cli_main

    timers = StageTimers()
    install(timers)
    import semcom_sim.sim.engine as engine

    sweep_span = {}
    run_sweep = engine.run_sweep

    def timed_run_sweep(*a, **k):
        t0 = time.perf_counter()
        try:
            return run_sweep(*a, **k)
        finally:
            sweep_span["s"] = time.perf_counter() - t0

    engine.run_sweep = timed_run_sweep
    import semcom_sim.commands.sweep as sweep_cmd

    runners = []
    runner_close = sweep_cmd.Runner.close

    def close(self, *a, **k):
        runner_close(self, *a, **k)
        runners.append({"how": self.how, "worker_peak_rss_mb": list(self.worker_rss_mb)})

    sweep_cmd.Runner.close = close

    import_s = time.perf_counter() - t_import
    out_dir = tempfile.mkdtemp(prefix="bench_sweep_")
    sweep_args = list(args.sweep_args)
    if "--out" not in sweep_args:
        sweep_args += ["--out", out_dir]
    if "--quiet" not in sweep_args:
        sweep_args.append("--quiet")
    prof = None
    if args.cprofile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    t0 = time.perf_counter()
    rc = cli_main(["sweep", *sweep_args])
    wall = time.perf_counter() - t0
    if prof is not None:
        prof.disable()
    workers = []  # stages are timed in this process only (with --workers > 1: planning)
    stages = timers.as_dict()
    point_s, points = dict(timers.point_s), dict(timers.points)
    for w in workers:  # stages timed in worker processes
        for fam, st in w["stages"].items():
            d = stages.setdefault(fam, {})
            for k, v in st.items():
                d[k] = round(d.get(k, 0.0) + v, 3)
        for fam, v in w["point_s"].items():
            point_s[fam] = point_s.get(fam, 0.0) + v
        for fam, v in w["points"].items():
            points[fam] = points.get(fam, 0) + v
    conv = [f for f in point_s if "/" in f]  # the conventional families (learned: no "/")
    conv_s = sum(point_s[f] for f in conv)
    conv_dec = sum(stages.get(f, {}).get("decode", 0.0) for f in conv)
    result = {
        "label": args.label,
        "command": "semcom-sim sweep " + " ".join(sweep_args),
        "rc": rc,
        "wall_s": round(wall, 2),
        "sweep_s": round(sweep_span.get("s", float("nan")), 2),
        "figures_and_tables_s": round(wall - sweep_span.get("s", 0.0), 2),
        "import_s": round(import_s, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "peak_rss_children_mb": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0, 1
        ),
        "ran": runners[-1]["how"] if runners else None,
        "worker_peak_rss_mb": [round(v, 1) for r in runners for v in r["worker_peak_rss_mb"]],
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "points": points,
        "point_s": {k: round(v, 2) for k, v in sorted(point_s.items(), key=lambda kv: -kv[1])},
        "stages_s": stages,
        "stage_totals_s": {
            s: round(sum(st.get(s, 0.0) for st in stages.values()), 2) for s in STAGES
        },
        "conventional_point_s": round(conv_s, 2),
        "conventional_decode_s": round(conv_dec, 2),
        "conventional_over_decode": round(conv_s / conv_dec, 2) if conv_dec else None,
        "cprofile": args.cprofile,
        "note": "2-core CPU shared with other engineers' jobs: see load_avg_*; stage times are "
        "self times summed over workers (CPU-seconds), wall_s is wall time",
    }
    if prof is not None:
        import pstats

        st = pstats.Stats(prof)
        rows = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:40]
        result["cprofile_top_tottime"] = [
            {"function": f"{Path(f).name}:{line}:{fn}", "tottime_s": round(v[2], 3),
             "cumtime_s": round(v[3], 3), "calls": v[1]}
            for (f, line, fn), v in rows
        ]  # fmt: skip
    out = Path(args.out_json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("wall_s", "sweep_s", "peak_rss_mb", "point_s")},
                     indent=1))  # fmt: skip
    return rc


if __name__ == "__main__":
    sys.exit(main())
