"""CLI fuzz: a seeded generator of malformed argument lists and corrupt files.

Every case must end with exit code 0 or 2 -- never a traceback -- and a case that exits 2 prints
exactly one line on stderr and writes nothing (the whole scratch tree is compared before and
after). :data:`CASES` cases run in CI.
"""

from __future__ import annotations

import os
import random
import sqlite3
from pathlib import Path

import pytest

from semcom_sim.cli import main

CASES = int(os.environ.get("SEMCOM_FUZZ_CASES", 300))
SEED = int(os.environ.get("SEMCOM_FUZZ_SEED", 20261202))

NUMBERS = ["0", "-1", "1", "2", "1.5", "abc", "", " ", "nan", "inf", "-inf", "1e309", "1e300",
           "9223372036854775807", "9223372036854775808", "18446744073709551616", "0x10", "1_0",
           "-0", "100001", "1000000000000", "3e2", "\u0661", "--", "None"]  # fmt: skip
SNRS = ["0", "0,6", "-6:18", "0:1e300:1e-300", "18:-6", "-6:18:0", "a:b", "1,1", "0,,3",
        "-inf:0", "0:1:1e-12", "1e400", "0:6:3:1", ":", ",", "1e5", "-300", "0:6:-3", "nan",
        "6,0", "0:0"]  # fmt: skip
SCHEMES = ["jpeg-capacity", "nope", "jpeg-capacity,,", ",", "JPEG-CAPACITY", "udeepsc",
           "jpeg-capacity,nope", "jpeg-capacity,jpeg-capacity", "utf8-capacity"]  # fmt: skip
TASKS = ["image-reconstruction", "nope", "imgr", "image-reconstruction,text-reconstruction",
         ",", "detseg", "all", "sentiment"]  # fmt: skip
CHANNELS = ["awgn", "rayleigh", "mimo", "ofdm", "nope", "", "AWGN"]
DETECTORS = ["lmmse", "zf", "nope", ""]
DECODERS = ["auto", "fast", "sionna", "gpu-magic", ""]
DEVICES = ["cpu", "cuda", "cuda:7", "nope", "", "meta", "cpu:0", "mps"]
SET_ITEMS = ["image_heads=0", "tasks=5", "dropout=2", "exit_threshold=x", "lr", "=1",
             "nope=1", "image_dim=-3", "codebook_sizes={\"image\": 3}", "rho_init=1.5",
             "num_classes=7", "decoder_depth=0", "gumbel_tau=0", "train_snr_db=[1]"]  # fmt: skip


def _scratch(root: Path) -> dict[str, Path]:
    """Corrupt inputs and unwritable targets, made once."""
    paths = {}
    f = root / "a-file"
    f.write_text("not a directory\n")
    paths["file"] = f
    for name, make in {
        "empty": lambda p: p.write_bytes(b""),
        "text": lambda p: p.write_text("hello\n"),
        "truncated": lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\x01" * 70),
    }.items():
        d = root / f"store-{name}"
        d.mkdir()
        make(d / "results.sqlite")
        paths[f"store-{name}"] = d
    d = root / "store-foreign"
    d.mkdir()
    db = sqlite3.connect(d / "results.sqlite")
    db.execute("CREATE TABLE points (a INTEGER)")
    db.commit()
    db.close()
    paths["store-foreign"] = d
    d = root / "cifar-garbage"
    (d / "cifar-10-batches-py").mkdir(parents=True)
    for name in ("test_batch", "batches.meta", "data_batch_1"):
        (d / "cifar-10-batches-py" / name).write_bytes(b"\x80\x04garbage\x00" * 7)
    paths["cifar-garbage"] = d
    study = root / "study.csv"
    study.write_text("not,a\nstudy,csv\n")
    paths["study-csv"] = study
    return paths


def _snapshot(root: Path) -> dict[str, tuple]:
    return {
        str(p.relative_to(root)): (p.is_dir(), p.stat().st_size if p.is_file() else 0)
        for p in sorted(root.rglob("*"))
    }


def _pick(rng: random.Random, pool: list[str]) -> str:
    return rng.choice(pool)


