"""Throughput and BLER of the fast numba decoders against Sionna's decoders.

Codes (QPSK over AWGN, LLRs in closed form, Sionna's sign): 5G LDPC at every rate of the MCS
table (1/3, 1/2, 2/3) with k in {256, 1024, 8448} plus k = 4096 at rate 1/2, and the LTE turbo
code k in {256, 1024, 4096, 6144} at rate 1/2 plus k = 1024 at rate 1/3; batch 1, 64 and
1024; one Eb/N0 on each waterfall and one high Eb/N0. Throughput is decoded information bits
per second of wall time of the decoder call alone (LLRs in, hard bits out); each fast row also
gives the coded (LLR) throughput per core, ``coded_mbit_per_s_per_core`` (the fast decoders
run on ``--fast-threads`` cores, default 1, so the figure is per core), with the mean and
maximum iterations it took, beside the AFF3CT hall-of-fame range in ``reference``.

Sionna runs in a subprocess, with tcmalloc preloaded when libtcmalloc_minimal.so.4 is found
(its best CPU setting) and the torch thread count (1 or 2) that is faster on a calibration
call. Sionna's decoders run a fixed number of iterations, so their time does not depend on
Eb/N0: they are timed at the waterfall point and that time also serves the high-Eb/N0 rows
(their BLER there comes from a 64-block call). Both processes draw the same bits and noise
from the same seeds, so BLERs are paired. Optional peers (pyldpc, scikit-commpy) are listed
as skipped when not installed.

Usage:  python benchmarks/bench_decoders.py [--quick] [--out results/benchmarks/decoders.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

TCMALLOC = "/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"
# (family, k, rate, waterfall Eb/N0 dB, high Eb/N0 dB): waterfall ~ BLER 1e-2 .. 1e-1
FULL_CODES = [
    ("ldpc", 256, 1 / 2, 2.0, 3.0),
    ("ldpc", 1024, 1 / 2, 1.5, 3.0),
    ("ldpc", 4096, 1 / 2, 1.2, 3.0),
    ("ldpc", 8448, 1 / 2, 1.15, 3.0),
    ("ldpc", 256, 1 / 3, 1.3, 2.0),
    ("ldpc", 1024, 1 / 3, 0.85, 2.0),
    ("ldpc", 8448, 1 / 3, 0.5, 2.0),
    ("ldpc", 256, 2 / 3, 2.8, 4.0),
    ("ldpc", 1024, 2 / 3, 2.3, 4.0),
    ("ldpc", 8448, 2 / 3, 2.0, 4.0),
    ("turbo", 256, 1 / 2, 1.75, 3.0),
    ("turbo", 1024, 1 / 2, 1.25, 3.0),
    ("turbo", 4096, 1 / 2, 1.1, 3.0),
    ("turbo", 6144, 1 / 2, 1.05, 3.0),
    ("turbo", 1024, 1 / 3, 0.6, 2.0),
]
QUICK_CODES = [FULL_CODES[1], FULL_CODES[11]]
# AFF3CT's hall of fame of LDPC decoders, as quoted in issue #15: the
# best CPU LDPC decoders reach about 190-270 Mbit/s per core (other codes, CPUs, iterations).
AFF3CT_HOF = {
    "source": "AFF3CT hall of fame, LDPC decoders on CPUs",
    "coded_mbit_per_s_per_core": [190, 270],
    "note": "range quoted in issue #15; their codes, iteration counts and CPUs differ from "
    "ours (5G NR base graphs, at most 20 layered iterations with early stop, a shared 2-core "
    "x86 with AVX-512)",
}
FULL_BATCHES = [1, 64, 1024]
QUICK_BATCHES = [1, 64]


# ------------------------------------------------------------------------------- data
def make_encoder(family: str, k: int, rate: float):
    if family == "ldpc":
        from sionna.phy.fec.ldpc import LDPC5GEncoder

        return LDPC5GEncoder(k, round(k / rate))
    from sionna.phy.fec.turbo import TurboEncoder

    return TurboEncoder(rate=rate, constraint_length=4, terminate=True)


def make_llrs(enc, k: int, blocks: int, ebno_db: float, seed: int):
    """Bits u [blocks, k] and Sionna-sign LLRs [blocks, n] of Gray QPSK over AWGN."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randint(0, 2, (blocks, k), generator=g).to(torch.float32)
    c = enc(u)
    rate = k / c.shape[-1]
    no = 1.0 / (10 ** (ebno_db / 10) * rate * 2)
    a = 1 / math.sqrt(2)
    y = a * (2 * c - 1) + math.sqrt(no / 2) * torch.randn(c.shape, generator=g)
    return u, 4 * a * y / no


