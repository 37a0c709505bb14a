"""The U-DeepSC paper's figures from a sweep store: Figs. 7, 8, 10, 12 (and 11 from the
codebook study's CSV).

Normalised performance is the paper's: a scheme's metric divided by the upper bound's
(``upper-bound``: the T-DeepSC with noiselessly delivered features) on the same task and SNR.
Tasks whose upper bound is not positive (e.g. BLEU 0 of an untrained text model) have no
normalised value and are left out of the means (the caption says which).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from semcom_sim.report.common import (
    SNR_LABEL,
    UDEEPSC_TASKS,
    Results,
    conventional_scheme,
    nanmean,
    normalized,
    save_figure,
    strongest_conventional,
    use_agg,
    write_csv,
)
from semcom_sim.sim.plot import METRIC_LABELS
from semcom_sim.sim.styles import draw_curve, scheme_style

LEARNED = ("udeepsc", "tdeepsc", "upper-bound")


def _caption(res: Results, title: str, body: str, channel: str, schemes, tasks) -> str:
    return "\n".join(
        [
            title,
            body,
            f"Data: {res.datasets(tasks, channel)}.",
            f"Channel: {channel}.",
            f"Checkpoints: {', '.join(res.checkpoints(schemes)) or 'none (conventional only)'}.",
            f"Command: {res.command()}; then semcom-sim figures --results {res.root}.",
        ]
    )


def _tasks(res: Results, channel: str) -> list[str]:
    return [t for t in UDEEPSC_TASKS if res.curve("udeepsc", t, channel)]


def draw_references(ax, res: Results, task: str, channel: str, metric: str) -> list[dict]:
    """The task's trivial references (role ``reference``) as grey horizontal lines across the
    panel; returns their rows for the figure's CSV."""
    rows = []
    refs = sorted({r.scheme for r in res.records if r.task == task and r.role == "reference"})
    for i, scheme in enumerate(refs):
        recs = res.curve(scheme, task, channel)
        if not recs:
            continue
        value = sum(r.metrics[metric] for r in recs) / len(recs)  # SNR-independent
        st = scheme_style(scheme, "reference")
        line = ax.axhline(value, color=st.color, ls=st.ls, lw=st.lw, label=f"{scheme} (reference)")
        line.set_gid(f"scheme:{scheme}")
        rows.append(
            {"task": task, "scheme": scheme, "snr_db": math.nan, "metric": metric,
             "value": value, "stderr": recs[0].metrics.get(f"{metric}_stderr", math.nan),
             "mean_symbols": recs[0].mean_symbols, "samples": recs[0].samples}
        )  # fmt: skip
        chance = recs[0].extras.get("chance")
        if chance is not None and i == 0:
            st = scheme_style("chance", "reference")
            line = ax.axhline(chance, color=st.color, ls=st.ls, lw=st.lw, label="chance")
            line.set_gid("scheme:chance")
    return rows


def panel_grid(n: int, ncols: int = 3) -> tuple[int, int]:
    """(rows, columns) of a grid holding ``n`` >= 1 panels, at most ``ncols`` per row."""
    cols = min(ncols, n)
    return math.ceil(n / cols), cols


def outside_legend(fig, axes, first: tuple[str, ...] = LEARNED) -> None:
    """One legend for the whole figure, right of all panels and below the title, of the labels
    of ``axes``: every distinct label once (a scheme has one style in every panel, so one entry
    stands for all of them); labels of ``first`` lead in that order, the trivial references and
    chance come last."""
    seen: dict[str, object] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(lab, h)

    def rank(item: tuple[int, str]) -> tuple[int, int]:
        i, lab = item
        if lab in first:
            return 0, first.index(lab)
        return (2 if lab.endswith("(reference)") or lab == "chance" else 1), i

    labels = [lab for _, lab in sorted(enumerate(seen), key=rank)]
    fig.tight_layout()
    right = max(ax.get_position().x1 for ax in fig.axes)
    top = max(ax.get_position().y1 for ax in fig.axes)
    fig.legend([seen[lab] for lab in labels], labels, loc="upper left", fontsize=8,
               bbox_to_anchor=(right + 0.01, top), borderaxespad=0.0)  # fmt: skip


