"""The sweep engine: every (scheme, task, SNR) point of a grid, stored as it completes."""

from __future__ import annotations

import hashlib
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import torch

from semcom_sim.channel.base import Channel
from semcom_sim.errors import SemcomError
from semcom_sim.sim.scheme import Scheme, SchemeOutput, Task
from semcom_sim.sim.store import Record, ResultStore, config_hash, point_key


@dataclass
class SweepConfig:
    """Everything that determines a sweep's numbers (saved as ``config.json``)."""

    schemes: list[str]
    tasks: list[str]
    channel: dict
    snr_db: list[float]
    samples: int
    seed: int = 0
    batch_size: int = 64
    device: str = "cpu"
    data_dir: str | None = None
    extra: dict = field(default_factory=dict)


MAX_SEED = 2**63  # seeds are in [0, MAX_SEED)


def point_seed(seed: int, *parts) -> int:
    """A 63-bit seed for one unit of work, stable across runs, orders and resumptions."""
    h = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return int.from_bytes(h[:8], "little") >> 1


def package_versions() -> dict[str, str]:
    """Versions of the packages that determine results."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("semcom-sim", "torch", "sionna-no-rt", "numpy", "numba", "pillow", "sacrebleu"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _mean(x) -> float:
    return float(torch.as_tensor(x, dtype=torch.float64).mean()) if len(x) else 0.0


@dataclass(frozen=True, eq=False)
class WorkUnit:
    """One unit of work: a chunk of pending SNR points of one (scheme, task) curve.

    ``ids`` holds the hashes every record of the curve carries (curve, scheme and channel
    configuration, settings); ``cost`` is the expected cost (:func:`expected_cost`), which
    orders the work and weights the progress bar. Units of one ``group`` (the scheme's noise
    key and the task) share per-process caches (source payloads, coded bits, a shared decoder
    pass): a parallel executor runs a group in one worker.
    """

    scheme: str
    task: str
    snrs: tuple[float, ...]
    dataset: str
    ids: dict
    cost: float
    group: str = ""


# Expected complex symbols per example of each task's paper-default conventional payloads
# (jpeg-ldpc, utf8-turbo, pcm-ldpc, h264-ldpc, ffmnet-jpeg-ldpc on the embedded data, as
# stored by the default sweep), for the cost estimate only: nothing stored depends on them.
EXPECTED_SYMBOLS = {
    "image-reconstruction": 1164, "image-classification": 1132, "vqa": 1954,
    "text-reconstruction": 586, "sentiment": 348, "video-sentiment": 67363,
    "speech-reconstruction": 129024, "detseg": 12073,
}  # fmt: skip
# Cost units are about seconds per point of 64 examples on one core (fitted to the per-point
# wall times of results/benchmarks/sweep-before.json; only their ratios matter).
LEARNED_POINT_COST = 0.5  # a learned or reference point
LINK_RUN_COST = 0.1  # one link run, plus ...
LINK_SYMBOL_COST = 1.6e-4  # ... this per expected symbol per example
TURBO_FACTOR = 30.0  # LTE Turbo links cost this much more per symbol (Sionna's encoder)


def expected_cost(scheme: Scheme, task: Task) -> float:
    """Expected cost of one point of 64 examples of ``scheme`` on ``task`` (about seconds).

    Conventional schemes: the link runs per point (members of an MCS envelope, else one) x
    (:data:`LINK_RUN_COST` + :data:`LINK_SYMBOL_COST` x the task's expected symbols per
    example, x :data:`TURBO_FACTOR` for Turbo codes); learned schemes and references:
    :data:`LEARNED_POINT_COST`. It orders parallel work and weights the progress bar; nothing
    stored depends on it. A scheme can say better with a ``cost_hint(task) -> float`` method.
    """
    hint = getattr(scheme, "cost_hint", None)
    if callable(hint):
        return float(hint(task))
    if scheme.role in ("learned", "reference"):
        return LEARNED_POINT_COST
    inner = scheme.scheme_for(task.name) if hasattr(scheme, "scheme_for") else scheme
    members = list(getattr(inner, "members", ())) or [inner]
    cost = 0.0
    for m in members:
        mcs = getattr(m, "mcs", None)
        turbo = TURBO_FACTOR if getattr(mcs, "code", None) == "turbo" else 1.0
        cost += LINK_RUN_COST + LINK_SYMBOL_COST * turbo * EXPECTED_SYMBOLS.get(task.name, 1000)
    return cost


class Executor:
    """Runs work units and yields ``(unit, records)`` as each completes (any order)."""

    def run(self, units: Sequence[WorkUnit]) -> Iterator[tuple[WorkUnit, list[Record]]]:
        raise NotImplementedError


class InProcessExecutor(Executor):
    """Runs the units one after another in this process with the driver's own schemes."""

    def __init__(self, config, schemes, tasks, channel, task_data, on_start=None) -> None:
        self.config, self.channel, self.task_data = config, channel, task_data
        self.schemes = {s.name: s for s in schemes}
        self.tasks = {t.name: t for t in tasks}
        self.on_start = on_start
        self.prepared: tuple[str, str] | None = None

    def run(self, units: Sequence[WorkUnit]) -> Iterator[tuple[WorkUnit, list[Record]]]:
        device = torch.device(self.config.device)
        for u in units:
            scheme, task = self.schemes[u.scheme], self.tasks[u.task]
            if self.prepared != (u.scheme, u.task):
                scheme.prepare(task, device)  # schemes hold one current task
                self.prepared = (u.scheme, u.task)
            if self.on_start is not None:
                self.on_start(u)
            data = self.task_data[u.task]
            snrs = list(u.snrs)
            yield u, _run_chunk(
                self.config, scheme, task, self.channel, data, snrs, u.dataset, device, u.ids
            )


