"""The image-reconstruction post-filter (``image_refine_width``) and ``semcom-sim train refine``."""

from __future__ import annotations

import pytest
import torch

from semcom_sim.catalog import load_catalog
from semcom_sim.cli import main
from semcom_sim.errors import CheckpointError
from semcom_sim.models.udeepsc.config import UDeepSCConfig, tiny_config
from semcom_sim.models.udeepsc.model import UDeepSC
from semcom_sim.models.udeepsc.receiver import ImageRefiner
from semcom_sim.models.udeepsc.refine import refined_model
from semcom_sim.models.udeepsc.schemes import PACKAGED, checkpoint_name, load_model

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_refiner_starts_as_the_identity_and_gets_gradients():
    f = ImageRefiner(8)
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(f(x), x)
    (f(x) - 0.5).pow(2).sum().backward()
    assert all(p.grad is not None for p in f.parameters())
    assert f.net[-1].weight.grad.abs().sum() > 0


def test_refiner_only_on_image_reconstruction_and_off_by_default():
    assert UDeepSCConfig().image_refine_width == 0  # old checkpoints build without one
    m = UDeepSC(tiny_config(image_refine_width=4))
    names = [n for n, _ in m.named_parameters() if ".refine." in n]
    assert names and all(n.startswith("receiver.heads.imgr.refine.") for n in names)
    with torch.no_grad():
        out = m("imgr", 6.0, None, image=torch.rand(2, 3, 32, 32))
    assert out["output"].shape == (2, 3, 32, 32) and not out["output"].isnan().any()
    assert 0.0 <= float(out["output"].min()) and float(out["output"].max()) <= 1.0


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((-10 * torch.log10((a - b).pow(2).flatten(1).mean(1))).mean())


def _imgr_outputs(model, adapter, n: int = 64):
    tasks = load_catalog()[1]
    batch = tasks.create("image-reconstruction").load(n, seed=3)
    inputs = adapter.inputs("imgr", batch.fields)
    with torch.no_grad():
        out = model("imgr", 12.0, None, early_exit=False, **inputs)
    return out["output"], adapter.target("imgr", batch.fields, inputs)


@pytest.mark.parametrize("variant", ["udeepsc", "tdeepsc"])
def test_committed_refiners_beat_their_own_unfiltered_output(variant):
    """The committed image-reconstruction heads end in a trained filter, and it helps: the same
    model with the filter removed is worse on held-out images."""
    model, adapter, _ = load_model(PACKAGED / checkpoint_name(variant, "imgr"))
    assert model.config.image_refine_width > 0
    with_filter, target = _imgr_outputs(model, adapter)
    model.receiver.heads["imgr"].refine = torch.nn.Identity()
    without, _ = _imgr_outputs(model, adapter)
    assert _psnr(with_filter, target) > _psnr(without, target) + 0.2


def test_train_refine_leaves_every_other_tensor_and_lowers_the_error(tmp_path, capsys):
    base = tmp_path / "base"
    common = ["--train-samples", "32", "--batch-size", "8", "--quiet", "--threads", "1"]
    tdeepsc = ["train", "tdeepsc", "--task", "image-reconstruction", "--steps", "3"]
    assert main(tdeepsc + ["--out", str(base), "--warmup", "1"] + common) == 0
    out = tmp_path / "refine"
    args = ["train", "refine", "--init", str(base / "final"), "--out", str(out), "--width", "8"]
    assert main(args + ["--steps", "60", "--lr", "3e-3", "--warmup", "5"] + common) == 0
    a, adapter, _ = load_model(base / "final")
    b, _, extra = load_model(out / "final")
    sa, sb = a.state_dict(), b.state_dict()
    assert set(sb) - set(sa) and all(".refine." in k for k in set(sb) - set(sa))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)  # weights, codebook, energies
    assert extra["init"][0]["path"] == str(base / "final") and extra["training"]["width"] == 8
    assert extra["training"]["base"]["task"] == "imgr"
    ya, target = _imgr_outputs(a, adapter, 32)
    yb, _ = _imgr_outputs(b, adapter, 32)
    assert _psnr(yb, target) > _psnr(ya, target)
    # a refined checkpoint cannot be refined again; a model without image reconstruction neither
    with pytest.raises(CheckpointError, match="already has"):
        refined_model(out / "final", 8, "cpu")
    with pytest.raises(CheckpointError, match="no image reconstruction"):
        refined_model(PACKAGED / checkpoint_name("tdeepsc", "imgc"), 8, "cpu")
    capsys.readouterr()
    assert main(args[:-2] + ["--width", "0"]) == 2
    assert main(["train", "refine", "--init", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert capsys.readouterr().err.count("\n") == 2
