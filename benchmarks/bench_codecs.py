"""Rate-distortion of the image codecs: bytes per image vs PSNR for JPEG, HEIF, AVIF and WebP.

For every codec and quality: mean bytes per image as sent (``codestream``: JPEG's entropy-coded
scan, the HEIF/AVIF/WebP codestream without the shared template; and ``file``: everything),
mean PSNR (per image on 0-255 levels, as the sweep's ``psnr``) and the shared bytes. Then, per
dataset and count, each codec's PSNR at equal bytes (linear interpolation of its R-D curve at
byte targets inside every codec's range), the winner at each target and its margin over JPEG
and over the runner-up, and the mean gain over JPEG across the common byte range.

Datasets: the embedded ``shapes32`` (the default image data) and ``embedded-photos`` (32x32
crops of a photograph), and CIFAR-10 test images with ``--data-dir`` (the layout of
``semcom-sim data info``). Writes JSON (default results/benchmarks/codecs_rd.json) and a
figure (default results/benchmarks/codecs_rd.png).

    python benchmarks/bench_codecs.py [--n 256] [--data-dir DIR] [--out PATH] [--figure PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from semcom_sim.baselines.codecs import AVIFCodec, HEIFCodec, JPEGCodec, WebPCodec
from semcom_sim.data import load_dataset

QUALITIES = (5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95)
CODECS = {
    "jpeg": lambda q, count: JPEGCodec(
        quality=q, count="entropy" if count == "codestream" else count
    ),
    "heif": lambda q, count: HEIFCodec(quality=q, count=count),
    "avif": lambda q, count: AVIFCodec(quality=q, count=count),
    "webp": lambda q, count: WebPCodec(quality=q, count=count),
}
COUNTS = ("codestream", "file")


def psnr_per_image(x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """[B] PSNR in dB on 0-255 levels (MSE floored at 1e-10)."""
    a, b = (torch.round(t.clamp(0, 1) * 255).double() for t in (x, y))
    mse = ((a - b) ** 2).mean(dim=(1, 2, 3)).clamp_min(1e-10)
    return (10 * torch.log10(255.0**2 / mse)).numpy()


def rd_curve(name: str, count: str, x: torch.Tensor, qualities) -> list[dict]:
    rows = []
    for q in qualities:
        codec = CODECS[name](q, count)
        t0 = time.perf_counter()
        payloads = codec.encode(x)
        enc = time.perf_counter() - t0
        out = codec.decode(payloads, like=x)
        p = psnr_per_image(x, out.data)
        nbytes = np.array([len(b) for b in payloads], float)
        rows.append(
            {
                "quality": q,
                "bytes_mean": float(nbytes.mean()),
                "bits_per_pixel": float(nbytes.mean() * 8 / (x.shape[2] * x.shape[3])),
                "psnr_db": float(p.mean()),
                "psnr_stderr": float(p.std(ddof=1) / math.sqrt(len(p))),
                "failed": out.num_failed,
                "encode_images_per_s": len(x) / enc,
            }
        )
    return rows


def at_bytes(curve: list[dict], target: float) -> float | None:
    """PSNR of a curve at ``target`` bytes (linear in bytes), None outside its range."""
    pts = sorted((r["bytes_mean"], r["psnr_db"]) for r in curve)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    if not xs[0] <= target <= xs[-1]:
        return None
    # R-D curves are monotone up to noise; take the upper hull in order of bytes.
    for ys_i in range(1, len(ys)):
        ys[ys_i] = max(ys[ys_i], ys[ys_i - 1])
    return float(np.interp(target, xs, ys))


def compare(curves: dict[str, list[dict]], num_targets: int = 12) -> dict:
    """Per byte target inside every codec's range: PSNR per codec, winner, margins."""
    lo = max(min(r["bytes_mean"] for r in c) for c in curves.values())
    hi = min(max(r["bytes_mean"] for r in c) for c in curves.values())
    if lo >= hi:  # e.g. whole files: no byte count that every codec reaches
        return {
            "byte_range": None,
            "targets": [],
            "mean_gain_over_jpeg_db": None,
            "wins": None,
            "overall_winner": None,
        }
    targets = np.geomspace(lo, hi, num_targets)
    rows = []
    for t in targets:
        v = {k: at_bytes(c, float(t)) for k, c in curves.items()}
        order = sorted(v, key=lambda k: -v[k])
        rows.append(
            {
                "bytes": float(t),
                "psnr_db": v,
                "winner": order[0],
                "margin_over_runner_up_db": v[order[0]] - v[order[1]],
                "margin_over_jpeg_db": v[order[0]] - v["jpeg"],
            }
        )
    gain = {
        k: float(np.mean([r["psnr_db"][k] - r["psnr_db"]["jpeg"] for r in rows])) for k in curves
    }
    wins = {k: sum(r["winner"] == k for r in rows) for k in curves}
    return {
        "byte_range": [float(lo), float(hi)],
        "targets": rows,
        "mean_gain_over_jpeg_db": gain,
        "wins": wins,
        "overall_winner": max(gain, key=gain.get),
    }


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(report["datasets"])
    fig, axes = plt.subplots(len(sets), 2, figsize=(11, 3.8 * len(sets)), squeeze=False)
    colors = {"jpeg": "tab:blue", "heif": "tab:red", "avif": "tab:green", "webp": "tab:orange"}
    for i, ds in enumerate(sets):
        for j, count in enumerate(COUNTS):
            ax = axes[i][j]
            for name, curve in report["datasets"][ds]["curves"][count].items():
                xs = [r["bytes_mean"] for r in curve]
                ys = [r["psnr_db"] for r in curve]
                ax.plot(xs, ys, marker="o", ms=3, color=colors[name], label=name)
                for r in curve[:: max(1, len(curve) // 4)]:
                    ax.annotate(f"q{r['quality']}", (r["bytes_mean"], r["psnr_db"]), fontsize=6)
            ax.set_xscale("log")
            words = "codestream sent, template shared" if count == "codestream" else "whole file"
            ax.set(
                xlabel="bytes per image (log)",
                ylabel="PSNR [dB]",
                title=f"{ds} ({report['datasets'][ds]['num_images']} images): {words}",
            )
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=8)
    fig.suptitle("Image codecs, 32x32 RGB 4:2:0: rate-distortion (JPEG: entropy-coded scan)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256, help="images per dataset")
    ap.add_argument("--data-dir", default=None, help="also CIFAR-10 test images from here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="results/benchmarks/codecs_rd.json")
    ap.add_argument("--figure", default="results/benchmarks/codecs_rd.png")
    args = ap.parse_args(argv)
    if args.n < 2:
        print("bench_codecs: --n must be at least 2", file=sys.stderr)
        raise SystemExit(2)
    torch.set_num_threads(1)
    names = ["shapes32", "embedded-photos"] + (["cifar10"] if args.data_dir else [])
    datasets = {}
    for ds in names:
        data = load_dataset(ds, split="test", n=args.n, seed=args.seed, data_dir=args.data_dir)
        x = next(iter(data.batches(len(data)))).fields["image"].float()
        entry = {"num_images": len(x), "image_shape": list(x.shape[1:]), "curves": {}}
        for count in COUNTS:
            entry["curves"][count] = {k: rd_curve(k, count, x, QUALITIES) for k in CODECS}
        entry["shared_bytes"] = {
            k: (CODECS[k](50, "codestream").shared_bytes(*x.shape[2:]) if k != "jpeg" else None)
            for k in CODECS
        }
        entry["equal_bytes"] = {count: compare(entry["curves"][count]) for count in COUNTS}
        datasets[ds] = entry
        for count in COUNTS:
            c = entry["equal_bytes"][count]
            if c["byte_range"] is None:
                print(f"{ds:16s} {count:10s} no byte count inside every codec's range")
                continue
            gains = ", ".join(f"{k} {v:+.2f}" for k, v in c["mean_gain_over_jpeg_db"].items())
            print(f"{ds:16s} {count:10s} winner {c['overall_winner']}; dB vs JPEG: {gains}")
    report = {
        "benchmark": "codecs_rd",
        "qualities": list(QUALITIES),
        "seed": args.seed,
        "descriptions": {k: CODECS[k](50, "codestream").description for k in CODECS},
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
        },
        "command": "python benchmarks/bench_codecs.py " + " ".join(argv or sys.argv[1:]),
        "datasets": datasets,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    plot(report, Path(args.figure))
    print(f"wrote {out} and {args.figure}")
    return report


if __name__ == "__main__":
    main()