def plan_sweep(
    config: SweepConfig,
    schemes: Sequence[Scheme],
    tasks: Sequence[Task],
    channel: Channel,
    store: ResultStore,
    data: dict | None = None,
) -> tuple[list[WorkUnit], int, dict]:
    """The pending work units, the number of stored (skipped) points and the task data.

    Prepares every scheme on every task it serves (its identity, e.g. checkpoint hashes, is
    part of each key) and writes the configurations to the store. Units come in task, scheme,
    SNR order (parallel executors reorder them by :attr:`WorkUnit.cost`).
    """
    device = torch.device(config.device)
    channel_cfg = channel.config() | {"key": channel.key}
    channel_hash = store.put_config("channel", channel_cfg)
    units: list[WorkUnit] = []
    skipped = 0
    task_data = dict(data or {})
    for task in tasks:
        if not any(s.supports(task) for s in schemes):
            continue
        if task_data.get(task.name) is None:  # loaded always: its provenance is in every key
            task_data[task.name] = task.load(
                config.samples, point_seed(config.seed, "data", task.name), config.data_dir
            )
        ds = dataset_key(task, config.data_dir)
        ident = f"{ds}|{getattr(task_data[task.name], 'provenance', '')}"
        for scheme in schemes:
            if not scheme.supports(task):
                continue
            scheme.prepare(task, device)  # loads checkpoints / task models: part of the identity
            scheme_cfg = scheme.identity(task)
            curve = curve_hash(config, scheme_cfg, task, ident, channel_cfg)
            n = len(task_data[task.name])
            group = (scheme.name, task.name, channel.key, ds, config.seed, n)
            store.mark_current(group, curve)
            pending = [s for s in config.snr_db if not store.has(point_key(curve, s))]
            skipped += len(config.snr_db) - len(pending)
            if not pending:
                continue
            ids = {
                "curve": curve,
                "scheme_config": store.put_config("scheme", scheme_cfg),
                "channel_config": channel_hash,
                "settings": settings_of(config),
            }
            cost = expected_cost(scheme, task) * config.samples / 64
            chunk = max(1, scheme.snr_chunk)
            for c0 in range(0, len(pending), chunk):
                snrs = tuple(float(s) for s in pending[c0 : c0 + chunk])
                group = f"{scheme.noise_key or scheme.name}|{task.name}"
                units.append(
                    WorkUnit(scheme.name, task.name, snrs, ds, ids, cost * len(snrs), group)
                )
    return units, skipped, task_data


