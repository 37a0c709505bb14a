"""``semcom-sim train udeepsc`` and ``semcom-sim train tdeepsc``: Algorithm 1 on the task data.

U-DeepSC (all six tasks, one model)::

    semcom-sim train udeepsc --preset tiny --steps 6000 --out runs/udeepsc --seed 0

Each step draws two different tasks with probability proportional to ``(training split
size) ** size_power`` (the paper gives larger datasets a higher probability; 1 = proportional,
the default 0.5 keeps the small video set from starving), one mini-batch of each, an SNR per
example uniform in ``train_snr_db`` (paper: 0-12 dB), and takes one AdamW step on the loss of
:func:`~semcom_sim.models.udeepsc.train.training_step` (phase 1 on odd steps, phase 2 on even
ones; domain adaptation between tasks of a shared modality). T-DeepSC is the same architecture
built for one task and trained on it alone (``--task``, e.g. ``imgc`` or ``image-classification``).

All randomness (tasks, examples, SNRs, Gumbel noise, channel noise) comes from the
:class:`~semcom_sim.training.Trainer`'s generator, so an interrupted run resumes to the same
weights. The learning rate warms up linearly for ``--warmup`` steps, then follows a cosine to 10 %.
The checkpoint's ``extra`` holds the :class:`~semcom_sim.models.udeepsc.adapters.Adapter`
(vocabulary, VQA answers, fitting rules) and the training options.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from semcom_sim.channel import CHANNELS
from semcom_sim.checkpoint import MANIFEST, WEIGHTS, load_checkpoint
from semcom_sim.errors import SemcomError, UnknownNameError
from semcom_sim.models.udeepsc.adapters import (
    EMBEDDED_DATASET,
    MODEL_TASK,
    REAL_DATASET,
    TEXT_FIELD,
    Adapter,
    build_vocab,
    fit_config,
    trim_padding,
)
from semcom_sim.models.udeepsc.config import PRESETS, UDeepSCConfig, preset_config
from semcom_sim.models.udeepsc.losses import task_objective
from semcom_sim.models.udeepsc.model import UDeepSC
from semcom_sim.models.udeepsc.tasks import ALL_TASKS, task_spec
from semcom_sim.models.udeepsc.train import algorithm1_phase, normalized_backward, training_step
from semcom_sim.options import (
    check_device,
    check_float,
    check_input_dir,
    check_int,
    check_seed,
    check_writable_dir,
)
from semcom_sim.training import TRAINERS

KIND = "udeepsc"
TEXT_TASKS = ("textr", "textc", "vqa", "msa")


@dataclass
class TrainSet:
    """A task's whole training split as model inputs (text padded to ``text_max_len``)."""

    task: str
    inputs: dict[str, Tensor]
    target: Tensor

    def __len__(self) -> int:
        return len(self.target)

    def batch(self, idx: Tensor, pad_id: int, device) -> dict[str, Any]:
        """Examples ``idx`` as a :func:`training_step` batch (text trimmed to the longest)."""
        out: dict[str, Any] = {"task": self.task}
        for k, v in self.inputs.items():
            v = v[idx]
            out[k] = (trim_padding(v, pad_id) if k == "text" else v).to(device)
        target = self.target[idx]
        if self.task == "textr":
            target = target[:, : out["text"].shape[1]]
        out["target"] = target.to(device)
        return out


def _load_split(name: str, n: int | None, seed: int, data_dir: str | None):
    from semcom_sim.data import load_dataset

    return load_dataset(name, split="train", n=n, seed=seed, data_dir=data_dir)


