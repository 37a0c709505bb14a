"""``semcom-sim sweep`` and ``semcom-sim plot``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from semcom_sim.errors import SemcomError
from semcom_sim.options import (
    MAX_BATCH,
    MAX_SAMPLES,
    check_device,
    check_input_dir,
    check_int,
    check_seed,
    check_writable_dir,
)

DEFAULT_SAMPLES = 64
DEFAULT_BATCH = 64
MIMO_FLAGS = ("nt", "nr", "detector")


DEFAULT_OUT = "runs/sweep"


def add_sweep_parser(sub) -> None:
    """The ``sweep`` subcommand's options (``sub``: argparse subparsers)."""
    s = sub.add_parser(
        "sweep",
        help="simulate metric vs SNR for schemes x tasks, store, plot",
        description="Simulate every (scheme, task, SNR) point, store it, draw the figures.",
    )
    s.add_argument("--snr", default="-6:18", help="start:stop[:step] dB (inclusive) or a,b,c")
    s.add_argument(
        "--schemes",
        default="default",
        help="comma list of scheme names; default (all but single-MCS/quality variants) or all",
    )
    s.add_argument("--tasks", default="all", help="comma list of task names, or all")
    s.add_argument("--channel", default="awgn", help="awgn | rayleigh | mimo | ofdm")
    s.add_argument("--nt", type=int, default=None, help="MIMO transmit antennas (mimo: 2)")
    s.add_argument("--nr", type=int, default=None, help="MIMO receive antennas (mimo: 2)")
    s.add_argument("--detector", default=None, help="MIMO detector: lmmse | zf (mimo: lmmse)")
    s.add_argument(
        "--coherence",
        type=int,
        default=None,
        help="fading block length: symbols (rayleigh: 64) or channel uses (mimo: 1)",
    )
    # --- OFDM channel (--channel ofdm; semcom_sim.channel.ofdm, defaults there) ---
    o = s.add_argument_group("OFDM channel (--channel ofdm)")
    o.add_argument("--tdl", default=None, help="3GPP TR 38.901 TDL profile: A|B|C|D|E (default A)")
    o.add_argument("--cdl", default=None, help="3GPP TR 38.901 CDL profile: A|B|C|D|E (SISO)")
    o.add_argument("--ofdm-profile", default=None, help="tdl-x | cdl-x | rayleigh (flat) | awgn")
    o.add_argument("--delay-spread", type=float, default=None, help="RMS delay spread [s]")
    o.add_argument("--speed", type=float, default=None, help="UE speed [m/s] (default 0)")
    o.add_argument("--csi", default=None, help="perfect | ls | lmmse (default ls)")
    o.add_argument("--interpolation", default=None, help="LS: lin | nn | lin_time_avg")
    o.add_argument("--carrier-frequency", type=float, default=None, help="[Hz] (default 3.5e9)")
    o.add_argument("--fft-size", type=int, default=None, help="subcarriers (default 128)")
    o.add_argument("--subcarrier-spacing", type=float, default=None, help="[Hz] (default 30e3)")
    o.add_argument("--cp-length", type=int, default=None, help="cyclic prefix [samples] (9)")
    o.add_argument("--rx-antennas", type=int, default=None, help="receive antennas (SIMO; 1)")
    s.add_argument("--samples", type=int, default=64, help="examples per SNR point")
    s.add_argument("--batch-size", type=int, default=64, help="examples per scheme call")
    s.add_argument("--seed", type=int, default=0, help="seeds every random generator, [0, 2**63)")
    s.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    s.add_argument("--decoder", default="auto", help="FEC decoders: auto | fast | sionna")
    s.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    s.add_argument("--data-dir", default=None, help="real datasets (default: embedded data)")
    s.add_argument("--out", default=DEFAULT_OUT, help="results directory")
    s.add_argument("--no-plot", action="store_true", help="skip the plots at the end")
    s.add_argument("--quiet", action="store_true", help="no progress bar")


def sweep_main(argv: list[str]) -> int:
    """``semcom-sim sweep ARGV`` without the CLI's top level (studies call it)."""
    from semcom_sim.options import ArgParser

    p = ArgParser(prog="semcom-sim")
    add_sweep_parser(p.add_subparsers(dest="command", required=True, parser_class=ArgParser))
    args = p.parse_args(["sweep", *argv])
    args.command_line = "semcom-sim sweep " + " ".join(argv)
    return cmd_sweep(args)


def _names(text: str, registry, what: str) -> list[str]:
    if text.strip() == "all":
        return registry.names()
    if text.strip() == "default":
        return registry.names(exclude_tag="variant")
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise SemcomError(f"no {what} given")
    if len(set(names)) != len(names):
        raise SemcomError(f"--{what} names a {what[:-1]} twice: {text}")
    return [registry.check(n) for n in names]