def run_sweep(
    config: SweepConfig,
    schemes: Sequence[Scheme],
    tasks: Sequence[Task],
    channel: Channel,
    store: ResultStore,
    progress: Callable[[str], None] | None = None,
    pbar=None,
    data: dict | None = None,
    executor: Callable[..., Executor] | None = None,
) -> dict[str, int]:
    """Run every pending point; returns counts ``{"done": ..., "skipped": ...}``.

    Every scheme sees the same examples of a task (data seeded by ``config.seed`` and the task).
    Each point's noise comes from its own generator, seeded by (seed, scheme's noise key, task,
    channel, SNR) alone (:func:`point_generator`), so a point's value never depends on the rest
    of the grid, the chunking, the order, the worker that ran it or what was already stored. A
    point is skipped iff its key (:func:`semcom_sim.sim.store.point_key`, a hash of everything that
    determines its numbers) is stored. ``data`` may hold already loaded task data by task name.

    ``executor(config, schemes, tasks, channel, task_data, on_start)`` makes the
    :class:`Executor` (default :class:`InProcessExecutor`; a Dask one runs units on workers).
    Only this function writes the store, one chunk as it arrives, so a killed worker or
    driver loses at most the points in flight. ``pbar`` (optional) gets ``plan(units,
    skipped)``, ``start(unit)`` and ``done(unit, records)`` if it has them, else
    ``update(points)``.
    """
    store.log_run({"config": config.__dict__, "versions": package_versions()})
    units, skipped, task_data = plan_sweep(config, schemes, tasks, channel, store, data)
    counts = {"done": 0, "skipped": skipped}
    if pbar is not None:
        if hasattr(pbar, "plan"):
            pbar.plan(units, skipped)
        else:
            pbar.update(skipped)

    def on_start(u: WorkUnit) -> None:
        if progress:
            progress(f"{u.scheme} / {u.task} / {channel.key} @ {list(u.snrs)} dB")
        if pbar is not None and hasattr(pbar, "start"):
            pbar.start(u)

    make = executor or InProcessExecutor
    for unit, recs in make(config, schemes, tasks, channel, task_data, on_start).run(units):
        for rec in recs:
            store.put(rec)
        counts["done"] += len(recs)
        if pbar is not None:
            if hasattr(pbar, "done"):
                pbar.done(unit, recs)
            else:
                pbar.update(len(recs))
    return counts


def settings_of(config: SweepConfig) -> dict:
    """The sweep settings other than scheme, task, channel and SNR that change a point's value."""
    return {"batch_size": config.batch_size, "device": config.device}


def curve_hash(
    config: SweepConfig, scheme_cfg: dict, task: Task, dataset: str, channel_cfg: dict
) -> str:
    """Identity of one curve (everything that determines its points except the SNR)."""
    return config_hash(
        {
            "scheme": scheme_cfg,
            "task": task.name,
            "dataset": dataset,
            "channel": channel_cfg,
            "seed": config.seed,
            "samples": config.samples,
            "settings": settings_of(config),
        }
    )


def dataset_key(task: Task, data_dir: str | None) -> str:
    """What the results are about: the embedded dataset, or the real one and its directory."""
    if data_dir is None:
        return task.dataset
    return f"{getattr(task, 'real_dataset', task.dataset)}@{data_dir}"


def point_generator(
    seed: int, scheme: str, task: str, channel_key: str, snr_db: float, device
) -> torch.Generator:
    """The generator of one point: seeded by the point alone."""
    gen = torch.Generator(device=device)
    gen.manual_seed(point_seed(seed, scheme, task, channel_key, (snr_db,)))
    return gen


