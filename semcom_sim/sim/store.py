"""The durable results store: SQLite (one record per point), a tidy CSV, a JSON config.

A point is keyed by the sha256 of **everything that determines its numbers** (:func:`point_key`):
the scheme's resolved configuration (checkpoint manifest hashes, codec, MCS and decoder
included), the task and the dataset's identity, the channel's full configuration, the SNR, the
seed, the number of examples, the batch size and the device. The configurations themselves are
stored once each in the ``configs`` table beside the points, so a figure caption can say which
checkpoint and which channel a curve comes from, whatever run wrote it.

Each point is committed in its own transaction, so a run killed at any moment loses at most the
work in flight, and a rerun skips exactly the points whose key is present. A changed checkpoint,
coherence time or decoder changes the key, so the point is recomputed; the stale point stays in
the file but :meth:`ResultStore.records` serves, per curve, only the points of the configuration
the last run asked for (:meth:`ResultStore.mark_current`; never a mix of two), so switching a
checkpoint back to an older one serves the older one's stored points, not the newer file's.

Readers (``plot``, ``figures``, ``tables``) open the store read-only (:meth:`ResultStore.open_read`)
and never modify it; a file that is not a semcom-sim store is a one-line :class:`SemcomError`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from semcom_sim.errors import SemcomError
from semcom_sim.fileio import atomic_write, write_csv, write_json

__all__ = ["Record", "ResultStore", "atomic_write", "write_json"]

STORE_NAME = "results.sqlite"
CSV_NAME = "results.csv"
CONFIG_NAME = "config.json"
SCHEMA_VERSION = 2
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    key TEXT PRIMARY KEY, curve TEXT NOT NULL,
    scheme TEXT NOT NULL, task TEXT NOT NULL, channel TEXT NOT NULL, snr_db REAL NOT NULL,
    seed INTEGER NOT NULL, samples INTEGER NOT NULL, dataset TEXT NOT NULL, role TEXT NOT NULL,
    scheme_config TEXT NOT NULL, channel_config TEXT NOT NULL, settings TEXT NOT NULL,
    metrics TEXT NOT NULL, mean_symbols REAL NOT NULL, mean_channel_uses REAL NOT NULL,
    extras TEXT NOT NULL, wall_s REAL NOT NULL, provenance TEXT NOT NULL, created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS configs (
    hash TEXT PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    started REAL NOT NULL, config TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY, value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS current (
    curve_group TEXT PRIMARY KEY, curve TEXT NOT NULL, at REAL NOT NULL
);
"""
_COLUMNS = {
    "points": {
        "key", "curve", "scheme", "task", "channel", "snr_db", "seed", "samples", "dataset",
        "role", "scheme_config", "channel_config", "settings", "metrics", "mean_symbols",
        "mean_channel_uses", "extras", "wall_s", "provenance", "created",
    },
    "configs": {"hash", "kind", "body"},
    "runs": {"started", "config"},
    "meta": {"name", "value"},
}  # fmt: skip


def canonical_json(obj) -> str:
    """Deterministic JSON (sorted keys, no whitespace) used for hashing."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def config_hash(obj) -> str:
    """sha256 hex digest of :func:`canonical_json` of ``obj``."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()


def snr_text(snr_db: float) -> str:
    """The SNR as it enters a key: rounded to 1e-6 dB, so 3.0000000001 and 3 are one point."""
    return f"{round(float(snr_db), 6):.6f}"


def point_key(curve: str, snr_db: float) -> str:
    """The key of one point of the curve with identity hash ``curve``."""
    return hashlib.sha256(f"{curve}|{snr_text(snr_db)}".encode()).hexdigest()


@dataclass
class Record:
    """One stored point. ``metrics`` maps metric name -> value (``<name>_stderr`` included).

    ``key`` / ``curve`` are set by the engine (:func:`point_key`); ``role`` is the scheme's role
    (``learned``, ``conventional``, ``bound`` or ``reference``); ``scheme_config`` and
    ``channel_config`` are hashes into the store's ``configs`` table.
    """

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
    role: str = "conventional"
    key: str = ""
    curve: str = ""
    scheme_config: str = ""
    channel_config: str = ""
    settings: dict = field(default_factory=dict)
    created: float = 0.0


