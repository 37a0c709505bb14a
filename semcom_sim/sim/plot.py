"""The one plotting path: figures are drawn from stored records only, never from live runs.

Per (task, channel) :func:`plot_records` writes the papers' comparison and, separately, the
studies, so no axis holds 20 curves; every curve has its scheme's style
(:mod:`semcom_sim.sim.styles`) and legends sit outside the axes.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from semcom_sim.sim.cliff import SNR_LABEL, has_cliff_records, plot_cliff, scheme_role
from semcom_sim.sim.labels import METRIC_LABELS
from semcom_sim.sim.store import Record
from semcom_sim.sim.styles import draw_curve, is_paper_default

__all__ = ["METRIC_LABELS", "plot_cliffs", "plot_records", "split_schemes"]


def split_schemes(by_scheme: dict[str, list[Record]]) -> dict[str, list[str]]:
    """The schemes of one (task, channel) group, by panel row.

    Returns:
        ``{"paper": [...], "learned studies": [...], "conventional studies": [...]}``: the
        papers' comparison (with the trivial references), then the studies of learned schemes
        (exit thresholds, fixed layers, ...) and of conventional ones (fixed MCS, envelopes,
        capacity, ...), each study row with the papers' schemes of its kind and the references
        for comparison. Empty study rows are left out.
    """
    paper, learned, conventional = [], [], []
    for s, recs in sorted(by_scheme.items()):
        if is_paper_default(s, recs[0].role):
            paper.append(s)
        elif scheme_role(recs[0]) == "learned":
            learned.append(s)
        else:
            conventional.append(s)

    def kind(s: str) -> str:
        return scheme_role(by_scheme[s][0])

    refs = [s for s in paper if kind(s) == "reference"]
    out = {"paper": paper}
    if learned:
        out["learned studies"] = [s for s in paper if kind(s) == "learned"] + learned + refs
    if conventional:
        anchors = [s for s in paper if kind(s) not in ("learned", "reference")]
        out["conventional studies"] = anchors + conventional + refs
    return out


def _draw_row(ax, ax2, by_scheme: dict[str, list[Record]], schemes: list[str], metric: str):
    for scheme in schemes:
        recs = sorted(by_scheme[scheme], key=lambda r: r.snr_db)
        snr = [r.snr_db for r in recs]
        val = [r.metrics.get(metric, float("nan")) for r in recs]
        err = [r.metrics.get(f"{metric}_stderr", 0.0) for r in recs]
        role = recs[0].role
        yerr = None if role == "reference" else err  # SNR-independent: a line is enough
        draw_curve(ax, scheme, snr, val, yerr=yerr, role=role, ms=3)
        draw_curve(ax2, scheme, snr, [r.mean_symbols for r in recs], role=role, ms=3)
    ax.set(xlabel=SNR_LABEL, ylabel=METRIC_LABELS.get(metric, metric))
    ax2.set(xlabel=SNR_LABEL, ylabel="complex symbols per example")
    ax2.set_yscale("log")
    for a in (ax, ax2):
        a.grid(alpha=0.3)
    ax2.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def plot_records(
    records: list[Record], out_dir: str | Path, primary: dict[str, str], cliff: bool = True
) -> list[Path]:
    """Per (task, channel): ``<task>_<channel>.png`` with the papers' schemes and, when the
    records hold studies, ``<task>_<channel>_studies.png`` with one row per kind of study
    (:func:`split_schemes`); each row the task's primary metric and the mean symbols vs SNR.
    Then (``cliff``) the cliff figures (:func:`plot_cliffs`).

    Args:
        records: stored points. primary: task name -> metric to plot (first metric otherwise).
        cliff: also draw the cliff figures (False: the caller draws them with
            :func:`plot_cliffs`, e.g. in another process).
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
        samples = sorted({r.samples for recs in by_scheme.values() for r in recs})
        rows = split_schemes(by_scheme)
        for stem, names in (("", ["paper"]), ("_studies", [k for k in rows if k != "paper"])):
            names = [n for n in names if rows.get(n)]
            if not names:
                continue
            fig, axes = plt.subplots(len(names), 2, figsize=(12, 4.2 * len(names)), squeeze=False)
            for (ax, ax2), name in zip(axes, names, strict=True):
                _draw_row(ax, ax2, by_scheme, rows[name], metric)
                what = "papers' schemes" if name == "paper" else name
                ax.set_title(f"{task} over {channel}: {what}")
                ax2.set_title(f"transmitted symbols: {what}")
            fig.suptitle(f"data: {dataset}; samples per point: {samples}", fontsize=9)
            fig.tight_layout()
            path = out_dir / f"{task}_{channel}{stem}.png"
            fig.savefig(path, dpi=110, bbox_inches="tight")
            plt.close(fig)
            paths.append(path)
    if cliff:
        paths += plot_cliffs(records, out_dir, primary)
    return paths


def plot_cliffs(records: list[Record], out_dir: str | Path, primary: dict[str, str]) -> list[Path]:
    """The cliff figures of :func:`semcom_sim.sim.cliff.plot_cliff` (staircase + envelope +
    capacity bound, crossovers marked) with the papers' learned schemes only; none without
    envelope or capacity records."""
    if not has_cliff_records(records):
        return []
    learned = sorted({r.scheme for r in records if is_paper_default(r.scheme, r.role)})
    return plot_cliff(records, out_dir, primary, learned=learned)
