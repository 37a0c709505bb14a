"""Visual question answering: VQAv2 (real) and embedded-vqa (CLEVR-style, generated).

Fields: "image" float32 [N, 3, H, W], "question" list[str], "answers" list[list[str]] (the
annotators' answers, normalised by :func:`~semcom_sim.data.textproc.normalise_answer`),
"answer_index" int64 [N] (the most common answer's index in meta["answer_vocab"], -1 if out of
vocabulary; ties go to the answer given first). meta: "answer_vocab", "vocab" (question words
of the train split).
"""

from __future__ import annotations

import json
from collections import Counter
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
    stamp,
    subset_indices,
)
from semcom_sim.data.scenes import SceneObject, place_objects, render_scene
from semcom_sim.data.textproc import normalise_answer
from semcom_sim.data.vocab import Vocab
from semcom_sim.errors import DataError


def answer_index(answers: list[str], answer_vocab: dict[str, int]) -> int:
    """Index of the most common answer (first given wins ties), -1 if not in the vocabulary."""
    return answer_vocab.get(Counter(answers).most_common(1)[0][0], -1) if answers else -1


# ---------------------------------------------------------------------------- embedded-vqa
COLOURS = {
    "red": (0.85, 0.12, 0.12),
    "green": (0.15, 0.65, 0.2),
    "blue": (0.15, 0.3, 0.9),
    "yellow": (0.95, 0.85, 0.1),
    "purple": (0.6, 0.2, 0.75),
    "cyan": (0.2, 0.85, 0.9),
}
VQA_SHAPES = ("circle", "square", "triangle", "star", "cross")
PLURAL = {
    "circle": "circles",
    "square": "squares",
    "triangle": "triangles",
    "star": "stars",
    "cross": "crosses",
}
QUESTION_TYPES = ("color", "shape", "count", "exist", "relate")
RELATIONS = {
    "left of": ("right of", 0),
    "right of": ("left of", 0),
    "above": ("below", 1),
    "below": ("above", 1),
}
VQA_ANSWERS = ("no", "yes", "0", "1", "2", "3", "4", "5", *COLOURS, *VQA_SHAPES)
VQA_SIZE = 48


def _question(
    qtype: str, objs: list[SceneObject], rng: np.random.Generator
) -> tuple[str, str] | None:
    shapes_n = Counter(o.shape for o in objs)
    colours_n = Counter(o.colour_name for o in objs)
    combos = Counter((o.colour_name, o.shape) for o in objs)
    pick = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    if qtype == "color":
        cands = [o for o in objs if shapes_n[o.shape] == 1]
        return (f"what color is the {(o := pick(cands)).shape}?", o.colour_name) if cands else None
    if qtype == "shape":
        cands = [o for o in objs if colours_n[o.colour_name] == 1]
        return (
            (f"what shape is the {(o := pick(cands)).colour_name} object?", o.shape)
            if cands
            else None
        )
    if qtype == "count":  # about an attribute present in the scene 3 times in 4, so "0" is rarer
        present = rng.random() < 0.75
        if rng.random() < 0.5:
            c = pick(objs).colour_name if present else pick(list(COLOURS))
            return f"how many {c} objects are there?", str(colours_n[c])
        s = pick(objs).shape if present else pick(VQA_SHAPES)
        return f"how many {PLURAL[s]} are there?", str(shapes_n[s])
    if qtype == "exist":
        if rng.random() < 0.5:
            o = pick(objs)
            return f"is there a {o.colour_name} {o.shape}?", "yes"
        absent = [(c, s) for c in COLOURS for s in VQA_SHAPES if (c, s) not in combos]
        c, s = pick(absent)
        return f"is there a {c} {s}?", "no"
    # relate: two objects each named uniquely by colour and shape, clearly apart along the axis
    cands = [o for o in objs if combos[(o.colour_name, o.shape)] == 1]
    if len(cands) < 2:
        return None
    i, j = rng.choice(len(cands), size=2, replace=False)
    a, b = cands[int(i)], cands[int(j)]
    rel = pick(list(RELATIONS))
    axis = RELATIONS[rel][1]
    d = (a.cx - b.cx, a.cy - b.cy)[axis]
    if abs(d) < 3:
        return None
    holds = d < 0 if rel in ("left of", "above") else d > 0
    want = bool(rng.random() < 0.5)  # answer yes/no with equal probability
    if holds != want:
        rel = RELATIONS[rel][0]  # the opposite relation flips the answer
    return (
        f"is the {a.colour_name} {a.shape} {rel} the {b.colour_name} {b.shape}?",
        "yes" if want else "no",
    )