def _run_chunk(config, scheme, task, channel, data, snrs, ds, device, ids) -> list[Record]:
    noise = scheme.noise_key or scheme.name
    gens = [point_generator(config.seed, noise, task.name, channel.key, s, device) for s in snrs]
    accs = [task.new_accumulator() for _ in snrs]
    syms: list[list[torch.Tensor]] = [[] for _ in snrs]
    uses: list[list[torch.Tensor]] = [[] for _ in snrs]
    extras: list[dict[str, list[torch.Tensor]]] = [{} for _ in snrs]
    t0 = time.perf_counter()
    for batch in data.batches(config.batch_size):
        with torch.no_grad():
            outs: list[SchemeOutput] = scheme.run_grid(batch, channel, snrs, gens)
        for i, out in enumerate(outs):
            accs[i].update(out.predictions, batch)
            syms[i].append(out.num_symbols.detach().float().cpu())
            uses[i].append(out.channel_uses.detach().float().cpu())
            for k, v in out.extras.items():
                extras[i].setdefault(k, []).append(v.detach().float().cpu())
    wall = (time.perf_counter() - t0) / len(snrs)
    recs = []
    for i, s in enumerate(snrs):
        metrics = {k: float(v) for k, v in accs[i].compute().items()}
        recs.append(
            Record(
                scheme=scheme.name,
                task=task.name,
                channel=channel.key,
                snr_db=float(s),
                seed=config.seed,
                samples=len(data),
                dataset=ds,
                metrics=metrics,
                mean_symbols=_mean(torch.cat(syms[i])),
                mean_channel_uses=_mean(torch.cat(uses[i])),
                extras={k: _mean(torch.cat(v)) for k, v in extras[i].items()},
                wall_s=wall,
                provenance=getattr(data, "provenance", ""),
                role=scheme.role,
                key=point_key(ids["curve"], s),
                curve=ids["curve"],
                scheme_config=ids["scheme_config"],
                channel_config=ids["channel_config"],
                settings=ids["settings"],
            )
        )
    return recs


# --------------------------------------------------------------------------- Dask workers
class SweepBuilder(Protocol):
    """What a worker needs to build a sweep's objects itself (picklable; see commands.sweep)."""

    def scheme(self, name: str) -> Scheme: ...

    def task(self, name: str) -> Task: ...

    def channel(self) -> Channel: ...


_WORKER: dict[str, Any] = {}  # per worker process: built schemes, tasks, channel, task data


def _worker_state(builder: SweepBuilder, config: SweepConfig) -> dict[str, Any]:
    """The worker's cache of built objects for ``builder`` (built once, then reused)."""
    token = config_hash({"builder": repr(builder), "config": config.__dict__})
    if _WORKER.get("token") != token:
        _WORKER.clear()
        torch.set_num_threads(1)
        _WORKER.update(token=token, schemes={}, tasks={}, data={}, prepared=None,
                       channel=builder.channel())  # fmt: skip
    return _WORKER


def run_units_on_worker(
    builder: SweepBuilder, config: SweepConfig, units: Sequence[WorkUnit]
) -> list[list[Record]]:
    """:func:`run_unit_on_worker` for each unit of a group, in order, in one worker."""
    return [run_unit_on_worker(builder, config, u) for u in units]


def run_unit_on_worker(builder: SweepBuilder, config: SweepConfig, unit: WorkUnit) -> list[Record]:
    """Run one unit in a worker process with the worker's cached schemes (Dask task).

    The worker recomputes the curve's key from its own objects and refuses a unit whose key
    differs from the driver's (e.g. another checkpoint on a remote machine).
    """
    st = _worker_state(builder, config)
    if unit.scheme not in st["schemes"]:
        st["schemes"][unit.scheme] = builder.scheme(unit.scheme)
    if unit.task not in st["tasks"]:
        st["tasks"][unit.task] = builder.task(unit.task)
    scheme, task, channel = st["schemes"][unit.scheme], st["tasks"][unit.task], st["channel"]
    if unit.task not in st["data"]:
        st["data"][unit.task] = task.load(
            config.samples, point_seed(config.seed, "data", task.name), config.data_dir
        )
    data = st["data"][unit.task]
    device = torch.device(config.device)
    if st["prepared"] != (unit.scheme, unit.task):
        scheme.prepare(task, device)
        st["prepared"] = (unit.scheme, unit.task)
        ident = f"{unit.dataset}|{getattr(data, 'provenance', '')}"
        channel_cfg = channel.config() | {"key": channel.key}
        curve = curve_hash(config, scheme.identity(task), task, ident, channel_cfg)
        if curve != unit.ids["curve"]:
            st["prepared"] = None
            raise SemcomError(
                f"worker built {unit.scheme} / {unit.task} with another identity than the "
                "driver (different checkpoints, data or package versions on the worker?)"
            )
    return _run_chunk(config, scheme, task, channel, data, list(unit.snrs), unit.dataset,
                      device, unit.ids)  # fmt: skip


