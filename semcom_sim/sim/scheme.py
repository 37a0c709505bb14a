"""The protocols every transceiver and every task implements, and their registries."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from semcom_sim.channel.base import Channel
from semcom_sim.registry import Registry


@dataclass
class SchemeOutput:
    """What a scheme returns for ``N`` examples.

    Attributes:
        predictions: task output, batch-first with length ``N`` (tensor or list), in the form the
            task's metrics take (e.g. images ``[N, 3, H, W]``, sentences, logits).
        num_symbols: float ``[N]`` complex channel symbols spent per example.
        channel_uses: float ``[N]`` channel uses per example (``num_symbols / Nt`` for MIMO).
        extras: per-example diagnostics, each ``[N]`` (e.g. ``payload_ok``, ``exit_layer``);
            their means are stored with the result.
    """

    predictions: Any
    num_symbols: Tensor
    channel_uses: Tensor
    extras: dict[str, Tensor] = field(default_factory=dict)


class Task(ABC):
    """A task: its data, its metrics and which of them is primary.

    Subclasses set ``name``, ``dataset`` (embedded default), ``metrics`` (keys of
    :meth:`compute`, primary first) and ``higher_is_better``.
    """

    name: str
    dataset: str
    modality: str
    metrics: tuple[str, ...]
    higher_is_better: bool = True

    @abstractmethod
    def load(self, n: int, seed: int, data_dir: str | None = None):
        """``n`` test examples (a ``TaskData``-like object with ``batches(size)`` and ``len``)."""

    @abstractmethod
    def new_accumulator(self) -> Any:
        """A fresh metric accumulator with ``update(predictions, batch)`` and ``compute()``."""

    @property
    def primary_metric(self) -> str:
        return self.metrics[0]


class Scheme(ABC):
    """A transceiver: task inputs -> channel symbols -> channel -> task outputs.

    ``snr_chunk`` SNR points are evaluated per call of :meth:`run_grid` (schemes whose work is
    cheap to vectorise over SNR raise it); results are stored after each chunk.

    ``role`` says what a scheme is in a comparison (stored with every point, read by figures):
    ``learned`` (a trained transceiver), ``conventional`` (separate source and channel coding),
    ``bound`` (an ideal that no real system reaches, e.g. the capacity bound or a noiseless
    upper bound) or ``reference`` (a trivial answer a model must beat, e.g. chance).
    """

    name: str
    snr_chunk: int = 1
    role: str = "conventional"
    # schemes with one noise key draw the same noise at a point (the engine seeds each point's
    # generator with it; None: the scheme's name), e.g. the exit studies of one model: paired
    # comparisons; a scheme whose key is not its name must put the key in its identity
    noise_key: str | None = None

    @abstractmethod
    def supports(self, task: Task) -> bool:
        """Whether this scheme applies to ``task``."""

    def prepare(self, task: Task, device: torch.device) -> None:  # noqa: B027
        """Load task-specific parts (checkpoints, task models) before the first batch."""

    @abstractmethod
    def run(
        self, batch, channel: Channel, snr_db: Tensor, generator: torch.Generator
    ) -> SchemeOutput:
        """Send ``batch`` (``N`` examples) with per-example ``snr_db`` ``[N]``."""

    def run_grid(
        self,
        batch,
        channel: Channel,
        snr_grid_db: list[float],
        generators: Sequence[torch.Generator],
    ) -> list[SchemeOutput]:
        """One :class:`SchemeOutput` per SNR point; default: one :meth:`run` per point.

        ``generators`` holds one generator per SNR point: point ``i``'s randomness must come
        from ``generators[i]`` alone, so that its value does not depend on the other points.
        (A vectorised scheme can hand the whole list to a channel call whose rows are
        SNR-major blocks of equal size; see :meth:`semcom_sim.channel.base.Channel.__call__`.)
        """
        n = len(batch)
        return [
            self.run(batch, channel, torch.full((n,), s), g)
            for s, g in zip(snr_grid_db, generators, strict=True)
        ]

    def config(self) -> dict:
        """JSON-serialisable description stored beside the results."""
        return {"name": self.name}

    def identity(self, task: Task) -> dict:
        """Everything about this scheme that determines its numbers on ``task`` (hashed into
        each point's key): by default :meth:`config`, which must then include checkpoint
        hashes, codec, MCS and decoder."""
        return self.config() | {"name": self.name, "role": self.role}


SCHEMES: Registry[Scheme] = Registry("scheme")
TASKS: Registry[Task] = Registry("task")
