"""Digital-link throughput: information bits per second through DigitalLink.transmit.

Measures the whole link (segmentation, CRC, encoding, QAM, AWGN, APP demapping, decoding, CRC
check) for LDPC and Turbo at R=1/2 QPSK, per decoder backend, at a few batch sizes (payloads per
call), at a waterfall and a high SNR. Writes ``results/benchmarks/link.json``.

    python benchmarks/bench_link.py [--quick] [--backends fast,sionna]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from semcom_sim.channel import AWGN, ebno_db_to_snr_db
from semcom_sim.link.digital import DigitalLink
from semcom_sim.link.mcs import MCS

OUT = Path(__file__).resolve().parents[1] / "results" / "benchmarks" / "link.json"


def measure(mcs: MCS, payload_bytes: int, batch: int, ebno_db: float, repeats: int) -> dict:
    link = DigitalLink(mcs)
    g = torch.Generator().manual_seed(0)
    payloads = [
        bytes(torch.randint(0, 256, (payload_bytes,), generator=g).tolist()) for _ in range(batch)
    ]
    snr_db = ebno_db_to_snr_db(ebno_db, mcs.num_bits_per_symbol, mcs.coderate)
    t0 = time.perf_counter()
    link.transmit(payloads[:1], AWGN(), snr_db, g)  # build codes, JIT warm-up
    first_call_s = time.perf_counter() - t0
    times, ok = [], 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = link.transmit(payloads, AWGN(), snr_db, g)
        times.append(time.perf_counter() - t0)
        ok += sum(res.payload_ok)
    best = min(times)
    return {
        "mcs": mcs.name,
        "backend": mcs.backend,
        "decoder": link.config()["decoder"],
        "payload_bytes": payload_bytes,
        "batch": batch,
        "ebno_db": ebno_db,
        "info_bits_per_s": 8 * payload_bytes * batch / best,
        "seconds_per_call": best,
        "first_call_s": first_call_s,
        "payload_success": ok / (repeats * batch),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small batches, one repeat")
    p.add_argument("--backends", default="fast,sionna")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    batches = [1, 16] if args.quick else [1, 64, 256]
    repeats = 1 if args.quick else 3
    rows = []
    for backend in args.backends.split(","):
        for code in ("ldpc", "turbo"):
            mcs = MCS(code, "1/2", "qpsk", backend=backend)
            for ebno in (1.5, 4.0):
                for b in batches:
                    if backend == "sionna" and b > 64 and code == "turbo":
                        continue  # minutes per point; the ratio is clear at 64
                    row = measure(mcs, 125, b, ebno, repeats)  # 1000-bit payloads, k=1024
                    print(json.dumps(row))
                    rows.append(row)
    out = {
        "what": "DigitalLink.transmit end to end, R=1/2 QPSK, AWGN, 125-byte payloads (k=1024)",
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "torch_threads": torch.get_num_threads(),
            "load_avg": os.getloadavg(),
        },
        "torch": torch.__version__,
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
