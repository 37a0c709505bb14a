"""``semcom-sim figures``: every paper figure the stored results allow, PNG + PDF + caption.

Per channel in the store: Fig. 7, Fig. 12, Fig. 8, Fig. 10 (U-DeepSC), the cliff-effect figure
of every task with an envelope or capacity bound, and FFMNet's Fig. 5; Fig. 11 from a codebook
study's CSV when one is given. A figure whose schemes are not in the store is skipped and
listed as such (never drawn empty).
"""

from __future__ import annotations

from pathlib import Path

from semcom_sim.report.common import (
    UDEEPSC_TASKS,
    Results,
    primary_metrics,
    save_figure,
    write_csv,
)
from semcom_sim.report.udeepsc_figs import fig7, fig8, fig10, fig11, fig12

FIG5_SCHEMES = (
    "ffmnet-uncompressed",
    "ffmnet-jscc-512x-ref",
    "ffmnet-jscc-512x-snr0",
    "ffmnet-jscc-512x-snr5",
    "ffmnet-jscc-512x-snr10",
    "ffmnet-jpeg-ldpc",
)
CLIFF_LEARNED = ("udeepsc", "tdeepsc", "ffmnet-jscc-512x-snr5")


def cliff_figures(res: Results, out: Path, channel: str, primary) -> list[Path]:
    """Each conventional family's MCS staircase, envelope and capacity bound vs the learned
    schemes, crossovers marked (:func:`semcom_sim.sim.cliff.plot_cliff`), plus ``cliff.json``."""
    from semcom_sim.sim.cliff import has_cliff_records, plot_cliff

    recs = [r for r in res.records if r.channel == channel]
    if not has_cliff_records(recs):
        return []

    def save(fig, out_dir, stem, task, channel, dataset, crossovers):
        found = [f"{s} falls below {t} at {x:.1f} dB" for (s, t), x in crossovers.items() if x]
        body = (
            f"Cliff effect on {task}: every fixed MCS of the LDPC table (thin dash-dot, "
            "shades of the envelope's colour, darker for more bits per symbol; from the "
            "envelope's stored member curves or the fixed-MCS schemes), the envelope (best MCS "
            "per SNR, thick), the capacity bound (ideal code, dashed) and the learned schemes "
            "(each in its colour of every figure). Dotted vertical lines in a learned scheme's "
            "colour, labelled above the axes: crossover SNR where that learned curve drops below "
            "the envelope as SNR grows" + (f" ({'; '.join(found)})." if found else " (none here).")
        )
        learned = [s for s in CLIFF_LEARNED if res.has(s, task)]
        cap = "\n".join(
            [
                f"Cliff-effect figure, {task} over {channel}.",
                body,
                f"Data: {res.datasets([task], channel)}.",
                f"Channel: {channel}.",
                f"Checkpoints: {', '.join(res.checkpoints(learned)) or 'none'}.",
                f"Command: {res.command()}; then semcom-sim figures --results {res.root}.",
            ]
        )
        return save_figure(fig, out_dir, stem, cap)

    return plot_cliff(recs, out / "cliff", primary, learned=CLIFF_LEARNED, save=save)


def ffmnet_fig5(res: Results, out: Path, channel: str) -> list[Path]:
    from semcom_sim.report.ffmnet import fig5_figure

    recs = [r for r in res.records if r.channel == channel and r.scheme in FIG5_SCHEMES]
    if not recs:
        return []
    title = f"Fig. 5 analogue: FFMNet + deep JSCC vs feature JPEG + LDPC over {channel}"
    fig, rows = fig5_figure(recs, list(FIG5_SCHEMES), title=title)
    stem = f"ffmnet_fig5_{channel}"
    write_csv(out / f"{stem}.csv", rows)
    used = sorted({r.scheme for r in recs})
    cap = "\n".join(
        [
            "Fig. 5 analogue (paper 001, Fig. 5).",
            "mAP@.5, mAP@[.5:.95] and mIoU (%) vs SNR: JSCC 512x trained at 0/5/10 dB, the "
            "uncompressed FFMNet and the noiseless 512x JSCC (dashed references), and the "
            "separate scheme (8-bit D1 + feature JPEG + LDPC 1/2 QPSK, dotted). Legend: complex "
            "symbols per image and test images per point.",
            f"Data: {res.datasets(['detseg'], channel)}.",
            f"Channel: {channel}.",
            f"Checkpoints: {', '.join(res.checkpoints(used)) or 'see the store configs table'}.",
            f"Command: {res.command()}; then semcom-sim figures --results {res.root}.",
        ]
    )
    return save_figure(fig, out, stem, cap)


