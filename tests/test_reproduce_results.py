"""A fresh checkout reproduces the committed results: the default sweep at a small sample
count, then `figures` and `tables`, gives the numbers stored in ``results/awgn-small/``.

The reference was written by exactly :data:`SWEEP` (see ``results/README.md``); every scheme
and task of the default sweep takes part. Numbers are compared to 1e-6 relative (the same
seed gives the same numbers; the tolerance only absorbs the 6-digit CSV formatting), the sets
of figures and tables must be equal, and the Markdown tables must match line for line.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from semcom_sim.cli import main

REFERENCE = Path(__file__).resolve().parents[1] / "results" / "awgn-small"
SWEEP = "sweep --snr -6:18:12 --samples 4 --batch-size 4 --threads 1 --quiet --out".split()


def _rows(path: Path, drop: tuple[str, ...] = ()) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: v for k, v in r.items() if k not in drop} for r in csv.DictReader(f)]


def _same(a: str, b: str) -> bool:
    try:
        x, y = float(a), float(b)
    except ValueError:
        return a == b
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9)


def _compare_csv(got: Path, want: Path, drop: tuple[str, ...] = ()) -> None:
    g, w = _rows(got, drop), _rows(want, drop)
    assert len(g) == len(w), f"{got.name}: {len(g)} rows, reference {len(w)}"
    for i, (rg, rw) in enumerate(zip(g, w, strict=True)):
        assert rg.keys() == rw.keys(), f"{got.name} row {i}: columns differ"
        bad = {k: (rg[k], rw[k]) for k in rg if not _same(rg[k], rw[k])}
        assert not bad, f"{got.name} row {i} ({rg.get('scheme')}, {rg.get('task')}): {bad}"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    import torch

    threads = torch.get_num_threads()
    out = tmp_path_factory.mktemp("sweep")
    try:
        assert main([*SWEEP, str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    return out


def test_reference_exists():
    assert (REFERENCE / "results.csv").is_file(), "run the SWEEP command to write the reference"
    config = json.loads((REFERENCE / "config.json").read_text())
    assert config["sweep"]["samples"] == 4 and config["sweep"]["seed"] == 0


def test_sweep_reproduces_the_stored_points(fresh):
    _compare_csv(fresh / "results.csv", REFERENCE / "results.csv", drop=("wall_s",))


def test_figures_and_tables_reproduce(fresh):
    for sub in ("figures", "tables"):
        got = sorted(p.relative_to(fresh / sub) for p in (fresh / sub).rglob("*") if p.is_file())
        want = sorted(
            p.relative_to(REFERENCE / sub) for p in (REFERENCE / sub).rglob("*") if p.is_file()
        )
        assert got == want, f"{sub}: files differ"
        for rel in got:
            if rel.suffix == ".csv":
                _compare_csv(fresh / sub / rel, REFERENCE / sub / rel)
            elif rel.suffix == ".md":
                g = (fresh / sub / rel).read_text().splitlines()
                w = (REFERENCE / sub / rel).read_text().splitlines()
                assert g == w, f"{rel}: differs from the reference"
    cliff = json.loads((fresh / "figures" / "cliff" / "cliff.json").read_text())
    want = json.loads((REFERENCE / "figures" / "cliff" / "cliff.json").read_text())
    assert [(c["task"], c["scheme"], c["cliff_db"]) for c in cliff] == [
        (c["task"], c["scheme"], c["cliff_db"]) for c in want
    ]
