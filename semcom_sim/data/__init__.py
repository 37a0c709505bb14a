"""Datasets for the seven tasks: real loaders (read from ``--data-dir``) and embedded stand-ins.

    from semcom_sim.data import load_dataset
    d = load_dataset("shapes32", split="test", n=500, seed=0)
    for batch in d.batches(64):
        x, y = batch.fields["image"], batch.fields["label"]

| task                      | real (needs data_dir) | embedded (runs anywhere)   |
|---------------------------|-----------------------|----------------------------|
| image classification/rec. | cifar10               | shapes32, embedded-photos  |
| text reconstruction       | europarl              | embedded-text              |
| sentiment                 | sst2                  | embedded-sentiment         |
| VQA                       | vqav2                 | embedded-vqa               |
| video sentiment           | cmu-mosi              | embedded-video-sentiment   |
| detection + segmentation  | coco-detseg           | embedded-detseg            |
| speech                    | -                     | embedded-speech            |

Nothing is downloaded. See docs/data.md for the layouts and the embedded data's provenance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from semcom_sim.data import detseg, images, sentiment, speech, text, video, vqa  # noqa: F401 (register)
from semcom_sim.data.core import DATASETS, SPECS, DatasetSpec, TaskData, cache_dir, clear_cache
from semcom_sim.data.vocab import Vocab

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "TaskData",
    "Vocab",
    "cache_dir",
    "clear_cache",
    "dataset_info",
    "load_dataset",
]


def load_dataset(
    name: str,
    split: str = "test",
    n: int | None = None,
    seed: int = 0,
    data_dir: str | Path | None = None,
) -> TaskData:
    """Load one split of a registered dataset.

    Args:
        name: a name in :data:`DATASETS` (unknown names raise UnknownNameError listing them).
        split: "train" or "test".
        n: number of examples; None = the whole split (embedded: its default size). Real data
            keeps a random subset of ``n`` chosen with ``seed``; embedded data generates ``n``.
        seed: seeds the embedded generators and the real subset choice.
        data_dir: folder holding the real data (ignored by embedded datasets).

    Raises:
        DataError: a real dataset's file is missing or malformed (one line naming the file).
    """
    return DATASETS.create(name, split=split, n=n, seed=seed, data_dir=data_dir)


def dataset_info() -> list[dict[str, Any]]:
    """One dict per registered dataset, for ``semcom-sim data info``; reads no real data.

    Keys: name, kind ("real"/"embedded"), task, sizes ({split: size}: the default size of embedded
    data, the official size of real data, None where it depends on the user's files), fields,
    provenance.
    """
    out = []
    for name in DATASETS.names():
        s = SPECS[name]
        sizes = dict(s.sizes)
        if s.kind == "embedded":  # a fixed corpus (embedded-text): count it, it is cheap
            sizes = {
                k: v if v is not None else len(load_dataset(name, k)) for k, v in sizes.items()
            }
        out.append(
            {
                "name": name,
                "kind": s.kind,
                "task": s.task,
                "sizes": sizes,
                "fields": list(s.fields),
                "provenance": s.provenance,
            }
        )
    return out
