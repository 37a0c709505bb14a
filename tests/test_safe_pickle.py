"""Data pickles are untrusted: the restricted unpickler rebuilds plain arrays and runs nothing."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from semcom_sim.cli import main
from semcom_sim.data import load_dataset
from semcom_sim.data.safe_pickle import UnsafePickleError, safe_load, safe_loads
from semcom_sim.errors import DataError

ARRAYS = [
    np.arange(24, dtype=np.uint8).reshape(2, 12),
    np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2],  # non-contiguous
    np.array([1.5, -2.0], dtype=">f8"),  # big-endian
    np.asfortranarray(np.arange(6, dtype=np.int64).reshape(2, 3)),
    np.zeros((0, 3072), dtype=np.uint8),
    np.array(7, dtype=np.int16),  # 0-d
]


def _dumps(obj, protocol: int, numpy1_paths: bool) -> bytes:
    """Pickle ``obj``; with ``numpy1_paths`` name numpy's globals by their numpy 1 module paths."""
    if not numpy1_paths:
        return pickle.dumps(obj, protocol=protocol)
    import numpy._core.multiarray as ma
    import numpy._core.numeric as nu

    orig = pickle.whichmodule

    def whichmodule(o, name):
        if o is ma._reconstruct:
            return "numpy.core.multiarray"
        if o is nu._frombuffer:
            return "numpy.core.numeric"
        return orig(o, name)

    pickle.whichmodule = whichmodule
    try:
        f = io.BytesIO()
        pickle._Pickler(f, protocol=protocol).dump(obj)  # the pure-Python pickler uses whichmodule
    finally:
        pickle.whichmodule = orig
    data = f.getvalue()
    assert b"numpy.core." in data and b"numpy._core" not in data
    return data


@pytest.mark.parametrize("numpy1_paths", [False, True])
@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_plain_arrays_round_trip_every_protocol(protocol, numpy1_paths):
    obj = {b"data": ARRAYS, "labels": [1, 2, 3], b"name": b"x", "t": (1.5, None, True)}
    data = _dumps(obj, protocol, numpy1_paths)
    with warnings.catch_warnings():  # numpy 2 warns on its numpy.core shim
        warnings.simplefilter("ignore", DeprecationWarning)
        back, plain = safe_loads(data), pickle.loads(data, encoding="bytes")
    assert back.keys() == obj.keys() and back[b"name"] == b"x" and back["t"] == (1.5, None, True)
    for a, b, c in zip(ARRAYS, back[b"data"], plain[b"data"], strict=True):
        # same dtype as the plain unpickler (which itself drops '>' at protocol 0), same values
        assert type(b) is np.ndarray and b.dtype == c.dtype and np.array_equal(a, b), (a, b)


class Payload:
    """A pickle whose loading would create ``marker`` (if the loader ran it)."""

    def __init__(self, how: str, marker: Path) -> None:
        self.how, self.marker = how, str(marker)

    def __reduce__(self):
        if self.how == "os.system":
            return os.system, (f"touch {self.marker}",)
        if self.how == "eval":
            return eval, (f"open({self.marker!r}, 'w').close()",)
        if self.how == "subprocess":
            return subprocess.call, (["touch", self.marker],)
        raise AssertionError(self.how)


HOWS = ["os.system", "eval", "subprocess"]


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("how", HOWS)
def test_malicious_pickle_is_refused_and_nothing_runs(how, protocol, tmp_path):
    marker = tmp_path / "pwned"
    data = pickle.dumps({b"data": np.zeros(3), b"x": Payload(how, marker)}, protocol=protocol)
    pickle.loads(data)  # the payload really works with the plain unpickler ...
    assert marker.exists()
    marker.unlink()
    with pytest.raises(UnsafePickleError, match="refused global"):
        safe_loads(data)  # ... and not with ours
    assert not marker.exists()


def test_other_globals_and_subclasses_refused():
    for obj in (
        np.asmatrix(np.zeros((2, 2))),  # an ndarray subclass
        np.array([1, "a"], dtype=object),
        Path("x"),
        {1, 2},
        np.float64(1.0),  # numpy scalars need numpy._core.multiarray.scalar: not allowed
    ):
        with pytest.raises(UnsafePickleError):
            safe_loads(pickle.dumps(obj, protocol=2))


