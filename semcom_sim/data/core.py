"""TaskData, the dataset registry, seeding and the in-memory cache shared by every loader.

Every dataset is a factory ``f(split="test", n=None, seed=0, data_dir=None) -> TaskData``
registered in :data:`DATASETS` together with a :class:`DatasetSpec` that
:func:`semcom_sim.data.dataset_info` reports without loading anything.

Seeding: an embedded generator draws example ``i`` of ``split`` from its own
``numpy.random.Generator`` seeded by ``(seed, dataset, split, i)``, so the first ``n`` examples do
not depend on ``n`` and the same seed gives identical bytes on every run. A real dataset with
``n`` given keeps a random subset of ``n`` examples chosen with ``seed`` (kept in file order).
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from semcom_sim.errors import DataError, SemcomError
from semcom_sim.registry import Registry

DATASETS: Registry = Registry("dataset")
SPLITS = ("train", "test")


@dataclass
class TaskData:
    """One split of one dataset, held in memory.

    Attributes:
        name: registry name ("shapes32", "cifar10", ...).
        split: "train" or "test".
        fields: per-example data, each a tensor with leading dim N or a list of length N.
        meta: dataset-level facts (num_classes, class_names, answer_vocab, vocab, sample_rate, ...).
        provenance: where the data comes from, in words (embedded data says so).
    """

    name: str
    split: str
    fields: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    provenance: str = ""

    def __post_init__(self) -> None:
        sizes = {k: len(v) for k, v in self.fields.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"{self.name}: fields differ in length: {sizes}")

    def __len__(self) -> int:
        return len(next(iter(self.fields.values()))) if self.fields else 0

    def subset(self, idx: Sequence[int] | slice) -> TaskData:
        """The examples at ``idx`` (a slice gives views of the tensors, indices give copies)."""
        if isinstance(idx, slice):
            fields = {k: v[idx] for k, v in self.fields.items()}
        else:
            index = [int(i) for i in idx]
            it = torch.as_tensor(index, dtype=torch.long)
            fields = {
                k: v[it] if isinstance(v, torch.Tensor) else [v[i] for i in index]
                for k, v in self.fields.items()
            }
        return TaskData(self.name, self.split, fields, self.meta, self.provenance)

    def batches(self, batch_size: int) -> Iterator[TaskData]:
        """Consecutive batches of ``batch_size`` examples (the last one may be smaller)."""
        if batch_size < 1:
            raise SemcomError(f"batch_size must be >= 1, got {batch_size}")
        for start in range(0, len(self), batch_size):
            yield self.subset(slice(start, start + batch_size))

    def clone(self) -> TaskData:
        """A copy whose tensors and lists can be changed without touching this one."""

        def copy(v: Any) -> Any:
            if isinstance(v, torch.Tensor):
                return v.clone()
            return [copy(x) for x in v] if isinstance(v, list) else v

        fields = {k: copy(v) for k, v in self.fields.items()}
        return TaskData(self.name, self.split, fields, dict(self.meta), self.provenance)


@dataclass(frozen=True)
class DatasetSpec:
    """What :func:`dataset_info` reports about a registered dataset, without loading it."""

    name: str
    kind: str  # "real" or "embedded"
    task: str  # "image", "text", "sentiment", "vqa", "video-sentiment", "detseg", "speech"
    sizes: dict[str, int | None]  # embedded: default sizes; real: the official sizes
    provenance: str
    fields: tuple[str, ...]


SPECS: dict[str, DatasetSpec] = {}


def register_dataset(
    spec: DatasetSpec,
) -> Callable[[Callable[..., TaskData]], Callable[..., TaskData]]:
    """Register a factory in :data:`DATASETS` and its :class:`DatasetSpec` in :data:`SPECS`."""

    def deco(factory: Callable[..., TaskData]) -> Callable[..., TaskData]:
        SPECS[spec.name] = spec
        return DATASETS.register(spec.name)(factory)

    return deco


def check_split(name: str, split: str) -> str:
    if split not in SPLITS:
        raise SemcomError(f"dataset {name!r}: unknown split {split!r}; known splits: train, test")
    return split


def default_n(spec: DatasetSpec, split: str, n: int | None) -> int:
    """``n`` or the spec's default size; checks that it is positive."""
    size = spec.sizes[split] if n is None else n
    if size is None or size < 1:
        raise SemcomError(f"dataset {spec.name!r}: n must be >= 1, got {n}")
    return int(size)