def fig7_figure(res: Results, channel: str, primary: dict[str, str]):
    """The Fig. 7 figure: one panel per U-DeepSC task stored for ``channel`` (no empty panels).

    Returns:
        (figure, CSV rows, schemes drawn, tasks drawn), or ``None`` when no task was run.
    """
    tasks = _tasks(res, channel)
    if not tasks:
        return None
    plt = use_agg()
    nrows, ncols = panel_grid(len(tasks))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.7 * ncols, 4 * nrows), squeeze=False)
    rows, used = [], set()
    for ax, task in zip(axes.flat, tasks, strict=False):
        metric = primary[task]
        conv = conventional_scheme(task)
        for scheme in (*LEARNED, conv, strongest_conventional(task)):
            recs = res.curve(scheme, task, channel) if scheme else []
            if not recs:
                continue
            used.add(scheme)
            draw_curve(
                ax,
                scheme,
                [r.snr_db for r in recs],
                [r.metrics[metric] for r in recs],
                yerr=[r.metrics.get(f"{metric}_stderr", 0.0) for r in recs],
                label=scheme
                if scheme in LEARNED
                else f"{scheme} ({'conventional' if scheme == conv else 'best codec'})",
            )
            rows += [
                {
                    "task": task,
                    "scheme": scheme,
                    "snr_db": r.snr_db,
                    "metric": metric,
                    "value": r.metrics[metric],
                    "stderr": r.metrics.get(f"{metric}_stderr", math.nan),
                    "mean_symbols": r.mean_symbols,
                    "samples": r.samples,
                }
                for r in recs
            ]
        rows += draw_references(ax, res, task, channel, metric)
        ax.set(xlabel=SNR_LABEL, ylabel=METRIC_LABELS.get(metric, metric), title=task)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tasks) :]:
        fig.delaxes(ax)  # a partly filled last row: no empty panels
    panels = list(axes.flat)[: len(tasks)]
    fig.suptitle(f"Fig. 7 analogue: task performance vs SNR over {channel} (tiny models)")
    outside_legend(fig, panels)
    return fig, rows, used, tasks


def fig7(res: Results, out: Path, channel: str, primary: dict[str, str]) -> list[Path]:
    """Each run task's primary metric vs SNR: learned schemes and the conventional ones."""
    got = fig7_figure(res, channel, primary)
    if got is None:
        return []
    fig, rows, used, tasks = got
    stem = f"fig7_{channel}"
    write_csv(out / f"{stem}.csv", rows)
    body = (
        "Each panel: the task's primary metric (error bars: one standard error over the test "
        "examples) vs SNR for U-DeepSC, T-DeepSC, the upper bound (T-DeepSC, features delivered "
        "noiselessly) and the papers' conventional scheme (JPEG/H.264 + LDPC 1/2 QPSK, UTF-8 + "
        "Turbo 1/2 QPSK; decision tasks classify the rebuilt data with the noiseless T-DeepSC) "
        "and, on image tasks, the strongest separate-coding reference best-image-envelope (per "
        "SNR the best of JPEG/HEIF/AVIF/WebP x quality x LDPC MCS, each image within the "
        "symbols jpeg-ldpc spends on it). Grey dashed/dotted horizontal lines: the trivial "
        "references (majority class and chance, VQA's question-only prior, the mean image, "
        "each image's and each 8x8 block's mean colour; no channel), so a reader sees "
        "whether a learned model learnt anything."
    )
    cap = _caption(res, "Fig. 7 analogue (paper 000, Fig. 7).", body, channel, used, tasks)
    return save_figure(fig, out, stem, cap)


def _norm_rows(res: Results, channel: str, primary: dict[str, str], schemes) -> list[dict]:
    rows = []
    for task in _tasks(res, channel):
        metric = primary[task]
        for scheme in schemes:
            for r in res.curve(scheme, task, channel):
                ub = res.point("upper-bound", task, channel, r.snr_db)
                norm = normalized(r.metrics[metric], ub.metrics[metric] if ub else None)
                rows.append(
                    {
                        "task": task,
                        "scheme": scheme,
                        "snr_db": r.snr_db,
                        "metric": metric,
                        "value": r.metrics[metric],
                        "upper_bound": ub.metrics[metric] if ub else math.nan,
                        "normalized": norm,
                        "normalized_loss": 1.0 - norm if not math.isnan(norm) else math.nan,
                        "mean_symbols": r.mean_symbols,
                        "exit_layer": r.extras.get("exit_layer", math.nan),
                        "certainty": r.extras.get("certainty", math.nan),
                    }
                )
    return rows


def _excluded(rows: list[dict]) -> str:
    bad = sorted({r["task"] for r in rows if math.isnan(r["normalized"])})
    return f" Left out of the means (upper bound not positive): {', '.join(bad)}." if bad else ""


