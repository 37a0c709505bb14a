"""UTF-8 text codec (no library: Python's own codec)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import torch

from semcom_sim.errors import SemcomError

from .base import CODECS, Codec, Decoded, Like


@CODECS.register("utf8", help="UTF-8 text, decoded with errors='replace'")
class UTF8Codec(Codec):
    """Text as UTF-8 bytes. ``list[str]`` -> one payload per string.

    Decoding uses ``errors="replace"``: invalid bytes become U+FFFD, so it never fails; such
    examples are flagged in ``Decoded.failed``. ``like`` and ``device`` are ignored.
    """

    name = "utf8"

    @property
    def description(self) -> str:
        v = sys.version_info
        return f"UTF-8 via Python {v.major}.{v.minor}.{v.micro} str.encode, errors='replace'"

    def config(self) -> dict:
        return {"codec": "utf8"}

    def encode(self, batch: Sequence[str]) -> list[bytes]:
        if isinstance(batch, str):
            raise SemcomError("UTF-8 codec expects a list of strings, got one str")
        out = []
        for i, s in enumerate(batch):
            if not isinstance(s, str):
                raise SemcomError(f"UTF-8 codec: item {i} is {type(s).__name__}, not str")
            try:
                out.append(s.encode("utf-8"))
            except UnicodeEncodeError as e:  # lone surrogates
                raise SemcomError(f"UTF-8 codec: item {i} is not encodable: {e.reason}") from None
        return out

    def decode(
        self, payloads: Sequence[bytes], like: Like = None, *, device: torch.device | None = None
    ) -> Decoded:
        """B payloads -> ``Decoded(data=list[str], failed)``; failed = invalid UTF-8 replaced."""
        texts, failed = [], []
        for p in payloads:
            p = bytes(p)
            try:
                texts.append(p.decode("utf-8"))
                failed.append(False)
            except UnicodeDecodeError:
                texts.append(p.decode("utf-8", errors="replace"))
                failed.append(True)
        return Decoded(texts, failed)
