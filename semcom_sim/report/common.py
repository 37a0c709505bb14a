"""What ``semcom-sim figures`` and ``semcom-sim tables`` share: a loaded results directory,
the task order and conventional scheme of each U-DeepSC task, normalised performance, and how a
figure is written (PNG + PDF + a caption file naming data, channel, checkpoints and command).

Everything is read from a sweep's store; nothing is simulated here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from semcom_sim.errors import SemcomError
from semcom_sim.sim.store import CONFIG_NAME, STORE_NAME, Record, ResultStore, atomic_write

# The six U-DeepSC tasks in the paper's panel order (Fig. 7).
UDEEPSC_TASKS = (
    "image-classification",
    "image-reconstruction",
    "text-reconstruction",
    "sentiment",
    "vqa",
    "video-sentiment",
)
SNR_LABEL = "SNR [dB] (Es/N0 per complex symbol)"
REFERENCE_SNR_DB = 12.0  # where the per-SNR tables and the per-layer studies are read


def conventional_scheme(task: str) -> str | None:
    """The papers' conventional scheme of ``task`` (e.g. ``jpeg-ldpc``), or ``None``."""
    from semcom_sim.baselines.families import FAMILIES

    for fam in FAMILIES.values():
        if not fam.split and task in fam.tasks:
            return fam.default_name
    return None


BEST_IMAGE_SCHEME = "best-image-envelope"


def strongest_conventional(task: str) -> str | None:
    """The strongest separate-coding reference of ``task`` beside the papers' default: the
    best-codec envelope (``best-image-envelope``) for image tasks, else ``None``."""
    from semcom_sim.baselines.families import IMAGE_TASKS

    return BEST_IMAGE_SCHEME if task in IMAGE_TASKS else None


def primary_metrics() -> dict[str, str]:
    """Task name -> its primary metric (the registered tasks')."""
    from semcom_sim.catalog import load_catalog

    _, tasks = load_catalog()
    return {n: tasks.create(n).primary_metric for n in tasks.names()}


@dataclass
class Results:
    """A sweep directory: its records, ``config.json`` and ``schemes.json``."""

    root: Path
    records: list[Record]
    config: dict
    schemes: dict

    @property
    def channels(self) -> list[str]:
        return sorted({r.channel for r in self.records})

    def curve(self, scheme: str, task: str, channel: str) -> list[Record]:
        """Records of one scheme on one task and channel, by ascending SNR."""
        recs = [
            r
            for r in self.records
            if r.scheme == scheme and r.task == task and r.channel == channel
        ]
        return sorted(recs, key=lambda r: r.snr_db)

    def point(self, scheme: str, task: str, channel: str, snr_db: float) -> Record | None:
        for r in self.curve(scheme, task, channel):
            if abs(r.snr_db - snr_db) < 1e-6:
                return r
        return None

    def has(self, scheme: str, task: str | None = None) -> bool:
        return any(r.scheme == scheme and (task is None or r.task == task) for r in self.records)

    def snr_points(self, channel: str) -> list[float]:
        return sorted({r.snr_db for r in self.records if r.channel == channel})

    def reference_snr(self, channel: str, wanted: float = REFERENCE_SNR_DB) -> float:
        """``wanted`` if stored, else the stored SNR closest to it."""
        pts = self.snr_points(channel)
        if not pts:
            raise SemcomError(f"{self.root}: no records for channel {channel}")
        return min(pts, key=lambda s: (abs(s - wanted), -s))

    def command(self) -> str:
        return self.config.get("sweep", {}).get("extra", {}).get("command") or (
            f"semcom-sim sweep (settings in {self.root / CONFIG_NAME})"
        )

    def checkpoints(self, schemes: Sequence[str]) -> list[str]:
        """``name (step N, manifest sha256 prefix)`` of the checkpoints behind ``schemes``."""
        out = []
        for s in schemes:
            for name, info in (self.schemes.get(s, {}).get("checkpoints") or {}).items():
                text = f"{name} (step {info.get('step')}, {info.get('manifest_sha256', '')[:12]})"
                if text not in out:
                    out.append(text)
        return out

    def datasets(self, tasks: Sequence[str], channel: str) -> str:
        seen: dict[str, set] = {}
        for r in self.records:
            if r.task in tasks and r.channel == channel:
                seen.setdefault(r.dataset, set()).add(r.samples)
        return "; ".join(
            f"{d} ({'/'.join(str(n) for n in sorted(s))} examples per point)"
            for d, s in sorted(seen.items())
        )


def load_results(root: str | Path) -> Results:
    """Read a sweep directory; a one-line :class:`SemcomError` if it is not one."""
    root = Path(root)
    if not (root / STORE_NAME).is_file():
        raise SemcomError(f"--results {root}: no {STORE_NAME} (expected a directory from sweep)")
    store = ResultStore(root)
    try:
        records = store.records()
    finally:
        store.close()
    if not records:
        raise SemcomError(f"--results {root}: the store holds no points")
    return Results(root, records, _json(root / CONFIG_NAME), _json(root / "schemes.json"))


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise SemcomError(f"{path}: not readable JSON ({e})") from None


def normalized(value: float, reference: float | None) -> float:
    """``value / reference`` (the paper's normalised performance); NaN without a positive one."""
    if reference is None or not reference > 0 or math.isnan(value):
        return math.nan
    return value / reference


def nanmean(values: Sequence[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return sum(vals) / len(vals) if vals else math.nan


def save_figure(fig, out_dir: Path, stem: str, caption: str) -> list[Path]:
    """``stem.png``, ``stem.pdf`` (no creation date, so reruns give the same bytes) and the
    caption ``stem.txt``; closes the figure."""
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    png, pdf, txt = (out_dir / f"{stem}.{ext}" for ext in ("png", "pdf", "txt"))
    fig.savefig(png, dpi=120)
    fig.savefig(pdf, metadata={"CreationDate": None, "ModDate": None})
    plt.close(fig)
    with atomic_write(txt) as f:
        f.write(caption.strip() + "\n")
    return [png, pdf, txt]


def write_csv(path: Path, rows: list[dict]) -> Path:
    """Rows as CSV (columns: union of keys in first-seen order), written atomically."""
    import csv
    import io

    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO()
    w = csv.DictWriter(buf, keys, restval="", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _fmt_csv(v) for k, v in r.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as f:
        f.write(buf.getvalue())
    return path


def _fmt_csv(v):
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    return v


def use_agg():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
