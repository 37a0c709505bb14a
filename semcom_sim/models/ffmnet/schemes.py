"""FFMNet schemes for the ``detseg`` task: the split network with what goes between its halves.

Every scheme runs FFMNet's mobile side (image -> D1) once per batch, sends D1 one way or another
at each SNR point, and runs the edge side (D1_hat -> boxes + masks). Symbols are counted per
example (complex channel symbols; two real values per symbol):

- ``ffmnet-uncompressed``: D1 itself, noiseless (the upper reference; the channel is not used).
  Counted as ``ceil(C H W / 2)`` symbols, what D1 would take as analog values.
- ``ffmnet-jscc-<ratio>-<train>``: the deep JSCC trained at ``<train>`` (``snr<k>`` = AWGN at
  k dB, ``noiseless``) and sent over the sweep's channel: ``ceil(C H W / (2 ratio))`` symbols.
- ``ffmnet-jscc-<ratio>-ref``: the noiseless-trained JSCC tested without channel noise (Table III
  and the noiseless-512x reference of Fig. 5); same symbol count, channel not used.
- ``ffmnet-jscc-512x-noiseless-e2e`` / ``ffmnet-jscc-512x-e2e-ref``: the same after training
  step 3 (the whole split model fine-tuned end to end; its checkpoint holds its own FFMNet).
- ``ffmnet-jpeg-q<Q>-ldpc`` (Q = 5, 10): the separate baseline: D1 quantised to 8 bits, channel
  mosaic JPEG at quality Q (:class:`FeatureJPEGCodec`), 5G LDPC R=1/2 + QPSK through
  :class:`DigitalLink`; ``ffmnet-jpeg-ldpc`` is Q = 10 (on the shipped tiny model the quality
  closest to the end-to-end 512x JSCC). Symbols = the link's formula for the payload. Other
  qualities: ``JPEGLDPCScheme(name, quality, base)``.

Checkpoints come from ``semcom_sim/models/ffmnet/checkpoints/`` (or the folder named by the
environment variable ``SEMCOM_SIM_FFMNET_CHECKPOINTS``) and are loaded when the scheme is built,
so a missing or corrupt one is a one-line CheckpointError before a sweep writes anything.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from torch import Tensor

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
# Shipped JSCC variants: (ratio, training) -> checkpoint folder name.
JSCC_VARIANTS: dict[tuple[str, str], str] = {
    **{(r, "noiseless"): f"jscc-{r}-noiseless" for r in JSCC_SETTINGS},
    **{("512x", f"snr{k}"): f"jscc-512x-snr{k}" for k in (0, 5, 10)},
    ("512x", "noiseless-e2e"): "jscc-512x-noiseless-e2e",  # step 3 (whole model fine-tuned)
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
        out = self.ffmnet.from_d1(d1_hat, size)
        masks = self.ffmnet.segment(out).cpu()
        return [
            {"boxes": b.cpu(), "scores": s.cpu(), "labels": lab.cpu(), "mask": m}
            for (b, s, lab), m in zip(self.ffmnet.detect(out), masks, strict=True)
        ]

    @torch.no_grad()
    def run_grid(self, batch, channel: Channel, snr_grid_db: list[float], generators):
        """The mobile side once, then :meth:`send` per SNR with that point's generator."""
        self._check(batch)
        images = batch.fields["image"].to(self.device)
        d1 = self.ffmnet.extract(images)
        n, size = len(batch), tuple(images.shape[-2:])
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
        self.role = "bound" if noiseless_test else "learned"

    def send(self, d1, channel, snr_db, generator):
        tx = self.jscc(d1, None if self.noiseless_test else channel, snr_db, generator)
        n = torch.full((d1.shape[0],), tx["symbols"].shape[1], dtype=torch.int64)
        return tx["d1_hat"], n, {}

    def config(self) -> dict:
        h = self.ffmnet.config.image_size // 8
        return {
            "name": self.name,
            "kind": "ffmnet-jscc" + (" (tested without channel noise)" * self.noiseless_test),
            "jscc": self.jscc.config.to_dict(),
            "compression_ratio": self.jscc.config.compression_ratio(h, h),
            "checkpoint": str(self.paths[0]),
            "checkpoint_sha256": weights_sha256(self.paths[0]),
            "ffmnet": str(self.paths[1]),
        }