HEAVY_COST = 50.0  # units at least this costly run one at a time across a GPU cluster


class DaskExecutor(Executor):
    """Runs units on a Dask cluster; results come back here (the driver writes the store).

    Units are submitted largest expected cost first, at most ``window`` at a time (default:
    the number of worker threads), so the progress bar's "in flight" is what runs. Off the CPU
    (``config.device`` not ``cpu``: Sionna's mapper and APP demapper run) at most one unit of
    cost >= ``heavy_cost`` (default :data:`HEAVY_COST`) is in flight at a time: Sionna's 64-QAM
    demap of one speech or video envelope point peaks at several GB, two at once could exhaust
    a shared machine. On the CPU the fast demapper needs a few hundred MB there, and the heavy
    units run side by side (serialising them left one of two workers idle for half a sweep).
    """

    def __init__(self, client, builder: SweepBuilder, config: SweepConfig, on_start=None,
                 window: int | None = None, heavy_cost: float | None = None) -> None:  # fmt: skip
        self.client, self.builder, self.config = client, builder, config
        self.on_start = on_start
        if heavy_cost is None and torch.device(config.device).type != "cpu":
            heavy_cost = HEAVY_COST
        self.heavy_cost = heavy_cost
        threads = sum(client.nthreads().values()) or 1
        self.window = window or threads

    def run(self, units: Sequence[WorkUnit]) -> Iterator[tuple[WorkUnit, list[Record]]]:
        from distributed import as_completed

        groups: dict[str, list[WorkUnit]] = {}
        for u in units:
            groups.setdefault(u.group or f"{u.scheme}|{u.task}|{u.snrs}", []).append(u)
        # one Dask task per group (largest expected cost first): its units share a worker's
        # caches; a proxy unit with the group's total cost stands for it in next_unit
        pending = sorted(groups.values(), key=lambda g: -sum(u.cost for u in g))
        todo = [replace(g[0], cost=sum(u.cost for u in g)) for g in pending]  # same order
        futures = as_completed()
        owner: dict[str, tuple[WorkUnit, list[WorkUnit]]] = {}

        def submit_next() -> bool:
            pick = next_unit(todo, [p for p, _ in owner.values()], self.heavy_cost)
            if pick is None:
                return False
            proxy, us = todo.pop(pick), pending.pop(pick)
            f = self.client.submit(run_units_on_worker, self.builder, self.config, us, pure=False)
            owner[f.key] = (proxy, us)
            futures.add(f)
            if self.on_start is not None:
                for u in us:
                    self.on_start(u)
            return True

        while todo and len(owner) < self.window and submit_next():
            pass
        for f in futures:
            _, us = owner.pop(f.key)
            results = f.result()  # re-raises a worker's error here
            while todo and len(owner) < self.window and submit_next():
                pass
            yield from zip(us, results, strict=True)


def next_unit(
    todo: Sequence[WorkUnit], in_flight: Sequence[WorkUnit], heavy_cost: float | None = HEAVY_COST
) -> int | None:
    """Index in ``todo`` (largest cost first) of the unit to start next, or None to wait.

    The first unit, unless a unit of cost >= ``heavy_cost`` is in flight: then the first
    lighter one (None if there is none; a heavy unit starts only when no heavy one runs).
    ``heavy_cost`` None: always the first unit.
    """
    if heavy_cost is None or not any(u.cost >= heavy_cost for u in in_flight):
        return 0 if todo else None
    return next((i for i, u in enumerate(todo) if u.cost < heavy_cost), None)


def worker_peak_rss_mb(client) -> dict[str, float]:
    """Peak resident memory of each worker process (MB), by worker address."""
    return client.run(_peak_rss_mb)


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
