"""Parsing of SNR grids: ``start:stop[:step]`` (inclusive stop, default step 3 dB) or ``a,b,c``."""

from __future__ import annotations

import math

from semcom_sim.errors import SemcomError

DEFAULT_STEP_DB = 3.0


def _num(text: str, spec: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise SemcomError(
            f"malformed SNR {spec!r}: {text!r} is not a number "
            "(expected start:stop[:step] like -6:18 or a list like -6,0,6)"
        ) from None
    if not math.isfinite(v):
        raise SemcomError(f"malformed SNR {spec!r}: {text!r} is not finite")
    return v


def parse_snr(spec: str) -> list[float]:
    """SNR points in dB, ascending order as given.

    ``-6:18`` -> -6, -3, ..., 18; ``0:10:5`` -> 0, 5, 10; ``-6,0,6`` -> as listed.
    """
    spec = spec.strip()
    if not spec:
        raise SemcomError("empty SNR specification (expected start:stop[:step] or a,b,c)")
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) not in (2, 3):
            raise SemcomError(f"malformed SNR range {spec!r}: expected start:stop[:step]")
        start, stop = _num(parts[0], spec), _num(parts[1], spec)
        step = _num(parts[2], spec) if len(parts) == 3 else DEFAULT_STEP_DB
        if step <= 0:
            raise SemcomError(f"malformed SNR range {spec!r}: step must be > 0")
        if stop < start:
            raise SemcomError(f"malformed SNR range {spec!r}: stop {stop:g} < start {start:g}")
        count = int(math.floor((stop - start) / step + 1e-9)) + 1
        if count > 10_000:
            raise SemcomError(f"SNR range {spec!r} has {count} points (at most 10000)")
        return [round(start + i * step, 9) for i in range(count)]
    values = [_num(p.strip(), spec) for p in spec.split(",") if p.strip()]
    if not values:
        raise SemcomError(f"malformed SNR list {spec!r}")
    if len(set(values)) != len(values):
        raise SemcomError(f"SNR list {spec!r} repeats a value")
    return values
