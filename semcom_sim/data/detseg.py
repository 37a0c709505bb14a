"""Joint detection + semantic segmentation: COCO-format (real) and embedded-detseg.

Fields: "image" float32 [N, 3, S, S]; "boxes" list of float32 [k, 4] (x1, y1, x2, y2 in pixels
of the S x S image); "box_labels" list of int64 [k] (1..K); "mask" int64 [N, S, S] semantic class
map (0 = background, 1..K objects, 255 = ignore). meta["class_names"][c] names class c
(index 0 = "background"); meta["num_classes"] = K + 1 (segmentation classes, background included).
"""

from __future__ import annotations

import json
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from semcom_sim.data import shapes
from semcom_sim.data.core import (
    DatasetSpec,
    TaskData,
    cached,
    check_split,
    default_n,
    item_rng,
    register_dataset,
    require_data_dir,
    stamp,
    subset_indices,
)
from semcom_sim.data.scenes import SceneObject, place_objects, render_scene
from semcom_sim.errors import DataError

IGNORE_INDEX = 255

# ---------------------------------------------------------------------------- embedded-detseg
DET_CLASSES = ("circle", "square", "triangle", "star", "ring", "cross")
DET_SIZE = 128
EMBEDDED_DETSEG_SPEC = DatasetSpec(
    "embedded-detseg",
    "embedded",
    "detseg",
    {"train": 1000, "test": 200},
    "embedded: generated 128x128 scenes of 1-5 shapes (6 classes, uniform) on textures, with "
    "boxes and pixel masks, not COCO",
    ("image", "boxes", "box_labels", "mask"),
)


