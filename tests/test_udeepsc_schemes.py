"""U-DeepSC trainers (CLI, resume), schemes (udeepsc, tdeepsc, upper-bound) and checkpoints."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from semcom_sim.catalog import load_catalog
from semcom_sim.channel import AWGN
from semcom_sim.checkpoint import load_checkpoint
from semcom_sim.cli import main
from semcom_sim.errors import CheckpointError
from semcom_sim.models.udeepsc import count_parameters
from semcom_sim.models.udeepsc.adapters import MODEL_TASK
from semcom_sim.models.udeepsc.schemes import (
    CHECKPOINT_ENV,
    PACKAGED,
    DeepSCScheme,
    checkpoint_name,
    load_model,
)

SIX = tuple(MODEL_TASK)
GRID = [-6.0, 6.0, 18.0]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tasks():
    return load_catalog()[1]


@pytest.fixture(scope="module")
def data(tasks):
    return {name: tasks.create(name).load(3, seed=5) for name in SIX}


# ----------------------------------------------------------------------------- training
def _train(out, steps: int) -> int:
    return main(
        ["train", "udeepsc", "--steps", str(steps), "--out", str(out), "--train-samples", "16"]
        + ["--batch-size", "4", "--checkpoint-every", "1", "--warmup", "2", "--quiet"]
    )


def test_trainer_resumes_via_cli_to_identical_weights(tmp_path):
    assert _train(tmp_path / "a", 2) == 0
    last = json.loads((tmp_path / "a" / "last" / "config.json").read_text())
    assert last["extra"]["step"] == 2 and last["extra"]["adapter"]["vocab"][:2] == [
        "<pad>",
        "<bos>",
    ]
    assert _train(tmp_path / "a", 4) == 0  # resumes at step 2
    assert _train(tmp_path / "b", 4) == 0  # uninterrupted
    a, cfg, extra = load_checkpoint(tmp_path / "a" / "final", kind="udeepsc")
    b, _, _ = load_checkpoint(tmp_path / "b" / "final", kind="udeepsc")
    assert extra["step"] == 4 and cfg["tasks"] == ["imgc", "imgr", "textr", "textc", "vqa", "msa"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    rows = [json.loads(line) for line in open(tmp_path / "a" / "log.jsonl")]
    assert {"loss", "task_a", "task_b", "da"} <= set(rows[-1])


def test_warm_start_takes_each_tensor_from_the_first_checkpoint_that_has_it(tmp_path, capsys):
    """``--init`` (U-DeepSC from T-DeepSCs): shared tensors come from the first source, task
    modules from the source that has them; the sources' checksums are saved; bad paths exit 2."""
    t = ["train", "tdeepsc", "--steps", "1", "--train-samples", "8", "--batch-size", "4"]
    t += ["--warmup", "0", "--quiet", "--checkpoint-every", "1"]
    assert main(t + ["--task", "image-classification", "--out", str(tmp_path / "c")]) == 0
    assert main(t + ["--task", "sentiment", "--out", str(tmp_path / "s"), "--seed", "3"]) == 0
    c, _, _ = load_checkpoint(tmp_path / "c" / "final", kind="udeepsc")
    s, _, _ = load_checkpoint(tmp_path / "s" / "final", kind="udeepsc")
    u = ["train", "udeepsc", "--steps", "1", "--lr", "1e-12", "--train-samples", "8"]
    u += ["--batch-size", "4", "--warmup", "0", "--quiet", "--weight-decay", "0"]
    init = ["--init", str(tmp_path / "c" / "final"), "--init", str(tmp_path / "s" / "final")]
    assert main(u + ["--out", str(tmp_path / "u"), *init]) == 0
    w, _, extra = load_checkpoint(tmp_path / "u" / "final", kind="udeepsc")
    shared = [k for k in c if k in s and k.startswith("receiver.layers")]
    assert shared and all(torch.allclose(w[k], c[k], atol=1e-6) for k in shared)
    assert not all(torch.allclose(w[k], s[k], atol=1e-6) for k in shared)
    head = [k for k in s if k.startswith("receiver.heads.textc")]
    assert head and all(torch.allclose(w[k], s[k], atol=1e-6) for k in head)
    assert [i["path"] for i in extra["init"]] == init[1::2]
    assert all(len(i["sha256"]) == 64 for i in extra["init"])
    capsys.readouterr()
    assert main(u + ["--out", str(tmp_path / "x"), "--init", str(tmp_path / "nope")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_tdeepsc_trainer_rejects_unknown_task(tmp_path, capsys):
    assert main(["train", "tdeepsc", "--task", "speech", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "image-classification" in err


# ----------------------------------------------------------------------------- schemes
@pytest.mark.parametrize("variant", ["udeepsc", "tdeepsc", "upper-bound"])
def test_schemes_give_per_example_symbols_and_exit_layers(variant, tasks, data):
    scheme = DeepSCScheme(variant)
    g = torch.Generator().manual_seed(0)
    for name in SIX:
        task, batch = tasks.create(name), data[name]
        assert scheme.supports(task)
        scheme.prepare(task, torch.device("cpu"))
        outs = scheme.run_grid(batch, AWGN(), GRID, [g] * len(GRID))
        depth = scheme.model_for(MODEL_TASK[name])[0].config.decoder_depth
        assert len(outs) == len(GRID)
        for out in outs:
            assert len(out.predictions) == len(batch)
            assert out.num_symbols.shape == (len(batch),) and (out.num_symbols > 0).all()
            assert torch.equal(out.channel_uses, out.num_symbols)  # SISO AWGN
            ex = out.extras["exit_layer"]
            assert ex.shape == (len(batch),) and ((ex >= 1) & (ex <= depth)).all()
            assert ((out.extras["keep_ratio"] > 0) & (out.extras["keep_ratio"] <= 1)).all()
            assert ((out.extras["certainty"] >= 0) & (out.extras["certainty"] <= 1)).all()
            acc = task.new_accumulator()
            acc.update(out.predictions, batch)
            assert all(v == v for v in acc.compute().values())  # no NaN
        # the keep ratio (and so the symbol count) never grows with the SNR
        sym = torch.stack([o.num_symbols for o in outs])
        assert (sym[1:] <= sym[:-1]).all()


@pytest.mark.parametrize("name", ["vqa", "text-reconstruction", "video-sentiment"])
def test_vectorised_grid_equals_per_snr_loop(name, tasks, data):
    task, batch = tasks.create(name), data[name]
    for variant in ("udeepsc", "upper-bound"):
        scheme = DeepSCScheme(variant)
        scheme.prepare(task, torch.device("cpu"))
        n, gens = len(batch), [torch.Generator().manual_seed(i) for i in range(len(GRID))]
        grid = scheme.run_grid(batch, AWGN(), GRID, gens)
        loop = [
            scheme.run(batch, AWGN(), torch.full((n,), s), torch.Generator().manual_seed(i))
            for i, s in enumerate(GRID)
        ]  # point i's noise comes from generator i alone: the vectorised grid equals the loop
        for a, b in zip(grid, loop, strict=True):
            assert len(a.predictions) == len(b.predictions)
            assert torch.equal(a.extras["exit_layer"], b.extras["exit_layer"])
            assert torch.allclose(a.extras["certainty"], b.extras["certainty"], atol=1e-5)
            assert torch.equal(a.num_symbols, b.num_symbols)
            assert torch.equal(a.extras["keep_ratio"], b.extras["keep_ratio"])
            if variant == "upper-bound":  # noiseless: the whole output is the same
                assert torch.equal(a.extras["exit_layer"], b.extras["exit_layer"])
                same = (
                    torch.equal(a.predictions, b.predictions)
                    if isinstance(a.predictions, torch.Tensor)
                    else a.predictions == b.predictions
                )
                assert same


def test_committed_checkpoints_load_and_share_parameters():
    u, adapter, extra = load_model(PACKAGED / checkpoint_name("udeepsc", "imgc"))
    assert u.tasks == ("imgc", "imgr", "textr", "textc", "vqa", "msa")
    assert len(adapter.vocab) == u.config.vocab_size and extra["training"]["steps"] == extra["step"]
    total = 0
    for t in u.tasks:
        m, a, _ = load_model(PACKAGED / checkpoint_name("tdeepsc", t))
        assert m.tasks == (t,) and not m.training
        total += count_parameters(m)["total"]
    assert count_parameters(u)["total"] <= 0.4 * total  # the target (paper: 27 %)


def _sweep(out, schemes="udeepsc"):
    return main(
        ["sweep", "--schemes", schemes, "--tasks", "sentiment", "--snr", "0", "--samples", "2"]
        + ["--out", str(out), "--quiet", "--no-plot"]
    )


def test_corrupt_or_missing_checkpoint_is_exit_2(tmp_path, monkeypatch, capsys):
    root = tmp_path / "ck"
    shutil.copytree(PACKAGED / "udeepsc-tiny", root / "udeepsc-tiny")
    monkeypatch.setenv(CHECKPOINT_ENV, str(root))
    assert _sweep(tmp_path / "s1") == 0  # the copy works
    capsys.readouterr()
    weights = root / "udeepsc-tiny" / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    weights.write_bytes(bytes(raw))
    assert _sweep(tmp_path / "s2") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "sha256" in err
    assert _sweep(tmp_path / "s3", "tdeepsc") == 2  # no T-DeepSC checkpoints in that folder
    assert "missing" in capsys.readouterr().err
    with pytest.raises(CheckpointError, match="missing"):
        load_model(tmp_path / "nowhere")


def test_committed_checkpoints_are_package_data():
    import fnmatch
    import tomllib

    with open(PACKAGED.parents[3] / "pyproject.toml", "rb") as f:
        globs = tomllib.load(f)["tool"]["setuptools"]["package-data"]["semcom_sim.models.udeepsc"]
    files = [p.relative_to(PACKAGED.parent).as_posix() for p in PACKAGED.rglob("*") if p.is_file()]
    assert len(files) == 8 * 3  # U-DeepSC, six T-DeepSCs and local-model, 3 files each
    assert all(any(fnmatch.fnmatch(f, g) for g in globs) for f in files)


# ----------------------------------------------------------------------------- studies, receivers
@pytest.mark.parametrize("layer", [1, 2, 3])
def test_fixed_layer_scheme_outputs_that_layers_head(layer, tasks, data):
    task, b = tasks.create("vqa"), data["vqa"]
    snr = torch.full((len(b),), 12.0)
    fixed = DeepSCScheme("udeepsc", fixed_layer=layer, name=f"udeepsc-layer{layer}")
    fixed.prepare(task, torch.device("cpu"))
    pred, out = fixed.forward(b.fields, AWGN(), snr, torch.Generator().manual_seed(3))
    ref = DeepSCScheme("udeepsc")
    ref.prepare(task, torch.device("cpu"))
    _, full = ref.forward(b.fields, AWGN(), snr, torch.Generator().manual_seed(3), early_exit=False)
    model, adapter = ref.model_for("vqa")
    assert pred == adapter.predictions("vqa", full["exit_outputs"][layer - 1])
    assert out["exit_layer"].tolist() == [layer] * len(b)
    assert torch.allclose(out["exit_certainty"], full["certainty"][:, layer - 1])
    assert "udeepsc-layer1" in load_catalog()[0] and "udeepsc-exit0.5" in load_catalog()[0]


@pytest.mark.parametrize("name", ["image-classification", "sentiment", "vqa", "video-sentiment"])
def test_conventional_task_model_is_the_noiseless_tdeepsc(name, tasks, data):
    from semcom_sim.baselines.receivers import TASK_RECEIVERS
    from semcom_sim.models.udeepsc.receivers import NOMINAL_SNR_DB

    task, b = tasks.create(name), data[name]
    rx = TASK_RECEIVERS.create(name, device="cpu")
    ub = DeepSCScheme("upper-bound")
    ub.prepare(task, torch.device("cpu"))
    snr = torch.full((len(b),), NOMINAL_SNR_DB)
    want, _ = ub.forward(b.fields, AWGN(), snr, torch.Generator().manual_seed(0))
    got = rx(dict(b.fields))  # error-free delivery of every field
    if isinstance(want, torch.Tensor):
        assert torch.equal(got, want)
    else:
        assert got == want


def test_snr_range_widens_linearly_over_the_warmup():
    from semcom_sim.models.udeepsc.trainers import snr_range_at

    assert snr_range_at(0, 0.0, 12.0, 0) == (0.0, 12.0)  # off: the full range from step 0
    assert snr_range_at(0, 0.0, 12.0, 100) == (12.0, 12.0)
    assert snr_range_at(25, 0.0, 12.0, 100) == (9.0, 12.0)
    assert snr_range_at(100, 0.0, 12.0, 100) == (0.0, 12.0)
    assert snr_range_at(500, 0.0, 12.0, 100) == (0.0, 12.0)


def test_tdeepsc_trainer_takes_train_snr_and_snr_warmup(tmp_path):
    argv = ["train", "tdeepsc", "--task", "text-reconstruction", "--steps", "2"]
    argv += ["--train-samples", "8"]
    argv += ["--batch-size", "4", "--warmup", "1", "--quiet", "--checkpoint-every", "2"]
    out = tmp_path / "t"
    opts = ["--train-snr", "6", "18", "--snr-warmup", "5", "--set", "text_embed_std=1.0"]
    assert main(argv + ["--out", str(out), *opts, "--set", "text_loss_ignore_pad=true"]) == 0
    _, cfg, extra = load_checkpoint(out / "final", kind="udeepsc")
    assert cfg["train_snr_db"] == [6.0, 18.0]
    assert cfg["text_embed_std"] == 1.0 and cfg["text_loss_ignore_pad"] is True
    assert extra["training"]["snr_warmup"] == 5
    assert main(argv + ["--out", str(tmp_path / "w"), "--set", "no_such_field=1"]) == 2
    assert main(argv + ["--out", str(tmp_path / "x"), "--set", "text_embed_std"]) == 2
    assert main(argv + ["--out", str(tmp_path / "u"), "--train-snr", "9", "3"]) == 2
    assert main(argv + ["--out", str(tmp_path / "v"), "--snr-warmup", "-1"]) == 2


def test_local_model_reference_trains_loads_and_classifies(tmp_path):
    """``semcom-sim train local`` writes a checkpoint the ``local-model`` reference serves."""
    import shutil

    from semcom_sim.catalog import load_catalog
    from semcom_sim.cli import main as cli_main
    from semcom_sim.models.udeepsc.local import LocalModel

    out = tmp_path / "run"
    argv = ["train", "local", "--steps", "3", "--out", str(out), "--quiet", "--batch-size", "4"]
    assert cli_main(argv) == 0
    shutil.copytree(out / "final", tmp_path / "ck" / "local-tiny-imgc")
    schemes, tasks = load_catalog()
    assert schemes.create("local-model").role == "reference"
    task = tasks.create("image-classification")
    scheme = LocalModel(checkpoints=tmp_path / "ck")
    assert scheme.supports(task) and not scheme.supports(tasks.create("sentiment"))
    scheme.prepare(task, torch.device("cpu"))
    batch = next(task.load(6, 0).batches(6))
    res = scheme.run(batch, None, torch.zeros(6), torch.Generator())
    assert res.predictions.shape == (6,) and (res.num_symbols == 0).all()
    assert scheme.identity(task)["manifest_sha256"] != "missing"
    assert cli_main(["train", "local", "--task", "vqa", "--out", str(tmp_path / "x")]) == 2


@pytest.mark.parametrize("name", ["image-reconstruction", "text-reconstruction", "vqa"])
def test_exit_variants_share_one_pass_and_equal_their_own_forward(name, tasks, data, monkeypatch):
    """The sweep path (one cached pass with every exit, then each variant's own exit
    decision) gives exactly what each variant's own forward pass gives, and runs the model
    once for all variants on the same noise."""
    from semcom_sim.models.udeepsc import schemes as mod

    mod._SHARED.clear()
    task, batch = tasks.create(name), data[name]
    n, grid = len(batch), [0.0, 12.0]
    variants = [
        DeepSCScheme("udeepsc"),
        DeepSCScheme("udeepsc", fixed_layer=1, name="udeepsc-layer1"),
        DeepSCScheme("udeepsc", fixed_layer=3, name="udeepsc-layer3"),
        DeepSCScheme("udeepsc", exit_threshold=0.3, name="udeepsc-exit0.3"),
        DeepSCScheme("udeepsc", exit_threshold=0.8, name="udeepsc-exit0.8"),
    ]
    calls = []
    for s in variants:
        s.prepare(task, torch.device("cpu"))
    model = variants[0].model_for(MODEL_TASK[name])[0]
    real = type(model).forward
    monkeypatch.setattr(type(model), "forward", lambda *a, **k: calls.append(1) or real(*a, **k))
    gens = lambda: [torch.Generator().manual_seed(7 + i) for i in range(len(grid))]  # noqa: E731
    for s in variants:
        outs = s.run_grid(batch, AWGN(), grid, gens())
        snr = torch.tensor(grid).repeat_interleave(n)
        pred, out = s.forward(batch.fields, AWGN(), snr, gens(), repeats=len(grid))
        for r, o in enumerate(outs):
            rows = slice(r * n, (r + 1) * n)
            want = pred[rows]
            if isinstance(want, torch.Tensor):
                assert torch.equal(o.predictions, want)
            else:
                assert o.predictions == want
            assert torch.equal(o.extras["exit_layer"], out["exit_layer"][rows].float())
            assert torch.equal(o.extras["certainty"], out["exit_certainty"][rows].float())
            assert torch.equal(o.num_symbols, out["num_symbols"][rows].float())
    per_pass = max(1, mod.rows_per_pass(model.config, MODEL_TASK[name]) // n)
    passes = -(-len(grid) // per_pass)
    assert len(calls) == passes + len(variants) * passes  # shared once + each own forward
    ids = [s.identity(task) for s in variants]
    assert "noise_key" not in ids[0] and all(i["noise_key"] == "udeepsc" for i in ids[1:])
