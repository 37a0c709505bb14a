"""FFMNet schemes for the ``detseg`` task: the split network with what goes between its halves.

Every scheme runs FFMNet's mobile side (image -> D1) once per batch, sends D1 one way or another
at each SNR point, and runs the edge side (D1_hat -> boxes + masks). Symbols are counted per
example (complex channel symbols; two real values per symbol):

- ``ffmnet-uncompressed``: D1 itself, noiseless (the upper reference; the channel is not used).
  Counted as ``ceil(C H W / 2)`` symbols, what D1 would take as analog values.
- ``ffmnet-jscc-<ratio>-<train>``: the deep JSCC after the paper's three training steps
  (Sec. II-D: FFMNet; the JSCC with FFMNet frozen; everything end to end), steps 2 and 3 at
  ``<train>`` (``snr<k>`` = AWGN at k dB, ``noiseless``), sent over the sweep's channel:
  ``ceil(C H W / (2 ratio))`` symbols.
- ``ffmnet-jscc-<ratio>-ref``: the noiseless-trained JSCC tested without channel noise (Table III
  and the noiseless-512x reference of Fig. 5); same symbol count, channel not used.
- ``ffmnet-jscc-<ratio>-step2-ref``: the same after steps 1-2 only (Table III's step-2 row).
- The separate baseline goes through the shared separation code
  (:mod:`semcom_sim.baselines.families`): this module registers FFMNet's halves as the
  ``detseg`` back end of ``FEATURE_SPLITS``, so the ``feature-jpeg-*`` family (8-bit D1 +
  channel-mosaic JPEG q10, MCS staircase, envelope, capacity bound) serves detseg, and
  ``ffmnet-jpeg-q<Q>-ldpc`` (Q = 5, 10) are that family at JPEG quality Q with LDPC R=1/2 QPSK;
  ``ffmnet-jpeg-ldpc`` is Q = 10, the same as ``feature-jpeg-ldpc`` under the name Fig. 5 uses.

The noiseless schemes (``-ref``, ``ffmnet-uncompressed``) do not depend on the SNR or the noise,
so :meth:`FFMNetScheme.run_grid` computes them once per batch and gives every point that result;
every other point is computed from its own generator.

Checkpoints come from ``semcom_sim/models/ffmnet/checkpoints/`` (or the folder named by the
environment variable ``SEMCOM_SIM_FFMNET_CHECKPOINTS``) and are loaded when the scheme is built,
so a missing or corrupt one is a one-line CheckpointError before a sweep writes anything.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from torch import Tensor, nn

from semcom_sim.baselines.receivers import FEATURE_SPLITS
from semcom_sim.channel.base import Channel
from semcom_sim.errors import SemcomError
from semcom_sim.models.ffmnet.config import JSCC_SETTINGS
from semcom_sim.models.ffmnet.jscc import FFMNetJSCC
from semcom_sim.models.ffmnet.model import FFMNet
from semcom_sim.models.ffmnet.pretrained import (
    BASE_NAME,
    CHECKPOINT_DIR,
    load_ffmnet,
    load_split_model,
    weights_sha256,
)
from semcom_sim.models.ffmnet.task import DetSegTask  # noqa: F401  (registers "detseg")
from semcom_sim.sim.scheme import SCHEMES, Scheme, SchemeOutput, Task

ENV_DIR = "SEMCOM_SIM_FFMNET_CHECKPOINTS"
TASK = "detseg"
# Shipped JSCC variants: (ratio, training) -> checkpoint folder name. ``noiseless``/``snr<k>``
# are after all three steps (whole split model, kind "ffmnet-e2e"); ``step2`` the JSCC after
# step 2 only (kind "ffmnet-jscc", on the shipped ffmnet-tiny).
JSCC_VARIANTS: dict[tuple[str, str], str] = {
    **{(r, "noiseless"): f"jscc-{r}-noiseless" for r in JSCC_SETTINGS},
    **{("512x", f"snr{k}"): f"jscc-512x-snr{k}" for k in (0, 5, 10)},
    **{(r, "step2"): f"jscc-{r}-noiseless-step2" for r in JSCC_SETTINGS},
}
JPEG_QUALITIES = (5, 10)  # few: the CPU LDPC decoder is slow and "--schemes all" runs each
DEFAULT_JPEG_QUALITY = 10


def checkpoint_dir() -> Path:
    """Where the schemes read checkpoints: ``$SEMCOM_SIM_FFMNET_CHECKPOINTS`` or the package's."""
    env = os.environ.get(ENV_DIR)
    return Path(env) if env else CHECKPOINT_DIR


