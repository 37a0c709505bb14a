"""Sentence sentiment datasets: SST-2 (real, GLUE format) and embedded-sentiment.

Fields: "text" list[str], "label" int64 [N] (1 = positive, 0 = negative). meta["vocab"] is the
vocabulary of the train split.

The embedded sentences are built from templates over a built-in word list (below) of common
review adjectives. The list is curated by hand rather than taken wholesale from a packaged
lexicon such as VADER's, whose entries mix parts of speech, slang and profanity; the tests check
every word's polarity against VADER's lexicon when the vaderSentiment package is installed.
Negation ("not bad") and contrast ("dull but moving": the clause after "but" decides) make every
adjective appear in sentences of both labels about equally often, so word-level shortcuts fail.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

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
from semcom_sim.data.vocab import Vocab
from semcom_sim.errors import DataError

POSITIVE = tuple(
    "good great excellent wonderful amazing brilliant superb lovely charming delightful "
    "enjoyable pleasant fun funny beautiful clever smart fantastic perfect impressive powerful "
    "stunning sweet gentle nice inspired inspiring entertaining satisfying thoughtful elegant "
    "graceful hilarious intelligent engaging fresh original moving witty gripping memorable".split()
)
NEGATIVE = tuple(
    "bad awful terrible horrible boring dull weak poor stupid lame ugly annoying disappointing "
    "painful messy unpleasant worthless dreadful pathetic mindless tired nasty dumb confusing "
    "trite bland tedious tiresome mediocre clumsy pointless predictable shallow sloppy unfunny "
    "forgettable stale hollow".split()
)
NOUNS = tuple(
    "movie film plot story script acting cast ending soundtrack dialogue direction pacing "
    "performance humor cinematography".split()
)
_INTENSIFIERS = ("very", "really", "quite", "truly", "rather", "so")
_NEGATORS = ("not", "never", "hardly")
_PREFIXES = ("", "overall ", "honestly ", "i think ")

# (template, which adjective decides, whether the sentence negates it);
# {n} noun, {a} {b} adjectives, {i} intensifier, {g} negator.
TEMPLATES = (
    ("the {n} was {a}", "a", False),
    ("the {n} was {i} {a}", "a", False),
    ("the {n} was {a} and {b}", "b", False),
    ("the {n} was {g} {a}", "a", True),
    ("i would not call the {n} {a}", "a", True),
    ("no one could say the {n} was {a}", "a", True),
    ("the {n} was {a} but {b}", "b", False),
    ("although the {n} was {a} , it was {b}", "b", False),
    ("the {n} was not {a} , just {b}", "b", False),
    ("the {n} was not {a} but it was {b}", "b", False),
)


def make_sentence(label: int, rng: np.random.Generator) -> tuple[str, int]:
    """A templated review sentence whose sentiment is ``label``; returns (text, template index)."""
    t = int(rng.integers(len(TEMPLATES)))
    template, decider, negated = TEMPLATES[t]
    decider_positive = bool(label) != negated
    other_positive = (not decider_positive) if rng.random() < 0.7 else decider_positive
    if " and " in template:  # "x and y" needs two adjectives of the same polarity
        other_positive = decider_positive
    pools = {True: POSITIVE, False: NEGATIVE}
    words = {
        decider: pools[decider_positive][int(rng.integers(len(pools[decider_positive])))],
        "b" if decider == "a" else "a": pools[other_positive][
            int(rng.integers(len(pools[other_positive])))
        ],
    }
    text = template.format(
        n=NOUNS[int(rng.integers(len(NOUNS)))],
        i=_INTENSIFIERS[int(rng.integers(len(_INTENSIFIERS)))],
        g=_NEGATORS[int(rng.integers(len(_NEGATORS)))],
        **words,
    )
    prefix = _PREFIXES[int(rng.integers(len(_PREFIXES)))] if template.startswith("the") else ""
    return prefix + text, t


SENTIMENT_SPEC = DatasetSpec(
    "embedded-sentiment",
    "embedded",
    "sentiment",
    {"train": 8000, "test": 1000},
    "embedded: templated review sentences over a built-in adjective list with negation and "
    "contrast, balanced labels, not SST-2",
    ("text", "label"),
)


@lru_cache(maxsize=1)
def sentiment_vocab() -> Vocab:
    """Every word the templates can produce (the same for every seed and split)."""
    words = [*POSITIVE, *NEGATIVE, *NOUNS, *_INTENSIFIERS, *_NEGATORS, *_PREFIXES]
    return Vocab.build([*words, *(t[0] for t in TEMPLATES)])


@register_dataset(SENTIMENT_SPEC)
def embedded_sentiment(
    split: str = "test", n: int | None = None, seed: int = 0, data_dir=None
) -> TaskData:
    """Embedded templated review sentences, binary balanced labels (an SST-2 stand-in)."""
    check_split("embedded-sentiment", split)
    n = default_n(SENTIMENT_SPEC, split, n)

    def make() -> TaskData:
        labels = balanced_labels(seed, "embedded-sentiment", split, n, 2)
        made = [
            make_sentence(int(y), item_rng(seed, "embedded-sentiment", split, i))
            for i, y in enumerate(labels)
        ]
        return TaskData(
            "embedded-sentiment",
            split,
            {
                "text": [m[0] for m in made],
                "label": torch.from_numpy(labels),
                "template": torch.tensor([m[1] for m in made], dtype=torch.long),
            },
            {
                "num_classes": 2,
                "class_names": ["negative", "positive"],
                "kind": "embedded",
                "task": "sentiment",
            },
            f"embedded: templated review sentences (seed {seed}, {split}), not SST-2; labels "
            "balanced in blocks of 2",
        )

    data = cached(("embedded-sentiment", split, n, seed), make)
    data.meta["vocab"] = sentiment_vocab()
    return data


SST2_LAYOUT = (
    "GLUE SST-2 train.tsv and dev.tsv (header 'sentence<TAB>label') in <data-dir>/SST-2/ "
    "or <data-dir>/"
)
SST2_SPEC = DatasetSpec(
    "sst2",
    "real",
    "sentiment",
    {"train": 67349, "test": 872},
    "SST-2 (Socher 2013) in GLUE format read from --data-dir; test = GLUE dev.tsv",
    ("text", "label"),
)


def read_sst2_tsv(path: Path) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """(sentences, labels) from a GLUE SST-2 tsv with header 'sentence<TAB>label'."""
    return _read_sst2(path, stamp(path))


@lru_cache(maxsize=4)
def _read_sst2(path: Path, _stamp: tuple) -> tuple[tuple[str, ...], tuple[int, ...]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: missing; expected {SST2_LAYOUT}") from None
    except UnicodeDecodeError:
        raise DataError(
            f"{path}: malformed; expected UTF-8 tsv with header 'sentence<TAB>label'"
        ) from None
    if not lines or lines[0].strip().split("\t") != ["sentence", "label"]:
        raise DataError(f"{path}: malformed; expected first line 'sentence<TAB>label' (GLUE SST-2)")
    texts, labels = [], []
    for k, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 2 or parts[1].strip() not in ("0", "1"):
            raise DataError(f"{path}:{k}: malformed; expected '<sentence><TAB><0 or 1>'")
        texts.append(parts[0].strip())
        labels.append(int(parts[1]))
    return tuple(texts), tuple(labels)


@register_dataset(SST2_SPEC)
def sst2(split: str = "test", n: int | None = None, seed: int = 0, data_dir=None) -> TaskData:
    """SST-2 (real, GLUE format); the test split is GLUE's dev.tsv (its test labels are hidden)."""
    check_split("sst2", split)
    root = find_root(
        require_data_dir("sst2", data_dir, SST2_LAYOUT), ["SST-2", "sst2"], "train.tsv"
    )
    path = root / ("train.tsv" if split == "train" else "dev.tsv")
    texts, labels = read_sst2_tsv(path)
    idx = subset_indices(len(texts), n, seed)
    return TaskData(
        "sst2",
        split,
        {
            "text": [texts[i] for i in idx],
            "label": torch.tensor([labels[i] for i in idx], dtype=torch.long),
        },
        {
            "num_classes": 2,
            "class_names": ["negative", "positive"],
            "kind": "real",
            "task": "sentiment",
            "vocab": _sst2_vocab(root / "train.tsv", stamp(root / "train.tsv")),
        },
        f"SST-2 (GLUE) {path.name} from {root}",
    )


@lru_cache(maxsize=2)
def _sst2_vocab(path: Path, _stamp: tuple) -> Vocab:
    return Vocab.build(read_sst2_tsv(path)[0])
