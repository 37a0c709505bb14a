"""What ``semcom-sim figures`` and ``semcom-sim tables`` share: a loaded results directory,
the task order and conventional scheme of each U-DeepSC task, normalised performance, and how a
figure is written (PNG + PDF + a caption file naming data, channel, checkpoints and command).

Everything is read from a sweep's store; nothing is simulated here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from semcom_sim.errors import SemcomError
from semcom_sim.fileio import atomic_write, write_csv
from semcom_sim.sim.store import CONFIG_NAME, Record, ResultStore

__all__ = ["Results", "load_results", "write_csv"]

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
    """A sweep directory: its records, its runs and the scheme configurations of its store."""

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
        """The command of the most recent run that wrote points (from the store)."""
        runs = self.config.get("runs") or []
        for run in reversed(runs):
            cmd = (run.get("config") or {}).get("extra", {}).get("command")
            if cmd:
                return cmd
        return f"semcom-sim sweep (settings in {self.root / CONFIG_NAME})"

    def checkpoints(self, schemes: Sequence[str]) -> list[str]:
        """``name (sha256 prefix)`` of the checkpoints behind the stored points of ``schemes``,
        read from the scheme configurations stored with those points."""
        out: list[str] = []
        hashes = {r.scheme_config for r in self.records if r.scheme in schemes}
        for h in sorted(hashes):
            for text in _checkpoint_texts(self.schemes.get(h, {})):
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
    """Read a sweep directory's store (read-only); a one-line :class:`SemcomError` if it is not
    one. ``config`` holds every run (``runs``); ``schemes`` maps a scheme-config hash to the
    configuration stored with the points."""
    root = Path(root)
    store = ResultStore.open_read(root)
    try:
        records = store.records()
        runs = store.runs()
        schemes = store.configs("scheme")
    finally:
        store.close()
    if not records:
        raise SemcomError(f"--results {root}: the store holds no points")
    return Results(root, records, {"runs": runs}, schemes)


def _checkpoint_texts(cfg) -> list[str]:
    """``checkpoint (sha256 prefix)`` for every checkpoint named in a scheme configuration."""
    out: list[str] = []
    if isinstance(cfg, dict):
        sha = cfg.get("manifest_sha256") or cfg.get("checkpoint_sha256")
        if cfg.get("checkpoint") and sha:
            out.append(f"{cfg['checkpoint']} ({str(sha)[:12]})")
        for v in cfg.values():
            out += _checkpoint_texts(v)
    elif isinstance(cfg, list):
        for v in cfg:
            out += _checkpoint_texts(v)
    return out


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
    fig.savefig(png, dpi=120, bbox_inches="tight")  # legends outside the axes are kept
    fig.savefig(pdf, bbox_inches="tight", metadata={"CreationDate": None, "ModDate": None})
    plt.close(fig)
    with atomic_write(txt) as f:
        f.write(caption.strip() + "\n")
    return [png, pdf, txt]


def use_agg():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
