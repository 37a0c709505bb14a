"""The durable results store: SQLite (one record per point), a tidy CSV, a JSON config.

A point is (scheme, task, channel, snr_db, seed, samples, dataset). Each point is committed in
its own transaction, so a run killed at any moment loses at most the work in flight, and a rerun
skips the points already present.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

STORE_NAME = "results.sqlite"
CSV_NAME = "results.csv"
CONFIG_NAME = "config.json"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    scheme TEXT NOT NULL, task TEXT NOT NULL, channel TEXT NOT NULL, snr_db REAL NOT NULL,
    seed INTEGER NOT NULL, samples INTEGER NOT NULL, dataset TEXT NOT NULL,
    metrics TEXT NOT NULL, mean_symbols REAL NOT NULL, mean_channel_uses REAL NOT NULL,
    extras TEXT NOT NULL, wall_s REAL NOT NULL, provenance TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (scheme, task, channel, snr_db, seed, samples, dataset)
);
CREATE TABLE IF NOT EXISTS runs (
    started REAL NOT NULL, config TEXT NOT NULL
);
"""


@dataclass
class Record:
    """One stored point. ``metrics`` maps metric name -> value (``<name>_stderr`` included)."""

    scheme: str
    task: str
    channel: str
    snr_db: float
    seed: int
    samples: int
    dataset: str
    metrics: dict[str, float]
    mean_symbols: float
    mean_channel_uses: float
    extras: dict[str, float]
    wall_s: float
    provenance: str

    @property
    def key(self) -> tuple:
        return (self.scheme, self.task, self.channel, round(self.snr_db, 6), self.seed)


class ResultStore:
    """Open (or create) the store in directory ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / STORE_NAME
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def has(
        self, scheme: str, task: str, channel: str, snr_db: float, seed: int, samples: int, ds: str
    ) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM points WHERE scheme=? AND task=? AND channel=? AND abs(snr_db-?)<1e-9"
            " AND seed=? AND samples=? AND dataset=?",
            (scheme, task, channel, snr_db, seed, samples, ds),
        ).fetchone()
        return row is not None

    def put(self, rec: Record) -> None:
        """Insert (or replace) one point atomically."""
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO points VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    rec.scheme,
                    rec.task,
                    rec.channel,
                    float(rec.snr_db),
                    rec.seed,
                    rec.samples,
                    rec.dataset,
                    json.dumps(rec.metrics, sort_keys=True),
                    rec.mean_symbols,
                    rec.mean_channel_uses,
                    json.dumps(rec.extras, sort_keys=True),
                    rec.wall_s,
                    rec.provenance,
                    time.time(),
                ),
            )

    def log_run(self, config: dict) -> None:
        with self._db:
            self._db.execute("INSERT INTO runs VALUES (?, ?)", (time.time(), json.dumps(config)))

    def records(self) -> list[Record]:
        rows = self._db.execute(
            "SELECT scheme, task, channel, snr_db, seed, samples, dataset, metrics, mean_symbols,"
            " mean_channel_uses, extras, wall_s, provenance FROM points"
            " ORDER BY task, channel, scheme, snr_db, seed"
        ).fetchall()
        return [
            Record(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                json.loads(r[7]),
                r[8],
                r[9],
                json.loads(r[10]),
                r[11],
                r[12],
            )
            for r in rows
        ]

    def export_csv(self, path: str | Path | None = None) -> Path:
        """Write the tidy CSV (one row per point and metric) atomically; returns its path."""
        path = Path(path) if path else self.root / CSV_NAME
        cols = [
            "scheme",
            "task",
            "channel",
            "snr_db",
            "seed",
            "samples",
            "dataset",
            "metric",
            "value",
            "stderr",
            "mean_symbols",
            "mean_channel_uses",
            "wall_s",
            "provenance",
        ]
        rows = []
        for rec in self.records():
            base = asdict(rec)
            for name, value in sorted(rec.metrics.items()):
                if name.endswith("_stderr"):
                    continue
                rows.append(
                    {
                        **{c: base.get(c) for c in cols},
                        "metric": name,
                        "value": value,
                        "stderr": rec.metrics.get(f"{name}_stderr", ""),
                    }
                )
            for name, value in sorted(rec.extras.items()):
                rows.append(
                    {
                        **{c: base.get(c) for c in cols},
                        "metric": f"extra:{name}",
                        "value": value,
                        "stderr": "",
                    }
                )
        with atomic_write(path) as f:
            w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        return path


class atomic_write:  # noqa: N801 - used as a context manager like open()
    """``with atomic_write(path) as f:`` writes to a temporary file and renames it into place."""

    def __init__(self, path: str | Path, mode: str = "w") -> None:
        self.path = Path(path)
        self.mode = mode

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        self._f = os.fdopen(fd, self.mode, newline="" if "b" not in self.mode else None)
        return self._f

    def __exit__(self, exc_type, exc, tb) -> None:
        self._f.close()
        if exc_type is None:
            os.replace(self._tmp, self.path)
        else:
            os.unlink(self._tmp)


def write_json(path: str | Path, obj) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_write(path) as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=str)
        f.write("\n")
