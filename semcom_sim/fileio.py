"""Writing result files: atomically, readable like any user file, and the one table writer.

Every CSV and Markdown table of the toolkit (the store's tidy CSV, the papers' tables, the
studies' reports) is written by :func:`write_csv` / :func:`markdown_table` here (foundation
layer: imports nothing of semcom-sim).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class atomic_write:  # noqa: N801 - used as a context manager like open()
    """``with atomic_write(path) as f:`` writes to a temporary file and renames it into place.

    The file gets the permissions of any file the user creates (``0666 & ~umask``), not the
    owner-only mode of the temporary file.
    """

    def __init__(self, path: str | Path, mode: str = "w") -> None:
        self.path = Path(path)
        self.mode = mode

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        os.fchmod(fd, 0o666 & ~_umask())
        self._f = os.fdopen(fd, self.mode, newline="" if "b" not in self.mode else None)
        return self._f

    def __exit__(self, exc_type, exc, tb) -> None:
        self._f.close()
        if exc_type is None:
            os.replace(self._tmp, self.path)
        else:
            os.unlink(self._tmp)


def write_json(path: str | Path, obj) -> None:
    """Write ``obj`` as indented JSON, atomically (non-finite floats as ``null``)."""
    with atomic_write(path) as f:
        json.dump(_finite(obj), f, indent=2, sort_keys=True, default=str)
        f.write("\n")


def _finite(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    return v


def write_csv(
    path: str | Path,
    rows: Sequence[dict],
    columns: Sequence[str] | None = None,
    fmt: Callable[[Any], Any] | None = _cell,
) -> Path:
    """``rows`` as CSV, atomically; columns: ``columns`` or the union of keys in first-seen
    order; each value through ``fmt`` (default: floats to 6 significant digits, NaN empty)."""
    keys: list[str] = list(columns or [])
    if columns is None:
        for r in rows:
            keys += [k for k in r if k not in keys]
    buf = io.StringIO()
    w = csv.DictWriter(buf, keys, restval="", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: fmt(v) if fmt else v for k, v in r.items()})
    with atomic_write(path) as f:
        f.write(buf.getvalue())
    return Path(path)


def markdown_table(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> list[str]:
    """The lines of a Markdown table: ``header`` and one line per row (cells with ``str``)."""
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def dict_table(rows: Sequence[dict], fmt: Callable[[Any], str] = str) -> list[str]:
    """:func:`markdown_table` of dict rows (columns: union of keys in first-seen order)."""
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    return markdown_table(keys, ([fmt(r.get(k)) for k in keys] for r in rows))
