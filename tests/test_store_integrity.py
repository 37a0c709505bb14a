"""The store never serves a stale or mixed point, and a point's value depends on that point alone.

- a changed checkpoint, Rayleigh coherence, decoder or batch size yields new points; an unchanged
  rerun does no work;
- ``--snr 0,3,6`` fresh equals ``--snr 0,6`` then ``--snr 0,3,6`` (learned and conventional);
- readers open the store read-only: a 0-byte, text, foreign or old-schema file is a one-line
  error and is left byte-for-byte unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
import torch

from semcom_sim.channel import AWGN, RayleighBlockFading
from semcom_sim.checkpoint import load_checkpoint, save_checkpoint
from semcom_sim.cli import main
from semcom_sim.sim.store import STORE_NAME, Record, ResultStore, point_key

BASE = ["sweep", "--samples", "3", "--batch-size", "3", "--quiet", "--no-plot"]


def _sweep(out: Path, *extra: str, capsys=None) -> tuple[int, int]:
    """Run a small sweep; returns (simulated, already stored)."""
    assert main([*BASE, "--out", str(out), *extra]) == 0
    text = capsys.readouterr().out if capsys is not None else ""
    first = text.splitlines()[0] if text else ""
    done, skipped = first.split(" points simulated, ")
    return int(done), int(skipped.split()[0])


def _values(out: Path) -> dict[tuple, dict]:
    store = ResultStore.open_read(out)
    try:
        return {(r.scheme, r.task, r.snr_db): r.metrics for r in store.records()}
    finally:
        store.close()


@pytest.mark.parametrize(
    "schemes,task",
    [("jpeg-ldpc", "image-reconstruction"), ("udeepsc", "image-reconstruction")],
)
def test_point_value_does_not_depend_on_the_grid(tmp_path, capsys, schemes, task):
    common = ["--schemes", schemes, "--tasks", task]
    fresh, split = tmp_path / "fresh", tmp_path / "split"
    assert _sweep(fresh, *common, "--snr", "0,3,6", capsys=capsys) == (3, 0)
    assert _sweep(split, *common, "--snr", "0,6", capsys=capsys) == (2, 0)
    assert _sweep(split, *common, "--snr", "0,3,6", capsys=capsys) == (1, 2)
    assert _values(fresh) == _values(split)


def test_unchanged_rerun_does_no_work_and_settings_make_new_points(tmp_path, capsys):
    out = tmp_path / "r"
    common = ["--schemes", "jpeg-capacity", "--tasks", "image-reconstruction", "--snr", "0,6"]
    ray = [*common, "--channel", "rayleigh"]
    assert _sweep(out, *ray, capsys=capsys) == (2, 0)
    assert _sweep(out, *ray, capsys=capsys) == (0, 2)
    assert _sweep(out, *ray, "--coherence", "1", capsys=capsys) == (2, 0)  # was reused before
    assert _sweep(out, *ray, "--batch-size", "2", capsys=capsys) == (2, 0)
    assert _sweep(out, *ray, capsys=capsys) == (0, 2)
    # the coherence is part of the channel's name, so figures never mix the two channels
    store = ResultStore.open_read(out)
    assert {r.channel for r in store.records()} == {"rayleigh", "rayleigh-coh1"}
    store.close()


def test_keys_do_not_depend_on_which_schemes_ran_before(tmp_path, capsys):
    out = tmp_path / "o"
    task = ["--tasks", "image-reconstruction", "--snr", "0"]
    assert _sweep(out, "--schemes", "jpeg-ldpc", *task, capsys=capsys) == (1, 0)
    # jpeg-capacity is pending and runs first; jpeg-ldpc's stored point must still be found
    assert _sweep(out, "--schemes", "jpeg-capacity,jpeg-ldpc", *task, capsys=capsys) == (1, 1)


def test_decoder_backend_is_part_of_the_key(tmp_path, capsys):
    out = tmp_path / "d"
    common = ["--schemes", "utf8-turbo", "--tasks", "text-reconstruction", "--snr", "12"]
    assert _sweep(out, *common, "--decoder", "fast", capsys=capsys) == (1, 0)
    assert _sweep(out, *common, "--decoder", "fast", capsys=capsys) == (0, 1)
    assert _sweep(out, *common, "--decoder", "sionna", capsys=capsys) == (1, 0)


def _perturbed_copy(src: Path, dst: Path, name: str) -> None:
    shutil.copytree(src, dst)
    state, config, extra = load_checkpoint(dst / name)
    kind = json.loads((dst / name / "config.json").read_text())["kind"]
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key] = state[key] + 0.01
    save_checkpoint(dst / name, state, kind, config, extra)


def test_changed_checkpoint_yields_new_points(tmp_path, capsys, monkeypatch):
    from semcom_sim.models.udeepsc.schemes import CHECKPOINT_ENV, checkpoint_dir

    ckpt = tmp_path / "ckpt"
    shutil.copytree(checkpoint_dir(), ckpt)
    monkeypatch.setenv(CHECKPOINT_ENV, str(ckpt))
    out = tmp_path / "c"
    common = ["--schemes", "tdeepsc", "--tasks", "image-classification", "--snr", "0,12"]
    assert _sweep(out, *common, capsys=capsys) == (2, 0)
    assert _sweep(out, *common, capsys=capsys) == (0, 2)
    shutil.rmtree(ckpt)
    _perturbed_copy(checkpoint_dir.__globals__["PACKAGED"], ckpt, "tdeepsc-tiny-imgc")
    assert _sweep(out, *common, capsys=capsys) == (2, 0)  # stale points are not reused
    store = ResultStore.open_read(out)
    all_recs, served = store.records(latest=False), store.records()
    store.close()
    assert len(all_recs) == 4 and len(served) == 2  # the old curve is kept, never served
    assert {r.curve for r in served} == {max(all_recs, key=lambda r: r.created).curve}
    # the original checkpoint back: its stored points are reused and are the ones served, not
    # the newer file's (the store records which configuration the last run asked for)
    first = {r.curve for r in all_recs} - {r.curve for r in served}
    shutil.rmtree(ckpt)
    shutil.copytree(checkpoint_dir.__globals__["PACKAGED"], ckpt)
    assert _sweep(out, *common, capsys=capsys) == (0, 2)
    store = ResultStore.open_read(out)
    assert {r.curve for r in store.records()} == first
    store.close()


def test_records_never_mix_two_configurations(tmp_path):
    store = ResultStore(tmp_path)
    for i, (curve, snr) in enumerate([("old", 0.0), ("old", 6.0), ("new", 0.0)]):
        rec = Record("s", "t", "awgn", snr, 0, 4, "d", {"m": float(i)}, 1.0, 1.0, {}, 0.0, "")
        rec.key, rec.curve = point_key(curve, snr), curve
        store.put(rec)
    served = store.records()
    store.close()
    assert [(r.snr_db, r.curve) for r in served] == [(0.0, "new")]


def test_channel_blocks_with_their_own_generators_equal_separate_calls():
    x = torch.view_as_complex(torch.randn(6, 10, 2)) / 2**0.5
    snr = torch.tensor([0.0, 0.0, 6.0, 6.0, 12.0, 12.0])
    for ch in (AWGN(), RayleighBlockFading(coherence_symbols=4)):
        gens = [torch.Generator().manual_seed(s) for s in (1, 2, 3)]
        joint = ch(x, snr, gens)
        for r, s in enumerate((1, 2, 3)):
            rows = slice(2 * r, 2 * r + 2)
            part = ch(x[rows], snr[rows], torch.Generator().manual_seed(s))
            assert torch.equal(joint.y[2 * r : 2 * r + 2], part.y)
            assert torch.equal(joint.no_eff[2 * r : 2 * r + 2], part.no_eff)


# ----------------------------------------------------------------------------- readers


def _bad_stores(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, make in {
        "empty": lambda p: p.write_bytes(b""),
        "text": lambda p: p.write_text("hello, I am not a database\n"),
        "truncated": lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\x00" * 50),
    }.items():
        d = tmp_path / name
        d.mkdir()
        make(d / STORE_NAME)
        out[name] = d
    d = tmp_path / "foreign"
    d.mkdir()
    db = sqlite3.connect(d / STORE_NAME)
    db.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    db.commit()
    db.close()
    out["foreign"] = d
    d = tmp_path / "schema1"
    d.mkdir()
    db = sqlite3.connect(d / STORE_NAME)
    db.execute("CREATE TABLE points (scheme TEXT, task TEXT)")
    db.execute("CREATE TABLE runs (started REAL, config TEXT)")
    db.commit()
    db.close()
    out["schema1"] = d
    return out


@pytest.mark.parametrize("command", ["plot", "figures", "tables", "sweep"])
def test_readers_refuse_and_never_modify_bad_stores(tmp_path, capsys, command):
    for kind, d in _bad_stores(tmp_path).items():
        before = {p.name: p.read_bytes() for p in d.iterdir()}
        if command == "sweep":
            argv = [*BASE, "--schemes", "jpeg-ldpc", "--tasks", "image-reconstruction",
                    "--snr", "0", "--out", str(d)]  # fmt: skip
        else:
            argv = [command, "--results", str(d)]
        assert main(argv) == 2, kind
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, (kind, err)
        after = {p.name: p.read_bytes() for p in d.iterdir()}
        assert after == before, kind


def test_reading_a_read_only_results_folder(tmp_path, capsys):
    out = tmp_path / "ro"
    common = ["--schemes", "jpeg-capacity", "--tasks", "image-reconstruction", "--snr", "0,6"]
    _sweep(out, *common, capsys=capsys)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    os.chmod(out, 0o555)
    try:
        figs = tmp_path / "figs"
        assert main(["plot", "--results", str(out), "--out", str(figs)]) == 0
        assert list(figs.glob("*.png"))
        if not os.access(out, os.W_OK):  # not root: the default output folder is refused
            assert main(["tables", "--results", str(out)]) == 2
    finally:
        os.chmod(out, 0o755)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    capsys.readouterr()


def test_output_files_are_readable_like_any_user_file(tmp_path, capsys):
    out = tmp_path / "perm"
    common = ["--schemes", "jpeg-capacity", "--tasks", "image-reconstruction", "--snr", "0"]
    old = os.umask(0o022)
    try:
        _sweep(out, *common, capsys=capsys)
    finally:
        os.umask(old)
    for name in ("results.csv", "config.json"):
        assert (out / name).stat().st_mode & 0o777 == 0o644, name
    assert json.loads((out / "config.json").read_text())["runs"]


def test_report_and_study_inputs_fail_before_writing(tmp_path, capsys):
    out = tmp_path / "s"
    common = ["--schemes", "jpeg-capacity", "--tasks", "image-reconstruction", "--snr", "0"]
    _sweep(out, *common, capsys=capsys)
    bad_csv = tmp_path / "study.csv"
    bad_csv.write_text("not,a\nstudy,csv\n")
    cases = [
        ["figures", "--results", str(out), "--codebook-study", str(bad_csv),
         "--out", str(tmp_path / "f")],
        ["tables", "--results", str(out), "--snr-db=nan", "--out", str(tmp_path / "t")],
        ["study", "codebook", "--sizes", "4", "--steps", "0", "--out", str(tmp_path / "c")],
    ]  # fmt: skip
    for argv in cases:
        before = sorted(p.name for p in tmp_path.rglob("*"))
        assert main(argv) == 2, argv
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
        assert sorted(p.name for p in tmp_path.rglob("*")) == before, argv
