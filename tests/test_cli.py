"""The CLI: bad input exits 2 with one line and writes nothing; sweeps store, resume, repeat."""

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from semcom_sim.cli import main
from semcom_sim.errors import SemcomError

SMALL = [
    "sweep",
    "--snr",
    "-3,9",
    "--samples",
    "4",
    "--batch-size",
    "4",
    "--quiet",
    "--schemes",
    "jpeg-ldpc,utf8-turbo",
    "--tasks",
    "image-reconstruction,text-reconstruction",
]


@pytest.mark.parametrize(
    "argv",
    [
        ["sweep", "--snr", "18:-6"],
        ["sweep", "--snr", "-6:18:0"],
        ["sweep", "--snr", "abc"],
        ["sweep", "--schemes", "nope"],
        ["sweep", "--tasks", "nope"],
        ["sweep", "--channel", "nope"],
        ["sweep", "--samples", "0"],
        ["sweep", "--channel", "mimo", "--nt", "0"],
        ["sweep", "--decoder", "gpu-magic"],
        ["sweep", "--data-dir", "/nonexistent/dir"],
        ["sweep", "--samples", "x"],
        ["frobnicate"],
        ["plot", "--results", "/nonexistent/results"],
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(argv, tmp_path, capsys):
    out = tmp_path / "out"
    code = main([*argv, "--out", str(out)] if argv[0] == "sweep" else argv)
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("semcom-sim: error:")
    assert not out.exists()


def test_unknown_name_lists_known_names(capsys):
    assert main(["sweep", "--schemes", "nope"]) == 2
    err = capsys.readouterr().err
    assert "jpeg-ldpc" in err and "utf8-turbo" in err


def test_unwritable_out(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # running as root: make the parent a file instead
            target = tmp_path / "file"
            target.write_text("x")
            out = target / "sub"
        else:
            out = locked / "sub"
        assert main([*SMALL, "--out", str(out)]) == 2
        assert "--out" in capsys.readouterr().err
        assert not out.exists()
    finally:
        locked.chmod(0o700)


def test_list(capsys):
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    for name in ("jpeg-ldpc", "utf8-turbo", "image-reconstruction", "awgn", "rayleigh", "mimo"):
        assert name in text


def _rows(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_sweep_writes_store_csv_plots_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*SMALL, "--out", str(out)]) == 0
    first = capsys.readouterr().out
    assert "4 points simulated, 0 already stored" in first
    for name in ("results.sqlite", "results.csv", "config.json"):
        assert (out / name).is_file()
    assert sorted(p.name for p in (out / "plots").glob("*.png")) == [
        "image-reconstruction_awgn.png",
        "text-reconstruction_awgn.png",
    ]
    rows = _rows(out / "results.csv")
    psnr = {float(r["snr_db"]): float(r["value"]) for r in rows if r["metric"] == "psnr"}
    assert psnr[9.0] > 20.0 and psnr[-3.0] < psnr[9.0]  # JPEG q50 + LDPC works at 9 dB
    # rerun: nothing to do, same CSV
    assert main([*SMALL, "--out", str(out)]) == 0
    assert "0 points simulated, 4 already stored" in capsys.readouterr().out
    assert _rows(out / "results.csv") == rows
    # same command in another directory: the same numbers
    out2 = tmp_path / "run2"
    assert main([*SMALL, "--out", str(out2), "--no-plot"]) == 0
    key = ["scheme", "task", "channel", "snr_db", "metric", "value", "mean_symbols"]
    assert [[r[k] for k in key] for r in _rows(out2 / "results.csv")] == [
        [r[k] for k in key] for r in rows
    ]
    # another seed: other noise and data
    out3 = tmp_path / "run3"
    assert main([*SMALL, "--out", str(out3), "--no-plot", "--seed", "1"]) == 0
    assert [r["value"] for r in _rows(out3 / "results.csv")] != [r["value"] for r in rows]


def test_plots_in_a_second_process_equal_the_in_process_ones(tmp_path, monkeypatch, capsys):
    """The per-task plots drawn beside the figures (a spawned process) are the same files as
    drawn in this process; an error there reaches the caller."""
    from semcom_sim.commands import sweep as sweep_cmd
    from semcom_sim.sim.store import ResultStore

    out = tmp_path / "run"
    assert main([*SMALL, "--out", str(out), "--no-plot"]) == 0
    store = ResultStore(out)
    records = store.records()
    primary = {"image-reconstruction": "psnr", "text-reconstruction": "bleu"}
    store.close()
    inline = sweep_cmd.PlotsBeside(records, tmp_path / "a", primary).result()
    monkeypatch.setattr(sweep_cmd.PlotsBeside, "min_records", 0)
    monkeypatch.setattr(sweep_cmd, "usable_cores", lambda: 2)
    beside = sweep_cmd.PlotsBeside(records, tmp_path / "b", primary)
    assert beside._future is not None
    paths = beside.result()
    assert [p.name for p in paths] == [p.name for p in inline] and len(paths) == 2
    assert all(p.stat().st_size > 10_000 for p in paths)
    (tmp_path / "c").write_text("a file where the folder should be")
    with pytest.raises((OSError, SemcomError)):
        sweep_cmd.PlotsBeside(records, tmp_path / "c", primary).result()


def test_plot_command_redraws_from_store(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*SMALL, "--out", str(out), "--no-plot", "--tasks", "image-reconstruction"]) == 0
    assert main(["plot", "--results", str(out), "--out", str(tmp_path / "figs")]) == 0
    assert (tmp_path / "figs" / "image-reconstruction_awgn.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    "channel", [["--channel", "rayleigh"], ["--channel", "mimo", "--nt", "2", "--nr", "2"]]
)
def test_sweep_other_channels(channel, tmp_path):
    out = tmp_path / "run"
    argv = [*SMALL, "--tasks", "image-reconstruction", "--out", str(out), "--no-plot", *channel]
    assert main(argv) == 0
    rows = _rows(out / "results.csv")
    assert {r["channel"] for r in rows} == {
        "rayleigh" if "rayleigh" in channel else "mimo2x2-lmmse"
    }
    uses = {float(r["mean_channel_uses"]) for r in rows}
    syms = {float(r["mean_symbols"]) for r in rows}
    if "mimo" in channel:
        assert all(abs(u - s / 2) <= 0.5 for u, s in zip(sorted(uses), sorted(syms), strict=True))


def test_sigkill_loses_at_most_the_point_in_flight(tmp_path):
    """Kill a sweep after its first stored point; the rerun completes it with equal numbers."""
    argv = [
        "sweep",
        "--snr",
        "0:24:1",  # 25 points: enough that the kill lands mid-sweep once the JIT cache is warm
        "--samples",
        "8",
        "--quiet",
        "--no-plot",
        "--tasks",
        "image-reconstruction",
        "--schemes",
        "jpeg-ldpc",
    ]
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "semcom_sim.cli", *argv, "--out", str(killed)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = killed / "results.sqlite"
    deadline = time.time() + 240
    stored = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if db.exists():
            try:
                con = sqlite3.connect(db)
                stored = con.execute("SELECT count(*) FROM points").fetchone()[0]
                con.close()
            except sqlite3.Error:
                continue
            if stored >= 1:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 1 <= stored < 25
    assert main([*argv, "--out", str(killed)]) == 0
    fresh = tmp_path / "fresh"
    assert main([*argv, "--out", str(fresh)]) == 0
    key = ["scheme", "snr_db", "metric", "value", "mean_symbols"]
    a = sorted([r[k] for k in key] for r in _rows(killed / "results.csv"))
    b = sorted([r[k] for k in key] for r in _rows(fresh / "results.csv"))
    assert a == b and len(a) >= 25


def test_data_dir_with_missing_files_exits_2_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    out = tmp_path / "out"
    argv = [*SMALL, "--tasks", "image-reconstruction", "--data-dir", str(tmp_path / "data")]
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "test_batch" in err
    assert not out.exists()


def test_data_info_lists_embedded_and_real(capsys):
    assert main(["data", "info"]) == 0
    text = capsys.readouterr().out
    assert "shapes32" in text and "embedded" in text and "cifar10" in text