def item_rng(seed: int, name: str, split: str, i: int) -> np.random.Generator:
    """The generator for example ``i`` of ``split`` of embedded dataset ``name``."""
    return np.random.default_rng(
        [int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode()), SPLITS.index(split), i]
    )


def balanced_labels(seed: int, name: str, split: str, n: int, num_classes: int) -> np.ndarray:
    """Labels in which every block of ``num_classes`` consecutive examples holds each class once.

    The order inside each block is a seeded permutation, so the classes are exactly balanced when
    ``n`` is a multiple of ``num_classes`` (and within one otherwise) and the first ``n`` labels
    do not depend on ``n``.
    """
    blocks = -(-n // num_classes)
    out = np.empty(blocks * num_classes, dtype=np.int64)
    for b in range(blocks):
        rng = np.random.default_rng(
            [int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode()), SPLITS.index(split), b, 7]
        )
        out[b * num_classes : (b + 1) * num_classes] = rng.permutation(num_classes)
    return out[:n]


def subset_indices(total: int, n: int | None, seed: int) -> list[int]:
    """All indices, or a random subset of ``n`` chosen with ``seed``, kept in file order."""
    if n is None or n >= total:
        return list(range(total))
    if n < 1:
        raise SemcomError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(int(seed) & 0xFFFFFFFF)
    return sorted(rng.choice(total, size=n, replace=False).tolist())


def stable_test_member(key: str, test_fraction: int = 10) -> bool:
    """Deterministic train/test assignment: test iff md5(key) mod ``test_fraction`` == 0."""
    return int(hashlib.md5(key.encode()).hexdigest(), 16) % test_fraction == 0


def require_data_dir(name: str, data_dir: str | Path | None, layout: str) -> Path:
    """``data_dir`` as a Path, or a DataError telling the user what to put there."""
    if data_dir is None:
        raise DataError(f"dataset {name!r} is real data and needs --data-dir holding {layout}")
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise DataError(f"{path}: not a directory; dataset {name!r} expects {layout}")
    return path


def find_root(data_dir: Path, subdirs: Sequence[str], marker: str) -> Path:
    """The first of ``data_dir/<subdir>`` or ``data_dir`` itself that contains ``marker``."""
    for cand in [*(data_dir / s for s in subdirs), data_dir]:
        if (cand / marker).exists():
            return cand
    return data_dir / subdirs[0] if subdirs else data_dir


def stamp(*paths: Path) -> tuple:
    """(mtime_ns, size) of each path (None if missing): a cache key that changes with the files."""
    out = []
    for p in paths:
        try:
            st = p.stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def cache_dir() -> Path:
    """The user cache folder: $SEMCOM_SIM_CACHE, default ~/.cache/semcom-sim (not created here)."""
    return Path(os.environ.get("SEMCOM_SIM_CACHE", "~/.cache/semcom-sim")).expanduser()


_CACHE: OrderedDict[tuple, TaskData] = OrderedDict()
_CACHE_MAX = 4


def cached(key: tuple, make: Callable[[], TaskData]) -> TaskData:
    """``make()`` memoised in a small in-memory LRU; callers get a clone they may modify."""
    if key in _CACHE:
        _CACHE.move_to_end(key)
    else:
        _CACHE[key] = make()
        while len(_CACHE) > _CACHE_MAX:
            _CACHE.popitem(last=False)
    return _CACHE[key].clone()


def clear_cache() -> None:
    _CACHE.clear()
