"""embedded-text ships as sha256-verified package data: the same sentences on every Python."""

from __future__ import annotations

import hashlib
import sys
from importlib.resources import files

import pytest

from semcom_sim.data import load_dataset
from semcom_sim.data.text import (
    EMBEDDED_TEXT_FILE,
    EMBEDDED_TEXT_SHA256,
    embedded_corpus,
    generate_embedded_sentences,
    parse_embedded_text,
)
from semcom_sim.errors import DataError


def _raw() -> bytes:
    return (files("semcom_sim.data") / EMBEDDED_TEXT_FILE).read_bytes()


def test_shipped_file_hash_and_sizes():
    assert hashlib.sha256(_raw()).hexdigest() == EMBEDDED_TEXT_SHA256
    train, test = embedded_corpus()
    assert (len(train), len(test)) == (2571, 291)  # the sizes docs/data.md gives
    assert not set(train) & set(test)


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the file was generated on 3.11")
def test_shipped_file_is_the_corpus_python_311_builds():
    # identical data to the docstring construction it replaces: committed results stay valid
    assert _raw().decode("utf-8").splitlines() == generate_embedded_sentences()


def test_provenance_records_the_hash():
    d = load_dataset("embedded-text", "test", n=5, seed=1)
    assert EMBEDDED_TEXT_SHA256 in d.provenance and len(d.fields["text"]) == 5


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r + b"one more line of text here\n",
        lambda r: r.replace(b"the", b"teh", 1),
        lambda r: r[:-1],
        lambda r: b"",
    ],
)
def test_modified_corpus_is_a_one_line_data_error(change):
    with pytest.raises(DataError) as exc:
        parse_embedded_text(change(_raw()))
    msg = str(exc.value)
    assert "\n" not in msg and "sha256" in msg and EMBEDDED_TEXT_FILE in msg