def prepare_data(
    tasks: tuple[str, ...],
    preset: str,
    n: int | None,
    seed: int,
    data_dir: str | None,
    text_tasks: tuple[str, ...] = TEXT_TASKS,
    overrides: dict[str, Any] | None = None,
) -> tuple[Any, Adapter, dict[str, TrainSet]]:
    """Load the training splits, fit the preset and convert every example once.

    The vocabulary is built from the text of ``text_tasks``' training splits (all four text
    datasets by default: the same tokeniser for U-DeepSC and every T-DeepSC) when any of
    ``tasks`` reads text. ``overrides``: config fields set on top of the preset.
    """
    names = REAL_DATASET if data_dir else EMBEDDED_DATASET
    splits: dict[str, Any] = {}

    def split(task: str):
        ds = names[task]
        if ds not in splits:
            splits[ds] = _load_split(ds, n, seed, data_dir)
        return splits[ds]

    facts: dict[str, Any] = {}
    if any("text" in task_spec(t).modalities for t in tasks):
        texts = [s for t in text_tasks for s in split(t).fields[TEXT_FIELD[t]]]
        facts["vocab"] = build_vocab(texts)
        facts["max_words"] = max(len(s.split()) for s in texts)
    if "vqa" in tasks:
        facts["answer_vocab"] = list(split("vqa").meta["answer_vocab"])
    if "msa" in tasks:
        facts["video_frames"] = int(split("msa").fields["frames"].shape[1])
        facts["audio_samples"] = int(split("msa").fields["audio"].shape[1])
    cfg, adapter = fit_config(preset_config(preset, tasks=tasks, **(overrides or {})), facts)
    sets = {}
    for t in tasks:
        data = split(t)
        if t == "vqa":  # questions whose answer is outside the answer list cannot be learned
            keep = (data.fields["answer_index"] >= 0).nonzero().flatten()
            data = data.subset(keep.tolist())
        fields = dict(data.fields)
        if "text" in task_spec(t).modalities:  # pad every sentence to the same length
            fields[TEXT_FIELD[t]] = list(fields[TEXT_FIELD[t]])
        inputs = adapter.inputs(t, fields)
        if "text" in inputs:
            full = torch.zeros(len(data), cfg.text_max_len, dtype=torch.int64)
            full[:, : inputs["text"].shape[1]] = inputs["text"]
            inputs["text"] = full
        sets[t] = TrainSet(t, inputs, adapter.target(t, fields, inputs))
    return cfg, adapter, sets


def lr_at(step: int, total: int, lr: float, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then a cosine from ``lr`` to ``0.1 lr``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    frac = (step - warmup) / max(1, total - warmup)
    return lr * (0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, frac))))


def snr_range_at(step: int, lo: float, hi: float, warmup: int) -> tuple[float, float]:
    """Training SNR range ``(lo_t, hi)`` at ``step``: with ``warmup`` > 0 its lower end starts
    at ``hi`` and falls linearly to ``lo`` over the first ``warmup`` steps (SNR curriculum)."""
    if warmup <= 0:
        return lo, hi
    return hi - (hi - lo) * min(1.0, step / warmup), hi


def task_probabilities(
    sets: dict[str, TrainSet], power: float, weights: dict[str, float] | None = None
) -> Tensor:
    """Sampling probability of each task, ``weights[task] * |split| ** power`` normalised (order
    of ``sets``; a task without a weight has weight 1)."""
    weights = weights or {}
    w = torch.tensor(
        [weights.get(t, 1.0) * float(len(s)) ** power for t, s in sets.items()],
        dtype=torch.float64,
    )
    return w / w.sum()


def task_weights(items: list[str], tasks: tuple[str, ...]) -> dict[str, float]:
    """``["textr=20", ...]`` (``--task-weight``) -> ``{"textr": 20.0}``; raises
    :class:`SemcomError` on a malformed item, an unknown task or a weight <= 0."""
    out: dict[str, float] = {}
    for item in items:
        task, sep, raw = item.partition("=")
        if not sep or task not in tasks:
            raise SemcomError(
                f"--task-weight needs TASK=W with TASK one of {', '.join(tasks)}, got {item!r}"
            )
        try:
            w = float(raw)
        except ValueError:
            raise SemcomError(f"--task-weight {item!r}: W must be a number") from None
        if not w > 0 or math.isinf(w):
            raise SemcomError(f"--task-weight {item!r}: W must be > 0 and finite")
        out[task] = w
    return out


