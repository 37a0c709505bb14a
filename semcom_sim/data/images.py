"""Image datasets: CIFAR-10 (real), shapes32 and embedded-photos (embedded).

Fields: "image" float32 [N, 3, H, W] in [0, 1], "label" int64 [N] (not for embedded-photos).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from semcom_sim.data import shapes
from semcom_sim.data.core import (
    DatasetSpec,
    TaskData,
    balanced_labels,
    cached,
    check_split,
    default_n,
    find_root,
    item_rng,
    register_dataset,
    require_data_dir,
    subset_indices,
)
from semcom_sim.data.safe_pickle import UnsafePickleError, safe_load
from semcom_sim.errors import DataError, SemcomError

CIFAR_LAYOUT = (
    "CIFAR-10 python batches (data_batch_1..5, test_batch, batches.meta) in "
    "<data-dir>/cifar-10-batches-py/ or <data-dir>/"
)
CIFAR_SPEC = DatasetSpec(
    "cifar10",
    "real",
    "image",
    {"train": 50000, "test": 10000},
    "CIFAR-10 (Krizhevsky 2009), python version, read from --data-dir",
    ("image", "label"),
)


def _unpickle(path: Path) -> dict:
    """The dict in a CIFAR-10 python pickle, read with the restricted unpickler.

    Raises:
        DataError: missing file, a global outside the allow-list (nothing ran), or not a dict.
    """
    try:
        obj = safe_load(path, encoding="bytes")
    except FileNotFoundError:
        raise DataError(f"{path}: missing; expected {CIFAR_LAYOUT}") from None
    except UnsafePickleError as e:
        raise DataError(
            f"{path}: refused ({e}); a CIFAR-10 pickle may hold only dicts, lists, strings, "
            "numbers and plain numpy arrays"
        ) from None
    except Exception:
        raise DataError(
            f"{path}: malformed; expected a CIFAR-10 python pickle (dict with bytes keys)"
        ) from None
    if not isinstance(obj, dict):
        raise DataError(
            f"{path}: malformed; expected a CIFAR-10 python pickle (dict with bytes keys)"
        )
    return obj


def _get(obj: dict, key: str):
    """``obj[key]`` under the bytes key (Python 2 pickles) or the str key (Python 3 ones)."""
    return obj.get(key.encode(), obj.get(key))


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [N, 3, 32, 32], int64 [N]) from one CIFAR-10 python batch file.

    Expects ``data`` uint8 [N, 3072] with N >= 1 and ``labels`` a list (or integer array) of N
    ints in 0..9; anything else is a one-line :class:`DataError`.
    """
    obj = _unpickle(path)
    data, labels = _get(obj, "data"), _get(obj, "labels")
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[0] == 0
        or data.shape[1] != 3072
    ):
        got = (
            f"{data.dtype} {list(data.shape)}"
            if isinstance(data, np.ndarray)
            else type(data).__name__
        )
        raise DataError(
            f"{path}: malformed; expected b'data' uint8 [N, 3072] with N >= 1, got {got}"
        )
    if isinstance(labels, np.ndarray) and labels.ndim == 1 and labels.dtype.kind in "iu":
        labels = labels.astype(np.int64)
    elif isinstance(labels, (list, tuple)) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in labels
    ):
        labels = np.asarray(labels, dtype=np.int64) if labels else np.zeros(0, np.int64)
    else:
        raise DataError(f"{path}: malformed; b'labels' must be a list of N ints in 0..9")
    if len(labels) != len(data) or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise DataError(
            f"{path}: malformed; b'labels' must hold N = {len(data)} ints in 0..9, "
            f"got {len(labels)} in {labels.min(initial=0)}..{labels.max(initial=0)}"
        )
    return data.reshape(-1, 3, 32, 32), labels


@register_dataset(CIFAR_SPEC)
def cifar10(split: str = "test", n: int | None = None, seed: int = 0, data_dir=None) -> TaskData:
    """CIFAR-10 (real): 32x32 colour images, 10 classes; read from --data-dir."""
    check_split("cifar10", split)
    root = find_root(
        require_data_dir("cifar10", data_dir, CIFAR_LAYOUT), ["cifar-10-batches-py"], "batches.meta"
    )
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    parts = [read_cifar_batch(root / name) for name in names]
    meta = _unpickle(root / "batches.meta")
    names_raw = _get(meta, "label_names")
    if not isinstance(names_raw, list) or not all(isinstance(s, (bytes, str)) for s in names_raw):
        names_raw = []
    try:
        class_names = [s.decode() if isinstance(s, bytes) else s for s in names_raw]
    except UnicodeDecodeError:
        class_names = []
    if len(class_names) != 10:
        raise DataError(
            f"{root / 'batches.meta'}: malformed; expected b'label_names' with 10 names"
        )
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    idx = subset_indices(len(labels), n, seed)
    return TaskData(
        "cifar10",
        split,
        {
            "image": torch.from_numpy(images[idx]).float() / 255.0,
            "label": torch.from_numpy(labels[idx]),
        },
        {"num_classes": 10, "class_names": class_names, "kind": "real", "task": "image"},
        f"CIFAR-10 {split} ({', '.join(names)}) from {root}",
    )