class FFMNetScheme(Scheme):
    """Base class: mobile side once per batch, then :meth:`send` and the edge side per SNR.

    Subclasses implement ``send(d1, channel, snr_db [N], generator) -> (d1_hat, num_symbols [N],
    extras)``.
    """

    snr_chunk = 32
    role = "learned"
    noiseless = False  # True: the output depends neither on the SNR nor on the noise

    def __init__(self, name: str, model: FFMNet, device: str | torch.device = "cpu") -> None:
        self.name = name
        self.device = torch.device(device)
        self.ffmnet = model.to(self.device).eval()

    def supports(self, task: Task) -> bool:
        return task.name == TASK

    def send(self, d1: Tensor, channel: Channel, snr_db: Tensor, generator):
        raise NotImplementedError

    def identity(self, task: Task) -> dict:
        """:meth:`config` with checkpoint folders by name (not machine paths) and the weight
        hash of the FFMNet base model added."""
        cfg = {
            k: (Path(v).name if k in ("ffmnet", "checkpoint") else v)
            for k, v in self.config().items()
        }
        return cfg | {"role": self.role, "ffmnet_sha256": weights_sha256(_base())}

    def _check(self, batch) -> None:
        k = int(batch.meta.get("num_classes", 0)) - 1
        if k != self.ffmnet.config.num_classes:
            raise SemcomError(
                f"{self.name}: model has {self.ffmnet.config.num_classes} object classes, "
                f"data {batch.name!r} has {k}"
            )

    def _edge(self, d1_hat: Tensor, size: tuple[int, int]) -> list[dict]:
        return edge_predictions(self.ffmnet, d1_hat, size)

    @torch.no_grad()
    def run_grid(self, batch, channel: Channel, snr_grid_db: list[float], generators):
        """The mobile side once, then :meth:`send` per SNR with that point's generator (a
        noiseless scheme: once, the same output for every point)."""
        self._check(batch)
        images = batch.fields["image"].to(self.device)
        d1 = self.ffmnet.extract(images)
        n, size = len(batch), tuple(images.shape[-2:])
        if self.noiseless and snr_grid_db:
            snr = torch.full((n,), float(snr_grid_db[0]), device=self.device)
            d1_hat, num_sym, extras = self.send(d1, channel, snr, generators[0])
            num_sym = num_sym.to(torch.int64).cpu()
            preds = self._edge(d1_hat, size)
            uses = channel.channel_uses(num_sym).float().cpu()
            return [
                SchemeOutput([dict(p) for p in preds], num_sym.float(), uses.clone(), dict(extras))
                for _ in snr_grid_db
            ]
        outs = []
        for s, generator in zip(snr_grid_db, generators, strict=True):
            snr = torch.full((n,), float(s), device=self.device)
            d1_hat, num_sym, extras = self.send(d1, channel, snr, generator)
            num_sym = num_sym.to(torch.int64).cpu()
            outs.append(
                SchemeOutput(
                    predictions=self._edge(d1_hat, size),
                    num_symbols=num_sym.float(),
                    channel_uses=channel.channel_uses(num_sym).float().cpu(),
                    extras=extras,
                )
            )
        return outs

    def run(self, batch, channel: Channel, snr_db: Tensor, generator) -> SchemeOutput:
        """Per-example SNRs ``[N]`` (one pass; :meth:`run_grid` covers the sweep's grid)."""
        self._check(batch)
        with torch.no_grad():
            images = batch.fields["image"].to(self.device)
            d1 = self.ffmnet.extract(images)
            d1_hat, num_sym, extras = self.send(d1, channel, snr_db.to(self.device), generator)
            num_sym = num_sym.to(torch.int64).cpu()
            return SchemeOutput(
                self._edge(d1_hat, tuple(images.shape[-2:])),
                num_sym.float(),
                channel.channel_uses(num_sym).float().cpu(),
                extras,
            )


