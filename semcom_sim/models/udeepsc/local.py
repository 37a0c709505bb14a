"""A non-communicating reference: the tiny image encoder trained as a plain classifier.

``local-model`` (role ``reference``) classifies the image where it was taken: U-DeepSC's image
embedding and encoder layers (same sizes as the ``tiny`` transmitter), a LayerNorm, the mean over
patches and one linear layer, trained on the same embedded training split -- no selection, no
quantiser, no channel, no decoder. It shows what a model of comparable size learns on this data in
the same budget, so a learned transceiver far below it has lost the task in communication, and
one near it has not. Nothing crosses the channel (``num_symbols`` 0).

    semcom-sim train local --task image-classification --steps 1500 --out runs/local-tiny-imgc

The checkpoint ``local-tiny-imgc`` ships beside the U-DeepSC ones.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from semcom_sim.checkpoint import MANIFEST, load_checkpoint, load_into
from semcom_sim.errors import CheckpointError, SemcomError, UnknownNameError
from semcom_sim.models.udeepsc.config import UDeepSCConfig, preset_config
from semcom_sim.models.udeepsc.layers import EncoderLayer
from semcom_sim.models.udeepsc.transmitter import ImageEmbedding
from semcom_sim.sim.scheme import SCHEMES, Scheme, SchemeOutput, Task
from semcom_sim.training import TRAINERS

KIND = "udeepsc-local"
TASKS = {"image-classification": "imgc"}


class LocalClassifier(nn.Module):
    """Image ``[B, 3, H, W]`` -> class logits ``[B, C]`` (the tiny image encoder + mean pool)."""

    def __init__(self, cfg: UDeepSCConfig, num_classes: int, device=None) -> None:
        super().__init__()
        dim, depth, heads, _ = cfg.encoder_dims("image")
        self.config = cfg
        self.embed = ImageEmbedding(cfg, dim, device=device)
        self.layers = nn.ModuleList(
            EncoderLayer(dim, heads, cfg.mlp_ratio, cfg.dropout, device=device)
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim, device=device)
        self.head = nn.Linear(dim, num_classes, device=device)

    def forward(self, image: Tensor) -> Tensor:
        h, _ = self.embed(image)
        for layer in self.layers:
            h = layer(h, None)
        return self.head(self.norm(h).mean(dim=1))


def _parser():
    from semcom_sim.options import ArgParser

    p = ArgParser(prog="semcom-sim train local", description=(__doc__ or "").splitlines()[0])
    p.add_argument("--task", default="image-classification", help="image-classification")
    p.add_argument("--preset", default="tiny", help="encoder sizes: tiny, paper")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--out", required=True, help="training directory (rerun to resume)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quiet", action="store_true")
    return p


def train_local(argv: list[str]) -> int:
    """``semcom-sim train local [options]``; returns the exit code."""
    from semcom_sim.data import load_dataset
    from semcom_sim.options import check_float, check_int, check_seed, check_writable_dir
    from semcom_sim.training import Trainer

    args = _parser().parse_args(argv)
    if args.task not in TASKS:
        raise UnknownNameError(f"unknown task {args.task!r}; known: {', '.join(TASKS)}")
    for name in ("steps", "batch_size", "checkpoint_every", "log_every", "threads"):
        check_int(getattr(args, name), f"--{name.replace('_', '-')}", 1, 10**9)
    check_float(args.lr, "--lr", 0.0, 10.0, lo_open=True)
    check_seed(args.seed)
    check_writable_dir(args.out)
    cfg = preset_config(args.preset, tasks=(TASKS[args.task],))
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    data = load_dataset("shapes32", split="train", n=None, seed=0)
    images, labels = data.fields["image"], data.fields["label"]
    num_classes = cfg.num_classes[TASKS[args.task]]
    torch.manual_seed(args.seed)
    model = LocalClassifier(cfg, num_classes)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-3)

    def step_fn(step: int, g: torch.Generator) -> dict[str, float]:
        idx = torch.randint(len(labels), (args.batch_size,), generator=g)
        loss = nn.functional.cross_entropy(model(images[idx]), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": float(loss.detach())}

    extra = {"task": args.task, "num_classes": num_classes, "training": vars(args)}
    trainer = Trainer(
        model, opt, step_fn, args.out, KIND, cfg.to_dict(), args.steps,
        args.checkpoint_every, args.log_every, args.seed, extra, args.quiet,
    )  # fmt: skip
    final = trainer.run()
    if not args.quiet:
        print(f"trained {args.steps} steps in {time.perf_counter() - t0:.0f} s -> {final}",
              file=sys.stderr)  # fmt: skip
    return 0


TRAINERS.register("local", "the tiny image encoder as a plain classifier (reference)")(
    lambda: train_local
)


class LocalModel(Scheme):
    """``local-model``: the non-communicating classifier (role ``reference``)."""

    role = "reference"
    description = "the tiny image encoder trained as a plain classifier, no channel"

    def __init__(self, name: str = "local-model", checkpoints: str | Path | None = None,
                 **_: Any) -> None:  # fmt: skip
        self.name = name
        self.checkpoints = Path(checkpoints) if checkpoints else None
        self._model: LocalClassifier | None = None

    def supports(self, task: Task) -> bool:
        return task.name in TASKS

    def _path(self, task: str = "image-classification") -> Path:
        from semcom_sim.models.udeepsc.schemes import checkpoint_dir

        return (self.checkpoints or checkpoint_dir()) / f"local-tiny-{TASKS[task]}"

    def prepare(self, task: Task, device: torch.device) -> None:
        if self._model is None:
            path = self._path(task.name)
            state, config, extra = load_checkpoint(path, kind=KIND)
            try:
                cfg = UDeepSCConfig.from_dict(config)
                model = LocalClassifier(cfg, int(extra["num_classes"]))
            except (SemcomError, TypeError, ValueError, KeyError) as e:
                raise CheckpointError(f"checkpoint {path}: incompatible ({e})") from None
            load_into(model, state, path)
            self._model = model.eval()

    def run(self, batch, channel, snr_db, generator) -> SchemeOutput:
        from semcom_sim.models.udeepsc.adapters import resize

        if self._model is None:
            raise SemcomError(f"scheme {self.name}: prepare(task) was not called")
        img = resize(batch.fields["image"], self._model.config.image_size)
        with torch.no_grad():
            pred = self._model(img).argmax(dim=-1)
        n = len(batch)
        zeros = torch.zeros(n)
        return SchemeOutput(predictions=pred, num_symbols=zeros, channel_uses=zeros, extras={})

    def identity(self, task: Task) -> dict:
        try:
            digest = hashlib.sha256((self._path(task.name) / MANIFEST).read_bytes()).hexdigest()
        except OSError:
            digest = "missing"
        return self.config() | {"role": self.role, "manifest_sha256": digest}

    def config(self) -> dict:
        return {"name": self.name, "kind": "reference", "model": "local-tiny-imgc"}


SCHEMES.register("local-model", LocalModel.description + " (reference)")(
    lambda **kw: LocalModel(**kw)
)