def _parser(prog: str, multi: bool):
    from semcom_sim.options import ArgParser as _Parser

    p = _Parser(prog=prog, description=(__doc__ or "").splitlines()[0])
    if not multi:
        p.add_argument("--task", required=True, help="a task name (semcom-sim list tasks)")
    p.add_argument("--preset", default="tiny", help=f"model size: {', '.join(PRESETS)}")
    p.add_argument("--steps", type=int, default=6000 if multi else 2000, help="optimiser steps")
    p.add_argument("--out", required=True, help="training directory (rerun to resume)")
    p.add_argument("--seed", type=int, default=0, help="seeds model, data draws and noise")
    p.add_argument("--batch-size", type=int, default=32, help="examples per task per step")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW peak learning rate")
    p.add_argument("--weight-decay", type=float, default=5e-3, help="AdamW weight decay")
    p.add_argument("--warmup", type=int, default=200, help="linear warm-up steps")
    p.add_argument("--clip", type=float, default=1.0, help="gradient norm clip (0 = off)")
    p.add_argument("--channel", default="awgn", help="training channel (awgn|rayleigh|mimo)")
    p.add_argument(
        "--train-snr",
        type=float,
        nargs=2,
        default=None,
        metavar=("LO", "HI"),
        help="training SNR range in dB (default: the preset's, 0 12)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config field on top of the preset, VALUE in JSON (repeatable), "
        "e.g. text_embed_std=1.0",
    )
    p.add_argument(
        "--snr-warmup",
        type=int,
        default=0,
        help="steps over which the training SNR range widens from HI down to LO (0 = off)",
    )
    p.add_argument(
        "--init",
        action="append",
        default=[],
        metavar="CHECKPOINT",
        help="warm start (repeatable): each parameter the model shares by name and shape with "
        "a checkpoint comes from the first one listed that has it; ignored when resuming",
    )
    p.add_argument("--train-samples", type=int, default=None, help="cap per training split")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the embedded train splits")
    p.add_argument("--data-dir", default=None, help="real datasets (default: embedded data)")
    p.add_argument("--checkpoint-every", type=int, default=500, help="steps between saves")
    p.add_argument("--log-every", type=int, default=50, help="steps between progress lines")
    p.add_argument("--device", default="cpu", help="torch device")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (tiny: 1)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    if multi:
        p.add_argument("--size-power", type=float, default=0.5, help="task prob. ~ size**power")
        p.add_argument(
            "--task-weight",
            action="append",
            default=[],
            metavar="TASK=W",
            help="multiply a task's sampling weight by W (repeatable), e.g. textr=20",
        )
    return p