def make_vqa_item(qtype: str, rng: np.random.Generator) -> tuple[np.ndarray, str, str]:
    """(image float32 [3, 48, 48], question, answer) for one embedded-vqa example."""
    for _ in range(200):
        placed = place_objects(int(rng.integers(2, 6)), VQA_SIZE, (4.5, 7.5), 1.15, rng)
        objs = []
        for cx, cy, r in placed:
            shape, colour = (
                VQA_SHAPES[int(rng.integers(5))],
                list(COLOURS)[int(rng.integers(len(COLOURS)))],
            )
            rgb = np.clip(np.array(COLOURS[colour]) + rng.uniform(-0.05, 0.05, 3), 0, 1).astype(
                np.float32
            )
            objs.append(SceneObject(shape, colour, rgb, cx, cy, r, shapes.random_angle(shape, rng)))
        qa = _question(qtype, objs, rng)
        if qa is not None:
            break
    else:  # pragma: no cover - the loop succeeds in a few tries
        raise RuntimeError("could not generate an embedded-vqa question")
    gray = float(rng.uniform(0.3, 0.6))
    tex = shapes.texture(VQA_SIZE, VQA_SIZE, rng).mean(axis=0)
    background = np.repeat((gray + 0.12 * (tex - tex.mean()))[None], 3, axis=0).astype(np.float32)
    image, _, _, _ = render_scene(objs, background, [0] * len(objs), rng)
    return image, qa[0], qa[1]


@lru_cache(maxsize=1)
def embedded_vqa_vocab() -> Vocab:
    """Every word an embedded-vqa question can contain."""
    words = [
        "what color is the shape object how many objects are there is there a the",
        *COLOURS,
        *VQA_SHAPES,
        *PLURAL.values(),
        *RELATIONS,
    ]
    return Vocab.build(words)


EMBEDDED_VQA_SPEC = DatasetSpec(
    "embedded-vqa",
    "embedded",
    "vqa",
    {"train": 5000, "test": 1000},
    "embedded: CLEVR-style questions generated from the scene graphs of 48x48 shape scenes "
    "(color, shape, count, exist, relate; balanced types), 10 identical answers, not VQAv2",
    ("image", "question", "answers", "answer_index", "question_type"),
)


@register_dataset(EMBEDDED_VQA_SPEC)
def embedded_vqa(
    split: str = "test", n: int | None = None, seed: int = 0, data_dir=None
) -> TaskData:
    """Embedded CLEVR-style VQA on 48x48 scenes of 2-5 coloured shapes (a VQAv2 stand-in)."""
    check_split("embedded-vqa", split)
    n = default_n(EMBEDDED_VQA_SPEC, split, n)

    def make() -> TaskData:
        types = balanced_labels(seed, "embedded-vqa", split, n, len(QUESTION_TYPES))
        items = [
            make_vqa_item(QUESTION_TYPES[t], item_rng(seed, "embedded-vqa", split, i))
            for i, t in enumerate(types)
        ]
        vocab = {a: i for i, a in enumerate(VQA_ANSWERS)}
        return TaskData(
            "embedded-vqa",
            split,
            {
                "image": torch.from_numpy(np.stack([it[0] for it in items])),
                "question": [it[1] for it in items],
                "answers": [[it[2]] * 10 for it in items],
                "answer_index": torch.tensor([vocab[it[2]] for it in items], dtype=torch.long),
                "question_type": [QUESTION_TYPES[t] for t in types],
            },
            {
                "answer_vocab": list(VQA_ANSWERS),
                "vocab": embedded_vqa_vocab(),
                "kind": "embedded",
                "task": "vqa",
                "question_types": list(QUESTION_TYPES),
            },
            f"embedded: CLEVR-style questions on generated 48x48 shape scenes (seed {seed}, "
            f"{split}), "
            "not VQAv2; question types balanced in blocks of 5",
        )

    return cached(("embedded-vqa", split, n, seed), make)