def fig12(res: Results, out: Path, channel: str, primary: dict[str, str]) -> list[Path]:
    """Normalised performance loss and mean transmitted symbols vs SNR, U- vs T-DeepSC."""
    schemes = [s for s in ("udeepsc", "tdeepsc") if res.has(s)]
    if not schemes or not res.has("upper-bound"):
        return []
    rows = _norm_rows(res, channel, primary, schemes)
    plt = use_agg()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.6))
    summary = []
    for s in schemes:
        snrs = sorted({r["snr_db"] for r in rows if r["scheme"] == s})
        at = {x: [r for r in rows if (r["scheme"], r["snr_db"]) == (s, x)] for x in snrs}
        loss = [nanmean([r["normalized_loss"] for r in at[x]]) for x in snrs]
        syms = [nanmean([r["mean_symbols"] for r in at[x]]) for x in snrs]
        draw_curve(a1, s, snrs, loss)
        draw_curve(a2, s, snrs, syms)
        summary += [
            {"task": "mean", "scheme": s, "snr_db": x, "normalized_loss": v, "mean_symbols": n}
            for x, v, n in zip(snrs, loss, syms, strict=True)
        ]
    a1.set(xlabel=SNR_LABEL, ylabel="normalised performance loss (1 - metric / upper bound)")
    a2.set(xlabel=SNR_LABEL, ylabel="mean transmitted complex symbols per example")
    for a in (a1, a2):
        a.grid(alpha=0.3)
    a1.axhline(0.0, color="grey", lw=0.8)
    fig.suptitle(f"Fig. 12 analogue over {channel}: means over the six tasks (tiny models)")
    outside_legend(fig, (a1,))
    stem = f"fig12_{channel}"
    write_csv(out / f"{stem}.csv", rows + summary)
    body = (
        "Left: mean over tasks of 1 - metric / upper-bound metric at the same SNR (negative: "
        "above the upper bound, within noise). Right: mean over tasks of the complex symbols "
        "sent per example (dynamic channel encoder: the kept features depend on the SNR)."
        + _excluded(rows)
    )
    tasks = _tasks(res, channel)
    cap = _caption(res, "Fig. 12 analogue (paper 000, Fig. 12).", body, channel, schemes, tasks)
    return save_figure(fig, out, stem, cap)


def _layer_schemes(res: Results) -> list[tuple[int, str]]:
    out = []
    for s in sorted({r.scheme for r in res.records}):
        if s.startswith("udeepsc-layer") and s[len("udeepsc-layer") :].isdigit():
            out.append((int(s[len("udeepsc-layer") :]), s))
    return sorted(out)


def fig8(res: Results, out: Path, channel: str, primary, snr_db: float) -> list[Path]:
    """Per decoder layer: predicted certainty and normalised performance (all exit there)."""
    layers = _layer_schemes(res)
    if not layers or not res.has("upper-bound"):
        return []
    schemes = [s for _, s in layers]
    rows = [r for r in _norm_rows(res, channel, primary, schemes) if r["snr_db"] == snr_db]
    for r in rows:
        r["layer"] = int(r["scheme"][len("udeepsc-layer") :])
    plt = use_agg()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.6))
    for i, task in enumerate(t for t in UDEEPSC_TASKS if any(r["task"] == t for r in rows)):
        mine = sorted((r for r in rows if r["task"] == task), key=lambda r: r["layer"])
        x = [r["layer"] for r in mine]
        a1.plot(x, [r["certainty"] for r in mine], marker="o", color=f"C{i}", label=task)
        a2.plot(x, [r["normalized"] for r in mine], marker="o", color=f"C{i}", label=task)
    a1.set(xlabel="decoder layer (all examples exit here)", ylabel="mean predicted certainty")
    a2.set(xlabel="decoder layer (all examples exit here)", ylabel="normalised performance")
    for a in (a1, a2):
        a.set_xticks([n for n, _ in layers])
        a.grid(alpha=0.3)
    fig.suptitle(f"Fig. 8 analogue: U-DeepSC per decoder layer at {snr_db:g} dB over {channel}")
    outside_legend(fig, (a1,))
    stem = f"fig8_{channel}"
    write_csv(out / f"{stem}.csv", rows)
    body = (
        f"(a) Mean certainty predicted by each task's learnable certainty module at each decoder "
        f"layer; (b) metric when every example exits at that layer, divided by the upper bound's "
        f"(both at {snr_db:g} dB; schemes udeepsc-layer<l>)." + _excluded(rows)
    )
    tasks = sorted({r["task"] for r in rows})
    cap = _caption(res, "Fig. 8 analogue (paper 000, Fig. 8).", body, channel, schemes, tasks)
    return save_figure(fig, out, stem, cap)


