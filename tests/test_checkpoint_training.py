"""Checkpoints (safetensors + config + sha256) and the resumable training loop."""

import json

import pytest
import torch

from semcom_sim.checkpoint import load_checkpoint, load_into, save_checkpoint
from semcom_sim.errors import CheckpointError
from semcom_sim.training import Trainer


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))


def test_round_trip_and_corruption(tmp_path):
    m = _model()
    path = save_checkpoint(tmp_path / "ck", m.state_dict(), "toy", {"width": 8}, {"vocab": ["a"]})
    state, cfg, extra = load_checkpoint(path, kind="toy")
    assert cfg == {"width": 8} and extra == {"vocab": ["a"]}
    m2 = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    load_into(m2, state)
    assert all(
        torch.equal(a, b)
        for a, b in zip(m.state_dict().values(), m2.state_dict().values(), strict=True)
    )
    with pytest.raises(CheckpointError, match="expected 'other'"):
        load_checkpoint(path, kind="other")
    with pytest.raises(CheckpointError, match="does not fit"):
        load_into(torch.nn.Linear(4, 1), state, path)
    raw = bytearray((path / "model.safetensors").read_bytes())
    raw[-1] ^= 0xFF
    (path / "model.safetensors").write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(path)
    (path / "manifest.json").unlink()
    with pytest.raises(CheckpointError, match="missing manifest.json"):
        load_checkpoint(path)


def _train(out, steps, stop_at=None):
    model = _model()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-2)

    def step_fn(step, g):
        if stop_at is not None and step == stop_at:
            raise KeyboardInterrupt
        x = torch.randn(16, 4, generator=g)
        loss = (model(x).squeeze(1) - x.sum(1)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    t = Trainer(
        model,
        opt,
        step_fn,
        out,
        "toy",
        {"width": 8},
        total_steps=steps,
        checkpoint_every=5,
        log_every=5,
        quiet=True,
    )
    return t.run(), model


def test_interrupted_training_resumes_to_identical_weights(tmp_path):
    final_a, model_a = _train(tmp_path / "a", 60)
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / "b", 60, stop_at=32)  # last checkpoint at step 30
    assert json.loads((tmp_path / "b" / "last" / "config.json").read_text())["extra"]["step"] == 30
    final_b, model_b = _train(tmp_path / "b", 60)
    for a, b in zip(model_a.state_dict().values(), model_b.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    losses = [json.loads(line)["loss"] for line in open(tmp_path / "a" / "log.jsonl")]
    assert losses[-1] < losses[0]
