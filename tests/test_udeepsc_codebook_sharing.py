"""Codebook sharing variants of U-DeepSC (Joint / Sep-M / Sep-T, Fig. 11) and the study runner."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch

from semcom_sim.channel import AWGN
from semcom_sim.errors import SemcomError, UnknownNameError
from semcom_sim.models.udeepsc import UDeepSC, UDeepSCConfig, tiny_config, training_step
from semcom_sim.models.udeepsc.model import parameter_belongs_to
from semcom_sim.models.udeepsc.transmission import FeatureLink
from semcom_sim.models.udeepsc.transmitter import TransmitterOutput
from semcom_sim.studies import codebook as study

TASKS = ("imgc", "imgr", "textc", "vqa")


def codebook_state(model: UDeepSC) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items() if ".codebook." in k}


def test_default_is_per_modality_and_unchanged():
    cfg = tiny_config()
    assert cfg.codebook_sharing == "modality"
    torch.manual_seed(0)
    model = UDeepSC(cfg)
    assert codebook_state(model) == {
        f"link.codebook.{kind}_{m}".replace("books_", "books."): shape
        for m in ("image", "text", "speech")
        for kind, shape in (
            ("books", (cfg.codebook_sizes[m], 8)),
            ("usage", (cfg.codebook_sizes[m],)),
        )
    }
    # a config written before the field existed loads as the per-modality codebook, and the
    # model built from it has exactly the same parameter names, shapes and values
    old = cfg.to_dict()
    del old["codebook_sharing"]
    torch.manual_seed(0)
    again = UDeepSC(UDeepSCConfig.from_dict(old))
    a, b = model.state_dict(), again.state_dict()
    assert list(a) == list(b)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    ("sharing", "keys"),
    [("modality", ["image", "text"]), ("joint", ["joint"]), ("task", list(TASKS))],
)
def test_each_mode_builds_its_books(sharing, keys):
    cfg = tiny_config(tasks=TASKS, codebook_sharing=sharing, codebook_sizes=_sizes(64))
    link = FeatureLink(cfg)
    assert list(link.codebook.keys) == keys == list(cfg.codebook_keys())
    assert set(link.codebook.books) == set(keys)
    assert all(b.shape == (64, cfg.feature_dim // cfg.codewords_per_feature)
               for b in link.codebook.books.values())  # fmt: skip
    assert link.codebook.unified().shape[0] == 64 * len(keys)
    assert [link.codebook.offset(k) for k in keys] == [64 * i for i in range(len(keys))]


def _sizes(k: int) -> dict[str, int]:
    return {"image": k, "text": k, "speech": k}


def _sent_from_book(link: FeatureLink, key: str, modalities, g) -> tuple[dict, dict]:
    """Features equal to codewords of book ``key``: ``(sent, chosen indices)``."""
    cfg, book = link.cfg, link.codebook.book(key).detach()
    sent, chosen = {}, {}
    for m in modalities:
        idx = torch.randint(book.shape[0], (2, 5, cfg.codewords_per_feature), generator=g)
        feats = book[idx].flatten(-2)
        ones = torch.ones(2, 5)
        sent[m], chosen[m] = TransmitterOutput(features=feats, mask=ones, valid=ones), idx
    return sent, chosen


@pytest.mark.parametrize(
    ("sharing", "task", "key"),
    [
        ("modality", "vqa", None),
        ("joint", "vqa", "joint"),
        ("joint", "imgc", "joint"),
        ("task", "vqa", "vqa"),
        ("task", "imgr", "imgr"),
    ],
)
def test_indices_route_to_the_right_book(sharing, task, key):
    torch.manual_seed(1)
    cfg = tiny_config(tasks=TASKS, codebook_sharing=sharing, codebook_sizes=_sizes(16))
    link = FeatureLink(cfg).eval()
    g = torch.Generator().manual_seed(2)
    mods = {"vqa": ("image", "text"), "imgc": ("image",), "imgr": ("image",)}[task]
    for m in mods:
        sent, chosen = _sent_from_book(link, key or m, [m], g)
        out = link(sent, torch.full((2,), 12.0), None, g, task=task)
        assert torch.equal(out.indices[m], chosen[m])
        want = link.codebook.book(key or m)[chosen[m]].flatten(-2)
        assert torch.allclose(out.received[m], want)
        assert cfg.codebook_key(task, m) == (key or m)


def test_task_books_differ_so_routing_matters():
    torch.manual_seed(3)
    cfg = tiny_config(tasks=TASKS, codebook_sharing="task", codebook_sizes=_sizes(16))
    link = FeatureLink(cfg).eval()
    g = torch.Generator().manual_seed(4)
    sent, chosen = _sent_from_book(link, "imgc", ["image"], g)
    own = link(sent, torch.full((2,), 12.0), None, g, task="imgc").indices["image"]
    other = link(sent, torch.full((2,), 12.0), None, g, task="imgr").indices["image"]
    assert torch.equal(own, chosen["image"]) and not torch.equal(other, chosen["image"])
    with pytest.raises(SemcomError, match="needs the task"):
        link(sent, torch.full((2,), 12.0), None, g)


def test_task_books_belong_to_their_task_only():
    cfg = tiny_config(tasks=TASKS, codebook_sharing="task", codebook_sizes=_sizes(16))
    assert parameter_belongs_to("link.codebook.books.vqa", "vqa", cfg)
    assert not parameter_belongs_to("link.codebook.books.vqa", "imgc", cfg)
    joint = tiny_config(tasks=TASKS, codebook_sharing="joint", codebook_sizes=_sizes(16))
    assert all(parameter_belongs_to("link.codebook.books.joint", t, joint) for t in TASKS)


def test_symbols_per_index_follow_the_codebook_size():
    for k, per_index in ((4, 1), (16, 1), (64, 2), (256, 2)):  # 16-QAM: 4 bits per symbol
        cfg = tiny_config(tasks=TASKS, codebook_sharing="joint", codebook_sizes=_sizes(k),
                          num_bits_per_symbol=4)  # fmt: skip
        link = FeatureLink(cfg).eval()
        g = torch.Generator().manual_seed(5)
        sent, _ = _sent_from_book(link, "joint", ["image", "text"], g)
        out = link(sent, torch.full((2,), 12.0), AWGN(), g, task="vqa")
        assert cfg.symbols_per_index("image") == per_index
        assert out.num_symbols.tolist() == [2 * 5 * cfg.codewords_per_feature * per_index] * 2


def test_validation():
    with pytest.raises(UnknownNameError):
        tiny_config(codebook_sharing="per-user")
    with pytest.raises(SemcomError, match="equal codebook_sizes"):
        tiny_config(
            codebook_sharing="joint", codebook_sizes={"image": 16, "text": 32, "speech": 16}
        )
    tiny_config(tasks=("imgc",), codebook_sharing="task", codebook_sizes=_sizes(8) | {"text": 4})


@pytest.mark.parametrize(("sharing", "da"), [("joint", 1.0), ("task", 0.0)])
def test_training_step_trains_the_shared_books(sharing, da):
    torch.manual_seed(6)
    cfg = tiny_config(tasks=("imgc", "vqa"), codebook_sharing=sharing, da_weight=da,
                      num_classes={"imgc": 10, "vqa": 4}, codebook_sizes=_sizes(16))  # fmt: skip
    model = UDeepSC(cfg)
    g = torch.Generator().manual_seed(7)
    a = {"task": "imgc", "image": torch.rand(4, 3, 32, 32, generator=g),
         "target": torch.randint(10, (4,), generator=g)}  # fmt: skip
    b = {"task": "vqa", "image": torch.rand(4, 3, 32, 32, generator=g),
         "text": torch.randint(1, cfg.vocab_size, (4, 6), generator=g),
         "target": torch.randint(4, (4,), generator=g)}  # fmt: skip
    out = training_step(model, a, b, 6.0, 1, g)
    out["loss"].backward()
    books = model.link.codebook.books
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in books.values())
    assert out["da"] < 0  # both read images: eq. (13) is computed (weighted by da_weight)
    parts = out["task_a"] + out["task_b"] + out["codebook"] + out["rate"] + da * out["da"]
    assert math.isclose(float(out["loss"].detach()), float(parts), rel_tol=1e-5)


def _result(method, size, values, seed=0):
    metrics = {t: {"metric": "accuracy", "value": v} for t, v in values.items()}
    return {"method": method, "codebook_size": size, "steps": 3, "seed": seed,
            "books": {"joint": size}, "bits_per_index": int(math.log2(size)),
            "metrics": metrics}  # fmt: skip


def test_table_normalises_by_the_best_run_per_task():
    rows = study.table_rows(
        [
            _result("Joint", 4, {"imgc": 0.2, "vqa": 0.5}),
            _result("Sep-M", 4, {"imgc": 0.4, "vqa": 0.25}),
        ]
    )
    norm = {(r["method"], r["task"]): r["normalized"] for r in rows}
    assert norm == {
        ("Joint", "imgc"): 0.5, ("Joint", "vqa"): 1.0, ("Joint", "mean"): 0.75,
        ("Sep-M", "imgc"): 1.0, ("Sep-M", "vqa"): 0.5, ("Sep-M", "mean"): 0.75,
    }  # fmt: skip
    assert [r["metric"] for r in rows if r["task"] == "mean"] == ["mean_normalized"] * 2
    assert {r["value_std"] for r in rows} == {r["normalized_std"] for r in rows} == {""}


def _approx(x: float):
    return pytest.approx(x, abs=1e-6)  # the CSV rounds to 6 decimals


def test_table_aggregates_mean_and_std_over_seeds():
    # Joint: imgc 0.2, 0.4, 0.6 (mean 0.4), vqa 0.5 x3; Sep-M: imgc 0.8 x2, vqa 0.2, 0.6 (0.4)
    seeds_a = ((2, 0.6), (0, 0.2), (1, 0.4))
    runs = [_result("Joint", 8, {"imgc": a, "vqa": 0.5}, s) for s, a in seeds_a]
    runs += [_result("Sep-M", 8, {"imgc": 0.8, "vqa": b}, s) for s, b in ((0, 0.2), (1, 0.6))]
    rows = {(r["method"], r["task"]): r for r in study.table_rows(runs)}
    j, m = rows[("Joint", "imgc")], rows[("Sep-M", "vqa")]
    assert (j["value"], j["value_std"]) == (_approx(0.4), _approx(0.2))
    assert (m["value"], m["value_std"]) == (_approx(0.4), _approx(math.sqrt(0.08)))
    # best = best seed-mean per task: imgc 0.8 (Sep-M), vqa 0.5 (Joint), not Sep-M's seed 1 0.6
    assert (j["normalized"], j["normalized_std"]) == (_approx(0.5), _approx(0.25))
    assert (rows[("Joint", "vqa")]["normalized"], rows[("Joint", "vqa")]["normalized_std"]) == (
        1.0, 0.0)  # fmt: skip
    assert m["normalized"] == _approx(0.8)
    assert m["normalized_std"] == _approx(math.sqrt(0.08) / 0.5)
    # mean row: per seed the mean over tasks of value / best, then mean and std over seeds
    jm, sm = rows[("Joint", "mean")], rows[("Sep-M", "mean")]
    assert (jm["normalized"], jm["normalized_std"]) == (_approx(0.75), _approx(0.125))
    assert jm["value"] == jm["normalized"] and jm["value_std"] == jm["normalized_std"]
    # Sep-M per seed: (1 + 0.4) / 2 = 0.7 and (1 + 1.2) / 2 = 1.1
    assert (sm["normalized"], sm["normalized_std"]) == (
        _approx(0.9), _approx(math.sqrt(0.08)))  # fmt: skip
    assert (j["seeds"], m["seeds"]) == ("0 1 2", "0 1")
    assert (j["bits_per_index"], j["books"], j["book_size"]) == (3, 1, 8)
    # a task nobody solved (best 0) has no normalised value, and the table is still written
    zero = study.table_rows([_result("Joint", 8, {"imgc": 0.0}, s) for s in (0, 1)])
    assert [(r["value"], r["value_std"], r["normalized"]) for r in zero] == [
        (0.0, 0.0, ""), ("", "", "")]  # fmt: skip
    with pytest.raises(SemcomError, match="seed repeated"):
        study.table_rows(runs + [_result("Joint", 8, {"imgc": 0.1, "vqa": 0.1}, 1)])


@pytest.mark.parametrize("size", [8, 32, 128])
@pytest.mark.parametrize("method", list(study.METHODS))
def test_books_of_every_method_sum_to_the_total_size(method, size):
    books = study.book_sizes(method, size, TASKS)
    assert sum(books.values()) == size
    want = {"Joint": 1, "Joint+DA": 1, "Sep-M": 2, "Sep-T": 4, "U-DeepSC": 2}[method]
    assert len(books) == want and set(books.values()) == {size // want}
    assert study.bits_per_index(method, size, TASKS) == int(math.log2(size // want))
    # the model the trainer builds from the overrides has exactly these books (the preset's own
    # 256-entry text book does not leak in)
    cfg = tiny_config(tasks=TASKS, **study.method_overrides(method, size, TASKS, 1.0))
    link = FeatureLink(cfg)
    assert {k: b.shape[0] for k, b in link.codebook.books.items()} == books
    assert link.codebook.unified().shape[0] == size
    assert {cfg.bits_per_index(m) for m in cfg.modalities} == {int(math.log2(size // want))}


def test_method_overrides():
    assert study.method_overrides("Joint+DA", 8, TASKS, 0.5) == {
        "codebook_sizes": _sizes(8), "codebook_sharing": "joint", "da_weight": 0.5}  # fmt: skip
    assert study.method_overrides("Sep-T", 8, TASKS, 0.5) == {
        "codebook_sizes": _sizes(2), "codebook_sharing": "task", "da_weight": 0.0}  # fmt: skip
    sep_m = study.method_overrides("U-DeepSC", 8, TASKS, 1.0)
    assert sep_m["codebook_sharing"] == "modality" and sep_m["codebook_sizes"] == _sizes(4)
    assert study.book_keys("Sep-M", ("imgc", "imgr")) == ("image",)
    assert study.book_sizes("Sep-T", 6, ("imgc", "imgr", "textc")) == dict.fromkeys(
        ("imgc", "imgr", "textc"), 2)  # fmt: skip
    with pytest.raises(SemcomError):
        study.method_overrides("Sep-X", 8, TASKS, 1.0)
    with pytest.raises(SemcomError, match="not a power of two"):
        study.method_overrides("Sep-T", 4, TASKS, 1.0)  # 1 entry per task book
    assert study.valid_sizes(list(study.METHODS), TASKS, 64) == [8, 16, 32, 64]
    assert study.valid_sizes(["Sep-M", "Sep-T"], ("imgc", "imgr", "textc")) == []


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--sizes", "12"], "--sizes 12: .*Sep-T 4.* sizes that work: 8, 16, 32, 64"),
        (["--sizes", "8,4"], "--sizes 4: "),
        (["--sizes", "3", "--methods", "Joint"], "sizes that work: 2, 4, 8"),
        (["--sizes", "6", "--tasks", "imgc,imgr,textc"], "no size up to 4096 works"),
        (["--sizes", "8", "--seeds", "0,x"], "--seeds must be comma-separated integers"),
        (["--sizes", "8", "--seeds", "1,1"], "--seeds has repeated values"),
        (["--sizes", "8", "--seeds", "-1"], r"--seeds must be in \[0, 2\*\*63\)"),
    ],
)
def test_bad_sizes_and_seeds_are_one_line_exit_2_nothing_written(tmp_path, capsys, extra, match):
    from semcom_sim.cli import main

    argv = ["study", "codebook", "--out", str(tmp_path / "out"), "--work", str(tmp_path / "w")]
    assert main([*argv, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert re.search(match, err), err
    assert list(tmp_path.iterdir()) == []


def test_old_per_book_runs_are_refused(tmp_path, capsys):
    from semcom_sim.cli import main

    out = tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    (out / "runs" / "sep-t-K4.json").write_text("{}")
    assert main(["study", "codebook", "--sizes", "8", "--out", str(out)]) == 2
    assert "older runs counted K per book" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["out", "runs", "sep-t-K4.json"]


def test_study_end_to_end_and_resume(tmp_path, monkeypatch):
    out, work = tmp_path / "out", tmp_path / "work"
    argv = ["--sizes", "4", "--methods", "Sep-T", "--tasks", "imgc,vqa", "--steps", "2",
            "--samples", "4", "--seeds", "0,1", "--out", str(out), "--work", str(work)]  # fmt: skip
    assert study.main(argv) == 0
    lines = (out / "codebook_study.csv").read_text().splitlines()
    assert lines[0] == ",".join(study.COLUMNS)
    rows = [dict(zip(study.COLUMNS, ln.split(","), strict=True)) for ln in lines[1:]]
    assert [r["task"] for r in rows] == ["imgc", "vqa", "mean"]
    # Sep-T with two tasks at total size 4: two books of 2 entries, 1 bit per index
    assert {(r["books"], r["book_size"], r["bits_per_index"], r["seeds"]) for r in rows} == {
        ("2", "2", "1", "0 1")}  # fmt: skip
    assert all(r["value_std"] != "" for r in rows[:2])  # two seeds: a std for every task
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["command"].endswith(" ".join(argv))
    assert cfg["settings"]["methods_resolved"] == {
        "Sep-T": {"codebook_sharing": "task", "da_weight": 0.0}
    }
    assert cfg["settings"]["books"] == {"Sep-T": {"4": {"imgc": 2, "vqa": 2}}}
    text = (out / "README.md").read_text()
    assert "| Sep-T | " in text and "| Sep-T | 2 x 2 (1 b) |" in text and " ± " in text
    assert "send different bits per index" in text.replace("**", "")
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == ["sep-t-K4-s0.json", "sep-t-K4-s1.json"]
    r0, r1 = (json.loads((out / "runs" / n).read_text()) for n in runs)
    assert r0["overrides"]["codebook_sharing"] == "task" and (r0["seed"], r1["seed"]) == (0, 1)
    assert r0["overrides"]["codebook_sizes"] == _sizes(2) and r0["bits_per_index"] == 1
    monkeypatch.setattr(study, "train_run", lambda *a: pytest.fail("finished run retrained"))
    assert study.main(argv) == 0
    assert (out / "codebook_study.csv").read_text().splitlines() == lines
    # a stored run made with other settings is not silently reused
    with pytest.raises(SemcomError, match="other steps"):
        study.main([*argv[:7], "3", *argv[8:]])
