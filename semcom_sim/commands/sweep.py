"""``semcom-sim sweep`` and ``semcom-sim plot``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from semcom_sim.errors import SemcomError

DEFAULT_SAMPLES = 64
DEFAULT_BATCH = 64


def _names(text: str, registry, what: str) -> list[str]:
    if text.strip() == "all":
        return registry.names()
    if text.strip() == "default":
        return registry.names(exclude_tag="variant")
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise SemcomError(f"no {what} given")
    return [registry.check(n) for n in names]


def build_channel(args: argparse.Namespace):
    from semcom_sim.channel import CHANNELS

    name = CHANNELS.check(args.channel)
    from semcom_sim.channel.ofdm import ofdm_from_args, reject_ofdm_args

    if name == "ofdm":
        return ofdm_from_args(args)
    reject_ofdm_args(args, name)
    if name == "mimo":
        if args.nt < 1 or args.nr < 1:
            raise SemcomError(f"--nt and --nr must be >= 1 (got {args.nt}, {args.nr})")
        if args.detector not in ("lmmse", "zf"):
            raise SemcomError(f"unknown detector {args.detector!r}; known detectors: lmmse, zf")
        if args.detector == "zf" and args.nr < args.nt:
            raise SemcomError("ZF detection needs --nr >= --nt")
        return CHANNELS.create(name, nt=args.nt, nr=args.nr, detector=args.detector)
    if name == "rayleigh":
        if args.coherence is not None and args.coherence < 1:
            raise SemcomError(f"--coherence must be >= 1 (got {args.coherence})")
        return CHANNELS.create(name, coherence_symbols=args.coherence)
    return CHANNELS.create(name)


def cmd_sweep(args: argparse.Namespace) -> int:
    from semcom_sim.catalog import load_catalog
    from semcom_sim.cli import check_writable_dir
    from semcom_sim.link.mcs import BACKENDS
    from semcom_sim.sim.snr import parse_snr

    snr = parse_snr(args.snr)
    schemes_reg, tasks_reg = load_catalog()
    channel = build_channel(args)
    task_names = _names(args.tasks, tasks_reg, "tasks")
    scheme_names = _names(args.schemes, schemes_reg, "schemes")
    samples = DEFAULT_SAMPLES if args.samples is None else args.samples
    batch = DEFAULT_BATCH if args.batch_size is None else args.batch_size
    if samples < 1:
        raise SemcomError(f"--samples must be >= 1 (got {samples})")
    if batch < 1:
        raise SemcomError(f"--batch-size must be >= 1 (got {batch})")
    if args.decoder not in BACKENDS:
        raise SemcomError(f"unknown decoder backend {args.decoder!r}; known: {', '.join(BACKENDS)}")
    if args.threads is not None and args.threads < 1:
        raise SemcomError(f"--threads must be >= 1 (got {args.threads})")
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        raise SemcomError(f"--data-dir {args.data_dir}: no such directory")
    try:
        device = torch.device(args.device)
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as e:
        raise SemcomError(f"--device {args.device}: {str(e).splitlines()[0]}") from None
    out = check_writable_dir(args.out)
    tasks = [tasks_reg.create(n) for n in task_names]
    schemes = [
        schemes_reg.create(n, device=str(device), decoder=args.decoder) for n in scheme_names
    ]
    pairs = [(s, t) for t in tasks for s in schemes if s.supports(t)]
    if not pairs:
        raise SemcomError(
            f"no scheme among {', '.join(scheme_names)} applies to tasks {', '.join(task_names)}"
        )
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    preloaded = {}
    if args.data_dir is not None:  # real files: fail on a missing/malformed one before writing
        from semcom_sim.sim.engine import point_seed

        for t in {t.name: t for _, t in pairs}.values():
            preloaded[t.name] = t.load(
                samples, point_seed(args.seed, "data", t.name), args.data_dir
            )

    from semcom_sim.sim.engine import SweepConfig, run_sweep
    from semcom_sim.sim.store import ResultStore, write_json

    config = SweepConfig(
        schemes=sorted({s.name for s, _ in pairs}),
        tasks=sorted({t.name for _, t in pairs}),
        channel=channel.config() | {"key": channel.key},
        snr_db=snr,
        samples=samples,
        seed=args.seed,
        batch_size=batch,
        device=str(device),
        data_dir=args.data_dir,
        extra={"decoder": args.decoder, "command": getattr(args, "command_line", None)},
    )
    store = ResultStore(out)
    pbar = None
    if not args.quiet:
        from tqdm import tqdm

        pbar = tqdm(total=len(pairs) * len(snr), desc="sweep", unit="point", file=sys.stderr)
    try:
        counts = run_sweep(config, schemes, tasks, channel, store, pbar=pbar, data=preloaded)
    finally:
        if pbar is not None:
            pbar.close()
    write_json(out / "schemes.json", {s.name: s.config() for s in schemes})
    csv_path = store.export_csv()
    print(f"{counts['done']} points simulated, {counts['skipped']} already stored -> {out}")
    print(f"store: {store.path}\ncsv:   {csv_path}")
    if not args.no_plot:
        paths = _plot(store, out / "plots", {t.name: t.primary_metric for t in tasks})
        print(f"plots: {len(paths)} PNG in {out / 'plots'}")
    store.close()
    if not args.no_plot:  # the papers' figures and tables from what was just stored
        from semcom_sim.report.common import load_results
        from semcom_sim.report.figures import make_figures
        from semcom_sim.report.tables import make_tables

        res = load_results(out)
        figs, _ = make_figures(res, out / "figures")
        tables = make_tables(res, out / "tables", 12.0)
        print(
            f"figures: {len([p for p in figs if p.suffix == '.png'])} in {out / 'figures'}; "
            f"tables: {len(tables) // 2} in {out / 'tables'}"
        )
    return 0


def _plot(store, out_dir: Path, primary: dict[str, str]) -> list[Path]:
    from semcom_sim.sim.plot import plot_records

    return plot_records(store.records(), out_dir, primary)


def cmd_plot(args: argparse.Namespace) -> int:
    from semcom_sim.catalog import load_catalog
    from semcom_sim.sim.store import STORE_NAME, ResultStore

    root = Path(args.results)
    if not (root / STORE_NAME).is_file():
        raise SemcomError(f"--results {root}: no {STORE_NAME} (expected a directory from sweep)")
    _, tasks_reg = load_catalog()
    primary = {n: tasks_reg.create(n).primary_metric for n in tasks_reg.names()}
    store = ResultStore(root)
    paths = _plot(store, Path(args.out) if args.out else root / "plots", primary)
    store.close()
    print(f"{len(paths)} PNG written")
    return 0
