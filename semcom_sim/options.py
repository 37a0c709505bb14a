"""Option parsing and validation shared by every command-line entry point (foundation layer).

Every ``semcom-sim`` command and every trainer parses its options with :class:`ArgParser`, whose
errors are :class:`~semcom_sim.errors.SemcomError` (one line on stderr, exit code 2), and checks
values with the helpers below *before* anything is written. This module imports nothing above
:mod:`semcom_sim.errors`, so model packages may use it without importing the CLI.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path

from semcom_sim.errors import SemcomError

MAX_SEED = 2**63  # seeds are in [0, 2**63)
MAX_SAMPLES = 100_000  # examples per point
MAX_BATCH = 100_000


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each option's default (unless it is ``None`` or ``False``: "not given") and keeps
    the description's line breaks."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class ArgParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one-line :class:`SemcomError` s."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # argparse would print usage and exit 2 itself
        raise SemcomError(f"{self.prog}: {message}")


def check_int(value: int | None, name: str, lo: int, hi: int | None = None) -> None:
    """``lo <= value (<= hi)`` or a one-line error naming the option."""
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise SemcomError(f"{name} must be an integer (got {value!r})")
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise SemcomError(f"{name} must be {bound} (got {value})")


def check_float(
    value: float | None,
    name: str,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
) -> None:
    """A finite ``value`` within ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``), or an error."""
    if value is None:
        return
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise SemcomError(f"{name} must be a number (got {value!r})")
    if not math.isfinite(value):
        raise SemcomError(f"{name} must be a finite number (got {value})")
    if lo is not None and (value < lo or (lo_open and value == lo)):
        raise SemcomError(f"{name} must be {'>' if lo_open else '>='} {lo:g} (got {value:g})")
    if hi is not None and value > hi:
        raise SemcomError(f"{name} must be <= {hi:g} (got {value:g})")


def check_seed(seed: int, name: str = "--seed") -> int:
    """Seeds are in ``[0, 2**63)`` (torch's generators take 64-bit signed seeds)."""
    if not isinstance(seed, int) or not 0 <= seed < MAX_SEED:
        raise SemcomError(f"{name} must be in [0, 2**63) (got {seed})")
    return seed


def check_device(text: str, name: str = "--device"):
    """The torch device ``text``, usable on this machine, or a one-line error (no work done)."""
    import torch

    try:
        device = torch.device(text)
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError, ValueError, TypeError) as e:
        first = (str(e).splitlines() or ["unusable"])[0]
        raise SemcomError(f"{name} {text}: {first}") from None
    if device.type == "cpu":  # "cpu:0" is the CPU (torch's generators only take "cpu")
        return torch.device("cpu")
    if device.type == "meta":
        raise SemcomError(f"{name} {text}: the meta device holds no data to simulate with")
    return device


def check_writable_dir(path: str | Path, name: str = "--out") -> Path:
    """``path`` as an absolute path if it is (or can be created as) a writable directory.

    The nearest existing ancestor must be a directory in which a file can really be created
    (probed with a temporary file that is removed at once; permission bits alone are not
    trusted: root may "write" to ``/proc``). Nothing is left behind.
    """
    p = Path(path).expanduser().resolve()
    if p.exists() and not p.is_dir():
        raise SemcomError(f"{name} {path}: exists and is not a directory")
    probe = p
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise SemcomError(f"{name} {path}: {probe} is not a directory")
    try:
        fd, tmp = tempfile.mkstemp(dir=probe, prefix=".semcom-sim-probe-")
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise SemcomError(f"{name} {path}: {probe} is not writable ({e.strerror})") from None
    return p


def check_input_dir(path: str | Path, name: str) -> Path:
    """An existing, readable directory."""
    p = Path(path)
    if not p.is_dir():
        raise SemcomError(f"{name} {path}: no such directory")
    if not os.access(p, os.R_OK | os.X_OK):
        raise SemcomError(f"{name} {path}: not readable")
    return p


def _matches(value, annotation: str) -> bool:
    """Whether ``value`` fits a dataclass field annotation written as a string."""
    ann = annotation.replace(" ", "")
    if ann.endswith("|None"):
        return value is None or _matches(value, ann[: -len("|None")])
    if ann == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if ann == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok and math.isfinite(value)
    if ann == "bool":
        return isinstance(value, bool)
    if ann == "str":
        return isinstance(value, str)
    if ann.startswith("tuple[") and ann.endswith("]"):
        if not isinstance(value, tuple | list):
            return False
        inner = ann[len("tuple[") : -1].split(",")
        if len(inner) == 2 and inner[1] == "...":
            return all(_matches(v, inner[0]) for v in value)
        return len(value) == len(inner) and all(
            _matches(v, a) for v, a in zip(value, inner, strict=True)
        )
    if ann.startswith("dict[") and ann.endswith("]"):
        key, _, val = ann[len("dict[") : -1].partition(",")
        return isinstance(value, dict) and all(
            _matches(k, key) and _matches(v, val) for k, v in value.items()
        )
    return True  # an annotation this check does not know: left to the config's own checks


def check_config_types(config, what: str) -> None:
    """Every field of dataclass ``config`` has the type its annotation names (``int`` fields
    are not booleans, ``float`` fields are finite numbers, tuples hold the named element types),
    else a one-line :class:`SemcomError` naming the field and the value."""
    import dataclasses

    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(f.type, str) and not _matches(value, f.type):
            raise SemcomError(f"{what} config field {f.name}={value!r} is not a {f.type}")
