"""``semcom-sim train ffmnet``: the three training steps of Sec. II-D on detection/segmentation
scenes, through the shared resumable :class:`semcom_sim.training.Trainer`.

    semcom-sim train ffmnet --stage ffmnet --steps 600 --out runs/ffmnet-tiny
    semcom-sim train ffmnet --stage jscc --ratio 512x --snr-train 5 --steps 300 \
        --ffmnet runs/ffmnet-tiny/final --out runs/jscc-512x-snr5
    semcom-sim train ffmnet --stage e2e --ratio 512x --snr-train 5 --steps 200 \
        --ffmnet runs/ffmnet-tiny/final --jscc runs/jscc-512x-snr5/final --out runs/e2e-512x-snr5

Stages: ``ffmnet`` (step 1, FFMNet alone, checkpoint kind ``"ffmnet"``), ``jscc`` (step 2, only
the JSCC is trained and saved, kind ``"ffmnet-jscc"``, with the sha256 of the frozen FFMNet),
``e2e`` (step 3, everything, kind ``"ffmnet-e2e"``). Every batch is drawn from the Trainer's
generator: ``--batch-size`` random examples of the train split plus a random horizontal flip
each, so rerunning the same command resumes exactly. In step 2 the frozen mobile side is
deterministic, so D1 of each (example, flip) is computed once and cached in float16 (shared by
the runs of one process that use the same FFMNet and train split; 256 KB per example and flip).

Step 2 starts (from scratch) by measuring D1's per-channel mean and std on the first
``STATS_EXAMPLES`` train examples (:meth:`FeatureJSCC.set_d1_stats`, stored in the weights) and
the L1 of the trivial predictors of D1 on them (zero, per-channel mean; in the checkpoint config
as ``d1_reference``); its log has ``l1`` (raw), ``l1_std`` (standardised, the loss term) beside
them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from torch import Tensor

from semcom_sim.checkpoint import load_checkpoint
from semcom_sim.errors import SemcomError
from semcom_sim.models.ffmnet.config import JSCC_SETTINGS, ffmnet_preset, jscc_preset
from semcom_sim.models.ffmnet.jscc import FeatureJSCC, FFMNetJSCC, l1_references, l1_terms
from semcom_sim.models.ffmnet.model import FFMNet
from semcom_sim.models.ffmnet.pretrained import (
    BASE_NAME,
    KIND_E2E,
    KIND_FFMNET,
    KIND_JSCC,
    load_ffmnet,
    load_jscc,
    packaged,
    set_threads,
    weights_sha256,
)
from semcom_sim.models.ffmnet.train import (
    set_requires_grad,
    train_step_end_to_end,
    train_step_ffmnet,
    training_channel,
)
from semcom_sim.training import TRAINERS

STAGES = ("ffmnet", "jscc", "e2e")
STATS_EXAMPLES = 256
# Step 2: D1 of (example, flip) under a frozen FFMNet, shared by the runs of one process.
_D1_CACHE: dict[tuple, dict[tuple[int, bool], Tensor]] = {}
KINDS = {"ffmnet": KIND_FFMNET, "jscc": KIND_JSCC, "e2e": KIND_E2E}


def parse_snr_train(text: str) -> float | None:
    """``"noiseless"`` -> None, ``"5"`` -> 5.0 (dB)."""
    if text.strip().lower() == "noiseless":
        return None
    try:
        return float(text)
    except ValueError:
        raise SemcomError(
            f"--snr-train: expected a number in dB or 'noiseless', got {text!r}"
        ) from None


def build_parser():
    from semcom_sim.options import ArgParser as _Parser

    p = _Parser(prog="semcom-sim train ffmnet", description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="tiny", help="FFMNet preset: tiny | paper")
    p.add_argument("--stage", default="ffmnet", choices=STAGES, help="training step 1, 2 or 3")
    p.add_argument("--ratio", default="512x", help=f"JSCC setting: {', '.join(JSCC_SETTINGS)}")
    p.add_argument("--snr-train", default="noiseless", help="AWGN SNR in dB, or noiseless")
    p.add_argument("--steps", type=int, required=True, help="total optimiser steps")
    p.add_argument("--out", required=True, help="training directory (rerun to resume)")
    p.add_argument("--seed", type=int, default=0, help="seeds batches, flips, noise, init")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--lr-decay-at", type=int, default=0, help="step where lr drops 10x (0: never)")
    p.add_argument("--l1-weight", type=float, default=1.0, help="step 2: weight of L1(D1, D1_hat)")
    p.add_argument("--train-examples", type=int, default=1000, help="size of the train split")
    p.add_argument("--ffmnet", default=None, help=f"steps 2-3: FFMNet checkpoint ({BASE_NAME})")
    p.add_argument("--jscc", default=None, help="step 3: JSCC checkpoint to start from")
    p.add_argument("--data-dir", default=None, help="real data (coco-detseg) instead of embedded")
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quiet", action="store_true")
    return p


def train_data(n: int, seed: int, data_dir: str | None):
    """The train split: embedded-detseg, or coco-detseg read from ``data_dir``."""
    from semcom_sim.data import load_dataset

    name = "embedded-detseg" if data_dir is None else "coco-detseg"
    return load_dataset(name, split="train", n=n, seed=seed, data_dir=data_dir)


def draw(data, batch_size: int, generator: torch.Generator) -> tuple[list[int], list[bool]]:
    """Random example indices (with replacement) and horizontal flips for one batch."""
    idx = torch.randint(0, len(data), (batch_size,), generator=generator).tolist()
    flips = (torch.rand(batch_size, generator=generator) < 0.5).tolist()
    return idx, flips


def make_batch(data, idx: list[int], flips: list[bool], device=None) -> tuple[Tensor, dict]:
    """Images ``[B, 3, S, S]`` and FFMNet targets for the examples ``idx`` (flipped where asked)."""
    f = data.fields
    images, masks, boxes = [], [], []
    for i, flip in zip(idx, flips, strict=True):
        im, m, b = f["image"][i], f["mask"][i], f["boxes"][i].to(torch.float32).reshape(-1, 4)
        if flip:
            w = im.shape[-1]
            im, m = im.flip(-1), m.flip(-1)
            b = torch.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], dim=1)
        images.append(im)
        masks.append(m)
        boxes.append(b.to(device))
    targets = {
        "boxes": boxes,
        "labels": [f["box_labels"][i].to(torch.int64).to(device) for i in idx],
        "masks": torch.stack(masks).to(torch.int64).to(device),
    }
    return torch.stack(images).to(device), targets


def jscc_step(
    ffmnet: FFMNet,
    jscc: FeatureJSCC,
    optimizer: torch.optim.Optimizer,
    d1: Tensor,
    image_size: tuple[int, int],
    targets: dict,
    channel,
    snr_db: float | None,
    generator: torch.Generator,
    l1_weight: float,
) -> dict[str, float]:
    """Step 2 from a precomputed D1 (same loss as :func:`train.train_step_jscc`)."""
    jscc.train()
    tx = jscc(d1, channel, snr_db, generator)
    out = ffmnet.from_d1(tx["d1_hat"], image_size)
    losses = ffmnet.loss(out, targets)
    losses.update(l1_terms(jscc, d1, tx["d1_hat"]))
    losses["task"] = losses["loss"]
    losses["loss"] = l1_weight * losses["l1_std"] + losses["task"]
    optimizer.zero_grad(set_to_none=True)
    if not torch.isfinite(losses["loss"]):
        raise FloatingPointError(f"non-finite training loss {losses['loss'].item()}")
    losses["loss"].backward()
    optimizer.step()
    return {k: float(v.detach()) for k, v in losses.items()}


def _check_resume(out: Path, kind: str, config: dict) -> None:
    """A training directory may only be resumed with the same configuration, except ``steps``
    and an ``lr_decay_at`` that the run has not reached yet under either schedule (the steps
    done are then exactly those of a run made from scratch with the new schedule)."""
    if not (out / "last").exists():
        return
    _, old, extra = load_checkpoint(out / "last", kind=kind)
    done = int(extra.get("step", 0))
    free = {"steps"}
    decays = [int(c.get("lr_decay_at") or 0) for c in (old, config)]
    if all(d == 0 or d >= done for d in decays):
        free.add("lr_decay_at")
    mine = {k: v for k, v in json.loads(json.dumps(config)).items() if k not in free}
    theirs = {k: v for k, v in old.items() if k not in free}
    if mine != theirs:
        diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
        raise SemcomError(
            f"--out {out} holds a run with another configuration (differs in {', '.join(diff)}); "
            "use a new --out"
        )


def run(argv: list[str]) -> int:
    """Entry point of ``semcom-sim train ffmnet`` (registered in the trainer registry)."""
    from semcom_sim.options import (
        check_device,
        check_float,
        check_input_dir,
        check_int,
        check_seed,
        check_writable_dir,
    )
    from semcom_sim.training import Trainer

    a = build_parser().parse_args(argv)
    for name in ("steps", "batch_size", "train_examples", "checkpoint_every", "log_every"):
        check_int(getattr(a, name), f"--{name.replace('_', '-')}", 1, 10**9)
    check_float(a.lr, "--lr", 0.0, 10.0, lo_open=True)
    check_float(a.l1_weight, "--l1-weight", 0.0)
    check_int(a.lr_decay_at, "--lr-decay-at", 0)
    check_int(a.threads, "--threads", 1, 1024)
    check_seed(a.seed)
    check_device(a.device)
    if a.data_dir is not None:
        check_input_dir(a.data_dir, "--data-dir")
    if a.stage != "ffmnet" and a.ratio not in JSCC_SETTINGS:
        raise SemcomError(f"unknown --ratio {a.ratio!r}; known: {', '.join(JSCC_SETTINGS)}")
    snr_train = parse_snr_train(a.snr_train)
    set_threads(a.threads)
    device = check_device(a.device)
    out = check_writable_dir(a.out)
    torch.manual_seed(a.seed)
    data = train_data(a.train_examples, a.seed, a.data_dir)
    num_classes = int(data.meta["num_classes"]) - 1
    config: dict = {
        "stage": a.stage,
        "preset": a.preset,
        "steps": a.steps,
        "seed": a.seed,
        "batch_size": a.batch_size,
        "lr": a.lr,
        "lr_decay_at": a.lr_decay_at,
        "train_data": {"name": data.name, "n": len(data), "seed": a.seed},
    }
    if a.stage == "ffmnet":
        cfg = ffmnet_preset(a.preset, num_classes=num_classes)
        config["ffmnet"] = cfg.to_dict()
        model = FFMNet(cfg, device=device)
        trained: torch.nn.Module = model
        params = model.parameters()
    else:
        base_path = Path(a.ffmnet) if a.ffmnet else packaged(BASE_NAME)
        ffmnet = load_ffmnet(base_path, device)
        if ffmnet.config.num_classes != num_classes:
            raise SemcomError(
                f"FFMNet {base_path} has {ffmnet.config.num_classes} classes, data {num_classes}"
            )
        jcfg = jscc_preset(a.ratio, ffmnet.config.d_channels)
        if a.jscc:  # must have been trained on this FFMNet and be of the asked ratio
            jscc = load_jscc(a.jscc, weights_sha256(base_path), device)
            if jscc.config.to_dict() != jcfg.to_dict():
                raise SemcomError(f"--jscc {a.jscc} is not a {a.ratio} JSCC")
        else:
            jscc = FeatureJSCC(jcfg, device=device)
        config.update(
            ratio=a.ratio,
            snr_train_db=snr_train,
            ffmnet=ffmnet.config.to_dict(),
            jscc=jscc.config.to_dict(),
            base_sha256=weights_sha256(base_path),
        )
        if a.stage == "jscc":
            config["l1_weight"] = a.l1_weight
            set_requires_grad(ffmnet, False)
            trained, params = jscc, jscc.parameters()
        else:
            model = FFMNetJSCC(ffmnet, jscc)
            trained, params = model, model.parameters()
    kind = KINDS[a.stage]
    optimizer = torch.optim.Adam(params, lr=a.lr)
    channel, snr_db = training_channel(snr_train)
    size = tuple(data.fields["image"].shape[-2:])
    cache = _D1_CACHE.setdefault(
        (config.get("base_sha256"), data.name, len(data), a.seed, a.data_dir, str(device)), {}
    )

    def d1_of(idx: list[int], flips: list[bool]) -> Tensor:
        missing = [(i, f) for i, f in zip(idx, flips, strict=True) if (i, f) not in cache]
        if missing:
            images, _ = make_batch(data, [i for i, _ in missing], [f for _, f in missing], device)
            with torch.no_grad():
                for key, d in zip(missing, ffmnet.extract(images), strict=True):
                    cache[key] = d.half()
        return torch.stack([cache[(i, f)] for i, f in zip(idx, flips, strict=True)]).float()

    if a.stage == "jscc" and not a.jscc and not (out / "last").exists():
        n = min(STATS_EXAMPLES, len(data))
        with torch.no_grad():
            stats_d1 = torch.cat(
                [d1_of(list(range(i, min(i + 64, n))), [False] * (min(i + 64, n) - i))
                 for i in range(0, n, 64)]
            )  # fmt: skip
        jscc.set_d1_stats(stats_d1)
        config["d1_reference"] = l1_references(jscc, stats_d1)
    elif a.stage == "jscc" and (out / "last").exists():
        _, old, _ = load_checkpoint(out / "last", kind=kind)
        config["d1_reference"] = old.get("d1_reference")
    _check_resume(out, kind, config)

    def step_fn(step: int, g: torch.Generator) -> dict[str, float]:
        lr = a.lr * (0.1 if a.lr_decay_at and step >= a.lr_decay_at else 1.0)
        for group in optimizer.param_groups:
            group["lr"] = lr
        idx, flips = draw(data, a.batch_size, g)
        if a.stage == "jscc":
            _, targets = make_batch(data, idx, flips, device)
            return jscc_step(
                ffmnet,
                jscc,
                optimizer,
                d1_of(idx, flips),
                size,
                targets,
                channel,
                snr_db,
                g,
                a.l1_weight,
            )
        images, targets = make_batch(data, idx, flips, device)
        if a.stage == "ffmnet":
            return train_step_ffmnet(model, optimizer, images, targets)
        return train_step_end_to_end(model, optimizer, images, targets, channel, snr_db, g)

    trainer = Trainer(
        trained,
        optimizer,
        step_fn,
        out,
        kind,
        config,
        a.steps,
        checkpoint_every=a.checkpoint_every,
        log_every=a.log_every,
        seed=a.seed,
        quiet=a.quiet,
    )
    final = trainer.run()
    if not a.quiet:
        print(f"final checkpoint: {final}", file=sys.stderr)
    return 0


@TRAINERS.register("ffmnet", "FFMNet + feature JSCC (steps 1-3 of Sec. II-D), detseg scenes")
def _trainer():
    """The registry builds trainers without arguments; the result is called with argv."""
    return run
