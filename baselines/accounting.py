"""Symbol accounting shared by every conventional scheme, and Table I's "conventional" column.

A payload of ``B`` bytes sent with an MCS costs ``DigitalLink(mcs).num_symbols(B)`` complex
symbols: CRC-24 per code block, the block-size ladder's zero padding, ``n = k / R`` coded bits
per block and ``num_bits_per_symbol`` bits per symbol (see :mod:`semcom_sim.link.digital`).
An example's cost is the sum over the streams its task sends (e.g. VQA: image + question).
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Sequence

import torch
from torch import Tensor

from semcom_sim.errors import SemcomError
from semcom_sim.link.digital import DigitalLink
from semcom_sim.link.mcs import MCS


@functools.lru_cache(maxsize=64)
def _link(mcs: MCS) -> DigitalLink:
    return DigitalLink(mcs)


def payload_symbols(payload_bytes: int, mcs: MCS) -> int:
    """Complex symbols one payload of ``payload_bytes`` bytes costs with ``mcs`` (formula)."""
    if payload_bytes < 0:
        raise SemcomError(f"payload size must be >= 0 bytes, got {payload_bytes}")
    return _link(mcs).num_symbols(int(payload_bytes))


def stream_symbols(payloads: Sequence[bytes], mcs: MCS) -> Tensor:
    """int64 ``[N]``: symbols per payload."""
    return torch.tensor([payload_symbols(len(p), mcs) for p in payloads], dtype=torch.int64)


def example_symbols(scheme, batch) -> dict[str, Tensor]:
    """Per stream field, ``"total"`` and ``"bytes"``: int64 ``[N]`` per example of ``batch``.

    ``scheme`` is a :class:`~semcom_sim.baselines.separation.SeparationScheme` (its links' own
    ``num_symbols`` are used, so a capacity bound reports the bandwidth it was granted).
    ``"bytes"`` is the source payload size summed over the streams.
    """
    out: dict[str, Tensor] = {}
    total = torch.zeros(len(batch), dtype=torch.int64)
    nbytes = torch.zeros(len(batch), dtype=torch.int64)
    for s, link, (payloads, _) in zip(
        scheme.streams, scheme.links, scheme.source_payloads(batch), strict=True
    ):
        syms = torch.tensor([link.num_symbols(len(p)) for p in payloads], dtype=torch.int64)
        out[s.field] = syms
        total += syms
        nbytes += torch.tensor([len(p) for p in payloads], dtype=torch.int64)
    out["total"] = total
    out["bytes"] = nbytes
    return out


def conventional_symbols_table(
    task_names: Sequence[str],
    samples: int = 64,
    seed: int = 0,
    data_dir: str | None = None,
) -> list[dict]:
    """Table I's "conventional" column: mean complex symbols per example, per task.

    For each task, its paper-default conventional scheme (JPEG + LDPC for images, UTF-8 + Turbo
    for text, PCM + LDPC for speech, H.264 + LDPC for video frames, all rate 1/2 QPSK; every
    field the task sends, see :data:`~semcom_sim.baselines.families.TASK_PLANS`) codes
    ``samples`` examples of the task's data (the registered task's dataset, else the plan's
    embedded one) and the symbols are counted by formula (no channel is simulated).

    Returns:
        one dict per task: ``task``, ``dataset``, ``samples``, ``scheme``, ``streams``
        (field: codec + MCS), ``mean_payload_bytes``, ``mean_symbols`` (the column),
        ``min_symbols``, ``max_symbols`` and ``mean_symbols_<field>`` per field.
    """
    from semcom_sim.baselines.families import TASK_PLANS, family_of, family_scheme
    from semcom_sim.catalog import load_catalog

    _, tasks = load_catalog()
    rows = []
    for name in task_names:
        if name not in TASK_PLANS:
            known = ", ".join(sorted(TASK_PLANS))
            raise SemcomError(f"no conventional scheme for task {name!r}; known: {known}")
        fam = family_of(name)
        if name in tasks:
            data = tasks.create(name).load(samples, seed, data_dir)
            dataset = getattr(data, "name", tasks.create(name).dataset)
        else:
            from semcom_sim.data import load_dataset

            dataset = TASK_PLANS[name].dataset
            data = load_dataset(dataset, split="test", n=samples, seed=seed)
        scheme = family_scheme(fam.name).bare_scheme(name)
        counts = example_symbols(scheme, data)
        total = counts["total"].tolist()
        row = {
            "task": name,
            "dataset": dataset,
            "samples": len(total),
            "scheme": scheme.name,
            "streams": {s.field: f"{s.codec.name} + {s.mcs.name}" for s in scheme.streams},
            "mean_payload_bytes": statistics.fmean(counts["bytes"].tolist()),
            "mean_symbols": statistics.fmean(total),
            "min_symbols": min(total),
            "max_symbols": max(total),
        }
        for field, v in counts.items():
            if field not in ("total", "bytes"):
                row[f"mean_symbols_{field}"] = statistics.fmean(v.tolist())
        rows.append(row)
    return rows
