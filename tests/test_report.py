"""`semcom-sim figures` / `semcom-sim tables` on a hand-made store: the drawn numbers are the
stored ones, normalisation is metric / upper bound, bad input is one line and exit 2."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from semcom_sim.cli import main
from semcom_sim.report.common import conventional_scheme, load_results, normalized
from semcom_sim.sim.store import Record, ResultStore

SNRS = (0.0, 6.0, 12.0)
# (scheme, task) -> accuracy per SNR; symbols per SNR below
ACC = {
    ("udeepsc", "image-classification"): (0.40, 0.60, 0.70),
    ("tdeepsc", "image-classification"): (0.50, 0.70, 0.75),
    ("upper-bound", "image-classification"): (0.80, 0.80, 0.80),
    ("jpeg-ldpc", "image-classification"): (0.10, 0.80, 0.80),
    ("udeepsc", "sentiment"): (0.60, 0.90, 0.95),
    ("tdeepsc", "sentiment"): (0.70, 0.90, 1.00),
    ("upper-bound", "sentiment"): (1.00, 1.00, 1.00),
    ("udeepsc-layer1", "image-classification"): (0.2, 0.3, 0.4),
    ("udeepsc-layer2", "image-classification"): (0.3, 0.5, 0.6),
    ("udeepsc-exit0.5", "image-classification"): (0.3, 0.5, 0.55),
}


def _rec(scheme: str, task: str, i: int, acc: float) -> Record:
    layer = {"udeepsc-layer1": 1.0, "udeepsc-layer2": 2.0, "udeepsc-exit0.5": 1.5}.get(scheme, 3.0)
    extras = {"exit_layer": layer, "certainty": 0.1 * layer + 0.01 * i}
    if scheme == "jpeg-ldpc":
        extras = {"payload_ok": 1.0 if i else 0.0}
    return Record(
        scheme=scheme,
        task=task,
        channel="awgn",
        snr_db=SNRS[i],
        seed=0,
        samples=10,
        dataset="shapes32" if task == "image-classification" else "embedded-sentiment",
        metrics={"accuracy": acc, "accuracy_stderr": 0.01},
        mean_symbols=1000.0 if scheme == "jpeg-ldpc" else 100.0 - 10 * i,
        mean_channel_uses=100.0,
        extras=extras,
        wall_s=0.1,
        provenance="test",
    )


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("results")
    store = ResultStore(root)
    for (scheme, task), accs in ACC.items():
        for i, a in enumerate(accs):
            store.put(_rec(scheme, task, i, a))
    store.close()
    return root


def _csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_conventional_scheme_of_each_task():
    assert conventional_scheme("image-classification") == "jpeg-ldpc"
    assert conventional_scheme("sentiment") == "utf8-turbo"
    assert conventional_scheme("video-sentiment") == "h264-ldpc"
    assert conventional_scheme("no-such-task") is None
    assert normalized(0.5, 0.8) == pytest.approx(0.625)
    assert math.isnan(normalized(0.5, 0.0))


def test_figures_draw_the_stored_numbers(store_dir, tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["figures", "--results", str(store_dir), "--out", str(out)]) == 0
    for stem in ("fig7_awgn", "fig12_awgn", "fig8_awgn", "fig10_awgn"):
        for ext in ("png", "pdf", "txt", "csv"):
            assert (out / f"{stem}.{ext}").stat().st_size > 0, f"{stem}.{ext}"
    caption = (out / "fig7_awgn.txt").read_text()
    assert "Channel: awgn" in caption and "Command:" in caption and "shapes32" in caption
    rows7 = _csv(out / "fig7_awgn.csv")
    got = {(r["scheme"], r["task"], float(r["snr_db"])): float(r["value"]) for r in rows7}
    for (scheme, task), accs in ACC.items():
        if scheme in ("udeepsc", "tdeepsc", "upper-bound", "jpeg-ldpc"):
            for s, a in zip(SNRS, accs, strict=True):
                assert got[(scheme, task, s)] == pytest.approx(a)
    # Fig. 12: mean over tasks of 1 - metric / upper bound, and mean symbols
    rows12 = [r for r in _csv(out / "fig12_awgn.csv") if r["task"] == "mean"]
    for r in rows12:
        i = SNRS.index(float(r["snr_db"]))
        want = [
            1 - ACC[(r["scheme"], t)][i] / ACC[("upper-bound", t)][i]
            for t in ("image-classification", "sentiment")
        ]
        assert float(r["normalized_loss"]) == pytest.approx(sum(want) / 2, abs=1e-6)
        assert float(r["mean_symbols"]) == pytest.approx(100.0 - 10 * i)
    # Fig. 10: fixed layers and the threshold variant at 12 dB, mean layers from the extras
    pts = {r["scheme"]: r for r in _csv(out / "fig10_awgn.csv") if r.get("kind")}
    assert float(pts["udeepsc-layer2"]["mean_layers"]) == pytest.approx(2.0)
    assert float(pts["udeepsc-exit0.5"]["mean_normalized"]) == pytest.approx(0.55 / 0.8)
    assert "fig11" in capsys.readouterr().out  # listed as not drawn, not drawn empty


def test_tables_read_symbols_and_parameters(store_dir, tmp_path):
    out = tmp_path / "tables"
    assert main(["tables", "--results", str(store_dir), "--out", str(out), "--snr-db", "6"]) == 0
    rows = {r["task"]: r for r in _csv(out / "table1_awgn.csv")}
    ic = rows["image-classification"]
    assert float(ic["conventional"]) == pytest.approx(1000.0)
    assert float(ic["udeepsc"]) == pytest.approx(90.0)  # 100 - 10 * index of 6 dB
    assert float(ic["paper_conventional"]) == 53760
    assert float(ic["saving"]) == pytest.approx(1000 / 90, rel=1e-5)
    t2 = {r["task"]: r for r in _csv(out / "table2.csv")}
    assert float(t2["imgc"]["paper_tdeepsc_m"]) == pytest.approx(32.6)
    assert 0.9 < float(t2["all six"]["ratio_paper_preset"]) < 1.1
    assert int(t2["all six"]["tdeepsc_tiny"]) > int(t2["all six"]["udeepsc_tiny"])
    md = (out / "table1_awgn.md").read_text()
    assert "| image-classification | jpeg-ldpc |" in md and "Our setting differs" in md


def test_fig11_from_a_study_csv(store_dir, tmp_path):
    study = tmp_path / "study" / "codebook_study.csv"
    study.parent.mkdir()
    lines = ["method,codebook_size,task,metric,value,normalized"]
    for m, vals in (("Joint", (0.5, 0.6)), ("U-DeepSC", (0.8, 0.9))):
        for k, v in zip((4, 16), vals, strict=True):
            lines.append(f"{m},{k},mean,,,{v}")
    study.write_text("\n".join(lines) + "\n")
    out = tmp_path / "f"
    argv = ["figures", "--results", str(store_dir), "--out", str(out), "--codebook-study"]
    assert main([*argv, str(study)]) == 0
    assert (out / "fig11.png").is_file() and (out / "fig11.pdf").is_file()
    # the seeds study's CSV: error bars from normalized_std (empty with one seed)
    lines = [
        "method,codebook_size,task,value,normalized,normalized_std",
        "Joint,8,mean,0.5,0.5,0.1",
        "Joint,32,mean,0.6,0.6,",
        "Sep-T,8,imgc,0.7,0.7,0.2",
    ]
    study.write_text("\n".join(lines) + "\n")
    assert main([*argv, str(study)]) == 0
    study.write_text("a,b\n1,2\n")
    assert main([*argv, str(study)]) == 2


@pytest.mark.parametrize("cmd", ["figures", "tables"])
def test_bad_results_dir_is_one_line_exit_2(tmp_path, capsys, cmd):
    assert main([cmd, "--results", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "results.sqlite" in err
    assert not (tmp_path / "nope").exists()


def test_load_results_rejects_an_empty_store(tmp_path):
    ResultStore(tmp_path).close()
    from semcom_sim.errors import SemcomError

    with pytest.raises(SemcomError, match="no points"):
        load_results(tmp_path)


def test_readme_front_page_shows_the_committed_table1_and_fig7():
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    table = (root / "results" / "awgn" / "tables" / "table1_awgn.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(rows) >= 6 and all(row in readme for row in rows)
    assert "(results/awgn/figures/fig7_awgn.png)" in readme
    assert (root / "results" / "awgn" / "figures" / "fig7_awgn.png").is_file()
