"""Shared training loop: progress output, periodic checkpoints, resume after interruption.

Model-specific code supplies ``step_fn(step, generator) -> dict[str, float]`` (one optimiser
step, returning losses); :class:`Trainer` owns the loop, the generator, the checkpoints and the
log. A training directory holds ``last/`` (model + optimiser + generator state, rewritten every
``checkpoint_every`` steps, atomically), ``final/`` (weights only, at the end) and ``log.jsonl``.
Rerunning the same command resumes from ``last/`` and gives the same weights as an uninterrupted
run (the generator state is restored; data must be drawn from that generator).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from semcom_sim.checkpoint import load_checkpoint, load_into, save_checkpoint
from semcom_sim.registry import Registry


def _flatten_optimizer(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"optim.{idx}.{k}"] = v
            else:
                scalars[f"{idx}.{k}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _unflatten_optimizer(opt, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict] = {}
    for name, v in tensors.items():
        _, idx, k = name.split(".", 2)
        state.setdefault(int(idx), {})[k] = v
    for name, v in meta["scalars"].items():
        idx, k = name.split(".", 1)
        state.setdefault(int(idx), {})[k] = v
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


class Trainer:
    """Runs ``total_steps`` of ``step_fn`` with checkpoints every ``checkpoint_every`` steps.

    Args:
        model: the module being trained (its ``state_dict`` is saved).
        optimizer: its optimiser (state saved for exact resumption).
        step_fn: ``(step, generator) -> {loss_name: value}``; draws all randomness from
            ``generator``.
        out_dir: training directory. kind/config/extra: stored with every checkpoint.
        seed: seeds the generator at step 0.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        step_fn: Callable[[int, torch.Generator], dict[str, float]],
        out_dir: str | Path,
        kind: str,
        config: dict,
        total_steps: int,
        checkpoint_every: int = 200,
        log_every: int = 50,
        seed: int = 0,
        extra: dict | None = None,
        quiet: bool = False,
    ) -> None:
        self.model, self.optimizer, self.step_fn = model, optimizer, step_fn
        self.out_dir = Path(out_dir)
        self.kind, self.config, self.extra = kind, config, extra or {}
        self.total_steps, self.checkpoint_every, self.log_every = (
            total_steps,
            max(1, checkpoint_every),
            max(1, log_every),
        )
        self.generator = torch.Generator().manual_seed(seed)
        self.quiet = quiet
        self.step = 0

    def _save_last(self) -> None:
        opt_tensors, opt_meta = _flatten_optimizer(self.optimizer)
        state = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        state.update(opt_tensors)
        state["rng.generator"] = self.generator.get_state()
        extra = {**self.extra, "step": self.step, "optimizer": opt_meta}
        save_checkpoint(self.out_dir / "last", state, self.kind, self.config, extra)

    def _resume(self) -> bool:
        last = self.out_dir / "last"
        if not last.exists():
            return False
        state, _, extra = load_checkpoint(last, kind=self.kind)
        model_state = {k[6:]: v for k, v in state.items() if k.startswith("model.")}
        load_into(self.model, model_state, last)
        _unflatten_optimizer(
            self.optimizer,
            {k: v for k, v in state.items() if k.startswith("optim.")},
            extra["optimizer"],
        )
        self.generator.set_state(state["rng.generator"])
        self.step = int(extra["step"])
        return True

    def run(self) -> Path:
        """Train (resuming if possible); returns the ``final/`` checkpoint directory."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self._resume() and not self.quiet:
            print(f"resumed at step {self.step}", file=sys.stderr)
        log = open(self.out_dir / "log.jsonl", "a")
        t0, avg = time.perf_counter(), {}
        self.model.train()
        try:
            while self.step < self.total_steps:
                losses = self.step_fn(self.step, self.generator)
                self.step += 1
                for k, v in losses.items():
                    avg[k] = avg.get(k, 0.0) + float(v)
                if self.step % self.log_every == 0 or self.step == self.total_steps:
                    n = self.step % self.log_every or self.log_every
                    row = {
                        "step": self.step,
                        **{k: v / n for k, v in avg.items()},
                        "s_per_step": (time.perf_counter() - t0) / n,
                    }
                    log.write(json.dumps(row) + "\n")
                    log.flush()
                    if not self.quiet:
                        shown = " ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "step")
                        print(f"step {self.step}/{self.total_steps} {shown}", file=sys.stderr)
                    avg, t0 = {}, time.perf_counter()
                if self.step % self.checkpoint_every == 0 and self.step < self.total_steps:
                    self._save_last()
        finally:
            log.close()
        self._save_last()
        final = save_checkpoint(
            self.out_dir / "final",
            self.model.state_dict(),
            self.kind,
            self.config,
            {**self.extra, "step": self.step},
        )
        return final


# ---------------------------------------------------------------------- the trainer registry
TRAINERS: Registry = Registry("trainer")
"""``semcom-sim train NAME``: ``TRAINERS.register("name")(lambda: fn)`` where
``fn(argv: list[str]) -> int`` parses its own options with :class:`semcom_sim.options.ArgParser`
(bad input is a one-line error) and uses :class:`Trainer`."""


def load_trainers() -> Registry:
    """Import the model packages' trainer modules (they register themselves)."""
    import semcom_sim.models.ffmnet.trainer  # noqa: F401
    import semcom_sim.models.udeepsc.local  # noqa: F401
    import semcom_sim.models.udeepsc.refine  # noqa: F401
    import semcom_sim.models.udeepsc.trainers  # noqa: F401

    return TRAINERS