# ---------------------------------------------------------------------------- VQAv2
VQA_LAYOUT = (
    "VQAv2 v2_OpenEnded_mscoco_{train2014,val2014}_questions.json, "
    "v2_mscoco_{train2014,val2014}_annotations.json and COCO images {train2014,val2014}/"
    "COCO_<split>_<image_id:012d>.jpg (or features_{train,test}.npz) in <data-dir>/vqav2/ "
    "or <data-dir>/"
)
VQA_SPEC = DatasetSpec(
    "vqav2",
    "real",
    "vqa",
    {"train": 443757, "test": 214354},
    "VQAv2 (Goyal 2017) read from --data-dir; test = val2014; answer vocabulary = top-3129 "
    "training answers",
    ("image", "question", "answers", "answer_index"),
)
NUM_ANSWERS = 3129  # the usual VQAv2 answer-vocabulary size (answers seen >= 9 times)


def _load_json(path: Path, key: str) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as f:
            items = json.load(f)[key]
        if not isinstance(items, list):
            raise TypeError
        return items
    except FileNotFoundError:
        raise DataError(f"{path}: missing; expected {VQA_LAYOUT}") from None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise DataError(
            f"{path}: malformed; expected the official VQAv2 JSON with a '{key}' list"
        ) from None


def _split_files(root: Path, coco_split: str) -> tuple[Path, Path]:
    return (
        root / f"v2_OpenEnded_mscoco_{coco_split}_questions.json",
        root / f"v2_mscoco_{coco_split}_annotations.json",
    )


def _read_split(root: Path, coco_split: str) -> tuple[list[dict], dict[int, list[str]]]:
    """(questions, {question_id: normalised answers}) of one VQAv2 split (cached per file state)."""
    return _read_split_cached(root, coco_split, stamp(*_split_files(root, coco_split)))


@lru_cache(maxsize=2)
def _read_split_cached(
    root: Path, coco_split: str, _stamp: tuple
) -> tuple[list[dict], dict[int, list[str]]]:
    qpath, apath = _split_files(root, coco_split)
    questions = _load_json(qpath, "questions")
    answers: dict[int, list[str]] = {}
    try:
        for ann in _load_json(apath, "annotations"):
            answers[int(ann["question_id"])] = [
                normalise_answer(a["answer"]) for a in ann["answers"]
            ]
        for q in questions:
            q["question_id"], q["image_id"], q["question"] = (
                int(q["question_id"]),
                int(q["image_id"]),
                str(q["question"]),
            )
    except (KeyError, TypeError, ValueError):
        raise DataError(
            f"{apath}: malformed; each item needs question_id, image_id and answers[].answer"
        ) from None
    return questions, answers


@lru_cache(maxsize=2)
def _answer_vocab(root: Path, k: int, _stamp: tuple) -> tuple[str, ...]:
    """The ``k`` most frequent normalised training answers (all annotators), ties alphabetical."""
    counts = Counter(a for ans in _read_split(root, "train2014")[1].values() for a in ans)
    return tuple(sorted(counts, key=lambda a: (-counts[a], a))[:k])


def _read_image(path: Path, size: int) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255.0
    except FileNotFoundError:
        raise DataError(f"{path}: missing image; expected {VQA_LAYOUT}") from None
    except OSError:
        raise DataError(f"{path}: malformed; expected an image file readable by Pillow") from None


