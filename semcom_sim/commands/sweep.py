"""``semcom-sim sweep`` and ``semcom-sim plot``."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
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
    s.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes of a local Dask cluster, one torch thread each (default: the "
        "machine's cores; 1: in this process, no Dask; small sweeps run in this process)",
    )
    s.add_argument(
        "--scheduler", default=None, help="address of an existing Dask scheduler (tcp://host:8786)"
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


# glibc malloc for the sweep's large, short-lived arrays (LLRs, symbols, coded bits: 10-400 MB
# per call): blocks up to 1 GB come from the heap and freed memory is kept (trim above 1 GB)
# instead of an mmap, page faults and zeroing per array. Dask's own worker default
# (MALLOC_TRIM_THRESHOLD_=65536) also pins the mmap threshold at 128 kB (glibc stops adapting it
# once a threshold is set). One arena: a Dask task runs in a worker thread, and glibc's
# per-thread arenas are heaps of at most 64 MB, so every larger array a task allocated was an
# mmap whatever the threshold (a worker runs one task at a time: no lock contention).
# Measured (session 10, threshold 64 MB, trim 256 MB): 4 envelopes x 4 tasks x 3 SNRs in one
# process 59.0 -> 46.8 s wall (system time 9.8 -> 2.1 s); the 2-worker default sweep's system
# time 165 -> 24 s (with the unit groups of DaskExecutor: 251 -> 163 s wall). Session 15 (one
# arena, threshold and trim 1 GB), the speech and video tasks on 2 workers: 71.3 -> 64.9 s wall,
# system time 16.6 -> 5.2 s, minor page faults 1.57 -> 0.51 M, peak 1.35 -> 1.20 GB per worker.
MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(1 << 30),
    "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
    "MALLOC_ARENA_MAX": "1",
}


def malloc_for_throughput() -> None:
    """Apply :data:`MALLOC_ENV` to this process (glibc ``mallopt``; a no-op elsewhere)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8  # glibc's parameter numbers
    mallopt(m_mmap_threshold, int(MALLOC_ENV["MALLOC_MMAP_THRESHOLD_"]))
    mallopt(m_trim_threshold, int(MALLOC_ENV["MALLOC_TRIM_THRESHOLD_"]))
    mallopt(m_arena_max, int(MALLOC_ENV["MALLOC_ARENA_MAX"]))


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
    check_int(args.workers, "--workers", 1, 1024)
    if args.scheduler is not None and args.workers is not None:
        raise SemcomError("--workers and --scheduler exclude each other")
    if args.scheduler is not None and "://" not in args.scheduler and ":" not in args.scheduler:
        raise SemcomError(f"--scheduler {args.scheduler!r}: expected an address like tcp://host:8786")
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
    malloc_for_throughput()
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
    builder = SweepBuilder(tuple(config.schemes), _builder_args(args))
    runner = Runner(args.workers, args.scheduler, builder, config)
    if args.scheduler is not None:  # an unreachable scheduler fails before anything is written
        runner.connect(1)
    try:
        store = ResultStore(out)  # refuses a foreign or older store before writing anything
    except BaseException:
        runner.close()
        raise
    plot_pool = None  # the plotting process, started now when the figures will need it
    if not args.no_plot and usable_cores() > 1 and len(pairs) * len(snr) >= PlotsBeside.min_records:
        plot_pool = PlotsBeside.start_pool()
    pbar = None if args.quiet else CostProgress()
    ok = False
    try:
        counts = run_sweep(
            config, schemes, tasks, channel, store, pbar=pbar, data=preloaded, executor=runner
        )
        ok = True
    finally:
        if pbar is not None:
            pbar.close()
        runner.close(wait=not ok)  # after a sweep the shutdown overlaps the figures
        if not ok and plot_pool is not None:
            plot_pool.shutdown(cancel_futures=True)
    try:
        runs = store.runs()
        write_json(out / CONFIG_NAME, {"sweep": config.__dict__, "runs": runs})
        csv_path = store.export_csv()
        print(f"{counts['done']} points simulated, {counts['skipped']} already stored -> {out}")
        print(f"store: {store.path}\ncsv:   {csv_path}")
        if runner.worker_rss_mb:
            rss = ", ".join(f"{v:.0f}" for v in runner.worker_rss_mb)
            print(f"ran on a {runner.how}; peak resident memory per worker: {rss} MB")
        primary = {t.name: t.primary_metric for t in tasks}
        records = [r for r in store.records() if r.task in primary]
        if not args.no_plot:
            plots, plot_pool = PlotsBeside(store.records(), out / "plots", primary, plot_pool), None
        else:
            plots = None
        store.close()
        if not args.quiet:  # the answer on one screen (best of each role; higher is better)
            from semcom_sim.sim.summary import summary_lines

            print("\n".join(["", *summary_lines(records, primary)]))
        if plots is not None:  # the papers' figures and tables from what was just stored
            from semcom_sim.report.common import load_results
            from semcom_sim.report.figures import make_figures
            from semcom_sim.report.tables import make_tables

            try:
                res = load_results(out)
                figs, _ = make_figures(res, out / "figures")
                tables = make_tables(res, out / "tables", 12.0)
            finally:
                paths = plots.result()
            print(f"plots: {len(paths)} PNG in {out / 'plots'}")
            print(
                f"figures: {len([p for p in figs if p.suffix == '.png'])} in {out / 'figures'}; "
                f"tables: {len(tables) // 2} in {out / 'tables'}"
            )
    finally:
        if plot_pool is not None:  # not handed to PlotsBeside (an error before the plots)
            plot_pool.shutdown(cancel_futures=True)
        runner.join()
    return 0


