"""Text reconstruction datasets: Europarl (real) and embedded-text.

Field "text": list[str] of normalised sentences (lowercase a-z words, single spaces; see
:mod:`semcom_sim.data.textproc` for the DeepSC length rule, 4-30 words). meta["vocab"] is the
:class:`~semcom_sim.data.vocab.Vocab` of the train split, so train and test share ids.
Train/test assignment is deterministic: a sentence is in test iff md5(sentence) mod 10 == 0
(about 10 %, the DeepSC 9:1 ratio), so duplicates never straddle the split.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import re
import warnings
from functools import lru_cache
from pathlib import Path

from semcom_sim.data.core import (
    DatasetSpec,
    TaskData,
    check_split,
    register_dataset,
    require_data_dir,
    stable_test_member,
    stamp,
    subset_indices,
)
from semcom_sim.data.textproc import MAX_WORDS, MIN_WORDS, keep_sentence, normalise, split_sentences
from semcom_sim.data.vocab import Vocab
from semcom_sim.errors import DataError

RULE = f"DeepSC rule: lowercase ASCII letters only, {MIN_WORDS}-{MAX_WORDS} words"

EUROPARL_LAYOUT = (
    "the English side of Europarl v7 as plain text, one sentence per line "
    "(<data-dir>/europarl/europarl-v7.*.en, <data-dir>/europarl-v7.*.en or "
    "<data-dir>/europarl/*.en)"
)
EUROPARL_SPEC = DatasetSpec(
    "europarl",
    "real",
    "text",
    {"train": None, "test": None},
    f"Europarl v7 English (Koehn 2005) read from --data-dir; {RULE}; md5 9:1 split",
    ("text",),
)


def find_europarl(data_dir: Path) -> Path:
    for pattern in ("europarl/europarl-v7.*.en", "europarl-v7.*.en", "europarl/*.en"):
        found = sorted(data_dir.glob(pattern))
        if found:
            return found[0]
    raise DataError(f"{data_dir}: no Europarl file found; expected {EUROPARL_LAYOUT}")


@lru_cache(maxsize=2)
def _split_corpus(path: str, _stamp: tuple) -> tuple[tuple[str, ...], tuple[str, ...]]:
    train, test = [], []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                s = normalise(re.sub(r"<[^>]*>", " ", line))  # Europarl has XML-ish markup lines
                if keep_sentence(s):
                    (test if stable_test_member(s) else train).append(s)
    except UnicodeDecodeError:
        raise DataError(
            f"{path}: malformed; expected UTF-8 plain text, one sentence per line"
        ) from None
    if not train and not test:
        raise DataError(
            f"{path}: no sentence of {MIN_WORDS}-{MAX_WORDS} words; expected {EUROPARL_LAYOUT}"
        )
    return tuple(train), tuple(test)


_VOCABS: dict[tuple, Vocab] = {}


def _text_data(
    name: str,
    key: tuple,
    corpus: tuple[tuple[str, ...], tuple[str, ...]],
    split: str,
    n: int | None,
    seed: int,
    provenance: str,
) -> TaskData:
    train, test = corpus
    if key not in _VOCABS:
        _VOCABS[key] = Vocab.build(train)
    sents = train if split == "train" else test
    idx = subset_indices(len(sents), n, seed)
    kind = "embedded" if name.startswith("embedded") else "real"
    meta = {"vocab": _VOCABS[key], "kind": kind, "task": "text", "length_rule": RULE}
    return TaskData(name, split, {"text": [sents[i] for i in idx]}, meta, provenance)


@register_dataset(EUROPARL_SPEC)
def europarl(split: str = "test", n: int | None = None, seed: int = 0, data_dir=None) -> TaskData:
    """Europarl v7 English sentences (real), DeepSC length rule; read from --data-dir."""
    check_split("europarl", split)
    path = find_europarl(require_data_dir("europarl", data_dir, EUROPARL_LAYOUT))
    key = (str(path), stamp(path))
    return _text_data(
        "europarl",
        key,
        _split_corpus(*key),
        split,
        n,
        seed,
        f"Europarl {path.name} ({RULE}; md5 9:1 split)",
    )


# Standard-library modules whose docstrings feed embedded-text (besides pydoc's help topics).
DOC_MODULES = (
    "argparse",
    "calendar",
    "codecs",
    "collections",
    "configparser",
    "contextlib",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "email.message",
    "enum",
    "fractions",
    "functools",
    "gzip",
    "heapq",
    "http.client",
    "inspect",
    "io",
    "itertools",
    "json",
    "logging",
    "mailbox",
    "optparse",
    "pathlib",
    "pickle",
    "pprint",
    "queue",
    "random",
    "shutil",
    "socket",
    "statistics",
    "string",
    "subprocess",
    "tarfile",
    "tempfile",
    "textwrap",
    "threading",
    "typing",
    "unittest",
    "urllib.parse",
    "zipfile",
)
_CODE_LIKE = re.compile(r"[=\[\]{}<>_*`|\\#@$%^~\d]|>>>|\.\.\.")


def _prose_sentences(text: str) -> list[str]:
    """Normalised prose sentences of a help text: no code characters, capitalised, ends in '.'."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        for s in split_sentences(para):
            if s[:1].isupper() and s.endswith(".") and not _CODE_LIKE.search(s):
                s = normalise(s)
                if keep_sentence(s):
                    out.append(s)
    return out


