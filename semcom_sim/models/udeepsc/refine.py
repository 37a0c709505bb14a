"""``semcom-sim train refine``: train an image-reconstruction post-filter on a frozen model.

Adds :class:`~semcom_sim.models.udeepsc.receiver.ImageRefiner` (``image_refine_width``) to the
image-reconstruction head of a trained U-DeepSC or T-DeepSC checkpoint and trains only the
filter; every other tensor (weights, codebook, running symbol energies) stays bit-identical::

    semcom-sim train refine --init semcom_sim/models/udeepsc/checkpoints/udeepsc-tiny \\
        --width 16 --steps 1500 --out runs/udeepsc-refine

The frozen model runs exactly as at evaluation (eval mode: top-k selection, no Gumbel noise,
no codebook maintenance, no energy tracking), every exit through the training channel at an
SNR per example uniform in the checkpoint's ``train_snr_db``; the loss is the model's own
multi-exit objective (phase 2: every exit, normalised MSE; its certainty terms carry no gradient
to the filter, so the LCM and with it every exit decision stay as they were). Each step draws
its images, SNRs and channel noise from the :class:`~semcom_sim.training.Trainer`'s generator
(resumable like the other trainers). The output checkpoint holds the whole model, the source's
adapter, and the source's path and weight checksum under ``init``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

from semcom_sim.channel import CHANNELS
from semcom_sim.checkpoint import MANIFEST, WEIGHTS, load_checkpoint, load_into
from semcom_sim.errors import CheckpointError, SemcomError
from semcom_sim.models.udeepsc.adapters import EMBEDDED_DATASET, REAL_DATASET, Adapter
from semcom_sim.models.udeepsc.config import UDeepSCConfig
from semcom_sim.models.udeepsc.losses import task_objective
from semcom_sim.models.udeepsc.model import UDeepSC
from semcom_sim.options import (
    ArgParser,
    check_device,
    check_float,
    check_input_dir,
    check_int,
    check_seed,
    check_writable_dir,
)
from semcom_sim.training import TRAINERS

KIND = "udeepsc"
TASK = "imgr"
REFINE = ".refine."  # the filter's parameter names: receiver.heads.imgr.refine.*


def _parser() -> ArgParser:
    p = ArgParser(prog="semcom-sim train refine", description=(__doc__ or "").splitlines()[0])
    p.add_argument("--init", required=True, help="trained U-DeepSC / T-DeepSC checkpoint")
    p.add_argument("--out", required=True, help="training directory (rerun to resume)")
    p.add_argument("--width", type=int, default=16, help="filter channels (image_refine_width)")
    p.add_argument("--steps", type=int, default=1500, help="optimiser steps")
    p.add_argument("--batch-size", type=int, default=64, help="images per step")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW peak learning rate")
    p.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay")
    p.add_argument("--warmup", type=int, default=50, help="linear warm-up steps")
    p.add_argument("--seed", type=int, default=0, help="seeds the filter, draws and noise")
    p.add_argument("--channel", default="awgn", help="training channel (awgn|rayleigh|mimo)")
    p.add_argument("--train-samples", type=int, default=None, help="cap on the training split")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the embedded train split")
    p.add_argument("--data-dir", default=None, help="real datasets (default: embedded data)")
    p.add_argument("--checkpoint-every", type=int, default=500, help="steps between saves")
    p.add_argument("--log-every", type=int, default=100, help="steps between progress lines")
    p.add_argument("--device", default="cpu", help="torch device")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def _check(args) -> None:
    for name in ("steps", "batch_size", "checkpoint_every", "log_every", "width"):
        check_int(getattr(args, name), f"--{name.replace('_', '-')}", 1, 10**9)
    check_float(args.lr, "--lr", 0.0, 10.0, lo_open=True)
    check_float(args.weight_decay, "--weight-decay", 0.0)
    check_int(args.warmup, "--warmup", 0)
    if args.threads is not None:
        check_int(args.threads, "--threads", 1, 1024)
    if args.train_samples is not None:
        check_int(args.train_samples, "--train-samples", 2, 10**9)
    check_seed(args.seed)
    check_seed(args.data_seed, "--data-seed")
    check_device(args.device)
    check_input_dir(args.init, "--init")
    check_writable_dir(args.out)
    if args.data_dir is not None:
        check_input_dir(args.data_dir, "--data-dir")


def refined_model(path: str | Path, width: int, device) -> tuple[UDeepSC, dict, dict]:
    """The checkpoint at ``path`` rebuilt with an ``ImageRefiner`` of ``width`` channels: its
    tensors loaded, the new filter freshly initialised (the identity); only the filter's
    parameters require gradients. Returns ``(model, source config dict, source extra)``.

    Raises:
        CheckpointError: unreadable / unverified checkpoint, no image reconstruction, a filter
            already present, or tensors that do not fit.
    """
    state, config, extra = load_checkpoint(path, kind=KIND, device=device)
    try:
        cfg = UDeepSCConfig.from_dict(config)
    except (SemcomError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path}: incompatible config ({e})") from None
    if TASK not in cfg.tasks:
        raise CheckpointError(f"checkpoint {path} has no image reconstruction (tasks {cfg.tasks})")
    if cfg.image_refine_width:
        raise CheckpointError(f"checkpoint {path} already has an image refiner")
    if not isinstance(extra.get("adapter"), dict):
        raise CheckpointError(f"checkpoint {path}: no adapter (vocabulary) in config.json")
    model = UDeepSC(dataclasses.replace(cfg, image_refine_width=width), device=device)
    fresh = {k: v for k, v in model.state_dict().items() if REFINE in k}  # the new filter
    load_into(model, dict(state) | fresh, path)  # every other tensor must fit exactly
    for name, p in model.named_parameters():
        p.requires_grad_(REFINE in name)
    return model.eval(), config, extra


def train_refine(argv: list[str]) -> int:
    """``semcom-sim train refine [options]``; returns the exit code."""
    from semcom_sim.data import load_dataset
    from semcom_sim.models.udeepsc.trainers import TrainSet, lr_at, run_trainer

    args = _parser().parse_args(argv)
    _check(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    channel = CHANNELS.create(CHANNELS.check(args.channel))
    t0 = time.perf_counter()
    torch.manual_seed(args.seed)
    model, _, extra = refined_model(args.init, args.width, device)
    cfg = model.config
    adapter = Adapter.from_dict(extra["adapter"], args.init)
    names = REAL_DATASET if args.data_dir else EMBEDDED_DATASET
    data = load_dataset(
        names[TASK], split="train", n=args.train_samples, seed=args.data_seed,
        data_dir=args.data_dir,
    )  # fmt: skip
    fields = dict(data.fields)
    inputs = adapter.inputs(TASK, fields)
    train = TrainSet(TASK, inputs, adapter.target(TASK, fields, inputs))
    if not args.quiet:
        took = time.perf_counter() - t0
        print(f"data ready in {took:.1f} s: {TASK} {len(train)}", file=sys.stderr)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
    lo, hi = cfg.train_snr_db
    b = args.batch_size

    def step_fn(step: int, g: torch.Generator) -> dict[str, float]:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        batch = train.batch(torch.randint(len(train), (b,), generator=g), cfg.pad_id, device)
        snr = (lo + (hi - lo) * torch.rand(b, generator=g)).to(device)
        gm = torch.Generator(device=device)
        gm.manual_seed(int(torch.randint(2**62, (1,), generator=g)))
        model.eval()  # the frozen part exactly as at evaluation
        opt.zero_grad(set_to_none=True)
        out = model(TASK, snr, channel, gm, early_exit=False, image=batch["image"])
        loss = task_objective(cfg, TASK, out, batch["target"], phase=2)
        loss.backward()
        opt.step()
        mse = torch.nn.functional.mse_loss(out["exit_outputs"][-1].detach(), batch["target"])
        return {"loss": float(loss.detach()), "mse_last": float(mse)}

    manifest = json.loads((Path(args.init) / MANIFEST).read_text())
    source = {"path": str(args.init), "sha256": manifest["files"][WEIGHTS]}
    training = {k: v for k, v in vars(args).items() if k not in ("quiet", "out", "threads")}
    extra = {
        "adapter": extra["adapter"],
        "training": {**training, "base": extra.get("training")},
        "init": [source],
    }
    return run_trainer(model, opt, step_fn, args, cfg, extra, t0)


TRAINERS.register("refine", "image-reconstruction post-filter on a frozen U-DeepSC / T-DeepSC")(
    lambda: train_refine
)