class PlotsBeside:
    """The per-task plots (:func:`_plot`) in a second process while this one draws the papers'
    figures and tables, then the cliff figures (measured on the default sweep's store: plots
    6.0 s there; figures and tables 6.1 s and cliff figures 1.6 s here); in this process when
    the machine has one core or the sweep is small (fewer than ``min_records`` points:
    starting a process, about 2 s, would cost more than it saves). ``pool``: a process started
    earlier by :meth:`start_pool` (its imports done while the sweep ran). :meth:`result`
    returns the paths, or re-raises the plotting error."""

    min_records = 300

    def __init__(self, records, out_dir: Path, primary: dict[str, str], pool=None) -> None:
        self._pool = self._paths = self._future = None
        if pool is None and (usable_cores() < 2 or len(records) < self.min_records):
            self._paths = _plot(records, out_dir, primary)
            return
        self._pool = pool or self.start_pool()
        self._future = self._pool.submit(_plot, records, out_dir, primary, False)
        self._cliff = (records, out_dir, primary)  # drawn here by result(), for balance

    @staticmethod
    def start_pool():
        """A one-process pool that has imported the plotting code (spawn, not fork: this
        process holds torch / numba / Dask threads)."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        pool.submit(_warm_plot)
        return pool

    def result(self) -> list[Path]:
        """The plots' paths; with a second process, this one first draws the cliff figures
        (1.6 s of the default sweep's 7.6 s of plots; the figures and tables here take 6.1 s)."""
        if self._future is not None:
            try:
                from semcom_sim.sim.plot import plot_cliffs

                cliffs = plot_cliffs(*self._cliff)
                self._paths = self._future.result() + cliffs
            finally:
                self._pool.shutdown(cancel_futures=True)
                self._future = None
        return self._paths


def _warm_plot() -> None:
    """Imports, fonts and the renderer's first figure (about 1.3 s on the first plot)."""
    import io

    import matplotlib

    import semcom_sim.sim.plot  # noqa: F401  (the styles and cliff plots)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0.0, 1.0], [0.0, 1.0], "o-", label="warm-up")
    ax.annotate("x", (0.5, 0.5))
    ax.set_xlabel("SNR [dB]")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.savefig(io.BytesIO(), format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class SweepBuilder:
    """Builds a sweep's schemes, tasks and channel from the command's options (picklable:
    Dask workers build their own copies; see :func:`semcom_sim.sim.engine.run_unit_on_worker`)."""

    schemes: tuple[str, ...]
    args: tuple[tuple[str, object], ...]  # the options that build schemes and the channel

    def _ns(self) -> argparse.Namespace:
        return argparse.Namespace(**dict(self.args))

    def scheme(self, name: str):
        from semcom_sim.catalog import load_catalog

        ns = self._ns()
        return load_catalog()[0].create(name, device=ns.device, decoder=ns.decoder)

    def task(self, name: str):
        from semcom_sim.catalog import load_catalog

        return load_catalog()[1].create(name)

    def channel(self):
        return build_channel(self._ns())


BUILDER_SKIP = ("command_line", "func", "out", "quiet", "no_plot", "workers", "scheduler")


def _builder_args(args: argparse.Namespace) -> tuple[tuple[str, object], ...]:
    d = {k: v for k, v in vars(args).items() if k not in BUILDER_SKIP and not callable(v)}
    d["device"] = str(check_device(args.device))
    return tuple(sorted(d.items()))


MIN_PARALLEL_COST = 20.0  # expected cost (about 20 s of work) below which a default run stays here


class Runner:
    """Chooses how a sweep runs: in this process, on a local Dask cluster or a remote one.

    Called by the engine as its executor factory (see :func:`semcom_sim.sim.engine.run_sweep`).
    ``--workers 1``: in process, no Dask. ``--workers N``: a ``LocalCluster`` of ``N``
    processes with one thread (and one torch thread) each. Default: the machine's cores, but
    a sweep whose pending work is expected to be small (below :data:`MIN_PARALLEL_COST`) runs
    in this process (starting workers costs more than it saves). ``--scheduler ADDRESS``: an
    existing cluster.
    """

    def __init__(self, workers, scheduler, builder: SweepBuilder, config) -> None:
        self.workers, self.scheduler = workers, scheduler
        self.builder, self.config = builder, config
        self.client = self.cluster = None
        self.worker_rss_mb: list[float] = []
        self.how = "in this process"
        self._closing = None  # the shutdown thread of close(wait=False)

    def __call__(self, config, schemes, tasks, channel, task_data, on_start):
        from semcom_sim.sim.engine import DaskExecutor, InProcessExecutor

        n = self.workers if self.workers is not None else usable_cores()
        in_process = InProcessExecutor(config, schemes, tasks, channel, task_data, on_start)
        if self.scheduler is None and n <= 1:
            return in_process
        runner = self

        class Deferred(InProcessExecutor):
            """Decides once the units (and so their expected cost) are known."""

            def run(self, units):
                cost = sum(u.cost for u in units)
                small = runner.workers is None and cost < MIN_PARALLEL_COST
                if not units or (runner.scheduler is None and small):
                    return in_process.run(units)  # nothing to send (or too little to pay off)
                client = runner.connect(n)
                return DaskExecutor(client, runner.builder, config, on_start).run(units)

        return Deferred(config, schemes, tasks, channel, task_data, on_start)

    def connect(self, n: int):
        from distributed import Client

        if self.client is not None:
            return self.client
        if self.scheduler is not None:
            try:
                self.client = Client(self.scheduler, timeout="20s")
            except OSError as e:
                raise SemcomError(f"--scheduler {self.scheduler}: cannot connect ({e})") from None
            self.how = f"Dask cluster at {self.scheduler}"  # "ran on a ..."
            return self.client
        import dask
        from distributed import LocalCluster

        env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
        # malloc settings act only if set before the worker process starts (Dask's
        # pre-spawn environment; they replace its MALLOC_TRIM_THRESHOLD_=65536, see MALLOC_ENV)
        key = "distributed.nanny.pre-spawn-environ"
        with dask.config.set({key: dict(dask.config.get(key, {})) | MALLOC_ENV}):
            self.cluster = LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                memory_limit=0, env=env, silence_logs=40,
            )  # fmt: skip
        self.client = Client(self.cluster)
        self.how = f"local Dask cluster of {n} worker processes"
        return self.client

    def close(self, wait: bool = True) -> None:
        """Read the workers' peak memory, then shut the cluster down; ``wait=False``: the
        shutdown (about 2 s for a local cluster) runs in a background thread while this
        process goes on (e.g. draws the figures); :meth:`join` waits for it."""
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        if client is not None:
            from semcom_sim.sim.engine import worker_peak_rss_mb

            try:
                self.worker_rss_mb = list(worker_peak_rss_mb(client).values())
            except Exception:  # a lost worker: no report
                self.worker_rss_mb = []

        def shut() -> None:
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()

        if wait or (client is None and cluster is None):
            shut()
            return
        import threading

        self._closing = threading.Thread(target=shut, name="semcom-cluster-close")
        self._closing.start()

    def join(self) -> None:
        """Wait for a shutdown started by ``close(wait=False)``."""
        if self._closing is not None:
            self._closing.join()
            self._closing = None


class CostProgress:
    """One bar over the sweep's points, advanced by expected cost (so the ETA is weighted by
    what is left, not by the count of points), naming the (scheme, task) units in flight."""

    def __init__(self) -> None:
        self.bar = None
        self.inflight: dict[tuple, str] = {}
        self.points = self.total = 0

    def plan(self, units, skipped: int) -> None:
        from tqdm import tqdm

        self.points, self.total = skipped, skipped + sum(len(u.snrs) for u in units)
        self.bar = tqdm(
            total=max(sum(u.cost for u in units), 1e-9), file=sys.stderr, smoothing=0.0,
            bar_format="{desc} |{bar}| {percentage:3.0f}% of expected cost "
            "[{elapsed}<{remaining}{postfix}]",
        )  # fmt: skip
        self._show()

    def _show(self) -> None:
        if self.bar is None:
            return
        self.bar.set_description_str(f"sweep {self.points}/{self.total} points", refresh=False)
        names = list(self.inflight.values())
        more = f" +{len(names) - 2}" if len(names) > 2 else ""
        self.bar.set_postfix_str("; ".join(names[:2]) + more)

    def start(self, unit) -> None:
        self.inflight[_ukey(unit)] = f"{unit.scheme} / {unit.task}"
        self._show()

    def done(self, unit, records) -> None:
        self.inflight.pop(_ukey(unit), None)
        self.points += len(records)
        self._show()
        if self.bar is not None:
            self.bar.update(unit.cost)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _ukey(unit) -> tuple:
    return (unit.scheme, unit.task, unit.snrs)


def _plot(records, out_dir: Path, primary: dict[str, str], cliff: bool = True) -> list[Path]:
    from semcom_sim.sim.plot import plot_records

    return plot_records(records, out_dir, primary, cliff=cliff)


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