def make_detseg_item(
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(image [3, 128, 128], boxes [k, 4], box_labels [k], mask [128, 128]) for one scene."""
    background = shapes.texture(DET_SIZE, DET_SIZE, rng)
    placed = place_objects(int(rng.integers(1, 6)), DET_SIZE, (9.0, 24.0), 0.8, rng)
    objs, labels = [], []
    for cx, cy, r in placed:
        c = int(rng.integers(len(DET_CLASSES)))
        kind = DET_CLASSES[c]
        colour = shapes.contrasting_colour(background, rng)
        objs.append(SceneObject(kind, "", colour, cx, cy, r, shapes.random_angle(kind, rng)))
        labels.append(c + 1)
    image, semantic, _, boxes = render_scene(objs, background, labels, rng)
    visible = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return image, boxes[visible], np.asarray(labels, np.int64)[visible], semantic


@register_dataset(EMBEDDED_DETSEG_SPEC)
def embedded_detseg(
    split: str = "test", n: int | None = None, seed: int = 0, data_dir=None
) -> TaskData:
    """Embedded 128x128 multi-shape scenes with boxes and semantic masks (a COCO stand-in)."""
    check_split("embedded-detseg", split)
    n = default_n(EMBEDDED_DETSEG_SPEC, split, n)

    def make() -> TaskData:
        items = [make_detseg_item(item_rng(seed, "embedded-detseg", split, i)) for i in range(n)]
        return TaskData(
            "embedded-detseg",
            split,
            {
                "image": torch.from_numpy(np.stack([it[0] for it in items])),
                "boxes": [torch.from_numpy(it[1]) for it in items],
                "box_labels": [torch.from_numpy(it[2]) for it in items],
                "mask": torch.from_numpy(np.stack([it[3] for it in items])),
            },
            {
                "class_names": ["background", *DET_CLASSES],
                "num_classes": len(DET_CLASSES) + 1,
                "ignore_index": IGNORE_INDEX,
                "kind": "embedded",
                "task": "detseg",
            },
            f"embedded: generated 128x128 shape scenes (seed {seed}, {split}), not COCO",
        )

    return cached(("embedded-detseg", split, n, seed), make)


# ---------------------------------------------------------------------------- COCO format
COCO_LAYOUT = (
    "COCO-format annotations/instances_{train,test}.json (or instances_{train,val}2017.json) and "
    "images in images/{train,test}/ (or train2017/, val2017/) under <data-dir>/coco-detseg/, "
    "<data-dir>/coco/ or <data-dir>/"
)
COCO_SPEC = DatasetSpec(
    "coco-detseg",
    "real",
    "detseg",
    {"train": None, "test": None},
    "COCO-format detection/segmentation (boxes, polygon or RLE masks) read from --data-dir; "
    "test = val2017 when only COCO's own files are present",
    ("image", "boxes", "box_labels", "mask"),
)


def _coco_paths(data_dir: Path, split: str) -> tuple[Path, Path]:
    coco_name = "train2017" if split == "train" else "val2017"
    for root in (data_dir / "coco-detseg", data_dir / "coco", data_dir):
        for ann, img in (
            (f"instances_{split}.json", f"images/{split}"),
            (f"instances_{split}.json", split),
            (f"instances_{coco_name}.json", coco_name),
            (f"instances_{coco_name}.json", f"images/{coco_name}"),
        ):
            if (root / "annotations" / ann).is_file() and (root / img).is_dir():
                return root / "annotations" / ann, root / img
    raise DataError(
        f"{data_dir}: no COCO-format {split} annotations and image folder; expected {COCO_LAYOUT}"
    )


def _read_coco(path: Path) -> tuple[list[dict], dict[int, list[dict]], list[dict]]:
    """(images, {image_id: annotations}, categories sorted by id) of a COCO-format JSON."""
    return _read_coco_cached(path, stamp(path))


@lru_cache(maxsize=2)
def _read_coco_cached(
    path: Path, _stamp: tuple
) -> tuple[list[dict], dict[int, list[dict]], list[dict]]:
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
        images, anns, cats = obj["images"], obj["annotations"], obj["categories"]
        by_image: dict[int, list[dict]] = {int(im["id"]): [] for im in images}
        for a in anns:
            by_image[int(a["image_id"])].append(a)
            _ = (a["bbox"][3], a["category_id"], a.get("segmentation"))
        for im in images:
            _ = (im["file_name"], int(im["height"]), int(im["width"]))
        cats = sorted(cats, key=lambda c: int(c["id"]))
        _ = [c["name"] for c in cats]
    except FileNotFoundError:
        raise DataError(f"{path}: missing; expected {COCO_LAYOUT}") from None
    except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError):
        raise DataError(
            f"{path}: malformed; expected COCO JSON with images (id, file_name, height, width), "
            "annotations (image_id, category_id, bbox, segmentation) and categories (id, name)"
        ) from None
    return images, by_image, cats


def _ann_mask(ann: dict, h: int, w: int, path: Path) -> np.ndarray:
    """Binary mask [h, w] of one annotation (polygons or RLE; box when it has no segmentation)."""
    from pycocotools import mask as mask_utils

    seg = ann.get("segmentation")
    try:
        if isinstance(seg, list) and seg:
            rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
        elif isinstance(seg, dict):
            rle = mask_utils.frPyObjects(seg, h, w) if isinstance(seg.get("counts"), list) else seg
        else:
            x, y, bw, bh = ann["bbox"]
            out = np.zeros((h, w), bool)
            out[int(y) : int(np.ceil(y + bh)), int(x) : int(np.ceil(x + bw))] = True
            return out
        with warnings.catch_warnings():  # pycocotools' decode warns under numpy 2
            warnings.simplefilter("ignore", DeprecationWarning)
            return mask_utils.decode(rle).astype(bool)
    except (TypeError, ValueError, KeyError):
        raise DataError(f"{path}: malformed segmentation in annotation {ann.get('id')}") from None


def _read_rgb(path: Path, size: int) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255.0
    except FileNotFoundError:
        raise DataError(f"{path}: missing image; expected {COCO_LAYOUT}") from None
    except OSError:
        raise DataError(f"{path}: malformed; expected an image file readable by Pillow") from None


@register_dataset(COCO_SPEC)
def coco_detseg(
    split: str = "test", n: int | None = None, seed: int = 0, data_dir=None, size: int = 128
) -> TaskData:
    """COCO-format detection + segmentation (real); images resized to ``size`` x ``size``.

    Category ids are mapped in increasing order to 1..K. The semantic mask paints annotations
    from the largest to the smallest area (small objects stay on top); crowd regions become 255
    (ignore) and are not boxes. Aspect ratio is not kept: boxes and masks are scaled with the image.
    """
    check_split("coco-detseg", split)
    ann_path, img_dir = _coco_paths(require_data_dir("coco-detseg", data_dir, COCO_LAYOUT), split)
    images, by_image, cats = _read_coco(ann_path)
    cat_index = {int(c["id"]): k + 1 for k, c in enumerate(cats)}
    out_img, out_boxes, out_labels, out_mask = [], [], [], []
    from PIL import Image

    for k in subset_indices(len(images), n, seed):
        im = images[k]
        h, w = int(im["height"]), int(im["width"])
        out_img.append(_read_rgb(img_dir / im["file_name"], size))
        sem = np.zeros((h, w), np.uint8)
        boxes, labels = [], []
        anns = sorted(
            by_image[int(im["id"])],
            key=lambda a: -float(a.get("area", a["bbox"][2] * a["bbox"][3])),
        )
        for a in anns:
            if int(a["category_id"]) not in cat_index:
                raise DataError(
                    f"{ann_path}: annotation {a.get('id')} has unknown category_id "
                    f"{a['category_id']}"
                )
            crowd = bool(a.get("iscrowd", 0))
            sem[_ann_mask(a, h, w, ann_path)] = (
                IGNORE_INDEX if crowd else cat_index[int(a["category_id"])]
            )
            x, y, bw, bh = (float(v) for v in a["bbox"])
            if not crowd and bw > 0 and bh > 0:
                boxes.append([x * size / w, y * size / h, (x + bw) * size / w, (y + bh) * size / h])
                labels.append(cat_index[int(a["category_id"])])
        out_boxes.append(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
        out_labels.append(torch.tensor(labels, dtype=torch.long))
        out_mask.append(
            np.asarray(
                Image.fromarray(sem).resize((size, size), Image.Resampling.NEAREST), np.int64
            )
        )
    return TaskData(
        "coco-detseg",
        split,
        {
            "image": torch.from_numpy(np.stack(out_img))
            if out_img
            else torch.zeros(0, 3, size, size),
            "boxes": out_boxes,
            "box_labels": out_labels,
            "mask": torch.from_numpy(np.stack(out_mask))
            if out_mask
            else torch.zeros(0, size, size, dtype=torch.long),
        },
        {
            "class_names": ["background", *(c["name"] for c in cats)],
            "num_classes": len(cats) + 1,
            "category_ids": [int(c["id"]) for c in cats],
            "ignore_index": IGNORE_INDEX,
            "kind": "real",
            "task": "detseg",
        },
        f"COCO-format {ann_path.name} with images from {img_dir}",
    )