def ffmnet_table3_figure(res: Results, out: Path, channel: str) -> list[Path]:
    """Table III as a figure: noiseless mAP@.5, mAP and mIoU vs compression ratio."""
    from semcom_sim.models.ffmnet.config import JSCC_SETTINGS
    from semcom_sim.report.common import use_agg
    from semcom_sim.report.ffmnet import METRICS

    base = res.curve("ffmnet-uncompressed", "detseg", channel)
    pts = [
        (int(r[:-1]), res.curve(f"ffmnet-jscc-{r}-ref", "detseg", channel)) for r in JSCC_SETTINGS
    ]
    pts = [(k, recs[-1]) for k, recs in pts if recs]
    if not base or not pts:
        return []
    e2e = res.curve("ffmnet-jscc-512x-step2-ref", "detseg", channel)  # before step 3
    plt = use_agg()
    fig, ax = plt.subplots(figsize=(7, 4.6))
    rows = []
    for i, (key, label) in enumerate(METRICS):
        color = f"C{i}"
        ax.plot([k for k, _ in pts], [100 * r.metrics[key] for _, r in pts], marker="o",
                color=color, label=f"{label} (JSCC, steps 1-3)")  # fmt: skip
        ax.axhline(100 * base[-1].metrics[key], color=color, ls="--", lw=1,
                   label=f"{label} uncompressed")  # fmt: skip
        if e2e:
            ax.plot([512], [100 * e2e[-1].metrics[key]], marker="*", ms=12, ls="", color=color,
                    label=f"{label} 512x after steps 1-2 only")  # fmt: skip
        rows += [{"ratio": k, "scheme": r.scheme, "metric": key, "value": 100 * r.metrics[key]}
                 for k, r in pts]  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set(
        xlabel="compression ratio (reals of D1 / reals sent)",
        ylabel="noiseless metric (%)",
        title=f"FFMNet Table III analogue over {channel} (noiseless)",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    stem = f"ffmnet_table3_{channel}"
    write_csv(out / f"{stem}.csv", rows)
    cap = "\n".join(
        [
            "FFMNet Table III analogue (paper 001, Table III) as a figure.",
            "Noiseless mAP@.5, mAP@[.5:.95] and mIoU (%) of the JSCC trained and tested without "
            "noise (-ref schemes, after steps 1-3) per compression ratio; dashed: the uncompressed "
            "FFMNet; stars: the 512x JSCC before end-to-end training (steps 1-2, -step2-ref).",
            f"Data: {res.datasets(['detseg'], channel)}.",
            f"Channel: {channel} (not used: -ref schemes are noiseless).",
            f"Command: {res.command()}; then semcom-sim figures --results {res.root}.",
        ]
    )
    return save_figure(fig, out, stem, cap)


def make_figures(
    res: Results, out: Path, codebook_study: Path | None = None
) -> tuple[list[Path], list[str]]:
    """Write every figure the results allow; returns (paths, names of skipped figures)."""
    primary = primary_metrics()
    paths: list[Path] = []
    skipped: list[str] = []
    if codebook_study is not None:  # first: a bad study CSV fails before anything is written
        paths += fig11(Path(codebook_study), out)
    else:
        skipped.append("fig11 (no --codebook-study)")
    for channel in res.channels:
        snr_ref = res.reference_snr(channel)
        for name, make, args in (
            ("fig7", fig7, (primary,)),
            ("fig12", fig12, (primary,)),
            ("fig8", fig8, (primary, snr_ref)),
            ("fig10", fig10, (primary, snr_ref)),
            ("cliff", cliff_figures, (primary,)),
            ("ffmnet_fig5", ffmnet_fig5, ()),
            ("ffmnet_table3", ffmnet_table3_figure, ()),
        ):
            got = make(res, out, channel, *args)
            paths += got
            if not got:
                skipped.append(f"{name}_{channel}")
    return paths, skipped


__all__ = ["UDEEPSC_TASKS", "make_figures"]