def seed_of(family: str, k: int, rate: float, ebno_db: float) -> int:
    """Same seed in both processes for the same (code, Eb/N0): paired BLERs."""
    return k * 1000 + round(ebno_db * 100) + round(rate * 10) + (0 if family == "ldpc" else 7)


def timed_decode(dec, llr: torch.Tensor, batch: int, max_calls: int | None = None):
    """Decode llr in calls of ``batch`` blocks; return (hard bits, seconds, calls, iterations
    per block where the decoder reports them)."""
    outs, total, calls, iters = [], 0.0, 0, []
    for s in range(0, llr.shape[0], batch):
        if max_calls is not None and calls >= max_calls:
            break
        x = llr[s : s + batch]
        t0 = time.perf_counter()
        outs.append(dec(x))
        total += time.perf_counter() - t0
        calls += 1
        iters.append(np.asarray(getattr(dec, "last_num_iter", [0])))
    return torch.cat(outs), total, calls, np.concatenate(iters)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ------------------------------------------------------------------------- fast part
def run_fast(codes, batches, threads: int) -> tuple[list[dict], dict]:
    """Fast-decoder rows, and per (family, k, rate, point) the block errors of the largest
    batch run (to pair with Sionna's BLER on the same blocks)."""
    from semcom_sim.link.fastdec import FastLDPC5GDecoder, FastTurboDecoder

    os.environ["NUMBA_NUM_THREADS"] = str(threads)  # read by fastdec at every call
    rows, errors = [], {}
    for family, k, rate, wf, hi in codes:
        enc = make_encoder(family, k, rate)
        dec = FastLDPC5GDecoder(enc) if family == "ldpc" else FastTurboDecoder(enc)
        for ebno in (wf, hi):
            blocks = max(max(batches), 1024)
            u, llr = make_llrs(enc, k, blocks, ebno, seed_of(family, k, rate, ebno))
            dec(llr[:2])  # warm-up: loads the compiled kernels
            for batch in batches:
                n_calls = 200 if batch == 1 else None
                if batch == 1 and k >= 4096:
                    n_calls = 60
                out, secs, calls, iters = timed_decode(dec, llr, batch, n_calls)
                done = out.shape[0]
                err = (out != u[:done]).any(dim=1)
                point = "waterfall" if ebno == wf else "high"
                if batch == max(batches):
                    errors[(family, k, round(rate, 4), point)] = err.numpy()
                rows.append(
                    dict(
                        family=family,
                        k=k,
                        n=int(llr.shape[-1]),
                        rate=round(rate, 4),
                        ebno_db=ebno,
                        point=point,
                        batch=batch,
                        decoder="fast",
                        blocks=done,
                        seconds=round(secs, 4),
                        info_bits_per_s=round(done * k / secs, 1),
                        bler=round(float(err.float().mean()), 5),
                        mean_iter=round(float(np.mean(iters)), 2),
                        max_iter=int(np.max(iters)),
                        num_iter_limit=dec.num_iter,
                        threads=threads,
                        coded_mbit_per_s_per_core=round(
                            done * int(llr.shape[-1]) / secs / 1e6 / threads, 2
                        ),
                        load_avg=load(),
                    )
                )
                print(
                    f"fast   {family} k={k} R={rate:.2f} {ebno} dB batch {batch}: "
                    f"{rows[-1]['info_bits_per_s'] / 1e6:.2f} Mbit/s BLER {rows[-1]['bler']}",
                    flush=True,
                )
    return rows, errors


