"""Parsing of SNR grids: ``start:stop[:step]`` (inclusive stop, default step 3 dB) or ``a,b,c``."""

from __future__ import annotations

import math

from semcom_sim.errors import SemcomError

DEFAULT_STEP_DB = 3.0
MIN_SNR_DB, MAX_SNR_DB = -100.0, 200.0  # beyond: float32 noise powers under/overflow
MAX_POINTS = 10_000


def _num(text: str, spec: str, bounded: bool = True) -> float:
    try:
        v = float(text)
    except ValueError:
        raise SemcomError(
            f"malformed SNR {spec!r}: {text!r} is not a number "
            "(expected start:stop[:step] like -6:18 or a list like -6,0,6)"
        ) from None
    if not math.isfinite(v):
        raise SemcomError(f"malformed SNR {spec!r}: {text!r} is not finite")
    if bounded and not MIN_SNR_DB <= v <= MAX_SNR_DB:
        raise SemcomError(
            f"SNR {spec!r}: {text} dB is outside [{MIN_SNR_DB:g}, {MAX_SNR_DB:g}] dB"
        )
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
        step = _num(parts[2], spec, bounded=False) if len(parts) == 3 else DEFAULT_STEP_DB
        if step <= 0:
            raise SemcomError(f"malformed SNR range {spec!r}: step must be > 0")
        if stop < start:
            raise SemcomError(f"malformed SNR range {spec!r}: stop {stop:g} < start {start:g}")
        ratio = (stop - start) / step
        if not math.isfinite(ratio) or ratio + 1 > MAX_POINTS:
            raise SemcomError(f"SNR range {spec!r} has more than {MAX_POINTS} points")
        count = int(math.floor(ratio + 1e-9)) + 1
        values = [round(start + i * step, 9) for i in range(count)]
        if len(set(values)) != len(values):
            raise SemcomError(f"SNR range {spec!r}: step {step:g} dB is below the 1e-9 dB grid")
        return values
    values = [_num(p.strip(), spec) for p in spec.split(",") if p.strip()]
    if not values:
        raise SemcomError(f"malformed SNR list {spec!r}")
    if len({round(v, 6) for v in values}) != len(values):  # points are keyed at 1e-6 dB
        raise SemcomError(f"SNR list {spec!r} repeats a value")
    return values
