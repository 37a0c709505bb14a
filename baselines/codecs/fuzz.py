"""Payload corruption for fuzzing the codecs' decoders (tests, benchmarks/bench_codec_fuzz.py)."""

from __future__ import annotations

import numpy as np

KINDS = ("bitflip", "burst", "truncate", "empty", "random", "extend")


def corrupt(payload: bytes, kind: str, rng: np.random.Generator) -> bytes:
    """One corrupted copy of ``payload``.

    kinds: "bitflip" (each bit flipped with probability 10^U(-4, -1), at least one flip),
    "burst" (a run of up to 16 random bytes overwritten), "truncate" (a random prefix),
    "empty" (b""), "random" (random bytes of random length up to twice the payload's),
    "extend" (random bytes appended).
    """
    n = len(payload)
    if kind == "empty" or (n == 0 and kind in ("bitflip", "burst", "truncate")):
        return b""
    if kind == "bitflip":
        bits = np.unpackbits(np.frombuffer(payload, np.uint8))
        flips = rng.random(bits.size) < 10 ** rng.uniform(-4, -1)
        flips[rng.integers(bits.size)] = True
        return np.packbits(bits ^ flips).tobytes()
    if kind == "burst":
        arr = np.frombuffer(payload, np.uint8).copy()
        start = int(rng.integers(n))
        run = arr[start : start + int(rng.integers(1, 17))]
        run[:] = rng.integers(0, 256, run.size, dtype=np.uint8)
        return arr.tobytes()
    if kind == "truncate":
        return payload[: int(rng.integers(n))]
    if kind == "random":
        return rng.integers(0, 256, int(rng.integers(1, 2 * n + 2)), dtype=np.uint8).tobytes()
    if kind == "extend":
        return payload + rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
    raise ValueError(f"unknown corruption kind {kind!r}; known: {KINDS}")


def corrupt_many(
    payloads: list[bytes], count: int, rng: np.random.Generator
) -> tuple[list[bytes], list[int], list[str]]:
    """``count`` corrupted payloads, cycling through KINDS, each from a random source payload.

    Returns (corrupted payloads, index of the source payload of each, kind of each).
    """
    src = rng.integers(len(payloads), size=count).tolist()
    kinds = [KINDS[i % len(KINDS)] for i in range(count)]
    return [corrupt(payloads[s], k, rng) for s, k in zip(src, kinds, strict=True)], src, kinds
