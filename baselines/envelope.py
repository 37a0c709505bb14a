"""The MCS envelope: per SNR, the best of a declared table of modulation-and-coding schemes.

Design (computed inside one :class:`~semcom_sim.sim.scheme.Scheme`, not from stored results):
for each batch at each SNR the envelope runs every member (the same separation scheme with each
MCS of the table) on the same examples, each member's link noise drawn from a generator seeded
with the same seed (common random numbers), scores each member with the task's own metric
accumulator (the task is handed over in :meth:`prepare`; its ``primary_metric`` and
``higher_is_better`` decide) and returns the winner's predictions and symbol counts. Ties (e.g.
every member error-free at high SNR) go to the highest spectral efficiency, i.e. the fewest
symbols. The choice is made per batch, so it is per SNR point when ``--batch-size`` >=
``--samples`` (the CLI default is 64/64); with several batches it is a per-batch choice.

Recorded per example (stored as means): ``mcs_index`` (index of the winner in the table),
``mcs_spectral_efficiency`` and ``<metric>@<label>`` for every member (the label is the MCS name,
or ``<codec>/<mcs name>`` for envelopes over codecs too, which also record ``member_index``), so
the stored point shows that the envelope is the best of its members on the same data and noise
seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from semcom_sim.baselines.separation import LRU, tree_digest
from semcom_sim.channel.base import Channel
from semcom_sim.errors import SemcomError
from semcom_sim.link.mcs import MCS
from semcom_sim.sim.scheme import Scheme, SchemeOutput, Task

SCORE_CACHE_ENTRIES = 512  # scores kept per envelope (a few bytes each)


class EnvelopeScheme(Scheme):
    """Best-of-``members`` per SNR (see the module docstring).

    Args:
        name: scheme name.
        members: one scheme per MCS (usually :class:`SeparationScheme` s differing only in MCS).
        table: the MCS of each member (same order), recorded as the winner's index.
        labels: one label per member for the stored member curves (default: the MCS names;
            give them when several members share an MCS, e.g. ``"heif/ldpc-1/2-qpsk"``).
    """

    snr_chunk = 1

    def __init__(
        self,
        name: str,
        members: Sequence[Scheme],
        table: Sequence[MCS],
        labels: Sequence[str] | None = None,
    ) -> None:
        if not members or len(members) != len(table):
            raise SemcomError("an envelope needs one member per MCS of its table (at least one)")
        self.name = name
        self.members = list(members)
        self.table = tuple(table)
        self.labels = tuple(labels) if labels is not None else tuple(m.name for m in self.table)
        if len(self.labels) != len(self.members) or len(set(self.labels)) != len(self.labels):
            raise SemcomError(f"{name}: one distinct label per member needed, got {self.labels}")
        self.task: Task | None = None
        self._scores = LRU(SCORE_CACHE_ENTRIES)  # see score()

    def supports(self, task: Task) -> bool:
        return all(m.supports(task) for m in self.members)

    def prepare(self, task: Task, device: torch.device) -> None:
        self.task = task
        for m in self.members:
            m.prepare(task, device)

    def score(self, out: SchemeOutput, batch, batch_key: bytes | None = None) -> float:
        """The task's primary metric of one member's output on ``batch`` (higher is better).

        With ``batch_key`` (a digest of the batch's content) the score of predictions equal in
        content to ones already scored on the same batch is reused (above the cliff every
        member, at every SNR, returns the same reconstruction; a detection score costs 0.1 s):
        the metric is a function of the predictions and the batch, so the value is the same.
        """
        if self.task is None:
            raise SemcomError(f"{self.name}: prepare(task, device) must run before run()")
        key = None
        if batch_key is not None:
            pred_key = tree_digest(out.predictions)
            if pred_key is not None:
                key = (self.task.name, batch_key, pred_key)
                hit = self._scores.get(key)
                if hit is not None:
                    return hit
        value = self._score(out, batch)
        if key is not None:
            self._scores.put(key, value)
        return value

    @property
    def score_hits(self) -> int:
        """Scores served from the cache so far."""
        return self._scores.hits

    def _score(self, out: SchemeOutput, batch) -> float:
        acc = self.task.new_accumulator()
        acc.update(out.predictions, batch)
        value = float(acc.compute()[self.task.primary_metric])
        if math.isnan(value):
            return -math.inf
        return value if self.task.higher_is_better else -value

    def run(self, batch, channel: Channel, snr_db: Tensor, generator) -> SchemeOutput:
        n = len(batch)
        gdev = generator.device if generator is not None else torch.device("cpu")
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=gdev).cpu())
        batch_key = tree_digest(getattr(batch, "fields", None))
        scores: list[float] = []
        best, win = -1, None  # only the best output so far is kept (memory: one member's)
        for i, m in enumerate(self.members):
            g = torch.Generator(device=gdev)
            g.manual_seed(seed)
            out = m.run(batch, channel, snr_db, g)
            scores.append(self.score(out, batch, batch_key))
            rank = (scores[i], self.table[i].spectral_efficiency)
            if win is None or rank > (scores[best], self.table[best].spectral_efficiency):
                best, win = i, out  # the first of equal ranks wins, as max() would pick
            del out
        metric = self.task.primary_metric
        sign = 1.0 if self.task.higher_is_better else -1.0
        extras = dict(win.extras)
        distinct = list(dict.fromkeys(self.table))
        extras["mcs_index"] = torch.full((n,), float(distinct.index(self.table[best])))
        extras["mcs_spectral_efficiency"] = torch.full((n,), self.table[best].spectral_efficiency)
        if len(distinct) != len(self.table):
            extras["member_index"] = torch.full((n,), float(best))
        for label, s in zip(self.labels, scores, strict=True):
            extras[f"{metric}@{label}"] = torch.full((n,), sign * s)
        return SchemeOutput(win.predictions, win.num_symbols, win.channel_uses, extras)

    def identity(self, task: Task) -> dict:
        return self.config() | {
            "role": self.role,
            "members": [m.identity(task) for m in self.members],
        }

    def config(self) -> dict:
        cfg = {
            "name": self.name,
            "kind": "mcs-envelope",
            "table": [m.name for m in self.table],
            "selection": "per batch, best primary metric of the task; ties -> highest spectral "
            "efficiency; members share one noise seed",
            "members": [m.config() for m in self.members],
        }
        if list(self.labels) != cfg["table"]:  # only when not the default (the MCS names)
            cfg["labels"] = list(self.labels)
        return cfg