# ----------------------------------------------------------------------- Sionna part
def sionna_worker(spec_path: str, out_path: str) -> None:
    """Runs in a subprocess (tcmalloc preloaded): time Sionna's decoders on the spec jobs."""
    from sionna.phy.fec.ldpc import LDPC5GDecoder
    from sionna.phy.fec.turbo import TurboDecoder

    spec = json.loads(Path(spec_path).read_text())
    result = {"ld_preload": os.environ.get("LD_PRELOAD", ""), "rows": [], "skipped": []}

    def decoder(family, enc):
        if family == "ldpc":
            return LDPC5GDecoder(enc, num_iter=20, hard_out=True, return_infobits=True)
        return TurboDecoder(enc, num_iter=6, algorithm="map", hard_out=True)

    # calibration: 1 or 2 torch threads, whichever decodes LDPC k=1024 faster
    enc = make_encoder("ldpc", 1024, 0.5)
    dec = decoder("ldpc", enc)
    _, llr = make_llrs(enc, 1024, 128, 1.5, 1)
    times = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        dec(llr[:8])
        t0 = time.perf_counter()
        dec(llr)
        times[threads] = time.perf_counter() - t0
    best = min(times, key=times.get)
    torch.set_num_threads(best)
    result["torch_threads"] = best
    result["calibration_s"] = {str(t): round(s, 3) for t, s in times.items()}
    budget = spec["budget_s"]
    for family, k, rate, wf, hi in spec["codes"]:
        enc = make_encoder(family, k, rate)
        dec = decoder(family, enc)
        per_bit = None  # seconds per info bit, from the batch-64 call
        for ebno in (wf, hi):
            batches = spec["batches"] if ebno == wf else [64]
            blocks = max(batches) if ebno == wf else 64
            u, llr = make_llrs(enc, k, blocks, ebno, seed_of(family, k, rate, ebno))
            dec(llr[:1])  # warm-up
            for batch in sorted(batches, key=lambda b: (b != 64, b)):
                est = None if per_bit is None else per_bit * min(batch, blocks) * k
                if est is not None and est > budget:
                    result["skipped"].append(
                        dict(
                            family=family,
                            k=k,
                            rate=rate,
                            batch=batch,
                            reason=f"estimated {est:.0f} s > budget {budget} s",
                        )
                    )
                    continue
                max_calls = (3 if k <= 1024 else 2) if batch == 1 else 1
                out, secs, calls, _ = timed_decode(dec, llr, batch, max_calls)
                done = out.shape[0]
                if batch == 64 and ebno == wf:
                    per_bit = secs / (done * k)
                err = (out != u[:done]).any(dim=1)
                result["rows"].append(
                    dict(
                        family=family,
                        k=k,
                        n=int(llr.shape[-1]),
                        rate=round(rate, 4),
                        ebno_db=ebno,
                        point="waterfall" if ebno == wf else "high",
                        batch=batch,
                        decoder="sionna",
                        blocks=done,
                        seconds=round(secs, 4),
                        info_bits_per_s=round(done * k / secs, 1),
                        bler=round(float(err.float().mean()), 5),
                    )
                )
                print(
                    f"sionna {family} k={k} R={rate:.2f} {ebno} dB batch {batch}: "
                    f"{done * k / secs / 1e3:.1f} kbit/s",
                    flush=True,
                )
    Path(out_path).write_text(json.dumps(result))


def run_sionna(codes, batches, budget_s: float, use_tcmalloc: bool) -> dict:
    env = dict(os.environ)
    if use_tcmalloc and Path(TCMALLOC).exists():
        env["LD_PRELOAD"] = TCMALLOC
    with tempfile.TemporaryDirectory() as tmp:
        spec, out = Path(tmp, "spec.json"), Path(tmp, "out.json")
        spec.write_text(json.dumps(dict(codes=codes, batches=batches, budget_s=budget_s)))
        cmd = [sys.executable, __file__, "--sionna-worker", str(spec), str(out)]
        subprocess.run(cmd, env=env, check=True)
        return json.loads(out.read_text())


# ------------------------------------------------------------------------ JIT latency
JIT_PROBE = """
import time, torch
t0 = time.perf_counter()
from semcom_sim.link.fastdec import FastLDPC5GDecoder, FastTurboDecoder
from sionna.phy.fec.ldpc import LDPC5GEncoder
from sionna.phy.fec.turbo import TurboEncoder
t_import = time.perf_counter() - t0
enc = LDPC5GEncoder(1024, 2048); llr = 20 * (2 * enc(torch.zeros(4, 1024)) - 1)
dec = FastLDPC5GDecoder(enc)
t0 = time.perf_counter(); dec(llr); t_ldpc = time.perf_counter() - t0
t0 = time.perf_counter(); dec(llr); t_ldpc2 = time.perf_counter() - t0
tenc = TurboEncoder(rate=1/3, constraint_length=4, terminate=True)
tllr = 20 * (2 * tenc(torch.zeros(4, 1024)) - 1); tdec = FastTurboDecoder(tenc)
t0 = time.perf_counter(); tdec(tllr); t_turbo = time.perf_counter() - t0
t0 = time.perf_counter(); tdec(tllr); t_turbo2 = time.perf_counter() - t0
print({"import_s": t_import, "ldpc_first_call_s": t_ldpc, "ldpc_next_call_s": t_ldpc2,
       "turbo_first_call_s": t_turbo, "turbo_next_call_s": t_turbo2})
"""