def _sweep_case(rng: random.Random, out: Path, paths: dict[str, Path]) -> list[str]:
    opts = {
        "--schemes": "jpeg-capacity",
        "--tasks": "image-reconstruction",
        "--snr": "0",
        "--samples": "2",
        "--batch-size": "2",
        "--out": str(out),
    }
    pools = {
        "--schemes": SCHEMES, "--tasks": TASKS, "--snr": SNRS, "--samples": NUMBERS,
        "--batch-size": NUMBERS, "--seed": NUMBERS, "--channel": CHANNELS, "--nt": NUMBERS,
        "--nr": NUMBERS, "--detector": DETECTORS, "--coherence": NUMBERS, "--decoder": DECODERS,
        "--device": DEVICES, "--threads": NUMBERS, "--tdl": ["A", "C", "F", ""],
        "--csi": ["ls", "perfect", "genie"], "--speed": NUMBERS, "--delay-spread": NUMBERS,
        "--data-dir": [str(paths["cifar-garbage"]), "/nonexistent", str(paths["file"])],
        "--out": ["/proc/x", "/dev/null/x", str(paths["file"]), str(paths["file"] / "sub"),
                  str(out)],
    }  # fmt: skip
    for _ in range(rng.choice([1, 1, 2, 3])):
        key = rng.choice(list(pools))
        opts[key] = _pick(rng, pools[key])
    if opts.get("--samples") not in ("0", "1", "2", "-1", "", " ", "abc") and rng.random() < 0.7:
        opts["--samples"] = "2"  # keep the cases that do run small
    argv = ["sweep", "--quiet", "--no-plot"]
    for k, v in opts.items():
        argv += [f"{k}={v}"] if v.startswith("-") else [k, v]
    if rng.random() < 0.1:
        argv.insert(rng.randrange(1, len(argv) + 1), rng.choice(["--nope", "extra", "-x", "--"]))
    return argv


def _reader_case(rng: random.Random, out: Path, paths: dict[str, Path], good: Path) -> list[str]:
    cmd = rng.choice(["plot", "figures", "tables"])
    results = rng.choice([*(str(paths[k]) for k in paths if k.startswith("store-")),
                          "/nonexistent", str(paths["file"]), str(good)])  # fmt: skip
    argv = [cmd, "--results", results]
    if rng.random() < 0.6:
        argv += ["--out", rng.choice(["/proc/x", str(paths["file"]), str(out)])]
    if cmd == "tables" and rng.random() < 0.5:
        argv += [f"--snr-db={rng.choice(NUMBERS)}"]
    if cmd == "figures" and rng.random() < 0.3:
        argv += ["--codebook-study", rng.choice([str(paths["study-csv"]), "/nonexistent.csv"])]
    return argv


def _train_case(rng: random.Random, out: Path) -> list[str]:
    """Always holds at least one bad value (a valid case would train for minutes)."""
    model = rng.choice(["udeepsc", "tdeepsc", "ffmnet", "nope"])
    argv = ["train", model, "--out", str(out), "--quiet"]
    if model == "tdeepsc":
        argv += ["--task", rng.choice(["imgc", "image-classification", "nope", "detseg"])]
    if model == "ffmnet":
        argv += ["--steps", rng.choice(["1", "0", "-1", "abc"])]
    bad = rng.choice(
        [["--set", _pick(rng, SET_ITEMS)], [f"--lr={rng.choice(['nan', '0', '-1', 'inf'])}"],
         ["--device", rng.choice(["cuda", "nope", "cuda:3"])], ["--steps", "0"],
         ["--seed", "-1"], ["--batch-size", "0"], ["--nope"], ["--threads", "0"],
         ["--out", "/proc/x"], ["--data-dir", "/nonexistent"]]
    )  # fmt: skip
    if model == "ffmnet" and bad[0] == "--set":
        bad = ["--lr=nan"]
    return argv + bad


def _other_case(rng: random.Random) -> list[str]:
    return rng.choice(
        [["list", "nope"], ["data", "nope"], ["nope"], [], ["study", "nope"],
         ["study", "codebook", "--sizes", "3", "--out", "/proc/x"],
         ["study", "udeepsc-eval", "--samples", "abc"], ["sweep", "--snr"], ["--nope"],
         ["train"], ["plot"], ["figures", "--results"]]
    )  # fmt: skip


def test_cli_fuzz_exits_0_or_2_never_a_traceback(tmp_path, capsys):
    paths = _scratch(tmp_path)
    good = tmp_path / "good"
    assert main(["sweep", "--schemes", "jpeg-capacity", "--tasks", "image-reconstruction",
                 "--snr", "0,6", "--samples", "2", "--quiet", "--out", str(good)]) == 0  # fmt: skip
    capsys.readouterr()
    rng = random.Random(SEED)
    counts = {0: 0, 2: 0}
    for i in range(CASES):
        out = tmp_path / f"out-{i}"
        r = rng.random()
        if r < 0.45:
            argv = _sweep_case(rng, out, paths)
        elif r < 0.7:
            argv = _reader_case(rng, out, paths, good)
        elif r < 0.9:
            argv = _train_case(rng, out)
        else:
            argv = _other_case(rng)
        before = _snapshot(tmp_path)
        try:
            code = main(argv)
        except BaseException as e:  # noqa: BLE001 - the point of the test
            pytest.fail(f"case {i} {argv}: raised {type(e).__name__}: {e}")
        err = capsys.readouterr().err
        assert code in (0, 2), (i, argv, code, err)
        counts[code] += 1
        if code == 2:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("semcom-sim: error:"), (i, argv, err)
            assert _snapshot(tmp_path) == before, (i, argv, "wrote on exit 2")
    assert counts[2] > CASES // 2 and counts[0] > 0, counts