def fig10(res: Results, out: Path, channel: str, primary, snr_db: float) -> list[Path]:
    """Normalised performance vs mean executed layers: exit thresholds vs a fixed exit layer."""
    layers = _layer_schemes(res)
    dyn = sorted(
        {r.scheme for r in res.records if r.scheme.startswith("udeepsc-exit")} | {"udeepsc"}
    )
    if not layers or not res.has("upper-bound"):
        return []
    schemes = [s for _, s in layers] + dyn
    rows = [r for r in _norm_rows(res, channel, primary, schemes) if r["snr_db"] == snr_db]
    points = []
    for s in schemes:
        mine = [r for r in rows if r["scheme"] == s]
        if mine:
            points.append(
                {
                    "scheme": s,
                    "kind": "fixed layer" if s.startswith("udeepsc-layer") else "U-DeepSC",
                    "snr_db": snr_db,
                    "mean_layers": nanmean([r["exit_layer"] for r in mine]),
                    "mean_normalized": nanmean([r["normalized"] for r in mine]),
                }
            )
    plt = use_agg()
    fig, ax = plt.subplots(figsize=(6.5, 4.6))
    for kind, style in (("U-DeepSC", "udeepsc"), ("fixed layer", "udeepsc-fixed-layer")):
        pts = sorted((p for p in points if p["kind"] == kind), key=lambda p: p["mean_layers"])
        draw_curve(ax, style, [p["mean_layers"] for p in pts],
                   [p["mean_normalized"] for p in pts], label=kind)  # fmt: skip
    ax.set(
        xlabel="mean number of executed decoder layers",
        ylabel="normalised performance (mean over tasks)",
        title=f"Fig. 10 analogue at {snr_db:g} dB over {channel}",
    )
    ax.grid(alpha=0.3)
    outside_legend(fig, (ax,))
    stem = f"fig10_{channel}"
    write_csv(out / f"{stem}.csv", points + rows)
    body = (
        "U-DeepSC: exit thresholds delta_e (schemes udeepsc-exit<d> and udeepsc at the "
        "checkpoint's delta_e), each point the mean executed layers and mean normalised "
        "performance over tasks; fixed layer: every example exits at layer l (udeepsc-layer<l>). "
        "The paper's U-DeepSC-Fixed / T-DeepSC-Fixed (models trained for one exit) are not "
        "trained here." + _excluded(rows)
    )
    tasks = sorted({r["task"] for r in rows})
    cap = _caption(res, "Fig. 10 analogue (paper 000, Fig. 10).", body, channel, schemes, tasks)
    return save_figure(fig, out, stem, cap)


def fig11(study_csv: Path, out: Path) -> list[Path]:
    """Mean normalised performance vs codebook size per codebook design (codebook study CSV)."""
    from semcom_sim.errors import DataError

    try:
        with open(study_csv, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r.get("task") == "mean"]
        pts = [(r["method"], int(r["codebook_size"]), float(r["normalized"])) for r in rows]
        # std over seeds (studies with --seeds); absent or empty: no error bar
        err = {(r["method"], int(r["codebook_size"])): float(r.get("normalized_std") or 0.0)
               for r in rows}  # fmt: skip
    except (OSError, KeyError, ValueError) as e:
        raise DataError(
            f"{study_csv}: not a codebook study CSV (columns method, codebook_size, task, "
            f"normalized; rows with task=mean) ({e})"
        ) from None
    if not pts:
        raise DataError(f"{study_csv}: no rows with task=mean")
    plt = use_agg()
    fig, ax = plt.subplots(figsize=(6.5, 4.6))
    for i, method in enumerate(dict.fromkeys(m for m, _, _ in pts)):
        mine = sorted((k, v) for m, k, v in pts if m == method)
        ks = [k for k, _ in mine]
        ax.errorbar(ks, [v for _, v in mine], yerr=[err[(method, k)] for k in ks], marker="o",
                    color=f"C{i}", capsize=3, label=method)  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set(
        xlabel="total codebook size K (entries of all sub-codebooks, eq. 10)",
        ylabel="normalised performance (mean over tasks)",
        title="Fig. 11 analogue: codebook designs",
    )
    ax.grid(alpha=0.3)
    outside_legend(fig, (ax,))
    readme = study_csv.parent / "README.md"
    body = (
        "Mean over tasks of each run's metric divided by the best value of that task over all "
        f"runs (see {readme}); with several seeds the mean over seeds, bars +- one standard "
        "deviation. K is the total size of all of a method's sub-codebooks (each K / books "
        "entries), so at one K the methods send different bits per index (log2 of their book "
        "size; column bits_per_index of the CSV). Joint: one codebook for every task; +DA: with "
        "the domain-adaptation loss (eq. 13); Sep-M: one per modality; Sep-T: one per task; "
        "U-DeepSC: one per modality + DA."
    )
    cap = "\n".join(
        [
            "Fig. 11 analogue (paper 000, Fig. 11).",
            body,
            f"Data and command: {study_csv.parent / 'config.json'}.",
            f"Command: semcom-sim figures --codebook-study {study_csv}.",
        ]
    )
    return save_figure(fig, out, "fig11", cap)