class UncompressedScheme(FFMNetScheme):
    """D1 reaches the edge unchanged (noiseless reference)."""

    def __init__(self, base: Path, device="cpu") -> None:
        super().__init__("ffmnet-uncompressed", load_ffmnet(base), device)
        self.base = base
        self.role = "bound"
        self.noiseless = True

    def send(self, d1, channel, snr_db, generator):
        n = math.ceil(d1[0].numel() / 2)
        return d1, torch.full((d1.shape[0],), n, dtype=torch.int64), {}

    def config(self) -> dict:
        return {
            "name": self.name,
            "kind": "ffmnet-uncompressed (noiseless D1)",
            "ffmnet": str(self.base),
            "ffmnet_sha256": weights_sha256(self.base),
        }


class JSCCScheme(FFMNetScheme):
    """FFMNet split at D1 with a trained feature JSCC; ``noiseless_test`` skips the channel."""

    def __init__(
        self, name: str, jscc_path: Path, base: Path, noiseless_test: bool, device="cpu"
    ) -> None:
        model: FFMNetJSCC = load_split_model(jscc_path, base)
        super().__init__(name, model.ffmnet, device)
        self.jscc = model.jscc.to(self.device).eval()
        self.paths = (jscc_path, base)
        self.noiseless_test = noiseless_test
        self.noiseless = noiseless_test
        self.role = "bound" if noiseless_test else "learned"

    def send(self, d1, channel, snr_db, generator):
        tx = self.jscc(d1, None if self.noiseless_test else channel, snr_db, generator)
        n = torch.full((d1.shape[0],), tx["symbols"].shape[1], dtype=torch.int64)
        return tx["d1_hat"], n, {}

    def config(self) -> dict:
        h = self.ffmnet.config.d1_size
        return {
            "name": self.name,
            "kind": "ffmnet-jscc" + (" (tested without channel noise)" * self.noiseless_test),
            "jscc": self.jscc.config.to_dict(),
            "compression_ratio": self.jscc.config.compression_ratio(h, h),
            "checkpoint": str(self.paths[0]),
            "checkpoint_sha256": weights_sha256(self.paths[0]),
            "ffmnet": str(self.paths[1]),
        }


def edge_predictions(ffmnet: FFMNet, d1_hat: Tensor, size: tuple[int, int]) -> list[dict]:
    """The edge side: D1_hat ``[B, C, h, w]`` -> per image ``{"boxes" [k, 4] xyxy px, "scores"
    [k], "labels" [k], "mask" int64 [H, W]}`` for ``size = (H, W)`` inputs (on the CPU)."""
    out = ffmnet.from_d1(d1_hat, size)
    masks = ffmnet.segment(out).cpu()
    return [
        {"boxes": b.cpu(), "scores": s.cpu(), "labels": lab.cpu(), "mask": m}
        for (b, s, lab), m in zip(ffmnet.detect(out), masks, strict=True)
    ]


class FFMNetMobile(nn.Module):
    """FFMNet's mobile side as a split-inference component: images ``[B, 3, H, W]`` -> D1
    ``[B, C, H/s, W/s]``. ``name`` carries the weights' sha256 (it enters the scheme's key)."""

    def __init__(self, ffmnet: FFMNet, sha256: str) -> None:
        super().__init__()
        self.ffmnet = ffmnet.eval()
        self.name = f"ffmnet mobile side (image -> D1; weights sha256 {sha256})"

    def forward(self, images: Tensor) -> Tensor:
        return self.ffmnet.extract(images)


