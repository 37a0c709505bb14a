"""Separate source-channel coding: a source codec + the digital link (+ a task model).

For tasks whose output is the reconstruction (image, text, speech) the receiver is the codec's
decoder; for decision tasks a task model (a component passed in) runs on the reconstruction, so
conventional and learned schemes are judged by the same task back end.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from semcom_sim.channel.base import Channel
from semcom_sim.link.digital import DigitalLink
from semcom_sim.link.mcs import MCS
from semcom_sim.sim.scheme import Scheme, SchemeOutput, Task

BLOCK_ERROR_POLICIES = ("decode", "erase")


class SeparationScheme(Scheme):
    """``codec.encode -> DigitalLink(mcs) -> codec.decode [-> receiver]``.

    Args:
        name: scheme name in the registry and the results.
        codec: a :class:`semcom_sim.baselines.codecs.Codec`.
        mcs: the modulation-and-coding scheme.
        tasks: names of the tasks this scheme serves.
        input_field: the task data field that is source-coded (e.g. ``"image"``, ``"text"``).
        receiver: optional task model applied to the decoded data (decision tasks).
        on_block_error: ``"decode"`` (default: hand the received bytes, errors and all, to the
            source decoder, which falls back where it cannot decode) or ``"erase"`` (a payload
            with any failed CRC is dropped and the codec's fallback is used, as a receiver that
            trusts only CRC-clean data would).
    """

    snr_chunk = 1

    def __init__(
        self,
        name: str,
        codec,
        mcs: MCS,
        tasks: tuple[str, ...],
        input_field: str,
        receiver: Callable | None = None,
        on_block_error: str = "decode",
        device: str | torch.device = "cpu",
    ) -> None:
        if on_block_error not in BLOCK_ERROR_POLICIES:
            raise ValueError(f"on_block_error must be one of {BLOCK_ERROR_POLICIES}")
        self.name = name
        self.codec = codec
        self.mcs = mcs
        self.task_names = tuple(tasks)
        self.input_field = input_field
        self.receiver = receiver
        self.on_block_error = on_block_error
        self.link = DigitalLink(mcs, device=device)

    def supports(self, task: Task) -> bool:
        return task.name in self.task_names

    def run(self, batch, channel: Channel, snr_db: Tensor, generator) -> SchemeOutput:
        x = batch.fields[self.input_field]
        payloads = self.codec.encode(x)
        res = self.link.transmit(payloads, channel, snr_db, generator)
        ok = res.payload_ok
        rx = res.payloads
        if self.on_block_error == "erase":
            rx = [p if good else b"" for p, good in zip(rx, ok, strict=True)]
        dec = self.codec.decode(rx, like=_like(x))
        pred = dec.data if self.receiver is None else self.receiver(dec.data, batch)
        return SchemeOutput(
            predictions=pred,
            num_symbols=res.num_symbols.float(),
            channel_uses=res.channel_uses.float(),
            extras={
                "payload_ok": torch.tensor(ok, dtype=torch.float32),
                "source_fallback": torch.tensor(dec.failed, dtype=torch.float32),
                "payload_bytes": torch.tensor([len(p) for p in payloads], dtype=torch.float32),
            },
        )

    def config(self) -> dict:
        return {
            "name": self.name,
            "kind": "separation",
            "codec": self.codec.config(),
            "codec_description": self.codec.description,
            "link": self.link.config(),
            "on_block_error": self.on_block_error,
        }


def _like(x):
    """The shape information the receiver knows (a tensor's shape; a list's length)."""
    return x if isinstance(x, torch.Tensor) else None
