"""OFDM channel benchmarks: 5G LDPC BLER over TDL-A with LS vs perfect CSI; throughput.

    python benchmarks/bench_ofdm.py bler [--payloads N] -> results/benchmarks/ofdm_bler.json, .png
    python benchmarks/bench_ofdm.py speed               -> results/benchmarks/ofdm.json
    python benchmarks/bench_ofdm.py sweep-ratio         -> "sweep" entry of ofdm.json

``bler``: :class:`DigitalLink` (``ldpc-1/2-qpsk``, 100-byte payloads: one code block, k = 832,
n = 1664, 832 QPSK symbols on 8 of a slot's 12 data OFDM symbols) over OFDM TDL-A (delay spread
300 ns, 30 m/s, 3.5 GHz, 30 kHz, 128 FFT), block error rate vs SNR (Es/N0 per RE) with
``csi=perfect`` and ``csi=ls`` (linear interpolation), and the SNR loss of LS at BLER 1e-2
(log-linear interpolation between the grid points).

``speed``: resource elements per second through ``OFDMChannel.__call__`` (grid mapping, TDL,
estimation, equalisation) per CSI mode, and, for scale, the same symbols through
``RayleighBlockFading``.

``sweep-ratio``: wall time of ``semcom-sim sweep`` (default SNR grid -6:18, 64 examples) for
``jpeg-ldpc`` and ``udeepsc`` on image reconstruction over ``ofdm --tdl A --csi ls`` vs
``rayleigh`` (process start included, --threads 1).
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

import torch

from semcom_sim.channel import OFDMChannel, RayleighBlockFading
from semcom_sim.link.digital import DigitalLink
from semcom_sim.link.mcs import parse_mcs

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "results" / "benchmarks"
TDL_KW = {"profile": "tdl-a", "delay_spread": 300e-9, "speed": 30.0, "carrier_frequency": 3.5e9}


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_avg": os.getloadavg(),
    }


def snr_at(snrs: list[float], bler: list[float], target: float = 1e-2) -> float | None:
    """First crossing of ``target``, log-BLER linear in SNR between the bracketing points."""
    for i in range(1, len(snrs)):
        a, b = bler[i - 1], bler[i]
        if a >= target > b:
            if b == 0:
                return snrs[i]
            la, lb, lt = math.log10(a), math.log10(b), math.log10(target)
            return snrs[i - 1] + (la - lt) / (la - lb) * (snrs[i] - snrs[i - 1])
    return None


def cmd_bler(args) -> int:
    link = DigitalLink(parse_mcs("ldpc-1/2-qpsk"))
    snrs = [float(s) for s in range(args.snr_min, args.snr_max + 1)]
    g_data = torch.Generator().manual_seed(0)
    curves, t_start = {}, time.perf_counter()
    for csi in ("perfect", "ls"):
        ch = OFDMChannel(csi=csi, **TDL_KW)
        bler = []
        for s in snrs:
            g = torch.Generator().manual_seed(int(1000 + 10 * s))  # same channels for both CSI
            fails = 0
            for start in range(0, args.payloads, args.chunk):
                m = min(args.chunk, args.payloads - start)
                payloads = [
                    bytes(torch.randint(0, 256, (100,), generator=g_data).tolist())
                    for _ in range(m)
                ]
                res = link.transmit(payloads, ch, s, g)
                fails += sum(not ok for ok in res.payload_ok)
            bler.append(fails / args.payloads)
            print(f"{csi:8s} {s:5.1f} dB  BLER {bler[-1]:.4f}", flush=True)
            if fails == 0:  # the rest of the grid is below resolution
                bler.extend([0.0] * (len(snrs) - len(bler)))
                break
        curves[csi] = bler
    at = {c: snr_at(snrs, b) for c, b in curves.items()}
    loss = None if None in at.values() else at["ls"] - at["perfect"]
    out = {
        "what": "BLER of ldpc-1/2-qpsk, 100-byte payloads (k=832, n=1664), over OFDM TDL-A",
        "channel": OFDMChannel(csi="ls", **TDL_KW).config(),
        "snr_convention": "Es/N0 per resource element per receive antenna",
        "payloads_per_point": args.payloads,
        "snr_db": snrs,
        "bler": curves,
        "snr_db_at_bler_1e-2": at,
        "ls_loss_db_at_bler_1e-2": loss,
        "wall_s": time.perf_counter() - t_start,
        "machine": machine(),
        "command": "python benchmarks/bench_ofdm.py bler " + " ".join(sys.argv[2:]),
    }
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "ofdm_bler.json").write_text(json.dumps(out, indent=2) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    for csi, style in (("perfect", "o-"), ("ls", "s--")):
        pts = [(s, b) for s, b in zip(snrs, curves[csi], strict=True) if b > 0]
        lab = f"{csi} CSI" + (f" ({at[csi]:.2f} dB @1e-2)" if at[csi] is not None else "")
        ax.semilogy(*zip(*pts, strict=True), style, label=lab)
    ax.axhline(1e-2, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("SNR per RE [dB]")
    ax.set_ylabel("BLER")
    title = "LDPC R=1/2 QPSK, OFDM TDL-A 300 ns, 30 m/s"
    if loss is not None:
        title += f"\nLS loss at BLER 1e-2: {loss:.2f} dB"
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT_DIR / "ofdm_bler.png", dpi=130)
    print(json.dumps({"snr_db_at_bler_1e-2": at, "ls_loss_db": loss}))
    return 0


def _re_per_s(channel, b: int, n: int, repeats: int) -> float:
    x = torch.view_as_complex(torch.randn(b, n, 2)) / math.sqrt(2)
    g = torch.Generator().manual_seed(0)
    channel(x, 10.0, g)  # build blocks
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        channel(x, 10.0, g)
        best = min(best, time.perf_counter() - t0)
    return b * n / best


def _update(entry: str, value) -> None:
    path = OUT_DIR / "ofdm.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[entry] = value
    data["machine"] = machine()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def cmd_speed(args) -> int:
    rows = []
    for csi in ("perfect", "ls", "lmmse"):
        ch = OFDMChannel(csi=csi, **TDL_KW)
        for b, n in ((64, 1392), (64, 4 * 1392)):
            if csi == "lmmse" and n > 1392:
                continue
            r = _re_per_s(ch, b, n, args.repeats)
            rows.append(
                {"channel": ch.key, "csi": csi, "batch": b, "data_symbols": n, "data_re_per_s": r}
            )
            print(rows[-1], flush=True)
    r = _re_per_s(RayleighBlockFading(), 64, 4 * 1392, args.repeats)
    rows.append({"channel": "rayleigh", "batch": 64, "data_symbols": 4 * 1392, "data_re_per_s": r})
    print(rows[-1])
    _update(
        "speed",
        {
            "what": "data REs per second through channel(x, snr_db, generator), "
            "best of repeats, one call = batch x data_symbols",
            "rows": rows,
        },
    )
    return 0


def cmd_sweep_ratio(args) -> int:
    base = [
        sys.executable,
        "-m",
        "semcom_sim.cli",
        "sweep",
        "--snr",
        "-6:18",
        "--schemes",
        "jpeg-ldpc,udeepsc",
        "--tasks",
        "image-reconstruction",
        "--threads",
        "1",
        "--no-plot",
        "--quiet",
    ]
    channels = {
        "rayleigh": ["--channel", "rayleigh"],
        "ofdm-tdl-a-ls": [
            "--channel",
            "ofdm",
            "--tdl",
            "A",
            "--delay-spread",
            "300e-9",
            "--speed",
            "30",
            "--csi",
            "ls",
        ],
    }
    wall = {}
    for name, extra in channels.items():
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [*base, *extra, "--out", str(Path(tmp) / "run")]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
            wall[name] = time.perf_counter() - t0
            print(name, wall[name], flush=True)
    _update(
        "sweep",
        {
            "what": "wall time [s] of semcom-sim sweep --snr -6:18 --schemes jpeg-ldpc,udeepsc "
            "--tasks image-reconstruction (64 examples, --threads 1, process start included)",
            "wall_s": wall,
            "ratio_ofdm_over_rayleigh": wall["ofdm-tdl-a-ls"] / wall["rayleigh"],
            "commands": {k: " ".join(["semcom-sim", *base[3:], *v]) for k, v in channels.items()},
        },
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    b = sub.add_parser("bler")
    b.add_argument("--payloads", type=int, default=2000)
    b.add_argument("--chunk", type=int, default=500)
    b.add_argument("--snr-min", type=int, default=0)
    b.add_argument("--snr-max", type=int, default=16)
    s = sub.add_parser("speed")
    s.add_argument("--repeats", type=int, default=3)
    sub.add_parser("sweep-ratio")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    return {"bler": cmd_bler, "speed": cmd_speed, "sweep-ratio": cmd_sweep_ratio}[args.what](args)


if __name__ == "__main__":
    sys.exit(main())