def _read_features(path: Path, image_ids: list[int]) -> torch.Tensor:
    try:
        with np.load(path) as z:
            ids, feats = z["image_id"], z["features"]
    except (OSError, KeyError, ValueError):
        raise DataError(
            f"{path}: malformed; expected .npz with arrays image_id [M] and features [M, ...]"
        ) from None
    row = {int(i): k for k, i in enumerate(ids)}
    missing = [i for i in image_ids if i not in row]
    if missing:
        raise DataError(f"{path}: no features for image_id {missing[0]}")
    return torch.from_numpy(np.asarray(feats[[row[i] for i in image_ids]], dtype=np.float32))


@register_dataset(VQA_SPEC)
def vqav2(
    split: str = "test",
    n: int | None = None,
    seed: int = 0,
    data_dir=None,
    image_size: int = 64,
    num_answers: int = NUM_ANSWERS,
) -> TaskData:
    """VQAv2 (real); test = val2014. Images are resized to ``image_size`` squared.

    If ``features_<split>.npz`` (arrays image_id, features) is present, a field
    "image_features" is added; when the image folder is absent, only the features are loaded.
    Pass ``n``: all val2014 questions at 64x64 take about 10 GB.
    """
    check_split("vqav2", split)
    root = find_root(
        require_data_dir("vqav2", data_dir, VQA_LAYOUT),
        ["vqav2", "VQAv2"],
        "v2_OpenEnded_mscoco_train2014_questions.json",
    )
    coco_split = "train2014" if split == "train" else "val2014"
    questions, answers = _read_split(root, coco_split)
    train_stamp = stamp(*_split_files(root, "train2014"))
    answer_vocab = _answer_vocab(root, num_answers, train_stamp)
    vocab_index = {a: i for i, a in enumerate(answer_vocab)}
    qs = [questions[i] for i in subset_indices(len(questions), n, seed)]
    missing = [q["question_id"] for q in qs if q["question_id"] not in answers]
    if missing:
        raise DataError(
            f"{root / f'v2_mscoco_{coco_split}_annotations.json'}: no annotation for "
            f"question_id {missing[0]}"
        )
    fields: dict = {
        "question": [q["question"] for q in qs],
        "answers": [answers[q["question_id"]] for q in qs],
        "answer_index": torch.tensor(
            [answer_index(answers[q["question_id"]], vocab_index) for q in qs], dtype=torch.long
        ),
    }
    image_dir, feat_path = root / coco_split, root / f"features_{split}.npz"
    if not image_dir.is_dir() and not feat_path.exists():
        raise DataError(
            f"{image_dir}: missing image folder (and no {feat_path.name}); expected {VQA_LAYOUT}"
        )
    if image_dir.is_dir():
        images: dict[int, np.ndarray] = {}
        for q in qs:
            if q["image_id"] not in images:
                images[q["image_id"]] = _read_image(
                    image_dir / f"COCO_{coco_split}_{q['image_id']:012d}.jpg", image_size
                )
        fields["image"] = torch.from_numpy(np.stack([images[q["image_id"]] for q in qs]))
    if feat_path.exists():
        fields["image_features"] = _read_features(feat_path, [q["image_id"] for q in qs])
    fields["question_id"] = torch.tensor([q["question_id"] for q in qs], dtype=torch.long)
    return TaskData(
        "vqav2",
        split,
        fields,
        {
            "answer_vocab": list(answer_vocab),
            "vocab": _question_vocab(root, train_stamp),
            "kind": "real",
            "task": "vqa",
        },
        f"VQAv2 {coco_split} from {root}; answer vocabulary: top {len(answer_vocab)} "
        "training answers",
    )


@lru_cache(maxsize=2)
def _question_vocab(root: Path, _stamp: tuple) -> Vocab:
    return Vocab.build(q["question"] for q in _read_split(root, "train2014")[0])
