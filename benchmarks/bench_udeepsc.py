"""Throughput of the tiny U-DeepSC on this CPU: training, evaluation, SNR-vectorised evaluation.

    python benchmarks/bench_udeepsc.py [--threads 1] [--out results/benchmarks/udeepsc.json]

- training: examples/s of Algorithm 1 steps (U-DeepSC, two tasks x batch per step) and of
  T-DeepSC steps (one task), on the embedded training data;
- evaluation: examples/s of the committed U-DeepSC per task at one SNR (``Scheme.run``);
- vectorised over SNR: one ``run_grid`` over the 9-point grid -6:18 dB vs a loop of ``run``
  per SNR point (same examples), examples x SNR points per second, and the speed-up.

Timings are medians of repeats, on a machine shared with other jobs (the load average is
recorded).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

GRID = [-6.0, -3.0, 0.0, 3.0, 6.0, 9.0, 12.0, 15.0, 18.0]


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_training(steps: int, batch: int) -> dict:
    from semcom_sim.models.udeepsc import UDeepSC, algorithm1_phase, training_step
    from semcom_sim.models.udeepsc.tasks import ALL_TASKS
    from semcom_sim.models.udeepsc.trainers import _single_task_loss, prepare_data

    cfg, _, sets = prepare_data(ALL_TASKS, "tiny", 256, 0, None)
    g = torch.Generator().manual_seed(0)
    out = {}
    model = UDeepSC(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    names = list(sets)

    def draw(t):
        return sets[t].batch(torch.randint(len(sets[t]), (batch,), generator=g), 0, "cpu")

    pairs = [(names[i % 6], names[(i + 1 + i // 6) % 6]) for i in range(steps)]
    pairs = [(a, b if b != a else names[(names.index(a) + 1) % 6]) for a, b in pairs]
    for i, (a, b) in enumerate(pairs[:2]):  # warm-up
        training_step(model, draw(a), draw(b), None, algorithm1_phase(i + 1), g, optimizer=opt)
    t0 = time.perf_counter()
    for i, (a, b) in enumerate(pairs):
        training_step(model, draw(a), draw(b), None, algorithm1_phase(i + 1), g, optimizer=opt)
    dt = time.perf_counter() - t0
    out["udeepsc"] = {
        "steps": steps,
        "batch_per_task": batch,
        "s_per_step": dt / steps,
        "examples_per_s": 2 * batch * steps / dt,
    }
    from semcom_sim.channel import AWGN

    for t in names:
        m = UDeepSC(cfg, tasks=[t])
        o = torch.optim.AdamW(m.parameters(), lr=1e-3)

        def step(i, m=m, o=o, t=t):
            snr = 12 * torch.rand(batch, generator=g)
            loss, _ = _single_task_loss(m, draw(t), snr, 1 + i % 2, g, AWGN())
            o.zero_grad()
            loss.backward()
            o.step()

        step(0)
        t0 = time.perf_counter()
        for i in range(steps):
            step(i)
        dt = time.perf_counter() - t0
        out[f"tdeepsc/{t}"] = {"s_per_step": dt / steps, "examples_per_s": batch * steps / dt}
    return out


def _eval_task(scheme, data, g: torch.Generator, repeats: int) -> dict:
    from semcom_sim.channel import AWGN

    n = len(data)

    def single():
        scheme.run(data, AWGN(), torch.full((n,), 12.0), g)

    def loop():
        for s in GRID:
            scheme.run(data, AWGN(), torch.full((n,), s), g)

    def grid():
        scheme.run_grid(data, AWGN(), GRID, [g] * len(GRID))

    with torch.no_grad():
        t_single, t_loop, t_grid = (_median_time(f, repeats) for f in (single, loop, grid))
    rows = n * len(GRID)
    return {
        "examples": n,
        "eval_examples_per_s": n / t_single,
        "grid_points": len(GRID),
        "loop_examples_x_snr_per_s": rows / t_loop,
        "vectorised_examples_x_snr_per_s": rows / t_grid,
        "speedup": t_loop / t_grid,
    }


def bench_evaluation(n: int, repeats: int) -> dict:
    from semcom_sim.catalog import load_catalog
    from semcom_sim.models.udeepsc.adapters import MODEL_TASK
    from semcom_sim.models.udeepsc.schemes import DeepSCScheme

    _, tasks = load_catalog()
    scheme = DeepSCScheme("udeepsc")
    g = torch.Generator().manual_seed(0)
    out = {}
    for name in MODEL_TASK:
        task = tasks.create(name)
        data = task.load(n, 0)
        scheme.prepare(task, torch.device("cpu"))
        out[name] = _eval_task(scheme, data, g, repeats)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--eval-examples", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default="results/benchmarks/udeepsc.json")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    result = {
        "benchmark": "bench_udeepsc",
        "command": "python benchmarks/bench_udeepsc.py "
        + f"--threads {args.threads} --steps {args.steps} --batch {args.batch} "
        + f"--eval-examples {args.eval_examples} --repeats {args.repeats}",
        "machine": {
            "cpu_count": os.cpu_count(),
            "threads": args.threads,
            "load_average_start": os.getloadavg(),
            "platform": platform.platform(),
            "torch": torch.__version__,
        },
        "training": bench_training(args.steps, args.batch),
        "evaluation": bench_evaluation(args.eval_examples, args.repeats),
    }
    result["machine"]["load_average_end"] = os.getloadavg()
    result["wall_s"] = time.perf_counter() - t0
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