def jit_latency() -> dict:
    """First-call latency with an empty numba cache (cold) and then from that cache (warm)."""
    res = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for name in ("cold", "warm"):
            p = subprocess.run(
                [sys.executable, "-c", JIT_PROBE],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            line = p.stdout.strip().splitlines()[-1]
            res[name] = {k: round(v, 3) for k, v in eval(line).items()}  # noqa: S307
    return res


def peers() -> dict:
    notes = {}
    for mod, pip_name in (("pyldpc", "pyldpc"), ("commpy", "scikit-commpy")):
        try:
            __import__(mod)
            notes[pip_name] = "installed but not benchmarked (different codes; see SIONNA_NOTES)"
        except ImportError:
            notes[pip_name] = "skipped: not installed"
    return notes


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 codes, batch 1 and 64 only")
    ap.add_argument("--out", default="results/benchmarks/decoders.json")
    ap.add_argument("--budget-s", type=float, default=600.0, help="max seconds per Sionna call")
    ap.add_argument("--no-tcmalloc", action="store_true")
    ap.add_argument("--no-jit", action="store_true", help="skip the cold/warm JIT probe")
    ap.add_argument("--fast-threads", type=int, default=1, help="cores for the fast decoders")
    ap.add_argument("--family", choices=("ldpc", "turbo"), help="only this code family")
    ap.add_argument("--batches", help="comma-separated batch sizes (default 1,64,1024)")
    ap.add_argument("--sionna-worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.sionna_worker:
        sionna_worker(*args.sionna_worker)
        return 0
    codes = QUICK_CODES if args.quick else FULL_CODES
    codes = [c for c in codes if args.family in (None, c[0])]
    batches = QUICK_BATCHES if args.quick else FULL_BATCHES
    if args.batches:
        batches = [int(b) for b in args.batches.split(",")]
    load_start, t_start = load(), time.time()
    jit = {} if args.no_jit else jit_latency()
    fast_rows, fast_errors = run_fast(codes, batches, args.fast_threads)
    sio = run_sionna(codes, batches, args.budget_s, not args.no_tcmalloc)
    sionna_rows = sio["rows"]
    ref = {
        (r["family"], r["k"], r["rate"], r["batch"]): r
        for r in sionna_rows
        if r["point"] == "waterfall"
    }
    ref_bler = {(r["family"], r["k"], r["rate"], r["point"]): r["bler"] for r in sionna_rows}
    for r in fast_rows:
        s = ref.get((r["family"], r["k"], r["rate"], r["batch"]))
        r["ratio_to_sionna"] = round(r["info_bits_per_s"] / s["info_bits_per_s"], 1) if s else None
        r["sionna_bler"] = ref_bler.get((r["family"], r["k"], r["rate"], r["point"]))
    for r in sionna_rows:  # fast BLER on exactly the blocks Sionna decoded (same bits, noise)
        err = fast_errors.get((r["family"], r["k"], r["rate"], r["point"]))
        if err is not None and len(err) >= r["blocks"]:
            r["fast_bler_same_blocks"] = round(float(err[: r["blocks"]].mean()), 5)
    report = dict(
        name="decoders",
        description=(
            "fast numba decoders (semcom_sim.link.fastdec: LDPC layered offset min-sum <= 20 "
            "it, turbo log-MAP <= 6 it, early stopping) vs Sionna LDPC5GDecoder (20 it "
            "boxplus-phi) and TurboDecoder (MAP, 6 it); QPSK over AWGN; info bits/s of wall "
            "time of the decoder call"
        ),
        quick=args.quick,
        machine=dict(
            cpu=platform.processor() or platform.machine(),
            cores=os.cpu_count(),
            load_avg_start=load_start,
            load_avg_end=load(),
            uptime=subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
            python=platform.python_version(),
            torch=torch.__version__,
            numba=__import__("numba").__version__,
            sionna=__import__("sionna").__version__,
        ),
        sionna_setting=dict(
            ld_preload=sio["ld_preload"],
            torch_threads=sio["torch_threads"],
            calibration_s=sio["calibration_s"],
            skipped=sio["skipped"],
            note="Sionna time is SNR-independent (fixed iterations); its waterfall timing "
            "is the reference for both points",
        ),
        jit_latency_s=jit,
        fast_threads=args.fast_threads,
        command=" ".join(["python", "benchmarks/bench_decoders.py", *(argv or sys.argv[1:])]),
        reference=AFF3CT_HOF,
        peers=peers(),
        wall_s=round(time.time() - t_start, 1),
        results=fast_rows + sionna_rows,
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