def build_channel(args: argparse.Namespace):
    """The channel of ``--channel`` and its flags; flags of another channel are an error."""
    from semcom_sim.channel import CHANNELS

    name = CHANNELS.check(args.channel)
    given = [f for f in MIMO_FLAGS if getattr(args, f, None) is not None]
    if name != "mimo" and given:
        flags = ", ".join(f"--{f}" for f in given)
        raise SemcomError(f"{flags} only apply to --channel mimo (got --channel {name})")
    if name == "awgn" and args.coherence is not None:
        raise SemcomError("--coherence applies to --channel rayleigh or mimo, not awgn")
    if name == "ofdm" and args.coherence is not None:
        raise SemcomError("--coherence applies to --channel rayleigh or mimo (OFDM: --speed)")
    from semcom_sim.channel.ofdm import ofdm_from_args, reject_ofdm_args

    if name == "ofdm":
        return ofdm_from_args(args)
    reject_ofdm_args(args, name)
    if name == "mimo":
        nt = 2 if args.nt is None else args.nt
        nr = 2 if args.nr is None else args.nr
        detector = "lmmse" if args.detector is None else args.detector
        check_int(nt, "--nt", 1, 64)
        check_int(nr, "--nr", 1, 64)
        check_int(args.coherence, "--coherence", 1, 10**9)
        if detector not in ("lmmse", "zf"):
            raise SemcomError(f"unknown detector {detector!r}; known detectors: lmmse, zf")
        if detector == "zf" and nr < nt:
            raise SemcomError("ZF detection needs --nr >= --nt")
        return CHANNELS.create(name, nt=nt, nr=nr, detector=detector, coherence_uses=args.coherence)
    if name == "rayleigh":
        check_int(args.coherence, "--coherence", 1, 10**9)
        return CHANNELS.create(name, coherence_symbols=args.coherence)
    return CHANNELS.create(name)


def cmd_sweep(args: argparse.Namespace) -> int:
    from semcom_sim.catalog import load_catalog
    from semcom_sim.link.mcs import BACKENDS
    from semcom_sim.sim.snr import parse_snr

    snr = parse_snr(args.snr)
    check_seed(args.seed)
    samples = DEFAULT_SAMPLES if args.samples is None else args.samples
    batch = DEFAULT_BATCH if args.batch_size is None else args.batch_size
    check_int(samples, "--samples", 1, MAX_SAMPLES)
    check_int(batch, "--batch-size", 1, MAX_BATCH)
    check_int(args.threads, "--threads", 1, 1024)
    if args.decoder not in BACKENDS:
        raise SemcomError(f"unknown decoder backend {args.decoder!r}; known: {', '.join(BACKENDS)}")
    device = check_device(args.device)
    if args.data_dir is not None:
        check_input_dir(args.data_dir, "--data-dir")
    out = check_writable_dir(args.out)
    schemes_reg, tasks_reg = load_catalog()
    channel = build_channel(args)
    task_names = _names(args.tasks, tasks_reg, "tasks")
    scheme_names = _names(args.schemes, schemes_reg, "schemes")
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    tasks = [tasks_reg.create(n) for n in task_names]
    schemes = [
        schemes_reg.create(n, device=str(device), decoder=args.decoder) for n in scheme_names
    ]
    pairs = [(s, t) for t in tasks for s in schemes if s.supports(t)]
    if not pairs:
        raise SemcomError(
            f"no scheme among {', '.join(scheme_names)} applies to tasks {', '.join(task_names)}"
        )
    torch.manual_seed(args.seed)
    preloaded = {}
    if args.data_dir is not None:  # real files: fail on a missing/malformed one before writing
        from semcom_sim.sim.engine import point_seed

        for t in {t.name: t for _, t in pairs}.values():
            preloaded[t.name] = t.load(
                samples, point_seed(args.seed, "data", t.name), args.data_dir
            )

    if args.schemes.strip() not in ("all", "default"):
        idle = [s.name for s in schemes if not any(s.supports(t) for t in tasks)]
        if idle:
            print(
                f"semcom-sim: notice: {', '.join(idle)} do not apply to any of the tasks "
                f"{', '.join(task_names)}; skipped",
                file=sys.stderr,
            )
    from semcom_sim.sim.engine import SweepConfig, run_sweep
    from semcom_sim.sim.store import CONFIG_NAME, ResultStore, write_json

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
    store = ResultStore(out)  # refuses a foreign or older store before writing anything
    pbar = None
    if not args.quiet:
        from tqdm import tqdm

        pbar = tqdm(total=len(pairs) * len(snr), desc="sweep", unit="point", file=sys.stderr)
    try:
        counts = run_sweep(config, schemes, tasks, channel, store, pbar=pbar, data=preloaded)
    finally:
        if pbar is not None:
            pbar.close()
    runs = store.runs()
    write_json(out / CONFIG_NAME, {"sweep": config.__dict__, "runs": runs})
    csv_path = store.export_csv()
    print(f"{counts['done']} points simulated, {counts['skipped']} already stored -> {out}")
    print(f"store: {store.path}\ncsv:   {csv_path}")
    primary = {t.name: t.primary_metric for t in tasks}
    records = [r for r in store.records() if r.task in primary]
    if not args.no_plot:
        paths = _plot(store.records(), out / "plots", primary)
        print(f"plots: {len(paths)} PNG in {out / 'plots'}")
    store.close()
    if not args.quiet:  # the answer on one screen (best of each role; higher is better)
        from semcom_sim.sim.summary import summary_lines

        print("\n".join(["", *summary_lines(records, primary)]))
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


def _plot(records, out_dir: Path, primary: dict[str, str]) -> list[Path]:
    from semcom_sim.sim.plot import plot_records

    return plot_records(records, out_dir, primary)


def cmd_plot(args: argparse.Namespace) -> int:
    from semcom_sim.catalog import load_catalog
    from semcom_sim.sim.store import ResultStore

    root = Path(args.results)
    store = ResultStore.open_read(root)  # read-only: the input is never modified
    try:
        records = store.records()
    finally:
        store.close()
    if not records:
        raise SemcomError(f"--results {root}: the store holds no points")
    out = check_writable_dir(args.out) if args.out else check_writable_dir(root / "plots")
    _, tasks_reg = load_catalog()
    primary = {n: tasks_reg.create(n).primary_metric for n in tasks_reg.names()}
    paths = _plot(records, out, primary)
    print(f"{len(paths)} PNG written")
    return 0