SHAPES_SPEC = DatasetSpec(
    "shapes32",
    "embedded",
    "image",
    {"train": 10000, "test": 2000},
    "embedded: procedurally generated single-shape 32x32 images (10 classes, balanced), "
    "not CIFAR-10",
    ("image", "label"),
)


def draw_shapes32(kind: str, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """One image float32 [3, size, size]: a shape of random colour, size and place on a texture."""
    canvas = shapes.texture(size, size, rng, contrast=0.18)
    r = rng.uniform(0.24, 0.4) * size
    cx, cy = rng.uniform(r + 0.5, size - r - 0.5, 2)
    cov, y0, x0 = shapes.render(kind, cx, cy, r, shapes.random_angle(kind, rng), size, size)
    shapes.paste(canvas, cov, y0, x0, shapes.contrasting_colour(canvas, rng, min_dist=0.45))
    return shapes.finish(canvas, rng)


@register_dataset(SHAPES_SPEC)
def shapes32(split: str = "test", n: int | None = None, seed: int = 0, data_dir=None) -> TaskData:
    """Embedded 32x32 single-shape images, 10 balanced classes (a CIFAR-10 stand-in)."""
    check_split("shapes32", split)
    n = default_n(SHAPES_SPEC, split, n)

    def make() -> TaskData:
        labels = balanced_labels(seed, "shapes32", split, n, len(shapes.SHAPES))
        images = np.stack(
            [
                draw_shapes32(shapes.SHAPES[c], item_rng(seed, "shapes32", split, i))
                for i, c in enumerate(labels)
            ]
        )
        return TaskData(
            "shapes32",
            split,
            {"image": torch.from_numpy(images), "label": torch.from_numpy(labels)},
            {
                "num_classes": 10,
                "class_names": list(shapes.SHAPES),
                "kind": "embedded",
                "task": "image",
            },
            f"embedded: procedurally generated shapes (seed {seed}, {split}), not CIFAR-10; "
            "10 classes, each block of 10 images holds each class once",
        )

    return cached(("shapes32", split, n, seed), make)


PHOTO_FILE = "grace_hopper.jpg"
PHOTOS_SPEC = DatasetSpec(
    "embedded-photos",
    "embedded",
    "image",
    {"train": 256, "test": 64},
    f"embedded: random 32x32 crops of the photograph {PHOTO_FILE} from matplotlib's sample data",
    ("image",),
)


PHOTO_SCALES = (1 / 2, 1 / 3, 1 / 4, 1 / 6, 1 / 8)


@lru_cache(maxsize=len(PHOTO_SCALES))
def _scaled_photo(k: int) -> np.ndarray:
    """float32 [3, h, w]: the photograph scaled by PHOTO_SCALES[k] (bicubic)."""
    from matplotlib import cbook
    from PIL import Image

    try:
        photo = Image.open(cbook.get_sample_data(PHOTO_FILE, asfileobj=False)).convert("RGB")
    except (OSError, ValueError):
        raise DataError(f"{PHOTO_FILE}: missing from matplotlib's sample data") from None
    size = (round(photo.width * PHOTO_SCALES[k]), round(photo.height * PHOTO_SCALES[k]))
    small = photo.resize(size, Image.Resampling.BICUBIC)
    return np.asarray(small, dtype=np.float32).transpose(2, 0, 1) / 255.0


@register_dataset(PHOTOS_SPEC)
def embedded_photos(
    split: str = "test", n: int | None = None, seed: int = 0, data_dir=None, size: int = 32
) -> TaskData:
    """Embedded natural-image crops (matplotlib's sample photograph) for reconstruction checks.

    The photograph (512x600, Grace Hopper) is scaled by one of PHOTO_SCALES (1/2 to 1/8) and a
    random ``size`` x ``size`` crop is taken (``size`` <= 64); train and test crops come from
    separate random streams of the same photograph.
    """
    check_split("embedded-photos", split)
    n = default_n(PHOTOS_SPEC, split, n)
    if not 1 <= size <= 64:
        raise SemcomError(f"embedded-photos: size must be in 1..64, got {size}")

    def make() -> TaskData:
        crops = []
        for i in range(n):
            rng = item_rng(seed, "embedded-photos", split, i)
            small = _scaled_photo(int(rng.integers(len(PHOTO_SCALES))))
            h, w = small.shape[1:]
            y, x = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
            crops.append(np.ascontiguousarray(small[:, y : y + size, x : x + size]))
        return TaskData(
            "embedded-photos",
            split,
            {"image": torch.from_numpy(np.stack(crops))},
            {"kind": "embedded", "task": "image", "source": PHOTO_FILE},
            f"embedded: {n} random {size}x{size} crops (seed {seed}, {split}) of matplotlib's "
            f"sample photograph {PHOTO_FILE}",
        )

    return cached(("embedded-photos", split, n, seed, size), make)
