"""The one plotting path: figures are drawn from stored records only, never from live runs."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from semcom_sim.sim.cliff import has_cliff_records, plot_cliff
from semcom_sim.sim.labels import METRIC_LABELS
from semcom_sim.sim.store import Record

__all__ = ["METRIC_LABELS", "plot_records"]


def plot_records(records: list[Record], out_dir: str | Path, primary: dict[str, str]) -> list[Path]:
    """One PNG per (task, channel): the task's primary metric and mean symbols vs SNR.

    Args:
        records: stored points. primary: task name -> metric to plot (first metric otherwise).
    Returns:
        paths of the written PNG files.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    groups: dict[tuple, dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        groups[(r.task, r.channel, r.dataset)][r.scheme].append(r)
    paths = []
    for (task, channel, dataset), by_scheme in sorted(groups.items()):
        metric = primary.get(task) or sorted(next(iter(by_scheme.values()))[0].metrics)[0]
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
        for scheme, recs in sorted(by_scheme.items()):
            recs = sorted(recs, key=lambda r: r.snr_db)
            snr = [r.snr_db for r in recs]
            val = [r.metrics.get(metric, float("nan")) for r in recs]
            err = [r.metrics.get(f"{metric}_stderr", 0.0) for r in recs]
            style = "--" if recs[0].role == "bound" else ":" if recs[0].role == "reference" else "-"
            ax.errorbar(snr, val, yerr=err, fmt=style, marker="o", ms=3, capsize=2, label=scheme)
            ax2.plot(snr, [r.mean_symbols for r in recs], style, marker="o", ms=3, label=scheme)
        samples = sorted({r.samples for recs in by_scheme.values() for r in recs})
        ax.set(
            xlabel="SNR [dB] (Es/N0 per complex symbol)", ylabel=METRIC_LABELS.get(metric, metric)
        )
        ax.set_title(f"{task} over {channel}")
        ax2.set(xlabel="SNR [dB] (Es/N0 per complex symbol)", ylabel="complex symbols per example")
        ax2.set_yscale("log")
        ax2.set_title("transmitted symbols")
        for a in (ax, ax2):
            a.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.suptitle(f"data: {dataset}; samples per point: {samples}", fontsize=9)
        fig.tight_layout()
        path = out_dir / f"{task}_{channel}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    if has_cliff_records(records):  # staircase + envelope + capacity bound, crossovers marked
        paths += plot_cliff(records, out_dir, primary)
    return paths
