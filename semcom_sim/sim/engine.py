"""The sweep engine: every (scheme, task, SNR) point of a grid, stored as it completes."""

from __future__ import annotations

import hashlib
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from semcom_sim.channel.base import Channel
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


def run_sweep(
    config: SweepConfig,
    schemes: Sequence[Scheme],
    tasks: Sequence[Task],
    channel: Channel,
    store: ResultStore,
    progress: Callable[[str], None] | None = None,
    pbar=None,
    data: dict | None = None,
) -> dict[str, int]:
    """Run every pending point; returns counts ``{"done": ..., "skipped": ...}``.

    Every scheme sees the same examples of a task (data seeded by ``config.seed`` and the task).
    Each point's noise comes from its own generator, seeded by (seed, scheme, task, channel,
    SNR) alone (:func:`point_generator`), so a point's value never depends on the rest of the
    grid, the chunking, the order or what was already stored. A point is skipped iff its key
    (:func:`semcom_sim.sim.store.point_key`, a hash of everything that determines its numbers)
    is stored. ``data`` may hold already loaded task data by task name.
    """
    device = torch.device(config.device)
    store.log_run({"config": config.__dict__, "versions": package_versions()})
    channel_cfg = channel.config() | {"key": channel.key}
    channel_hash = store.put_config("channel", channel_cfg)
    counts = {"done": 0, "skipped": 0}
    for task in tasks:
        if not any(s.supports(task) for s in schemes):
            continue
        task_data = (data or {}).get(task.name)
        if task_data is None:  # loaded always: its provenance is part of every key of the task
            task_data = task.load(
                config.samples, point_seed(config.seed, "data", task.name), config.data_dir
            )
        ds = dataset_key(task, config.data_dir)
        ident = f"{ds}|{getattr(task_data, 'provenance', '')}"
        for scheme in schemes:
            if not scheme.supports(task):
                continue
            scheme.prepare(task, device)  # loads checkpoints / task models: part of the identity
            scheme_cfg = scheme.identity(task)
            curve = curve_hash(config, scheme_cfg, task, ident, channel_cfg)
            pending = [s for s in config.snr_db if not store.has(point_key(curve, s))]
            counts["skipped"] += len(config.snr_db) - len(pending)
            if pbar is not None:
                pbar.update(len(config.snr_db) - len(pending))
            if not pending:
                continue
            ids = {
                "curve": curve,
                "scheme_config": store.put_config("scheme", scheme_cfg),
                "channel_config": channel_hash,
                "settings": settings_of(config),
            }
            chunk = max(1, scheme.snr_chunk)
            for c0 in range(0, len(pending), chunk):
                snrs = pending[c0 : c0 + chunk]
                if progress:
                    progress(f"{scheme.name} / {task.name} / {channel.key} @ {snrs} dB")
                recs = _run_chunk(config, scheme, task, channel, task_data, snrs, ds, device, ids)
                for rec in recs:
                    store.put(rec)
                counts["done"] += len(recs)
                if pbar is not None:
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
    gens = [
        point_generator(config.seed, scheme.name, task.name, channel.key, s, device) for s in snrs
    ]
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
