"""Cliff-effect tooling, computed from stored records only.

- :func:`cliff_snr`: where a separate scheme's metric falls below ``fraction`` (default 0.9) of
  its noiseless value (by default its value at the highest stored SNR), by linear interpolation
  between the two stored points around the crossing; scanning down from the highest SNR, the
  first crossing counts.
- :func:`crossover_snr`: where a learned curve drops below a separate one as SNR grows, i.e. the
  first SNR where ``learned - separate`` changes sign from >= 0 to < 0 (linear interpolation of
  both curves on the union of their SNR points, within the SNR range both cover).
- :func:`plot_cliff`: one cliff-effect figure per (task, channel): every fixed-MCS curve (thin:
  the staircase), the envelope (thick), the capacity bound (dashed), learned schemes, the
  crossover of each learned scheme with the envelope (or each separate scheme when there is no
  envelope) marked and labelled above the axes (labels never overlap), and
  :func:`cliff_summary` of the same numbers in ``cliff.json``. Envelopes over codecs too
  (member labels ``<codec>/<mcs>``, e.g. ``best-image-all-envelope``) are drawn without their
  member curves. Every curve has its scheme's style (:mod:`semcom_sim.sim.styles`).

Each curve's part in the figure comes from the role stored with its points
(:attr:`semcom_sim.sim.scheme.Scheme.role`), never from its name: a ``bound`` that reports
``payload_ok`` is the capacity bound, a ``conventional`` scheme that reports ``mcs_index`` is an
envelope, any other ``conventional`` scheme a separate scheme, ``reference`` a trivial
reference, and ``learned`` schemes (and noiseless upper bounds) are drawn as learned curves.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from semcom_sim.sim.labels import METRIC_LABELS
from semcom_sim.sim.store import Record, write_json
from semcom_sim.sim.styles import draw_curve, mcs_efficiency, mcs_style, scheme_style

DEFAULT_FRACTION = 0.9
SNR_LABEL = "SNR [dB] (Es/N0 per complex symbol)"


def scheme_role(rec: Record) -> str:
    """ "capacity", "envelope", "separate", "reference" or "learned" of a stored point (see the
    module docstring)."""
    if rec.role == "bound" and "payload_ok" in rec.extras:
        return "capacity"
    if rec.role == "conventional":
        return "envelope" if "mcs_index" in rec.extras else "separate"
    if rec.role == "reference":
        return "reference"
    return "learned"


def curve(
    records: Sequence[Record],
    scheme: str,
    task: str,
    channel: str | None = None,
    metric: str | None = None,
) -> tuple[list[float], list[float]]:
    """SNR points (ascending) and metric values of one scheme on one task (and channel)."""
    recs = [
        r
        for r in records
        if r.scheme == scheme and r.task == task and (channel is None or r.channel == channel)
    ]
    if not recs:
        return [], []
    if channel is None and len({r.channel for r in recs}) > 1:
        raise ValueError(f"{scheme}/{task}: records of several channels; give channel=")
    metric = metric or _default_metric(recs)
    recs = sorted(recs, key=lambda r: r.snr_db)
    return [r.snr_db for r in recs], [r.metrics.get(metric, math.nan) for r in recs]


def _default_metric(recs: Sequence[Record]) -> str:
    return sorted(m for m in recs[0].metrics if not m.endswith("_stderr"))[0]


def _interp_x(x0: float, y0: float, x1: float, y1: float, y: float) -> float:
    """x where the segment (x0, y0)-(x1, y1) takes the value y."""
    if y1 == y0:
        return x0
    return x0 + (y - y0) * (x1 - x0) / (y1 - y0)


def cliff_snr(
    snr_db: Sequence[float],
    values: Sequence[float],
    fraction: float = DEFAULT_FRACTION,
    reference: float | None = None,
) -> float | None:
    """The SNR [dB] below which the metric falls under ``fraction * reference``.

    Args:
        snr_db, values: a curve (any order). reference: the noiseless value (default: the value
            at the highest SNR). fraction: of the reference (0.9 = a 10 % loss).
    Returns:
        the interpolated SNR, or ``None`` when no stored point is below the threshold (the
        cliff lies below the grid).
    """
    pts = sorted((s, v) for s, v in zip(snr_db, values, strict=True) if not math.isnan(v))
    if not pts:
        return None
    ref = pts[-1][1] if reference is None else reference
    thr = fraction * ref
    if pts[-1][1] < thr:
        return pts[-1][0]  # below the threshold even at the highest point (reference given)
    for (s0, v0), (s1, v1) in zip(pts[-2::-1], pts[:0:-1], strict=True):
        if v1 >= thr > v0:
            return _interp_x(s0, v0, s1, v1, thr)
    return None


def _interp_y(pts: list[tuple[float, float]], x: float) -> float:
    for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return math.nan


def crossover_snr(
    snr_a: Sequence[float],
    values_a: Sequence[float],
    snr_b: Sequence[float],
    values_b: Sequence[float],
) -> float | None:
    """First SNR where curve ``a`` (learned) drops below curve ``b`` (separate) as SNR grows.

    Both curves are interpolated linearly on the union of their SNR points inside the range both
    cover. Returns ``None`` when ``a`` is never above-then-below ``b`` there.
    """
    a = sorted((s, v) for s, v in zip(snr_a, values_a, strict=True) if not math.isnan(v))
    b = sorted((s, v) for s, v in zip(snr_b, values_b, strict=True) if not math.isnan(v))
    if len(a) < 1 or len(b) < 1:
        return None
    lo, hi = max(a[0][0], b[0][0]), min(a[-1][0], b[-1][0])
    xs = sorted({s for s, _ in a + b if lo <= s <= hi})
    diffs = [(x, _interp_y(a, x) - _interp_y(b, x)) for x in xs]
    for (x0, d0), (x1, d1) in zip(diffs, diffs[1:], strict=False):
        if d0 >= 0 > d1:
            return _interp_x(x0, d0, x1, d1, 0.0)
    return None


def cliff_summary(
    records: Sequence[Record],
    primary: dict[str, str] | None = None,
    fraction: float = DEFAULT_FRACTION,
) -> list[dict]:
    """Per (task, channel, dataset, scheme): role, metric, reference, cliff SNR and crossovers.

    ``reference`` is each scheme's value at its highest stored SNR. For learned schemes,
    ``crossover_db`` maps each separate scheme (envelope included) to the crossover SNR.
    """
    primary = primary or {}
    out = []
    for (task, channel, dataset), by_scheme in sorted(_groups(records).items()):
        metric = primary.get(task) or _default_metric(next(iter(by_scheme.values())))
        curves = {s: curve(recs, s, task, channel, metric) for s, recs in by_scheme.items()}
        roles = {s: scheme_role(recs[0]) for s, recs in by_scheme.items()}
        for s in sorted(by_scheme):
            snr, val = curves[s]
            row = {
                "task": task,
                "channel": channel,
                "dataset": dataset,
                "scheme": s,
                "role": roles[s],
                "metric": metric,
                "reference": val[-1],
                "fraction": fraction,
                "cliff_db": (
                    cliff_snr(snr, val, fraction)
                    if roles[s] not in ("learned", "reference")
                    else None
                ),
            }
            if roles[s] == "learned":
                row["crossover_db"] = {
                    o: crossover_snr(snr, val, *curves[o])
                    for o in sorted(by_scheme)
                    if roles[o] in ("separate", "envelope")
                }
            out.append(row)
    return out


def _groups(records: Sequence[Record]) -> dict[tuple, dict[str, list[Record]]]:
    groups: dict[tuple, dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        groups[(r.task, r.channel, r.dataset)][r.scheme].append(r)
    return groups


def has_cliff_records(records: Sequence[Record]) -> bool:
    """Whether any record is an envelope or a capacity bound (the cliff figure is drawn then)."""
    return any(scheme_role(r) in ("envelope", "capacity") for r in records)


def staircase(recs: Sequence[Record], metric: str) -> dict[str, tuple[list, list]]:
    """Member curves stored inside envelope records (extras ``<metric>@<mcs>``): mcs -> curve."""
    out: dict[str, tuple[list, list]] = {}
    for r in sorted(recs, key=lambda r: r.snr_db):
        for k, v in r.extras.items():
            if k.startswith(f"{metric}@"):
                xs, ys = out.setdefault(k.split("@", 1)[1], ([], []))
                xs.append(r.snr_db)
                ys.append(v)
    return out


def _save_png(fig, out_dir: Path, stem: str, **_) -> list[Path]:
    path = out_dir / f"{stem}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return [path]


_ORDER = ("separate", "envelope", "capacity", "learned", "reference")


def _mcs_order(mcs: str) -> tuple[float, str]:
    e = mcs_efficiency(mcs)
    return (e if not math.isnan(e) else math.inf), mcs


def _draw_cliff_curves(ax, by_scheme, roles, curves, metric: str) -> None:
    """The staircase members (thin dash-dot, shades of their envelope's family), then every
    scheme in its own style, references last."""
    for env in sorted(s for s in by_scheme if roles[s] == "envelope"):
        family = env.removesuffix("-envelope")
        members = staircase(by_scheme[env], metric)
        for mcs in sorted(members, key=_mcs_order):
            xs, ys = members[mcs]
            if "/" in mcs.split("-", 1)[0]:  # codec/MCS members of a best-codec envelope
                continue
            st = mcs_style(family, mcs)
            (line,) = ax.plot(xs, ys, alpha=0.75, ms=3, label=f"{family} {mcs} (fixed MCS)",
                              **st.kw())  # fmt: skip
            line.set_gid(f"mcs:{family}:{mcs}")
    for s in sorted(by_scheme, key=lambda s: (_ORDER.index(roles[s]), s)):
        role = by_scheme[s][0].role
        part = "upper bound" if roles[s] == "learned" and role == "bound" else roles[s]
        draw_curve(ax, s, *curves[s], role=role, label=f"{s} ({part})", ms=3)


def place_crossover_labels(fig, ax, labels: Sequence[tuple[float, str, str]], fontsize=7) -> float:
    """Write ``(x, text, colour)`` labels above ``ax`` so that no two overlap.

    Each label is centred over its SNR ``x`` (kept inside the axes' width) in the lowest row
    above the axes where it overlaps no label already placed, measured with the renderer's text
    extents; the axes' horizontal layout must be final. The texts get ``gid="crossover-label"``.
    Returns the height of the rows in points (for the title's pad).
    """
    if not labels:
        return 0.0
    renderer = fig.canvas.get_renderer()
    px_per_pt = fig.dpi / 72.0
    box = ax.get_window_extent(renderer)
    rows: list[list[tuple[float, float]]] = []
    placed = []
    gap_px = 4.0
    row_h = 0.0
    for x, text, colour in sorted(labels):
        t = ax.annotate(text, xy=(x, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 0),
                        textcoords="offset points", ha="center", va="bottom", fontsize=fontsize,
                        color=colour, annotation_clip=False, gid="crossover-label")  # fmt: skip
        ext = t.get_window_extent(renderer)
        w, row_h = ext.width, max(row_h, ext.height)
        cx = ax.transData.transform((x, 0.0))[0]
        lo = min(max(cx - w / 2, box.x0), max(box.x0, box.x1 - w))  # inside the axes' width
        k = next(
            (i for i, row in enumerate(rows)
             if all(lo + w + gap_px <= a or lo >= b + gap_px for a, b in row)),
            len(rows),
        )  # fmt: skip
        if k == len(rows):
            rows.append([])
        rows[k].append((lo, lo + w))
        placed.append((t, lo + w / 2 - cx, k))
    step = row_h + 2.0
    for t, dx, k in placed:
        t.xyann = (dx / px_per_pt, (gap_px + k * step) / px_per_pt)
    return (gap_px + len(rows) * step) / px_per_pt


def plot_cliff(
    records: Sequence[Record],
    out_dir: str | Path,
    primary: dict[str, str] | None = None,
    fraction: float = DEFAULT_FRACTION,
    learned: Sequence[str] | None = None,
    save=None,
) -> list[Path]:
    """Cliff-effect figures ``<task>_<channel>_cliff.png`` for the (task, channel) groups that
    hold an envelope or a capacity bound, plus ``cliff.json`` (:func:`cliff_summary`).

    The MCS staircase is drawn from the member curves each envelope record stores (and from
    any fixed-MCS schemes in the records). ``learned`` restricts which learned schemes
    are drawn (default: all). Every curve has its scheme's style
    (:func:`semcom_sim.sim.styles.scheme_style`); the legend sits right of the axes and the
    crossover labels in rows above them, placed so that no two overlap
    (:func:`place_crossover_labels`). ``save(fig, out_dir, stem, task=, channel=, dataset=,
    crossovers=)`` writes a figure and returns its paths (default: one PNG); the figure is
    closed after it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    primary = primary or {}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for (task, channel, dataset), by_scheme in sorted(_groups(records).items()):
        if not has_cliff_records([r for recs in by_scheme.values() for r in recs]):
            continue
        metric = primary.get(task) or _default_metric(next(iter(by_scheme.values())))
        roles = {s: scheme_role(recs[0]) for s, recs in by_scheme.items()}
        if learned is not None:
            roles = {s: r for s, r in roles.items() if r != "learned" or s in learned}
            by_scheme = {s: v for s, v in by_scheme.items() if s in roles}
        curves = {s: curve(recs, s, task, channel, metric) for s, recs in by_scheme.items()}
        fig, ax = plt.subplots(figsize=(9.5, 4.8))
        _draw_cliff_curves(ax, by_scheme, roles, curves, metric)
        envelopes = [s for s in by_scheme if roles[s] == "envelope"]
        targets = envelopes or [s for s in by_scheme if roles[s] == "separate"]
        crossovers, labels = {}, []
        for s in sorted(s for s in by_scheme if roles[s] == "learned"):
            for t in targets:
                x = crossover_snr(*curves[s], *curves[t])
                crossovers[(s, t)] = x
                if x is not None:
                    colour = scheme_style(s).color
                    ax.axvline(x, color=colour, ls=":", lw=1)
                    labels.append((x, f"{s} < {t} @ {x:.1f} dB", colour))
        ax.set(xlabel=SNR_LABEL, ylabel=METRIC_LABELS.get(metric, metric))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
        fig.tight_layout()
        lane_pt = place_crossover_labels(fig, ax, labels)
        ax.set_title(f"cliff effect: {task} over {channel} ({dataset})", pad=6 + lane_pt)
        paths += (save or _save_png)(
            fig, out_dir, f"{task}_{channel}_cliff", task=task, channel=channel,
            dataset=dataset, crossovers=crossovers
        )  # fmt: skip
        plt.close(fig)
    if paths:
        write_json(out_dir / "cliff.json", cliff_summary(records, primary, fraction))
    return paths
