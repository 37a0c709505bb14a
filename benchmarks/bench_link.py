"""Digital-link time per stage, at the link calls of the default sweep, fast vs Sionna blocks.

Each case is one kind of ``DigitalLink.transmit`` call that ``semcom-sim sweep --snr -6:18``
makes: 64 payloads per call (the default ``--batch-size``), payload sizes near Table I's at
12 dB (JPEG q50 images of ``jpeg-ldpc``: 145 bytes; UTF-8 sentences of ``utf8-turbo``: 69
bytes; H.264 clips of ``h264-ldpc``: 8,400 bytes), over AWGN, at the MCS the default schemes
and envelopes use. Each call runs at SNRs -6, 6 and 18 dB (low, mid, high of the grid) and the
stage times are summed over them: segmentation + CRC, encode, map, channel, demap, decode,
CRC check + reassembly (``DigitalLink.transmit(timings=...)``).

Every case runs twice: with ``blocks="sionna"`` (Sionna's encoder, mapper and demapper, as
before issue #15) and ``blocks="fast"`` (the numba twins, identical bits and symbols); both
use the fast decoders. Best of ``--repeats`` passes per case. The machine's load average is
recorded with every row: the 2 cores are shared, so timings are noisy.

``--whole-only`` times only ``transmit`` (no stages, no ``blocks``), so it also runs against
an older checkout: ``PYTHONPATH=<old checkout> python benchmarks/bench_link.py --whole-only``.

    python benchmarks/bench_link.py [--quick] [--repeats 2] [--out results/benchmarks/link.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).resolve().parents[1] / "results" / "benchmarks" / "link.json"
SNRS_DB = (-6.0, 6.0, 18.0)
BATCH = 64
# (case, scheme it stands for, MCS, payload bytes)
CASES = [
    ("image", "jpeg-ldpc", "ldpc-1/2-qpsk", 145),
    ("image", "jpeg-envelope", "ldpc-1/3-qpsk", 145),
    ("image", "jpeg-envelope", "ldpc-2/3-qpsk", 145),
    ("image", "jpeg-envelope", "ldpc-1/2-16qam", 145),
    ("image", "jpeg-envelope", "ldpc-2/3-16qam", 145),
    ("image", "jpeg-envelope", "ldpc-1/2-64qam", 145),
    ("text", "utf8-turbo", "turbo-1/2-qpsk", 69),
    ("video", "h264-ldpc", "ldpc-1/2-qpsk", 8400),
    ("video", "h264-envelope", "ldpc-1/3-qpsk", 8400),
    ("video", "h264-envelope", "ldpc-1/2-64qam", 8400),
]
QUICK_CASES = [CASES[0], CASES[6]]


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def payloads(nbytes: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, nbytes, dtype=np.uint8).tobytes() for _ in range(BATCH)]


def measure(mcs_name: str, nbytes: int, blocks: str | None, repeats: int) -> dict:
    """Best-of-``repeats`` seconds of one pass (one call per SNR), per stage when possible."""
    from semcom_sim.channel import AWGN
    from semcom_sim.link.digital import DigitalLink
    from semcom_sim.link.mcs import parse_mcs

    mcs = parse_mcs(mcs_name)
    link = DigitalLink(mcs) if blocks is None else DigitalLink(mcs, blocks=blocks)
    data = payloads(nbytes)
    g = torch.Generator().manual_seed(0)
    link.transmit(data[:2], AWGN(), 6.0, g)  # build codes, load the compiled kernels
    best: dict | None = None
    for _ in range(repeats):
        stages: dict[str, float] = {}
        t0 = time.perf_counter()
        ok = 0
        for snr in SNRS_DB:
            if blocks is None:
                res = link.transmit(data, AWGN(), snr, g)
            else:
                res = link.transmit(data, AWGN(), snr, g, timings=stages)
            ok += sum(res.payload_ok)
        total = time.perf_counter() - t0
        if best is None or total < best["seconds"]:
            best = {"seconds": round(total, 4), "payload_success": round(ok / (BATCH * 3), 3)}
            if blocks is not None:
                best["stages_s"] = {k: round(v, 4) for k, v in stages.items()}
                best["outside_decode_s"] = round(total - stages["decode"], 4)
                best["total_over_decode"] = round(total / max(stages["decode"], 1e-9), 2)
    info_bits = 8 * nbytes * BATCH * len(SNRS_DB)
    best["info_mbit_per_s"] = round(info_bits / best["seconds"] / 1e6, 3)
    best["load_avg"] = load()
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="two cases, one repeat")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--whole-only", action="store_true", help="only transmit() wall time")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    import semcom_sim

    cases = QUICK_CASES if args.quick else CASES
    repeats = 1 if args.quick else args.repeats
    load_start, t_start = load(), time.time()
    rows = []
    for case, scheme, mcs, nbytes in cases:
        row = {"case": case, "scheme": scheme, "mcs": mcs, "payload_bytes": nbytes}
        if args.whole_only:
            row["whole"] = measure(mcs, nbytes, None, repeats)
        else:
            row["sionna_blocks"] = measure(mcs, nbytes, "sionna", repeats)
            row["fast_blocks"] = measure(mcs, nbytes, "fast", repeats)
            row["speedup"] = round(
                row["sionna_blocks"]["seconds"] / row["fast_blocks"]["seconds"], 2
            )
        print(json.dumps(row), flush=True)
        rows.append(row)
    summary = {}
    if not args.whole_only:
        for key in ("sionna_blocks", "fast_blocks"):
            tot = sum(r[key]["seconds"] for r in rows)
            dec = sum(r[key]["stages_s"]["decode"] for r in rows)
            summary[key] = {
                "seconds": round(tot, 3),
                "decode_s": round(dec, 3),
                "total_over_decode": round(tot / dec, 2),
            }
        summary["speedup"] = round(
            summary["sionna_blocks"]["seconds"] / summary["fast_blocks"]["seconds"], 2
        )
    out = {
        "name": "link",
        "what": __doc__.split("\n\n")[1].replace("\n", " "),
        "snrs_db": list(SNRS_DB),
        "payloads_per_call": BATCH,
        "whole_only": args.whole_only,
        "semcom_sim": str(Path(semcom_sim.__file__).parent),
        "command": " ".join(["python", "benchmarks/bench_link.py", *(argv or sys.argv[1:])]),
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "numba_num_threads": os.environ.get("NUMBA_NUM_THREADS", "all"),
            "load_avg_start": load_start,
            "load_avg_end": load(),
            "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        },
        "wall_s": round(time.time() - t_start, 1),
        "summary": summary,
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
