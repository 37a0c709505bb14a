"""FFMNet trainer (CLI, resume), the detseg task, the FFMNet schemes and the shipped checkpoints."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch

from semcom_sim.channel import AWGN
from semcom_sim.checkpoint import load_checkpoint
from semcom_sim.cli import main
from semcom_sim.errors import CheckpointError
from semcom_sim.models.ffmnet.pretrained import (
    BASE_NAME,
    CHECKPOINT_DIR,
    load_ffmnet,
    load_jscc,
    load_split_model,
    packaged,
    weights_sha256,
)
from semcom_sim.models.ffmnet.schemes import ENV_DIR, JSCC_VARIANTS
from semcom_sim.models.ffmnet.task import DetSegTask
from semcom_sim.sim.scheme import SCHEMES, TASKS

SMALL = ["--train-examples", "6", "--batch-size", "2", "--checkpoint-every", "1", "--quiet"]


def _train(*args: str) -> int:
    return main(["train", "ffmnet", *SMALL, *args])


def _weights(path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)[0]


def _same(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def data():
    return DetSegTask().load(2, seed=0)


@pytest.fixture(scope="module")
def catalog():
    from semcom_sim.catalog import load_catalog

    return load_catalog()


# ---------------------------------------------------------------- trainer
def test_trainer_resumes_exactly_through_the_cli(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert _train("--stage", "ffmnet", "--steps", "2", "--out", str(a)) == 0
    step2 = _weights(a / "final")
    assert _train("--stage", "ffmnet", "--steps", "4", "--out", str(a)) == 0  # resumes at 2
    assert _train("--stage", "ffmnet", "--steps", "4", "--out", str(b)) == 0  # uninterrupted
    assert _same(_weights(a / "final"), _weights(b / "final"))
    assert not _same(step2, _weights(b / "final"))
    assert load_checkpoint(a / "final")[2]["step"] == 4
    # step 2 (JSCC over AWGN at 5 dB: the noise also comes from the restored generator)
    jscc = ["--stage", "jscc", "--ratio", "512x", "--snr-train", "5", "--ffmnet", str(b / "final")]
    assert _train(*jscc, "--steps", "2", "--out", str(tmp_path / "j1")) == 0
    assert _train(*jscc, "--steps", "4", "--out", str(tmp_path / "j1")) == 0
    assert _train(*jscc, "--steps", "4", "--out", str(tmp_path / "j2")) == 0
    j1 = load_checkpoint(tmp_path / "j1" / "final", kind="ffmnet-jscc")
    assert _same(j1[0], _weights(tmp_path / "j2" / "final"))
    assert all(not k.startswith("ffmnet.") for k in j1[0])  # only the JSCC is saved
    assert j1[1]["base_sha256"] == weights_sha256(b / "final") and j1[1]["snr_train_db"] == 5.0
    capsys.readouterr()
    # another configuration in the same directory, a bad SNR: one-line errors, exit 2
    assert _train("--stage", "ffmnet", "--steps", "4", "--lr", "0.5", "--out", str(a)) == 2
    assert _train(*jscc[:-2], "--snr-train", "loud", "--steps", "1", "--out", str(a)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "another configuration" in err[0] and "--snr-train" in err[1]


# ---------------------------------------------------------------- task metrics
def test_detseg_metrics_are_one_for_perfect_predictions(data):
    acc = DetSegTask().new_accumulator()
    f = data.fields
    preds = [
        {"boxes": b, "scores": torch.ones(len(b)), "labels": lab, "mask": m}
        for b, lab, m in zip(f["boxes"], f["box_labels"], f["mask"], strict=True)
    ]
    acc.update(preds, data)
    out = acc.compute()
    assert tuple(out) == ("map50", "map", "miou", "pixel_accuracy")
    assert out == pytest.approx({"map50": 1.0, "map": 1.0, "miou": 1.0, "pixel_accuracy": 1.0})
    assert TASKS.create("detseg").primary_metric == "map50"


# ---------------------------------------------------------------- schemes
def _reals_of_d1() -> int:
    cfg = load_ffmnet(packaged(BASE_NAME)).config
    return cfg.d_channels * cfg.d1_size**2


@pytest.mark.parametrize(
    "name, ratio",
    [
        ("ffmnet-uncompressed", 1),
        ("ffmnet-jscc-128x-ref", 128),
        ("ffmnet-jscc-256x-noiseless", 256),
        ("ffmnet-jscc-512x-snr5", 512),
        ("ffmnet-jscc-1024x-noiseless", 1024),
    ],
)
def test_learned_schemes_count_symbols_by_formula(catalog, data, name, ratio):
    scheme = SCHEMES.create(name)
    gens = [torch.Generator().manual_seed(i) for i in (0, 1)]
    outs = scheme.run_grid(data, AWGN(), [-6.0, 18.0], gens)
    expected = math.ceil(_reals_of_d1() / ratio / 2)  # two reals per complex symbol
    for out in outs:
        assert out.num_symbols.tolist() == [expected] * 2
        assert out.channel_uses.tolist() == [expected] * 2
        assert len(out.predictions) == 2
        for p in out.predictions:
            assert p["mask"].shape == (128, 128) and p["boxes"].shape[1:] == (4,)
            assert torch.isfinite(p["boxes"]).all() and torch.isfinite(p["scores"]).all()
    low, high = (o.predictions for o in outs)
    same = [torch.equal(a["mask"], b["mask"]) for a, b in zip(low, high, strict=True)]
    noisy = name.endswith(("snr5", "noiseless"))  # over the channel: -6 dB differs from 18 dB
    assert all(same) != noisy
    # every point is a function of its own (SNR, generator) alone: 18 dB alone gives the same
    (alone,) = scheme.run_grid(data, AWGN(), [18.0], [torch.Generator().manual_seed(1)])
    for a, b in zip(alone.predictions, high, strict=True):
        assert torch.equal(a["mask"], b["mask"]) and torch.equal(a["boxes"], b["boxes"])


def test_feature_jpeg_runs_on_detseg_through_the_shared_separation_code(catalog, data):
    from semcom_sim.baselines.separation import SeparationScheme
    from semcom_sim.models.ffmnet.schemes import FFMNetEdge, FFMNetMobile

    task = TASKS.create("detseg")
    for name in ("ffmnet-jpeg-q10-ldpc", "feature-jpeg-ldpc", "feature-jpeg-envelope"):
        assert SCHEMES.create(name).supports(task), name
    dispatch = SCHEMES.create("ffmnet-jpeg-q10-ldpc")
    scheme = dispatch.scheme_for("detseg")
    assert isinstance(scheme, SeparationScheme)
    ident = json.dumps(dispatch.identity(task))
    assert weights_sha256(packaged(BASE_NAME)) in ident  # the FFMNet's weights key the points
    low = scheme.run(data, AWGN(), torch.full((2,), -6.0), torch.Generator().manual_seed(0))
    high = scheme.run(data, AWGN(), torch.full((2,), 20.0), torch.Generator().manual_seed(1))
    sizes = high.extras["payload_bytes"].tolist()
    assert all(s > 8 for s in sizes)
    expected = [scheme.link.num_symbols(int(s)) for s in sizes]
    assert high.num_symbols.tolist() == expected == low.num_symbols.tolist()
    # R = 1/2 QPSK: one information bit per symbol, so the payload bits fit in the symbols
    assert all(8 * s <= n for s, n in zip(sizes, expected, strict=True))
    assert high.extras["payload_ok"].tolist() == [1.0, 1.0]
    assert low.extras["payload_ok"].tolist() == [0.0, 0.0]
    # error-free link: the edge sees exactly the codec's reconstruction of the mobile side's D1
    mobile, edge = scheme.streams[0].transform.model, scheme.receiver.model
    assert isinstance(mobile, FFMNetMobile) and isinstance(edge, FFMNetEdge)
    with torch.no_grad():
        d1 = mobile(data.fields["image"])
        ref = edge(scheme.codec.decode(scheme.codec.encode(d1), like=d1).data)
    for a, b in zip(ref, high.predictions, strict=True):
        assert torch.equal(a["mask"], b["mask"]) and torch.equal(a["boxes"], b["boxes"])


def test_corrupt_or_missing_checkpoint_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    root = tmp_path / "ck"
    shutil.copytree(CHECKPOINT_DIR, root)
    monkeypatch.setenv(ENV_DIR, str(root))
    raw = bytearray((root / "jscc-512x-snr5" / "model.safetensors").read_bytes())
    raw[len(raw) // 2] ^= 0x01
    (root / "jscc-512x-snr5" / "model.safetensors").write_bytes(bytes(raw))
    shutil.rmtree(root / "jscc-128x-noiseless")
    capsys.readouterr()
    for scheme, words in (("ffmnet-jscc-512x-snr5", "sha256"), ("ffmnet-jscc-128x-ref", "missing")):
        out = tmp_path / scheme
        argv = ["sweep", "--tasks", "detseg", "--schemes", scheme, "--snr", "0"]
        assert main([*argv, "--samples", "2", "--out", str(out), "--quiet", "--no-plot"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0] and "checkpoint" in err[0]
        assert not out.exists()


# ---------------------------------------------------------------- shipped checkpoints
def test_shipped_checkpoints_load_and_give_finite_outputs(data):
    base = packaged(BASE_NAME)
    images = data.fields["image"]
    assert load_ffmnet(base).config.num_classes == int(data.meta["num_classes"]) - 1
    total = 0
    for (ratio, train), folder in JSCC_VARIANTS.items():
        stage = "jscc" if train == "step2" else "e2e"  # shipped: step 2 only, or all three steps
        _, cfg, extra = load_checkpoint(packaged(folder), kind=f"ffmnet-{stage}")
        assert cfg["ratio"] == ratio and cfg["stage"] == stage
        noiseless = train in ("noiseless", "step2")
        assert cfg["snr_train_db"] == (None if noiseless else float(train[3:]))
        assert cfg["base_sha256"] == weights_sha256(base)
        if stage == "jscc":  # step 2 measured the trivial predictors of D1 before training
            assert cfg["d1_reference"]["l1_mean"] > 0
        else:
            assert extra["stored_dtype"] == "float16"
        total += sum(f.stat().st_size for f in packaged(folder).iterdir())
        model = load_split_model(packaged(folder), base)
        h = model.ffmnet.config.d1_size
        assert model.jscc.config.compression_ratio(h, h) == float(ratio[:-1])
        with torch.no_grad():
            out = model(images, AWGN(), 5.0, torch.Generator().manual_seed(0))
        for key in ("d1_hat", "cls_logits", "box_deltas", "seg_logits"):
            assert torch.isfinite(out[key]).all(), (folder, key)
    total += sum(f.stat().st_size for f in base.iterdir())
    assert total < 25e6  # every shipped FFMNet checkpoint together
    with pytest.raises(CheckpointError, match="another FFMNet"):
        load_jscc(packaged("jscc-512x-noiseless-step2"), base_sha256="0" * 64)
