"""Codebook sharing variants of U-DeepSC (Joint / Sep-M / Sep-T, Fig. 11) and the study runner."""

from __future__ import annotations

import json
import math

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


def _result(method, size, values):
    metrics = {t: {"metric": "accuracy", "value": v} for t, v in values.items()}
    return {"method": method, "codebook_size": size, "steps": 3, "seed": 0, "metrics": metrics}


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


def test_method_overrides():
    assert study.method_overrides("Joint+DA", 8, TASKS, 0.5) == {
        "codebook_sizes": _sizes(8), "codebook_sharing": "joint", "da_weight": 0.5}  # fmt: skip
    assert study.method_overrides("Sep-T", 8, TASKS, 0.5)["da_weight"] == 0.0
    assert study.method_overrides("U-DeepSC", 8, TASKS, 1.0)["codebook_sharing"] == "modality"
    with pytest.raises(SemcomError):
        study.method_overrides("Sep-X", 8, TASKS, 1.0)
    with pytest.raises(SemcomError):  # one line, exit 2 through `semcom-sim study codebook`
        study.main(["--out", "x", "--sizes", "3"])


def test_study_end_to_end_and_resume(tmp_path, monkeypatch):
    out, work = tmp_path / "out", tmp_path / "work"
    argv = ["--sizes", "4", "--methods", "Sep-T", "--tasks", "imgc,vqa", "--steps", "2",
            "--samples", "8", "--out", str(out), "--work", str(work)]  # fmt: skip
    assert study.main(argv) == 0
    lines = (out / "codebook_study.csv").read_text().splitlines()
    assert lines[0] == ",".join(study.COLUMNS)
    assert [ln.split(",")[2] for ln in lines[1:]] == ["imgc", "vqa", "mean"]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["command"].endswith(" ".join(argv))
    assert cfg["settings"]["methods_resolved"] == {
        "Sep-T": {"codebook_sharing": "task", "da_weight": 0.0}
    }
    assert "| Sep-T | " in (out / "README.md").read_text()
    run = json.loads((out / "runs" / "sep-t-K4.json").read_text())
    assert run["overrides"]["codebook_sharing"] == "task"
    monkeypatch.setattr(study, "train_run", lambda *a: pytest.fail("finished run retrained"))
    assert study.main(argv) == 0
    assert (out / "codebook_study.csv").read_text().splitlines() == lines