def _check_store_file(path: Path) -> None:
    """Raise SemcomError unless ``path`` looks like an SQLite file (checked before opening)."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError as e:
        raise SemcomError(f"{path}: cannot read ({e.strerror})") from None
    if head != _SQLITE_MAGIC:
        raise SemcomError(f"{path}: not a semcom-sim results store (not an SQLite file)")


class ResultStore:
    """Open (or create) the writable store in directory ``root``.

    An existing file that is not a semcom-sim store of this schema is refused with a one-line
    :class:`SemcomError` before anything is written.
    """

    def __init__(self, root: str | Path, readonly: bool = False) -> None:
        self.root = Path(root)
        self.path = self.root / STORE_NAME
        self.readonly = readonly
        if readonly:
            self._db = self._open_readonly()
            self._validate()
            return
        exists = self.path.exists()
        if exists:
            _check_store_file(self.path)
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path)
            if exists:
                self._validate()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            with self._db:
                self._db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
        except sqlite3.DatabaseError as e:
            raise SemcomError(f"{self.path}: not a usable results store ({e})") from None

    # ------------------------------------------------------------------ opening
    @classmethod
    def open_read(cls, root: str | Path) -> ResultStore:
        """The store of sweep directory ``root``, read-only (the file is never modified)."""
        root = Path(root)
        path = root / STORE_NAME
        if not path.is_file():
            raise SemcomError(
                f"--results {root}: no {STORE_NAME} (expected a directory from sweep)"
            )
        _check_store_file(path)
        return cls(root, readonly=True)

    def _open_readonly(self) -> sqlite3.Connection:
        uri = self.path.resolve().as_uri()
        try:
            db = sqlite3.connect(f"{uri}?mode=ro", uri=True)
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.DatabaseError:
            pass
        try:  # a read-only folder (no -shm can be made) or a finished WAL store: no locking
            db = sqlite3.connect(f"{uri}?immutable=1", uri=True)
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.DatabaseError as e:
            raise SemcomError(f"{self.path}: not a readable results store ({e})") from None

    def _validate(self) -> None:
        try:
            tables = {
                r[0]: r[1]
                for r in self._db.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type='table'"
                ).fetchall()
            }
            if "points" in tables and "meta" not in tables:
                raise SemcomError(
                    f"{self.path}: a results store of an older semcom-sim (schema 1, points "
                    "keyed by scheme name only); write to a fresh --out"
                )
            for name, cols in _COLUMNS.items():
                if name not in tables:
                    if self.readonly or tables:
                        raise SemcomError(
                            f"{self.path}: not a semcom-sim results store (no table {name!r})"
                        )
                    continue
                have = {r[1] for r in self._db.execute(f"PRAGMA table_info({name})").fetchall()}
                if not cols <= have:
                    raise SemcomError(
                        f"{self.path}: not a semcom-sim results store (table {name!r} lacks "
                        f"{', '.join(sorted(cols - have))})"
                    )
            if "meta" in tables:
                row = self._db.execute(
                    "SELECT value FROM meta WHERE name='schema_version'"
                ).fetchone()
                if row is not None and row[0] != str(SCHEMA_VERSION):
                    raise SemcomError(
                        f"{self.path}: results store schema {row[0]}, this semcom-sim reads "
                        f"{SCHEMA_VERSION}"
                    )
        except sqlite3.DatabaseError as e:
            raise SemcomError(f"{self.path}: not a usable results store ({e})") from None

    def close(self) -> None:
        if not self.readonly:
            try:  # fold the WAL back so the file stands alone (readable from a read-only copy)
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.execute("PRAGMA journal_mode=DELETE")
            except sqlite3.DatabaseError:
                pass
        self._db.close()

    # ------------------------------------------------------------------ writing
    def has(self, key: str) -> bool:
        """Whether the point with key ``key`` (:func:`point_key`) is stored."""
        return self._db.execute("SELECT 1 FROM points WHERE key=?", (key,)).fetchone() is not None

    def put_config(self, kind: str, body: dict) -> str:
        """Store a configuration (``scheme`` or ``channel``) once; returns its hash."""
        h = config_hash(body)
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO configs VALUES (?,?,?)", (h, kind, canonical_json(body))
            )
        return h

    def put(self, rec: Record) -> None:
        """Insert (or replace) one point atomically (``rec.key`` must be set)."""
        if not rec.key:  # a record made by hand: keyed by its display fields alone
            ident = (rec.scheme, rec.task, rec.channel, rec.dataset, rec.seed, rec.samples)
            rec.curve = rec.curve or config_hash(list(ident))
            rec.key = point_key(rec.curve, rec.snr_db)
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO points VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    rec.key,
                    rec.curve,
                    rec.scheme,
                    rec.task,
                    rec.channel,
                    float(rec.snr_db),
                    rec.seed,
                    rec.samples,
                    rec.dataset,
                    rec.role,
                    rec.scheme_config,
                    rec.channel_config,
                    canonical_json(rec.settings),
                    json.dumps(rec.metrics, sort_keys=True),
                    rec.mean_symbols,
                    rec.mean_channel_uses,
                    json.dumps(rec.extras, sort_keys=True),
                    rec.wall_s,
                    rec.provenance,
                    time.time(),
                ),
            )

    def mark_current(self, group: tuple, curve: str) -> None:
        """Record that the configuration ``curve`` is the current one of the curve ``group``
        ``(scheme, task, channel, dataset, seed, samples)`` (called by the engine for every
        curve it plans, whether its points are stored already or not)."""
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO current VALUES (?,?,?)",
                (canonical_json(list(group)), curve, time.time()),
            )

    def _current(self) -> dict[str, str]:
        try:
            rows = self._db.execute("SELECT curve_group, curve FROM current").fetchall()
        except sqlite3.OperationalError:  # a store written before the table existed
            return {}
        return dict(rows)

    def log_run(self, config: dict) -> None:
        with self._db:
            self._db.execute("INSERT INTO runs VALUES (?, ?)", (time.time(), json.dumps(config)))

    # ------------------------------------------------------------------ reading
    def runs(self) -> list[dict]:
        """Every run's resolved configuration, oldest first."""
        try:
            rows = self._db.execute("SELECT started, config FROM runs ORDER BY started").fetchall()
            return [{"started": r[0], **json.loads(r[1])} for r in rows]
        except (sqlite3.DatabaseError, ValueError) as e:
            raise SemcomError(f"{self.path}: unreadable runs table ({e})") from None

    def configs(self, kind: str | None = None) -> dict[str, dict]:
        """Hash -> stored configuration (of ``kind`` if given)."""
        try:
            rows = self._db.execute("SELECT hash, kind, body FROM configs").fetchall()
            return {h: json.loads(b) for h, k, b in rows if kind is None or k == kind}
        except (sqlite3.DatabaseError, ValueError) as e:
            raise SemcomError(f"{self.path}: unreadable configs table ({e})") from None

    def records(self, latest: bool = True) -> list[Record]:
        """Stored points, ordered by task, channel, scheme, SNR.

        With ``latest`` (default), each curve -- (scheme, task, channel, dataset, seed, samples)
        -- is served only from the configuration the last run marked current
        (:meth:`mark_current`), or for a curve never marked, its most recently written one; a
        figure never mixes points of a replaced checkpoint with new ones.
        """
        try:
            rows = self._db.execute(
                "SELECT scheme, task, channel, snr_db, seed, samples, dataset, metrics,"
                " mean_symbols, mean_channel_uses, extras, wall_s, provenance, role, key, curve,"
                " scheme_config, channel_config, settings, created FROM points"
                " ORDER BY task, channel, scheme, snr_db, seed, created"
            ).fetchall()
            recs = [
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
                    r[13],
                    r[14],
                    r[15],
                    r[16],
                    r[17],
                    json.loads(r[18]),
                    r[19],
                )  # fmt: skip
                for r in rows
            ]
        except (sqlite3.DatabaseError, ValueError, TypeError) as e:
            raise SemcomError(f"{self.path}: unreadable points ({e})") from None
        if not latest:
            return recs
        current = self._current()
        newest: dict[tuple, tuple[float, str]] = {}
        for r in recs:
            g = (r.scheme, r.task, r.channel, r.dataset, r.seed, r.samples)
            if g not in newest or r.created > newest[g][0]:
                newest[g] = (r.created, r.curve)

        def chosen(r: Record) -> str:
            g = (r.scheme, r.task, r.channel, r.dataset, r.seed, r.samples)
            return current.get(canonical_json(list(g)), newest[g][1])

        return [r for r in recs if chosen(r) == r.curve]

    def export_csv(self, path: str | Path | None = None) -> Path:
        """Write the tidy CSV (one row per point and metric) atomically; returns its path."""
        path = Path(path) if path else self.root / CSV_NAME
        cols = [
            "scheme",
            "role",
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
        return write_csv(path, rows, cols, fmt=None)
