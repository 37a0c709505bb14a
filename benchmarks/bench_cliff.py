"""Cliff SNRs of the conventional schemes over AWGN on the embedded data.

Runs a sweep (the ordinary engine and store) of the paper defaults, every fixed MCS of the LDPC
table, optionally the envelopes, and the capacity bounds on image reconstruction (shapes32) and
text reconstruction (embedded-text), then reports per scheme the cliff SNR: where the primary
metric falls below ``--fraction`` (0.9) of the scheme's *noiseless* value (the source codec's
round trip on the same examples). Writes JSON (default results/benchmarks/cliff_awgn.json) and
keeps the store and the figures (cliff figure included) in ``--store``.

    python benchmarks/bench_cliff.py [--snr=-4:14:1] [--samples 16] [--envelope] [--out PATH]

Runs with one torch thread by default (``--threads``): Sionna's many small decoder calls are
10-100x slower with two threads on a busy two-core machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from semcom_sim.catalog import load_catalog
from semcom_sim.channel import AWGN
from semcom_sim.link.mcs import LDPC_TABLE
from semcom_sim.sim.cliff import cliff_snr, curve
from semcom_sim.sim.engine import SweepConfig, package_versions, point_seed, run_sweep
from semcom_sim.sim.plot import plot_records
from semcom_sim.sim.snr import parse_snr
from semcom_sim.sim.store import ResultStore

FAMILIES = {
    "image-reconstruction": ("jpeg", "jpeg-ldpc"),
    "text-reconstruction": ("utf8", "utf8-turbo"),
}


def schemes_for(family: str, default: str, envelope: bool, registry) -> list[str]:
    """Paper default, the registered staircase, the capacity bound (and the envelope)."""
    names = [default] + [
        f"{family}-{m.name}" for m in LDPC_TABLE if f"{family}-{m.name}" in registry
    ]
    names.append(f"{family}-capacity")
    if envelope:
        names.append(f"{family}-envelope")
    return names


def noiseless(task, data, scheme) -> float:
    """The task's primary metric of the source codec's round trip (no channel)."""
    sub = scheme.bare_scheme(task.name)
    acc = task.new_accumulator()
    for batch in data.batches(64):
        s = sub.streams[0]
        dec = s.codec.decode(s.codec.encode(batch.fields[s.field]), like=_like(batch, s.field))
        acc.update(dec.data, batch)
    return float(acc.compute()[task.primary_metric])


def _like(batch, field):
    x = batch.fields[field]
    return x if isinstance(x, torch.Tensor) else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snr", default="-4:14:1")
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fraction", type=float, default=0.9)
    ap.add_argument("--decoder", default="auto")
    ap.add_argument("--envelope", action="store_true", help="also run the envelopes (6x cost)")
    ap.add_argument("--tasks", default="image-reconstruction,text-reconstruction")
    ap.add_argument("--store", default="runs/bench_cliff")
    ap.add_argument("--out", default="results/benchmarks/cliff_awgn.json")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: best when shared)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    schemes_reg, tasks_reg = load_catalog()
    snr = parse_snr(args.snr)
    channel = AWGN()
    store = ResultStore(args.store)
    out: dict = {
        "description": __doc__.splitlines()[0],
        "snr_db": snr,
        "samples": args.samples,
        "seed": args.seed,
        "fraction": args.fraction,
        "decoder": args.decoder,
        "threads": args.threads,
        "platform": platform.platform(),
        "versions": package_versions(),
        "tasks": {},
        "note": "wall_s covers only the points simulated by this invocation; points already in "
        "--store are reused",
    }
    t_all = time.perf_counter()
    for task_name in args.tasks.split(","):
        family, default = FAMILIES[task_name]
        names = schemes_for(family, default, args.envelope, schemes_reg)
        task = tasks_reg.create(task_name)
        schemes = [schemes_reg.create(n, decoder=args.decoder) for n in names]
        config = SweepConfig(
            schemes=names,
            tasks=[task_name],
            channel=channel.config() | {"key": channel.key},
            snr_db=snr,
            samples=args.samples,
            seed=args.seed,
            batch_size=args.samples,
            extra={"decoder": args.decoder},
        )
        t0 = time.perf_counter()
        counts = run_sweep(config, schemes, [task], channel, store, progress=print)
        data = task.load(args.samples, point_seed(args.seed, "data", task_name), None)
        ref = noiseless(task, data, schemes[0])
        recs = [r for r in store.records() if r.samples == args.samples and r.seed == args.seed]
        rows = {}
        for name in names:
            s, v = curve(recs, name, task_name, channel.key, task.primary_metric)
            s_v = [(a, b) for a, b in zip(s, v, strict=True) if a in snr]
            s, v = [a for a, _ in s_v], [b for _, b in s_v]
            rows[name] = {
                "cliff_db": cliff_snr(s, v, args.fraction, reference=ref),
                "value_at_max_snr": v[-1] if v else None,
                "curve": dict(zip(map(str, s), v, strict=True)),
            }
            mcs = [r.extras.get("mcs_index") for r in recs if r.scheme == name]
            if any(m is not None for m in mcs):
                rows[name]["mcs_index"] = mcs
        out["tasks"][task_name] = {
            "metric": task.primary_metric,
            "noiseless": ref,
            "wall_s": time.perf_counter() - t0,
            "points_simulated": counts["done"],
            "points_already_stored": counts["skipped"],
            "schemes": rows,
        }
        print(json.dumps({n: r["cliff_db"] for n, r in rows.items()}, indent=1))
    out["wall_s"] = time.perf_counter() - t_all
    primary = {t: tasks_reg.create(t).primary_metric for t in out["tasks"]}
    plot_records(store.records(), Path(args.store) / "plots", primary)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
