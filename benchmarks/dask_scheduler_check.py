"""A sweep on a separately started Dask cluster gives the CSV of ``--workers 1``.

Starts ``dask scheduler`` (the command ``dask-scheduler`` of older Dask versions) and two
``dask worker ADDRESS --nthreads 1`` processes from this environment, runs the same small sweep
with ``--scheduler ADDRESS`` and with ``--workers 1`` (in process, no Dask), compares the two
``results.csv`` (every column but ``wall_s``) and writes the comparison, the commands and both
CSVs' digests to ``results/benchmarks/dask_scheduler.json`` (and the CSVs beside it):

    OMP_NUM_THREADS=1 python benchmarks/dask_scheduler_check.py
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SWEEP = [
    "--snr", "-6,0,6,12", "--samples", "8", "--batch-size", "8", "--threads", "1",
    "--schemes", "jpeg-ldpc,jpeg-envelope,utf8-turbo,udeepsc,tdeepsc,mean-colour",
    "--tasks", "image-reconstruction,text-reconstruction,sentiment", "--quiet", "--no-plot",
]  # fmt: skip


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: v for k, v in r.items() if k != "wall_s"} for r in csv.DictReader(f)]


def _digest(rows: list[dict]) -> str:
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


def _wait_for_workers(address: str, n: int, timeout_s: float = 180.0) -> None:
    from distributed import Client

    with Client(address, timeout="60s") as c:
        c.wait_for_workers(n, timeout=timeout_s)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out-dir", default="results/benchmarks")
    p.add_argument("--port", type=int, default=8786)
    args = p.parse_args(argv)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    dask = str(Path(sys.executable).with_name("dask"))
    address = f"tcp://127.0.0.1:{args.port}"
    tmp = Path(tempfile.mkdtemp(prefix="dask_check_"))
    procs = []
    scheduler_cmd = [dask, "scheduler", "--host", "127.0.0.1", "--port", str(args.port),
                     "--no-dashboard"]  # fmt: skip
    worker_cmd = [dask, "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                  "--memory-limit", "0"]  # fmt: skip
    try:
        procs.append(subprocess.Popen(scheduler_cmd, env=env, stderr=subprocess.DEVNULL))
        time.sleep(3)
        for _ in range(2):
            procs.append(subprocess.Popen(worker_cmd, env=env, stderr=subprocess.DEVNULL))
        _wait_for_workers(address, 2)
        from semcom_sim.cli import main as cli

        t0 = time.perf_counter()
        rc_dask = cli(["sweep", *SWEEP, "--scheduler", address, "--out", str(tmp / "dask")])
        dask_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rc_one = cli(["sweep", *SWEEP, "--workers", "1", "--out", str(tmp / "one")])
        one_s = time.perf_counter() - t0
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGINT)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    a, b = _rows(tmp / "dask" / "results.csv"), _rows(tmp / "one" / "results.csv")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(tmp / "dask" / "results.csv", out / "dask_scheduler_results.csv")
    shutil.copy(tmp / "one" / "results.csv", out / "dask_workers1_results.csv")
    result = {
        "scheduler": " ".join(["dask", *scheduler_cmd[1:]]),
        "workers": "2 x " + " ".join(["dask", *worker_cmd[1:]]),
        "sweep_with_scheduler": "semcom-sim sweep " + " ".join([*SWEEP, "--scheduler", address]),
        "sweep_in_process": "semcom-sim sweep " + " ".join([*SWEEP, "--workers", "1"]),
        "rc": [rc_dask, rc_one],
        "rows": [len(a), len(b)],
        "identical_csv_except_wall_s": a == b,
        "csv_sha256_except_wall_s": [_digest(a), _digest(b)],
        "wall_s": {"scheduler": round(dask_s, 2), "workers_1": round(one_s, 2)},
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
    }
    (out / "dask_scheduler.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0 if a == b and rc_dask == rc_one == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
