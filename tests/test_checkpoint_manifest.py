"""Malformed checkpoint manifests, configs and weights: always a one-line CheckpointError."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from semcom_sim.checkpoint import (
    CONFIG,
    MANIFEST,
    WEIGHTS,
    load_checkpoint,
    save_checkpoint,
    sha256_file,
)
from semcom_sim.errors import CheckpointError


@pytest.fixture
def ckpt(tmp_path):
    state = {"w": torch.arange(6.0).reshape(2, 3)}
    return save_checkpoint(tmp_path / "ck", state, "toy", {"width": 3}, {"step": 1})


def _files(path) -> dict:
    return {n: sha256_file(path / n) for n in (WEIGHTS, CONFIG)}


def _rehash(path) -> None:
    (path / MANIFEST).write_text(json.dumps({"format": 1, "files": _files(path)}))


def _one_line(path, *words) -> None:
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(path, kind="toy")
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg and all(w in msg for w in words), msg


def test_good_checkpoint_loads(ckpt):
    state, config, extra = load_checkpoint(ckpt, kind="toy")
    assert torch.equal(state["w"], torch.arange(6.0).reshape(2, 3))
    assert config == {"width": 3} and extra == {"step": 1}


@pytest.mark.parametrize(
    "manifest",
    [
        lambda f: {"format": 1, "files": list(f.values())},  # files is a list
        lambda f: {"format": 1, "files": [[k, v] for k, v in f.items()]},
        lambda f: {"format": 1, "files": "abc"},
        lambda f: {"format": 1, "files": None},
        lambda f: {"format": 1},  # missing key
        lambda f: {"files": f},  # missing format
        lambda f: {"format": 2, "files": f},  # unknown format
        lambda f: {"format": 1, "files": {WEIGHTS: f[WEIGHTS]}},  # config not listed
        lambda f: {"format": 1, "files": {WEIGHTS: 123, CONFIG: f[CONFIG]}},  # not a string
        lambda f: {"format": 1, "files": {WEIGHTS: ["x"], CONFIG: f[CONFIG]}},  # unhashable
        lambda f: list(f.items()),  # not an object
        lambda f: "a string",
        lambda f: 42,
        lambda f: None,
    ],
)
def test_malformed_manifest_json_types(manifest, ckpt):
    (ckpt / MANIFEST).write_text(json.dumps(manifest(_files(ckpt))))
    _one_line(ckpt, MANIFEST)


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe\x00garbage", b"[" * 100000, b"NaN"])
def test_manifest_not_json(raw, ckpt):
    (ckpt / MANIFEST).write_bytes(raw)
    _one_line(ckpt, MANIFEST)


@pytest.mark.parametrize("name", [WEIGHTS, CONFIG])
def test_sha_mismatch(name, ckpt):
    files = _files(ckpt)
    files[name] = "0" * 64
    (ckpt / MANIFEST).write_text(json.dumps({"format": 1, "files": files}))
    _one_line(ckpt, name, "sha256")


@pytest.mark.parametrize(
    "config",
    [
        [1, 2],
        {"config": {}},  # no kind
        {"kind": "toy"},  # no config
        {"kind": 3, "config": {}},
        {"kind": "toy", "config": [1]},
        {"kind": "toy", "config": {}, "extra": "x"},
    ],
)
def test_malformed_config_json_types(config, ckpt):
    (ckpt / CONFIG).write_text(json.dumps(config))
    _rehash(ckpt)  # a consistent manifest: the config itself is wrong
    _one_line(ckpt, CONFIG)


@pytest.mark.parametrize(
    "weights",
    [
        b"",
        b"not safetensors at all",
        b"\xff" * 8 + b"{}",  # header length far beyond the file
        (8).to_bytes(8, "little") + b"[1,2,3]\x00",  # header is not an object
        pickle.dumps({"w": torch.zeros(2)}),  # a torch/pickle file under the safetensors name
    ],
)
def test_non_safetensors_weights(weights, ckpt):
    (ckpt / WEIGHTS).write_bytes(weights)
    _rehash(ckpt)  # checksums match: the file itself is not safetensors
    _one_line(ckpt, "not a safetensors file")


def test_cli_style_error_is_a_semcom_error(ckpt):
    from semcom_sim.errors import SemcomError

    (ckpt / MANIFEST).write_text(json.dumps({"format": 1, "files": []}))
    with pytest.raises(SemcomError):
        load_checkpoint(ckpt)