class FFMNetEdge(nn.Module):
    """FFMNet's edge side as a split-inference component: decoded D1 ``[B, C, h, w]`` -> the
    detseg predictions of :func:`edge_predictions` (input size = D1 size x ``d1_stride``)."""

    def __init__(self, ffmnet: FFMNet, sha256: str) -> None:
        super().__init__()
        self.ffmnet = ffmnet.eval()
        self.name = f"ffmnet edge side (D1 -> boxes + masks; weights sha256 {sha256})"

    def forward(self, d1_hat: Tensor) -> list[dict]:
        s = self.ffmnet.config.d1_stride
        size = (d1_hat.shape[-2] * s, d1_hat.shape[-1] * s)
        return edge_predictions(self.ffmnet, d1_hat.to(torch.float32), size)


def feature_split(device: str = "cpu", **_) -> tuple[FFMNetMobile, FFMNetEdge]:
    """The ``detseg`` back end of ``FEATURE_SPLITS``: the shipped ``ffmnet-tiny``'s halves."""
    base = _base()
    model = load_ffmnet(base, device)
    sha = weights_sha256(base)
    return FFMNetMobile(model, sha), FFMNetEdge(model, sha)


def _base() -> Path:
    return checkpoint_dir() / BASE_NAME


def _register() -> None:
    SCHEMES.register(
        "ffmnet-uncompressed", "FFMNet, D1 sent uncompressed and noiseless (upper reference)"
    )(lambda device="cpu", decoder="auto": UncompressedScheme(_base(), device))
    for (ratio, train), folder in JSCC_VARIANTS.items():
        if train == "step2":
            ref = f"ffmnet-jscc-{ratio}-step2-ref"

            def make_step2(device="cpu", decoder="auto", _n=ref, _f=folder):
                return JSCCScheme(_n, checkpoint_dir() / _f, _base(), True, device)

            SCHEMES.register(
                ref,
                f"FFMNet + deep JSCC {ratio} after steps 1-2 only, noiseless (Table III)",
                tags=("study",),
            )(make_step2)
            continue
        trained = f"at AWGN {train[3:]} dB" if train.startswith("snr") else "noiselessly"
        name = f"ffmnet-jscc-{ratio}-{train}"

        def make(device="cpu", decoder="auto", _n=name, _f=folder):
            return JSCCScheme(_n, checkpoint_dir() / _f, _base(), False, device)

        headline = ratio == "512x"
        SCHEMES.register(
            name,
            f"FFMNet + deep JSCC {ratio}, steps 1-3, trained {trained}",
            tags=() if headline else ("variant",),
        )(make)
        if train == "noiseless":
            ref = f"ffmnet-jscc-{ratio}-ref"

            def make_ref(device="cpu", decoder="auto", _n=ref, _f=folder):
                return JSCCScheme(_n, checkpoint_dir() / _f, _base(), True, device)

            SCHEMES.register(  # every -ref is in the default sweep: Table III needs them
                ref,
                f"FFMNet + deep JSCC {ratio}, steps 1-3, trained and tested without noise",
                tags=() if headline else ("study",),
            )(make_ref)
    FEATURE_SPLITS.register("detseg", "FFMNet (ffmnet-tiny) split at D1")(feature_split)
    for q in (None, *JPEG_QUALITIES):
        name = "ffmnet-jpeg-ldpc" if q is None else f"ffmnet-jpeg-q{q}-ldpc"
        quality = DEFAULT_JPEG_QUALITY if q is None else q

        def make_sep(device="cpu", decoder="auto", _n=name, _q=quality):
            from semcom_sim.baselines.codecs import FeatureJPEGCodec
            from semcom_sim.baselines.families import family_scheme

            return family_scheme(
                "feature-jpeg",
                codec=FeatureJPEGCodec(quality=_q),
                name=_n,
                device=device,
                decoder=decoder,
            )

        SCHEMES.register(
            name,
            f"FFMNet D1: 8-bit + feature JPEG q{quality} + LDPC R=1/2 QPSK (feature-jpeg family)",
            tags=() if q is None else ("variant",),
        )(make_sep)


_register()