def _docstrings(module_name: str) -> list[str]:
    with warnings.catch_warnings():  # some members (typing.io, typing.re) warn when touched
        warnings.simplefilter("ignore", DeprecationWarning)
        return _module_docstrings(module_name)


def _module_docstrings(module_name: str) -> list[str]:
    mod = importlib.import_module(module_name)
    docs = [mod.__doc__ or ""]
    for name, obj in sorted(vars(mod).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module_name:
            continue
        if inspect.isfunction(obj) or inspect.isclass(obj):
            docs.append(inspect.getdoc(obj) or "")
        if inspect.isclass(obj):
            docs += [
                inspect.getdoc(m) or ""
                for k, m in sorted(vars(obj).items())
                if not k.startswith("_") and inspect.isfunction(m)
            ]
    return docs


def generate_embedded_sentences() -> list[str]:
    """The sentences of embedded-text as first built, in order (pydoc topics, then docstrings).

    This is how :data:`EMBEDDED_TEXT_FILE` was made (on Python 3.11.7); the result depends on
    the running interpreter's help texts, so embedded-text is read from the shipped file and
    this function is kept only to document and regenerate it::

        text = "\n".join(generate_embedded_sentences()) + "\n"
        Path("semcom_sim/data/embedded_text.txt").write_text(text, encoding="utf-8")
    """
    from pydoc_data.topics import topics

    texts = [topics[k] for k in sorted(topics)]
    for m in DOC_MODULES:
        texts += _docstrings(m)
    seen: dict[str, None] = {}
    for t in texts:
        for s in _prose_sentences(t):
            seen.setdefault(s, None)
    return list(seen)


# The shipped corpus: UTF-8, one normalised sentence per line, deduplicated, in generation order.
EMBEDDED_TEXT_FILE = "embedded_text.txt"
EMBEDDED_TEXT_SHA256 = "351180e0a0b4443698d7d8e6c3858725829823b005495b59ab7ef90d0b5b9d63"


def _embedded_text_bytes() -> bytes:
    from importlib.resources import files

    try:
        return (files("semcom_sim.data") / EMBEDDED_TEXT_FILE).read_bytes()
    except OSError:
        raise DataError(
            f"embedded-text: package data {EMBEDDED_TEXT_FILE} is missing (broken install)"
        ) from None


def parse_embedded_text(raw: bytes, where: str = EMBEDDED_TEXT_FILE) -> list[str]:
    """Sentences of the shipped corpus after checking its sha256 and its format.

    Raises:
        DataError: the bytes do not hash to :data:`EMBEDDED_TEXT_SHA256`, or a line is not a
            normalised sentence of the length rule.
    """
    digest = hashlib.sha256(raw).hexdigest()
    if digest != EMBEDDED_TEXT_SHA256:
        raise DataError(
            f"embedded-text: {where} has sha256 {digest[:16]}..., expected "
            f"{EMBEDDED_TEXT_SHA256[:16]}... (modified or corrupt package data)"
        )
    sentences = raw.decode("utf-8").splitlines()
    bad = [s for s in sentences if normalise(s) != s or not keep_sentence(s)]
    if bad or not sentences:
        raise DataError(f"embedded-text: {where}: not one normalised sentence per line")
    return sentences


@lru_cache(maxsize=1)
def embedded_corpus() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(train, test) sentences of the shipped corpus (sha256-verified), md5 9:1 split."""
    sentences = parse_embedded_text(_embedded_text_bytes())
    train = tuple(s for s in sentences if not stable_test_member(s))
    test = tuple(s for s in sentences if stable_test_member(s))
    return train, test


EMBEDDED_TEXT_SPEC = DatasetSpec(
    "embedded-text",
    "embedded",
    "text",
    {"train": None, "test": None},
    "embedded: English prose sentences from Python 3.11's help texts (pydoc_data.topics) and "
    f"standard-library docstrings, shipped as {EMBEDDED_TEXT_FILE} (sha256 "
    f"{EMBEDDED_TEXT_SHA256[:12]}), not Europarl; {RULE}; deduplicated; md5 9:1 split",
    ("text",),
)


@register_dataset(EMBEDDED_TEXT_SPEC)
def embedded_text(
    split: str = "test", n: int | None = None, seed: int = 0, data_dir=None
) -> TaskData:
    """Embedded English sentences from Python's help texts and docstrings (a Europarl stand-in).

    Read from the package data file :data:`EMBEDDED_TEXT_FILE` (verified against
    :data:`EMBEDDED_TEXT_SHA256`, recorded in the provenance), so the data is the same on every
    Python; ``seed`` only picks the subset when ``n`` is given.
    """
    check_split("embedded-text", split)
    return _text_data(
        "embedded-text",
        ("embedded-text",),
        embedded_corpus(),
        split,
        n,
        seed,
        f"embedded: sentences from Python 3.11 pydoc help topics and stdlib docstrings "
        f"({EMBEDDED_TEXT_FILE}, sha256 {EMBEDDED_TEXT_SHA256}), not Europarl ({RULE}; "
        "md5 9:1 split)",
    )
