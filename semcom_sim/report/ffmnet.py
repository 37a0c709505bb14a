"""Tables and figures of the FFMNet results (Table III, Fig. 5, the separate scheme's ratio).

Everything is read from sweep result directories (``semcom-sim sweep ... --out DIR``), except the
JPEG quality scan, which runs the feature codec without a channel (an error-free link delivers
exactly the codec's output, so its task performance is the separate scheme's at high SNR):

    semcom-sim study ffmnet-report params --out results/ffmnet
    semcom-sim study ffmnet-report table3 --sweep results/ffmnet/table3 --out results/ffmnet
    semcom-sim study ffmnet-report l1 --samples 500 --out results/ffmnet
    semcom-sim study ffmnet-report quality --samples 100 --out results/ffmnet
    semcom-sim study ffmnet-report fig5 --sweep DIR [--sweep DIR2] --out ...

Compression ratio of a scheme = real values of D1 / real values sent = ``C H W / (2 n)`` for
``n`` complex symbols per example, so learned and separate schemes are compared in channel uses.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import torch

from semcom_sim.fileio import atomic_write, dict_table, write_csv
from semcom_sim.models.ffmnet.config import JSCC_SETTINGS, ffmnet_preset, jscc_preset
from semcom_sim.models.ffmnet.jscc import FeatureJSCC
from semcom_sim.models.ffmnet.model import FFMNet, count_parameters, parameter_breakdown
from semcom_sim.options import ArgParser

METRICS = (("map50", "mAP@.5"), ("map", "mAP@[.5:.95]"), ("miou", "mIoU"))


def _records(dirs: list[str]):
    from semcom_sim.sim.store import ResultStore

    out = []
    for d in dirs:
        store = ResultStore.open_read(Path(d))
        out += [r for r in store.records() if r.task == "detseg"]
        store.close()
    return out


def _write_table(rows: list[dict], out: Path, stem: str, title: str) -> None:
    write_csv(out / f"{stem}.csv", rows, fmt=None)

    def fmt(v) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    with atomic_write(out / f"{stem}.md") as f:
        f.write("\n".join([f"# {title}", "", *dict_table(rows, fmt)]) + "\n")


def params(out: Path) -> list[dict]:
    """FFMNet and JSCC parameter counts per preset."""
    rows = []
    for preset, classes in (("tiny", 6), ("paper", 117)):
        cfg = ffmnet_preset(preset, num_classes=classes)
        row = {"preset": preset, "num_classes": classes, **parameter_breakdown(FFMNet(cfg))}
        for ratio in JSCC_SETTINGS:
            jscc = FeatureJSCC(jscc_preset(ratio, cfg.d_channels))
            row[f"jscc_{ratio}"] = count_parameters(jscc)
        rows.append(row)
    _write_table(rows, out, "params", "Parameters per preset (FFMNet parts and the JSCC)")
    return rows


def table3(sweep: list[str], out: Path) -> list[dict]:
    """Noiseless metrics of ``ffmnet-uncompressed``, ``ffmnet-jscc-<ratio>-step2-ref`` (steps
    1-2) and ``ffmnet-jscc-<ratio>-ref`` (steps 1-3, the paper's Table III models);
    ``training_steps`` lists the steps of Sec. II-D behind each row."""
    recs = {r.scheme: r for r in _records(sweep)}
    base = recs["ffmnet-uncompressed"]
    rows = []
    names = [("ffmnet-uncompressed", "-", "1")]
    for r in JSCC_SETTINGS:
        names += [(f"ffmnet-jscc-{r}-step2-ref", r, "1, 2"), (f"ffmnet-jscc-{r}-ref", r, "1, 2, 3")]

    for name, ratio, steps in names:
        if name not in recs:
            continue
        r = recs[name]
        stride, div = JSCC_SETTINGS.get(ratio, (1, 1))
        row = {
            "feature_size": "(H,W,C)" if ratio == "-" else f"(H/{stride},W/{stride},C/{div})",
            "compression_ratio": ratio,
            "training_steps": steps,
            "symbols_per_image": r.mean_symbols,
            "samples": r.samples,
        }
        for key, _ in METRICS:
            row[key] = 100 * r.metrics[key]
            row[f"delta_{key}"] = 100 * (r.metrics[key] - base.metrics[key])
        rows.append(row)
    title = f"Table III analogue: noiseless metrics (%) on {base.dataset}"
    _write_table(rows, out, "table3", title)
    return rows


def quality_scan(samples: int, seed: int, qualities: list[int], out: Path) -> list[dict]:
    """Feature-JPEG at each quality without a channel: metrics, bytes, symbols and ratio.

    Uses the ``detseg`` back end of ``FEATURE_SPLITS`` (FFMNet's halves) and the symbol count of
    the feature-jpeg family's paper link (LDPC R=1/2 QPSK), as the ``ffmnet-jpeg-*`` schemes."""
    from semcom_sim.baselines.codecs import FeatureJPEGCodec
    from semcom_sim.baselines.families import PAPER_LDPC
    from semcom_sim.link.digital import DigitalLink
    from semcom_sim.models.ffmnet.schemes import feature_split
    from semcom_sim.models.ffmnet.task import DetSegTask
    from semcom_sim.sim.engine import point_seed

    task = DetSegTask()
    data = task.load(samples, point_seed(seed, "data", task.name))
    mobile, edge = feature_split()
    link = DigitalLink(PAPER_LDPC)
    reals = None
    rows = []
    for q in qualities:
        codec = FeatureJPEGCodec(q)
        acc, sizes = task.new_accumulator(), []
        for batch in data.batches(50):
            with torch.no_grad():
                d1 = mobile(batch.fields["image"])
                payloads = codec.encode(d1)
                acc.update(edge(codec.decode(payloads, like=d1).data), batch)
            reals = d1[0].numel()
            sizes += [len(p) for p in payloads]
        symbols = [link.num_symbols(s) for s in sizes]
        mean_sym = sum(symbols) / len(symbols)
        m = acc.compute()
        rows.append(
            {
                "quality": q,
                "payload_bytes": sum(sizes) / len(sizes),
                "symbols_per_image": mean_sym,
                "compression_ratio": reals / (2 * mean_sym),
                **{k: 100 * m[k] for k, _ in METRICS},
                "samples": len(data),
            }
        )
    _write_table(rows, out, "jpeg_quality", "Feature JPEG + LDPC R=1/2 QPSK, error-free link (%)")
    return rows


def l1_table(samples: int, seed: int, out: Path) -> list[dict]:
    """Per shipped noiseless JSCC (after step 2, after step 3): mean |D1 - D1_hat| on ``samples``
    test scenes without noise, beside the trivial predictors D1_hat = 0 and D1_hat = the
    training per-channel mean, raw and in units of each channel's training std (the step-2 loss
    term). After step 3 D1 is the fine-tuned FFMNet's own."""
    from semcom_sim.models.ffmnet.jscc import l1_references, l1_terms
    from semcom_sim.models.ffmnet.pretrained import load_split_model
    from semcom_sim.models.ffmnet.schemes import JSCC_VARIANTS, _base, checkpoint_dir
    from semcom_sim.models.ffmnet.task import DetSegTask
    from semcom_sim.sim.engine import point_seed

    task = DetSegTask()
    data = task.load(samples, point_seed(seed, "data", task.name))
    rows = []
    for (ratio, train), folder in JSCC_VARIANTS.items():
        if train not in ("noiseless", "step2"):
            continue
        model = load_split_model(checkpoint_dir() / folder, _base())
        sums: dict[str, float] = {}
        for batch in data.batches(50):
            with torch.no_grad():
                d1 = model.ffmnet.extract(batch.fields["image"])
                d1_hat = model.jscc(d1)["d1_hat"]
                terms = {k: float(v) for k, v in l1_terms(model.jscc, d1, d1_hat).items()}
                terms |= l1_references(model.jscc, d1)
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v * len(batch)
        m = {k: v / len(data) for k, v in sums.items()}
        rows.append(
            {
                "ratio": ratio,
                "training_steps": "1, 2" if train == "step2" else "1, 2, 3",
                "l1": m["l1"],
                "l1_zero": m["l1_zero"],
                "l1_mean": m["l1_mean"],
                "l1_over_mean": m["l1"] / m["l1_mean"],
                "l1_std": m["l1_std"],
                "l1_std_zero": m["l1_std_zero"],
                "l1_std_mean": m["l1_std_mean"],
                "samples": len(data),
            }
        )
    title = (
        "JSCC reconstruction of D1 (noiseless): L1 vs the zero and per-channel-mean predictors"
    )
    _write_table(rows, out, "l1", title)
    return rows


def separate_ratio(sweep: list[str], quality_csv: Path, references: list[str], out: Path):
    """Largest compression ratio of the feature-JPEG scheme (error-free link) whose mAP@.5 and
    mIoU both reach those of each reference scheme at its highest swept SNR."""
    with open(quality_csv, newline="") as f:
        scan = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    reals = round(scan[0]["compression_ratio"] * 2 * scan[0]["symbols_per_image"])  # C H W
    recs = _records(sweep)
    rows = []
    for name in references:
        mine = [r for r in recs if r.scheme == name]
        if not mine:
            continue
        top = max(mine, key=lambda r: r.snr_db)
        ref = {k: 100 * top.metrics[k] for k in ("map50", "miou")}
        ok = [q for q in scan if q["map50"] >= ref["map50"] and q["miou"] >= ref["miou"]]
        best = max(ok, key=lambda q: q["compression_ratio"]) if ok else None
        rows.append(
            {
                "reference": name,
                "reference_snr_db": top.snr_db,
                "reference_ratio": reals / (2 * top.mean_symbols),
                "reference_map50": ref["map50"],
                "reference_miou": ref["miou"],
                "jpeg_quality": int(best["quality"]) if best else "none",
                "jpeg_ratio": best["compression_ratio"] if best else float("nan"),
                "jpeg_map50": best["map50"] if best else float("nan"),
                "jpeg_miou": best["miou"] if best else float("nan"),
            }
        )
    title = "Separate scheme (feature JPEG + LDPC R=1/2 QPSK): largest ratio at comparable metrics"
    _write_table(rows, out, "separate_ratio", title)
    return rows


def fig5(sweep: list[str], out: Path, schemes: list[str] | None = None) -> Path:
    """mAP@.5, mAP and mIoU vs SNR for the given schemes (default: every detseg scheme)."""
    import matplotlib.pyplot as plt

    fig, rows = fig5_figure(_records(sweep), schemes)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "fig5.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    keys = ["scheme", "snr_db", "symbols", "samples", "map50", "map", "miou", "payload_ok"]
    write_csv(out / "fig5.csv", rows, keys, fmt=None)
    return path


def fig5_figure(records, schemes: list[str] | None = None, title: str | None = None):
    """The Fig. 5 figure and its rows from detseg ``records`` (one channel)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by: dict[str, list] = {}
    for r in records:
        if r.task == "detseg" and (schemes is None or r.scheme in schemes):
            by.setdefault(r.scheme, []).append(r)
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.6))
    for name in sorted(by):
        recs = sorted(by[name], key=lambda r: r.snr_db)
        flat = recs[0].role == "bound"  # noiseless references
        sep = recs[0].role == "conventional"
        n = int(round(recs[0].mean_symbols))
        label = f"{name} ({n} sym, {recs[0].samples} img)"
        for ax, (key, name_) in zip(axes, METRICS, strict=True):
            ax.plot(
                [r.snr_db for r in recs],
                [100 * r.metrics[key] for r in recs],
                "--" if flat else (":" if sep else "-"),
                marker="" if flat else "o",
                ms=3,
                label=label,
            )
            ax.set(xlabel="SNR [dB] (Es/N0 per complex symbol)", ylabel=f"{name_} (%)")
            ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)
    fig.suptitle(title or "FFMNet + deep JSCC vs feature JPEG + LDPC over AWGN (embedded-detseg)")
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    rows = [
        {"scheme": r.scheme, "snr_db": r.snr_db, "symbols": r.mean_symbols, "samples": r.samples}
        | {k: 100 * r.metrics[k] for k, _ in METRICS}
        | {k: v for k, v in r.extras.items() if k == "payload_ok"}
        for name in sorted(by)
        for r in sorted(by[name], key=lambda r: r.snr_db)
    ]
    return fig, rows


def main(argv: list[str] | None = None) -> int:
    p = ArgParser(prog="semcom-sim study ffmnet-report", description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["params", "table3", "l1", "quality", "fig5", "separate"])
    p.add_argument("--references", default="ffmnet-jscc-512x-snr5,ffmnet-jscc-512x-ref")
    p.add_argument("--sweep", action="append", default=[], help="sweep result directory")
    p.add_argument("--schemes", default=None, help="comma list for fig5 (default: all)")
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--qualities", default="5,10,20,30,40,50,60,70,80,90,95")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    out = Path(a.out)
    if a.what == "params":
        res = params(out)
    elif a.what == "table3":
        res = table3(a.sweep, out)
    elif a.what == "l1":
        res = l1_table(a.samples, a.seed, out)
    elif a.what == "quality":
        res = quality_scan(a.samples, a.seed, [int(q) for q in a.qualities.split(",")], out)
    elif a.what == "separate":
        refs = a.references.split(",")
        res = separate_ratio(a.sweep, out / "jpeg_quality.csv", refs, out)
    else:
        res = str(fig5(a.sweep, out, a.schemes.split(",") if a.schemes else None))
    json.dump(res, sys.stdout, indent=1, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
