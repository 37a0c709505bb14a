"""Fuzz every source codec's decoder with corrupted payloads and time encode/decode.

For each codec: bytes per example, clean round-trip quality, encode/decode throughput, and a
decode of ``--num-fuzz`` corrupted payloads (bit flips, bursts, truncation, empty, random bytes,
appended bytes) that must raise no exception and give the fallback shape/dtype. Also a table of
32x32 JPEG bytes (entropy-coded data vs whole file) over quality. Writes JSON (default
results/benchmarks/codec_fuzz.json).

    python benchmarks/bench_codec_fuzz.py [--num-fuzz 20000] [--out PATH] [--seed 0]
        [--only heif avif webp]   (cases whose label starts with one of these; default all)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from semcom_sim.baselines.codecs import (
    AVIFCodec,
    FeatureJPEGCodec,
    H264Codec,
    HEIFCodec,
    JPEGCodec,
    PCMCodec,
    UTF8Codec,
    WebPCodec,
)
from semcom_sim.baselines.codecs.fuzz import KINDS, corrupt_many
from semcom_sim.baselines.codecs.h264 import nal_type, split_annexb
from semcom_sim.baselines.codecs.jpeg import shared_header
from semcom_sim.baselines.codecs.synthetic import moving_clips, smooth_images, tone_speech

CHUNK = 1000


def _cases(g: torch.Generator) -> dict:
    words = "the quick brown fox jumps over the lazy dog naïve café 日本語".split()
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(words, int(rng.integers(0, 20)))) for _ in range(64)]
    return {
        "jpeg-q50 32x32": (JPEGCodec(quality=50), smooth_images(64, 32, 32, g)),
        "jpeg-q50-file 32x32": (JPEGCodec(quality=50, count="file"), smooth_images(64, 32, 32, g)),
        "jpeg-b128 32x32": (JPEGCodec(target_bytes=128), smooth_images(64, 32, 32, g)),
        "jpeg-q75 gray 64x64": (
            JPEGCodec(quality=75),
            smooth_images(32, 64, 64, g).mean(1, keepdim=True),
        ),
        "heif-q50 32x32": (HEIFCodec(quality=50), smooth_images(64, 32, 32, g)),
        "heif-q50-file 32x32": (HEIFCodec(quality=50, count="file"), smooth_images(64, 32, 32, g)),
        "avif-q50 32x32": (AVIFCodec(quality=50), smooth_images(64, 32, 32, g)),
        "avif-q50-file 32x32": (AVIFCodec(quality=50, count="file"), smooth_images(64, 32, 32, g)),
        "webp-q50 32x32": (WebPCodec(quality=50), smooth_images(64, 32, 32, g)),
        "webp-q50-file 32x32": (WebPCodec(quality=50, count="file"), smooth_images(64, 32, 32, g)),
        "h264-crf23 8x32x32": (H264Codec(crf=23), moving_clips(8, 8, 32, 32, g)),
        "h264-crf23 4x16x16": (H264Codec(crf=23), moving_clips(8, 4, 16, 16, g)),
        "utf8": (UTF8Codec(), texts),
        "pcm16 1s@8kHz": (PCMCodec(), tone_speech(16, 8000, 8000, g)),
        "pcm8 1s@8kHz": (PCMCodec(bits_per_sample=8), tone_speech(16, 8000, 8000, g)),
        "feature-jpeg-q50 64x16x16": (
            FeatureJPEGCodec(quality=50),
            _features(16, 64, 16, g),
        ),
    }


def _features(n: int, channels: int, size: int, g: torch.Generator) -> torch.Tensor:
    """[n, C, size, size] ReLU feature maps with spatial correlation (like a CNN's)."""
    low = torch.randn(n, channels, size // 4, size // 4, generator=g)
    up = torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear")
    return torch.relu(up + 0.1 * torch.randn(n, channels, size, size, generator=g))


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def _quality(x, y) -> float | None:
    """PSNR (dB, peak 1) for images/video, SNR (dB) for audio/features, exact match for text."""
    if isinstance(x, list):
        return float(sum(a == b for a, b in zip(x, y, strict=True)) / len(x))
    mse = ((x - y) ** 2).mean().item()
    if mse == 0:
        return math.inf
    peak = 1.0 if x.ndim in (4, 5) and x.min() >= 0 and x.max() <= 1 else (x**2).mean().item()
    return 10 * math.log10(peak / mse)


def _fuzz(codec, x, payloads, num: int, rng: np.random.Generator) -> dict:
    """Decode ``num`` corrupted payloads in chunks; count exceptions, failures per kind."""
    exceptions, bad_output, decoded_s = 0, 0, 0.0
    failed = {k: 0 for k in KINDS}
    tried = {k: 0 for k in KINDS}
    for start in range(0, num, CHUNK):
        n = min(CHUNK, num - start)
        bad, _, kinds = corrupt_many(payloads, n, rng)
        like = None if isinstance(x, list) else (n, *x.shape[1:])
        try:
            out, dt = _timed(codec.decode, bad, like=like)
        except Exception:  # counted, never expected: then find the payloads that raise
            for p in bad:
                try:
                    codec.decode([p], like=None if like is None else (1, *like[1:]))
                except Exception:
                    exceptions += 1
            continue
        decoded_s += dt
        if isinstance(x, list):
            bad_output += sum(not isinstance(s, str) for s in out.data) + (len(out.data) != n)
        elif (
            tuple(out.data.shape) != like
            or out.data.dtype != torch.float32
            or not torch.isfinite(out.data).all()
        ):
            bad_output += n
        for k, f in zip(kinds, out.failed, strict=True):
            tried[k] += 1
            failed[k] += int(f)
    return {
        "num_payloads": num,
        "exceptions": exceptions,
        "bad_output_shape_dtype_or_nonfinite": bad_output,
        "fallback_fraction_by_kind": {k: failed[k] / max(tried[k], 1) for k in KINDS},
        "decode_payloads_per_s": num / decoded_s if decoded_s else None,
    }


def _jpeg_table() -> list[dict]:
    x = smooth_images(64, 32, 32, torch.Generator().manual_seed(1))
    rows = []
    for q in (10, 25, 50, 75, 90, 95):
        ent = JPEGCodec(quality=q).encode(x)
        whole = JPEGCodec(quality=q, count="file").encode(x)
        rec = JPEGCodec(quality=q).decode(ent, like=x).data
        rows.append(
            {
                "quality": q,
                "entropy_bytes_mean": float(np.mean([len(p) for p in ent])),
                "file_bytes_mean": float(np.mean([len(p) for p in whole])),
                "header_bytes": len(shared_header(32, 32, 3, q, "4:2:0")) + 2,
                "psnr_db": _quality(x, rec),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num-fuzz", type=int, default=20_000, help="corrupted payloads per codec")
    ap.add_argument("--out", default="results/benchmarks/codec_fuzz.json")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", default=None, help="label prefixes to run (default all)")
    args = ap.parse_args(argv)
    g = torch.Generator().manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    results = {}
    for label, (codec, x) in _cases(g).items():
        if args.only and not any(label.startswith(p) for p in args.only):
            continue
        codec.description  # noqa: B018 - warm up: library loading is not throughput
        codec.decode(codec.encode(x[:1]), like=None if isinstance(x, list) else x[:1])
        payloads, enc_s = _timed(codec.encode, x)
        like = None if isinstance(x, list) else x
        out, dec_s = _timed(codec.decode, payloads, like=like)
        n = len(payloads)
        entry = {
            "name": codec.name,
            "description": codec.description,
            "config": codec.config(),
            "num_examples": n,
            "example_shape": None if isinstance(x, list) else list(x.shape[1:]),
            "bytes_mean": float(np.mean([len(p) for p in payloads])),
            "bytes_min": min(len(p) for p in payloads),
            "bytes_max": max(len(p) for p in payloads),
            "clean_failed": sum(out.failed),
            "clean_quality": _quality(x, out.data),
            "clean_quality_unit": "exact fraction"
            if isinstance(x, list)
            else ("PSNR dB" if x.ndim in (4, 5) and x.min() >= 0 and x.max() <= 1 else "SNR dB"),
            "encode_examples_per_s": n / enc_s,
            "decode_examples_per_s": n / dec_s,
        }
        if isinstance(codec, H264Codec):
            nals = [split_annexb(p) for p in payloads]
            headers = [sum(3 + len(u) for u in ns if nal_type(u) in (7, 8)) for ns in nals]
            entry["sps_pps_bytes_mean"] = float(np.mean(headers))
            entry["bytes_per_frame_mean"] = entry["bytes_mean"] / x.shape[1]
        entry["fuzz"] = _fuzz(codec, x, payloads, args.num_fuzz, rng)
        results[label] = entry
        f, e = entry["fuzz"], entry
        print(
            f"{label:26s} {e['bytes_mean']:8.1f} B  q={e['clean_quality']:.2f}  "
            f"enc {e['encode_examples_per_s']:8.0f}/s  dec {e['decode_examples_per_s']:8.0f}/s  "
            f"fuzz {f['num_payloads']} exc={f['exceptions']} "
            f"bad={f['bad_output_shape_dtype_or_nonfinite']}"
        )
    report = {
        "benchmark": "codec_fuzz",
        "num_fuzz_per_codec": args.num_fuzz,
        "seed": args.seed,
        "corruption_kinds": list(KINDS),
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
        },
        "jpeg_32x32_bytes_by_quality": _jpeg_table(),
        "codecs": results,
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"wrote {path}")
    return report


if __name__ == "__main__":
    main()