class JPEGLDPCScheme(FFMNetScheme):
    """8-bit quantised D1 -> JPEG mosaic -> LDPC R=1/2 + QPSK -> decode -> edge side.

    A payload whose blocks fail their CRC is still handed to the JPEG decoder (errors and all);
    if it cannot be decoded D1_hat is all zeros (``source_fallback``).
    """

    def __init__(self, name: str, quality: int, base: Path, device="cpu", decoder="auto"):
        from semcom_sim.baselines.codecs import FeatureJPEGCodec
        from semcom_sim.link.digital import DigitalLink
        from semcom_sim.link.mcs import MCS

        super().__init__(name, load_ffmnet(base), device)
        self.base = base
        self.role = "conventional"
        self.codec = FeatureJPEGCodec(quality)
        self.link = DigitalLink(MCS("ldpc", "1/2", "qpsk", backend=decoder), device=self.device)

    def _decode(self, received: list[bytes], like: Tensor) -> tuple[Tensor, list[bool]]:
        dec = self.codec.decode(received, like=like)
        return dec.data.to(self.device), dec.failed

    def send(self, d1, channel, snr_db, generator):
        payloads = self.codec.encode(d1.cpu())
        res = self.link.transmit(payloads, channel, snr_db, generator)
        d1_hat, failed = self._decode(res.payloads, d1.cpu())
        return d1_hat, res.num_symbols, self._extras(payloads, res.payload_ok, failed)

    @staticmethod
    def _extras(payloads, ok, failed) -> dict[str, Tensor]:
        return {
            "payload_ok": torch.tensor(ok, dtype=torch.float32),
            "source_fallback": torch.tensor(failed, dtype=torch.float32),
            "payload_bytes": torch.tensor([len(p) for p in payloads], dtype=torch.float32),
        }

    @torch.no_grad()
    def run_grid(self, batch, channel: Channel, snr_grid_db: list[float], generators):
        """All SNR points of the chunk go through one link call (large decoder batches); the
        channel draws point ``i``'s noise from ``generators[i]`` (SNR-major row blocks)."""
        self._check(batch)
        images = batch.fields["image"].to(self.device)
        d1 = self.ffmnet.extract(images)
        n, k = len(batch), len(snr_grid_db)
        payloads = self.codec.encode(d1.cpu())
        snr = torch.tensor([float(s) for s in snr_grid_db]).repeat_interleave(n)
        res = self.link.transmit(payloads * k, channel, snr, list(generators))
        outs = []
        for j in range(k):
            part = slice(j * n, (j + 1) * n)
            d1_hat, failed = self._decode(res.payloads[part], d1.cpu())
            num_sym = res.num_symbols[part].to(torch.int64)
            outs.append(
                SchemeOutput(
                    predictions=self._edge(d1_hat, tuple(images.shape[-2:])),
                    num_symbols=num_sym.float(),
                    channel_uses=res.channel_uses[part].float(),
                    extras=self._extras(payloads, res.payload_ok[part], failed),
                )
            )
        return outs

    def config(self) -> dict:
        return {
            "name": self.name,
            "kind": "separation (feature JPEG + LDPC)",
            "codec": self.codec.config(),
            "codec_description": self.codec.description,
            "link": self.link.config(),
            "on_block_error": "decode",
            "ffmnet": str(self.base),
        }


def _base() -> Path:
    return checkpoint_dir() / BASE_NAME


def _register() -> None:
    SCHEMES.register(
        "ffmnet-uncompressed", "FFMNet, D1 sent uncompressed and noiseless (upper reference)"
    )(lambda device="cpu", decoder="auto": UncompressedScheme(_base(), device))
    for (ratio, train), folder in JSCC_VARIANTS.items():
        trained = f"at AWGN {train[3:]} dB" if train.startswith("snr") else "noiselessly"
        e2e = train.endswith("-e2e")
        if e2e:
            trained += ", then end to end"
        name = f"ffmnet-jscc-{ratio}-{train}"

        def make(device="cpu", decoder="auto", _n=name, _f=folder):
            return JSCCScheme(_n, checkpoint_dir() / _f, _base(), False, device)

        headline = ratio == "512x" and not e2e
        SCHEMES.register(
            name,
            f"FFMNet + deep JSCC {ratio}, trained {trained}",
            tags=() if headline else ("variant",),
        )(make)
        if train.startswith("noiseless"):
            ref = f"ffmnet-jscc-{ratio}-" + ("e2e-ref" if e2e else "ref")

            def make_ref(device="cpu", decoder="auto", _n=ref, _f=folder):
                return JSCCScheme(_n, checkpoint_dir() / _f, _base(), True, device)

            SCHEMES.register(  # every -ref is in the default sweep: Table III needs them
                ref,
                f"FFMNet + deep JSCC {ratio}, trained {trained}, tested without noise",
                tags=() if headline else ("study",),
            )(make_ref)
    for q in (None, *JPEG_QUALITIES):
        name = "ffmnet-jpeg-ldpc" if q is None else f"ffmnet-jpeg-q{q}-ldpc"
        quality = DEFAULT_JPEG_QUALITY if q is None else q

        def make_sep(device="cpu", decoder="auto", _n=name, _q=quality):
            return JPEGLDPCScheme(_n, _q, _base(), device, decoder)

        SCHEMES.register(
            name,
            f"FFMNet D1: 8-bit + feature JPEG q{quality} + LDPC R=1/2 QPSK (separate)",
            tags=() if q is None else ("variant",),
        )(make_sep)


_register()