def config_overrides(items: list[str]) -> dict[str, Any]:
    """``["key=value", ...]`` (``--set``) -> config overrides; values are JSON (a bare word is a
    string). Raises :class:`SemcomError` on a malformed item or an unknown config field."""
    known = {f.name for f in dataclasses.fields(UDeepSCConfig)}
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SemcomError(f"--set needs KEY=VALUE, got {item!r}")
        if key not in known:
            raise SemcomError(f"--set: unknown U-DeepSC config field {key!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


_TASK_TOP = re.compile(
    r"^transmitters\.(\w+)\.task_top\.(\w+)\.(layers\.(\d+)\.|norm\.|proj\.)(.+)$"
)


def task_top_sources(model: UDeepSC, state: dict[str, Tensor], tasks: tuple[str, ...]) -> dict:
    """The tensors of a one-task checkpoint (``tasks = (t,)``, a T-DeepSC) renamed to ``t``'s
    own encoder top in ``model`` (``task_encoder_layers``): its last layers, final norm and
    projection become ``transmitters.<m>.task_top.<t>.*``. Empty for other checkpoints."""
    if len(tasks) != 1:
        return {}
    out = {}
    for key in model.state_dict():
        m = _TASK_TOP.match(key)
        if m is None or m.group(2) != tasks[0]:
            continue
        modality, _, part, j, rest = m.groups()
        if j is not None:
            below = len(model.transmitters[modality].layers)  # the shared layers
            src = f"transmitters.{modality}.layers.{below + int(j)}.{rest}"
        else:
            src = f"transmitters.{modality}.{part}{rest}"
        if src in state:
            out[key] = state[src]
    return out


def warm_start(model: UDeepSC, paths: list[str], device) -> list[dict[str, Any]]:
    """Copy into ``model`` every tensor that a checkpoint of ``paths`` holds under the same name
    and shape, the first checkpoint listed winning. With ``task_encoder_layers``, task ``t``'s own
    encoder top comes from the last layers of the one-task checkpoint of ``t``
    (:func:`task_top_sources`).

    Each checkpoint is verified (sha256) as for evaluation; a checkpoint that gives nothing is an
    error (a wrong path or a different preset), so is one of another kind.

    Returns:
        one ``{"path", "sha256", "tensors"}`` per checkpoint: its weights' checksum (from the
        verified manifest, saved with the run so that a changed source is visible) and how many
        tensors it gave.
    """
    own = model.state_dict()
    taken: set[str] = set()
    out: list[dict[str, Any]] = []
    for path in paths:
        state, config, _ = load_checkpoint(path, kind=KIND, device=device)
        state = dict(state) | task_top_sources(model, state, tuple(config.get("tasks", ())))
        fits = [k for k, v in state.items() if k in own and v.shape == own[k].shape]
        if not fits:
            raise SemcomError(f"--init {path}: no tensor fits this model (another preset?)")
        keys = [k for k in fits if k not in taken]
        with torch.no_grad():
            for k in keys:
                own[k].copy_(state[k])
        taken.update(keys)
        manifest = json.loads((Path(path) / MANIFEST).read_text())
        out.append({"path": str(path), "sha256": manifest["files"][WEIGHTS], "tensors": len(keys)})
    return out


def _check(args) -> None:
    for name in ("steps", "batch_size", "checkpoint_every", "log_every"):
        check_int(getattr(args, name), f"--{name.replace('_', '-')}", 1, 10**9)
    check_float(args.lr, "--lr", 0.0, 10.0, lo_open=True)
    check_float(args.weight_decay, "--weight-decay", 0.0)
    check_float(args.clip, "--clip", 0.0)
    check_int(args.warmup, "--warmup", 0)
    check_int(args.threads, "--threads", 1, 1024)
    check_seed(args.seed)
    check_seed(args.data_seed, "--data-seed")
    if args.train_snr is not None:
        for v in args.train_snr:
            check_float(v, "--train-snr", -50.0, 100.0)
    if getattr(args, "size_power", None) is not None:
        check_float(args.size_power, "--size-power")
    check_device(args.device)
    check_writable_dir(args.out)
    if args.data_dir is not None:
        check_input_dir(args.data_dir, "--data-dir")
    for path in args.init:
        check_input_dir(path, "--init")
    if args.snr_warmup < 0:
        raise SemcomError("--snr-warmup must be >= 0")
    if args.train_snr is not None and args.train_snr[0] > args.train_snr[1]:
        raise SemcomError("--train-snr LO HI needs LO <= HI")
    if args.train_samples is not None and args.train_samples < 2:
        raise SemcomError("--train-samples must be >= 2")
    if args.preset not in PRESETS:
        raise SemcomError(f"unknown preset {args.preset!r}; known: {', '.join(PRESETS)}")


def _run(args, tasks: tuple[str, ...], multi: bool, overrides: dict | None = None) -> int:
    """Train ``tasks`` with the options ``args`` (and config ``overrides``); returns 0."""
    _check(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    channel = CHANNELS.create(CHANNELS.check(args.channel))
    t0 = time.perf_counter()
    user = config_overrides(args.set)
    if "tasks" in user:
        raise SemcomError("--set tasks=...: the tasks are the trainer's (--task for tdeepsc)")
    overrides = {**(overrides or {}), **user}
    if args.train_snr is not None:
        overrides["train_snr_db"] = tuple(args.train_snr)
    preset_config(args.preset, tasks=tasks, **overrides)  # bad --set values fail before the data
    cfg, adapter, sets = prepare_data(
        tasks, args.preset, args.train_samples, args.data_seed, args.data_dir, overrides=overrides
    )
    if not args.quiet:
        sizes = ", ".join(f"{t} {len(s)}" for t, s in sets.items())
        print(f"data ready in {time.perf_counter() - t0:.1f} s: {sizes}", file=sys.stderr)
    torch.manual_seed(args.seed)
    model = UDeepSC(cfg, device=device)
    init = warm_start(model, args.init, device)
    if init and not args.quiet:
        taken = ", ".join(f"{i['tensors']} from {i['path']}" for i in init)
        print(f"warm start: {taken}", file=sys.stderr)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    names = list(sets)
    params = [p for p in model.parameters() if p.requires_grad]
    probs = (
        task_probabilities(sets, args.size_power, task_weights(args.task_weight, tuple(sets)))
        if multi
        else None
    )
    lo, hi = cfg.train_snr_db
    b = args.batch_size

    def draw(task: str, g: torch.Generator) -> dict[str, Any]:
        idx = torch.randint(len(sets[task]), (b,), generator=g)
        return sets[task].batch(idx, cfg.pad_id, device)

    def step_fn(step: int, g: torch.Generator) -> dict[str, float]:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        phase = algorithm1_phase(step + 1)
        if multi:
            pick = torch.multinomial(probs, 2, replacement=False, generator=g)
            batches = [draw(names[int(i)], g) for i in pick]
        else:
            batches = [draw(names[0], g)]
        lo_t, hi_t = snr_range_at(step, lo, hi, args.snr_warmup)
        snr = (lo_t + (hi_t - lo_t) * torch.rand(b, generator=g)).to(device)
        gm = torch.Generator(device=device)
        gm.manual_seed(int(torch.randint(2**62, (1,), generator=g)))
        model.train()
        opt.zero_grad(set_to_none=True)
        if multi:
            out = training_step(model, batches[0], batches[1], snr, phase, gm, channel=channel)
            loss = out["loss"]
            logged = {
                k: float(v)
                for k, v in out.items()
                if k not in ("loss", "snr_db", "objectives", "rest")
            }
            if cfg.task_grad_normalize:
                norms = normalized_backward(out["objectives"], out["rest"], params)
                logged.update(grad_a=norms[0], grad_b=norms[1])
            else:
                loss.backward()
        else:
            loss, logged = _single_task_loss(model, batches[0], snr, phase, gm, channel)
            loss.backward()
        if args.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        model.after_step(gm)
        return {"loss": float(loss.detach()), **logged}

    sources = [{k: i[k] for k in ("path", "sha256")} for i in init]
    training = {
        k: v for k, v in vars(args).items() if k not in ("quiet", "out", "threads", "device")
    }
    extra = {"adapter": adapter.to_dict(), "training": training, "init": sources}
    return run_trainer(model, opt, step_fn, args, cfg, extra, t0)


def run_trainer(model, opt, step_fn, args, cfg: UDeepSCConfig, extra: dict, t0: float) -> int:
    """Run (or resume) ``args.steps`` of ``step_fn`` with the options' checkpointing and
    logging into ``args.out`` (``extra`` saved with every checkpoint); returns 0."""
    from semcom_sim.training import Trainer

    trainer = Trainer(
        model,
        opt,
        step_fn,
        args.out,
        KIND,
        cfg.to_dict(),
        total_steps=args.steps,
        checkpoint_every=args.checkpoint_every,
        log_every=args.log_every,
        seed=args.seed,
        extra=extra,
        quiet=args.quiet,
    )
    final = trainer.run()
    if not args.quiet:
        print(f"trained {args.steps} steps in {time.perf_counter() - t0:.0f} s -> {final}")
    return 0


def _single_task_loss(model, batch, snr, phase, generator, channel) -> tuple[Tensor, dict]:
    """T-DeepSC's loss: eq. (6) of ``phase`` + codebook (eq. 12) + rate (eq. 18) of one task."""
    cfg = model.config
    inputs = {k: batch[k] for k in ("image", "video", "text", "audio") if k in batch}
    out = model(batch["task"], snr, channel, generator, **inputs)
    obj = task_objective(cfg, batch["task"], out, batch["target"], phase)
    loss = obj + cfg.codebook_weight * out["loss_codebook"] + cfg.rate_weight * out["loss_rate"]
    return loss, {
        "task": float(obj.detach()),
        "codebook": float(out["loss_codebook"].detach()),
        "rate": float(out["loss_rate"].detach()),
    }


def train_udeepsc(argv: list[str]) -> int:
    """``semcom-sim train udeepsc [options]``; returns the exit code."""
    args = _parser("semcom-sim train udeepsc", multi=True).parse_args(argv)
    return _run(args, ALL_TASKS, multi=True)


def train_tdeepsc(argv: list[str]) -> int:
    """``semcom-sim train tdeepsc --task T [options]``; returns the exit code."""
    args = _parser("semcom-sim train tdeepsc", multi=False).parse_args(argv)
    if args.task not in MODEL_TASK:  # the sweep's task names, the same everywhere
        known = ", ".join(sorted(MODEL_TASK))
        raise UnknownNameError(f"unknown task {args.task!r}; known tasks: {known}")
    args.task = MODEL_TASK[args.task]
    args.size_power = 0.0
    return _run(args, (args.task,), multi=False)


# ``semcom-sim train`` calls ``TRAINERS.create(name)`` and then the returned function with argv.
TRAINERS.register("udeepsc", "U-DeepSC: one model for the six tasks (Algorithm 1)")(
    lambda: train_udeepsc
)
TRAINERS.register("tdeepsc", "T-DeepSC: the U-DeepSC architecture trained on one task")(
    lambda: train_tdeepsc
)
