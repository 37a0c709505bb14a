"""``semcom-sim figures`` and ``semcom-sim tables``: paper artefacts from a results directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from semcom_sim.errors import SemcomError


def _out(args: argparse.Namespace, sub: str) -> Path:
    from semcom_sim.options import check_writable_dir

    return check_writable_dir(args.out or Path(args.results) / sub)


def cmd_figures(args: argparse.Namespace) -> int:
    from semcom_sim.report.common import load_results
    from semcom_sim.report.figures import make_figures

    res = load_results(args.results)
    study = Path(args.codebook_study) if args.codebook_study else None
    if study is not None and not study.is_file():
        raise SemcomError(f"--codebook-study {study}: no such file (expected codebook_study.csv)")
    out = _out(args, "figures")
    paths, skipped = make_figures(res, out, study)
    n = len([p for p in paths if p.suffix == ".png"])
    print(f"{n} figures (PNG + PDF + caption) -> {out}")
    if skipped:
        print(f"not drawn (their schemes are not in the store): {', '.join(skipped)}")
    return 0


def cmd_tables(args: argparse.Namespace) -> int:
    from semcom_sim.options import check_float
    from semcom_sim.report.common import load_results
    from semcom_sim.report.tables import make_tables

    check_float(args.snr_db, "--snr-db", -100.0, 200.0)
    res = load_results(args.results)
    out = _out(args, "tables")
    paths = make_tables(res, out, args.snr_db)
    print(f"{len(paths) // 2} tables (Markdown + CSV) -> {out}")
    return 0


def add_parsers(sub) -> None:
    f = sub.add_parser("figures", help="the papers' figures from a results directory")
    f.add_argument("--results", required=True, help="a directory written by sweep")
    f.add_argument("--out", default=None, help="figure directory (default: RESULTS/figures)")
    f.add_argument("--codebook-study", default=None, help="codebook_study.csv of the Fig. 11 study")
    t = sub.add_parser("tables", help="the papers' tables from a results directory")
    t.add_argument("--results", required=True, help="a directory written by sweep")
    t.add_argument("--out", default=None, help="table directory (default: RESULTS/tables)")
    t.add_argument("--snr-db", type=float, default=12.0, help="SNR of the per-SNR tables (Table I)")
