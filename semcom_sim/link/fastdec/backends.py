"""Decoder backend selection: ``fast`` (numba, CPU) or ``sionna`` (torch, any device)."""

from __future__ import annotations

import torch

from semcom_sim.errors import SemcomError, UnknownNameError

BACKENDS = {
    "fast": (
        "numba CPU decoders of semcom_sim.link.fastdec: FastLDPC5GDecoder (layered offset "
        "min-sum, <= 15 iterations, stops on a zero syndrome) and FastTurboDecoder "
        "(log-MAP, <= 6 iterations, stops when hard decisions repeat); hard bits out"
    ),
    "sionna": (
        "Sionna's LDPC5GDecoder (flooding boxplus-phi BP, 20 iterations) and TurboDecoder "
        "(MAP, 6 iterations) on the LLRs' torch device; hard bits out"
    ),
    "auto": "fast when decoding on the CPU, sionna on any other device",
}


def decode_backends() -> dict[str, str]:
    """Known channel-decoder backends, name -> one-line description."""
    return dict(BACKENDS)


def make_decoder(encoder, backend: str = "auto", device: str | torch.device | None = None):
    """Hard-decision decoder matching a Sionna ``LDPC5GEncoder`` or LTE ``TurboEncoder``.

    Every returned decoder maps [..., n] Sionna-sign LLRs to [..., k] bits 0/1 of the LLRs'
    dtype and device. ``auto`` picks ``fast`` when ``device`` is None or the CPU.
    """
    from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
    from sionna.phy.fec.turbo import TurboDecoder, TurboEncoder

    from semcom_sim.link.fastdec.ldpc import FastLDPC5GDecoder
    from semcom_sim.link.fastdec.turbo import FastTurboDecoder

    if backend not in BACKENDS:
        raise UnknownNameError(
            f"unknown decoder backend {backend!r}; known backends: {', '.join(BACKENDS)}"
        )
    if backend == "auto":
        backend = "fast" if device is None or torch.device(device).type == "cpu" else "sionna"
    if isinstance(encoder, LDPC5GEncoder):
        if backend == "fast":
            return FastLDPC5GDecoder(encoder)
        return LDPC5GDecoder(encoder, hard_out=True, return_infobits=True, device=device)
    if isinstance(encoder, TurboEncoder):
        if backend == "fast":
            return FastTurboDecoder(encoder)
        return TurboDecoder(encoder, num_iter=6, algorithm="map", hard_out=True, device=device)
    raise SemcomError(f"no decoder for encoder type {type(encoder).__name__}")
