"""The one-screen answer of a sweep: per task, best learned vs best conventional vs the best
trivial reference at low / mid / high SNR, and the lowest conventional cliff."""

from __future__ import annotations

import math
from collections.abc import Sequence

from semcom_sim.fileio import markdown_table
from semcom_sim.sim.cliff import cliff_summary
from semcom_sim.sim.store import Record


def _best(recs: Sequence[Record], role: str, metric: str, snr: float) -> tuple[str, float]:
    """(scheme, value) of the best scheme of ``role`` at ``snr`` (higher is better)."""
    cands = [(r.metrics.get(metric, math.nan), r.scheme) for r in recs
             if r.role == role and abs(r.snr_db - snr) < 1e-6]  # fmt: skip
    cands = [c for c in cands if not math.isnan(c[0])]
    if not cands:
        return "-", math.nan
    value, scheme = max(cands)
    return scheme, value


def snr_picks(snrs: Sequence[float]) -> list[float]:
    """The low, mid and high SNR of a grid (fewer when the grid has fewer points)."""
    return list(dict.fromkeys([snrs[0], snrs[len(snrs) // 2], snrs[-1]])) if snrs else []


def summary_lines(records: Sequence[Record], primary: dict[str, str]) -> list[str]:
    """Markdown lines of the summary table (one row per task and channel)."""
    rows = []
    all_picks: list[list[float]] = []
    cliffs: dict[tuple, tuple[float, str]] = {}
    for c in cliff_summary(records, primary):
        if c["role"] in ("separate", "envelope") and c["cliff_db"] is not None:
            key = (c["task"], c["channel"])
            if key not in cliffs or c["cliff_db"] < cliffs[key][0]:
                cliffs[key] = (c["cliff_db"], c["scheme"])
    for task, channel in sorted({(r.task, r.channel) for r in records}):
        recs = [r for r in records if r.task == task and r.channel == channel]
        metric = primary.get(task) or sorted(recs[0].metrics)[0]
        picks = snr_picks(sorted({r.snr_db for r in recs}))
        all_picks.append(picks)
        cells = []
        for s in picks:
            ls, lv = _best(recs, "learned", metric, s)
            cs, cv = _best(recs, "conventional", metric, s)
            cells.append(f"{lv:.3g} ({ls}) / {cv:.3g} ({cs})")
        refs = [(r.metrics.get(metric, math.nan), r.scheme) for r in recs if r.role == "reference"]
        ref = max(refs) if refs else (math.nan, "-")
        cliff = cliffs.get((task, channel))
        rows.append(
            [
                task,
                channel,
                metric,
                *cells,
                f"{ref[0]:.3g} ({ref[1]})",
                f"{cliff[0]:.1f} dB ({cliff[1]})" if cliff else "-",
            ]  # fmt: skip
        )
    if not rows:
        return []
    if all(p == all_picks[0] for p in all_picks):  # one grid: the SNRs in the heads
        snr_heads = [f"{s:g} dB: learned / conventional" for s in all_picks[0]]
    else:  # grids differ by task: the SNR in each cell
        snr_heads = [f"{w} SNR: learned / conventional" for w in ("low", "mid", "high")]
        for i, (row, picks) in enumerate(zip(rows, all_picks, strict=True)):
            cells = [f"@{s:g} dB {c}" for s, c in zip(picks, row[3 : 3 + len(picks)], strict=True)]
            rows[i] = [*row[:3], *cells, *["-"] * (3 - len(picks)), *row[3 + len(picks) :]]
    return markdown_table(
        ["task", "channel", "metric", *snr_heads, "best trivial reference", "lowest cliff"], rows
    )