# ------------------------------------------------------------------ the CIFAR-10 loader
def _write(path: Path, obj) -> None:
    path.write_bytes(pickle.dumps(obj, protocol=2))


def _cifar(root: Path, batch=None, meta=None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    good = {
        b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
        b"labels": [0, 3, 9, 1],
        b"batch_label": b"testing batch 1 of 1",
    }
    _write(root / "test_batch", good if batch is None else batch)
    names = {b"label_names": [f"c{i}".encode() for i in range(10)], b"num_vis": 3072}
    _write(root / "batches.meta", names if meta is None else meta)
    return root


def _one_line(exc: pytest.ExceptionInfo, *words: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg and all(w in msg for w in words), msg


def test_cifar_good_batch_reads(tmp_path):
    _cifar(tmp_path)
    data = load_dataset("cifar10", "test", data_dir=tmp_path)
    assert data.fields["image"].shape == (4, 3, 32, 32)
    assert data.fields["label"].tolist() == [0, 3, 9, 1] and data.meta["class_names"][9] == "c9"


@pytest.mark.parametrize("where", ["test_batch", "batches.meta"])
@pytest.mark.parametrize("how", HOWS)
def test_cifar_malicious_file_is_one_line_data_error(where, how, tmp_path):
    marker = tmp_path / "pwned"
    evil = Payload(how, marker)
    root = _cifar(tmp_path / "d")
    if where == "test_batch":  # hidden inside an otherwise valid batch dict
        batch = safe_load(root / "test_batch")
        batch[b"batch_label"] = evil
        _write(root / where, batch)
    else:
        _write(root / where, {b"label_names": [f"c{i}".encode() for i in range(9)] + [evil]})
    with pytest.raises(DataError) as exc:
        load_dataset("cifar10", "test", data_dir=tmp_path / "d")
    _one_line(exc, where, "refused")
    assert not marker.exists()


@pytest.mark.parametrize("where", ["test_batch", "batches.meta"])
def test_cli_malicious_cifar_exits_2_writes_nothing(where, tmp_path, capsys):
    marker = tmp_path / "pwned"
    root = _cifar(tmp_path / "data")
    _write(root / where, Payload("os.system", marker))  # the whole file is the payload
    out = tmp_path / "out"
    argv = ["sweep", "--snr", "0", "--samples", "2", "--quiet", "--schemes", "jpeg-ldpc"]
    argv += ["--tasks", "image-classification", "--data-dir", str(tmp_path / "data")]
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and where in err and "Traceback" not in err, err
    assert not out.exists() and not marker.exists()


@pytest.mark.parametrize(
    "batch, words",
    [
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": ["cat", "dog"]}, ["labels"]),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": ["1", "2"]}, ["labels"]),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 2, 3]}, ["labels", "N = 2"]),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 10]}, ["labels"]),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [True, False]}, ["labels"]),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": None}, ["labels"]),
        ({b"data": np.zeros((0, 3072), np.uint8), b"labels": []}, ["N >= 1"]),
        ({b"data": np.zeros((2, 3000), np.uint8), b"labels": [1, 2]}, ["[2, 3000]"]),
        ({b"data": np.zeros((2, 3072), np.float32), b"labels": [1, 2]}, ["float32"]),
        ({b"data": np.zeros((2, 3, 32, 32), np.uint8), b"labels": [1, 2]}, ["uint8"]),
        ({b"data": b"\x00" * 3072, b"labels": [1]}, ["bytes"]),
        ({b"labels": [1]}, ["data"]),
        ([1, 2, 3], ["dict"]),
    ],
)
def test_cifar_malformed_batch_is_one_line_data_error(batch, words, tmp_path):
    _cifar(tmp_path, batch=batch)
    with pytest.raises(DataError) as exc:
        load_dataset("cifar10", "test", data_dir=tmp_path)
    _one_line(exc, "test_batch", *words)


@pytest.mark.parametrize(
    "meta",
    [
        {b"label_names": [b"a"] * 9},
        {b"label_names": list(range(10))},
        {b"label_names": b"abcdefghij"},
        {b"label_names": [b"\xff"] * 10},
        {},
    ],
)
def test_cifar_malformed_meta_is_one_line_data_error(meta, tmp_path):
    _cifar(tmp_path, meta=meta)
    with pytest.raises(DataError) as exc:
        load_dataset("cifar10", "test", data_dir=tmp_path)
    _one_line(exc, "batches.meta", "label_names")
