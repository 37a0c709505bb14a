"""Decoder backends: what ``backend="fast"`` means, and the factory the digital link calls."""

from __future__ import annotations

from semcom_sim.errors import UnknownNameError

BACKENDS = {
    "fast": (
        "numba CPU decoders of semcom_sim.link.fastdec: FastLDPC5GDecoder (layered offset "
        "min-sum, stops on a zero syndrome) and FastTurboDecoder (log-MAP, stops when hard "
        "decisions repeat); CPU only, hard bits out"
    ),
    "sionna": (
        "Sionna's LDPC5GDecoder (flooding boxplus-phi BP, fixed iterations) and TurboDecoder "
        "(MAP, fixed iterations) on any torch device; hard bits out"
    ),
    "auto": "fast when decoding on the CPU, sionna on any other device",
}


def decode_backends() -> dict[str, str]:
    """Known channel-decoder backends, name -> one-line description."""
    return dict(BACKENDS)


def make_decoder(code: str, encoder, num_iter: int | None = None):
    """``(decoder, description)`` of the fast decoder for a Sionna encoder.

    Args:
        code: ``"ldpc"`` (``encoder`` a ``LDPC5GEncoder``) or ``"turbo"`` (an LTE
            ``TurboEncoder(constraint_length=4, terminate=True)``).
        encoder: the Sionna encoder; the decoder takes every code parameter from it.
        num_iter: maximum iterations (None: 20 for LDPC, 6 for Turbo); blocks stop early.

    The decoder maps [..., n] Sionna-sign LLRs to [..., k] hard bits 0/1 with the LLRs'
    dtype and device (the work itself runs on the CPU).
    """
    from semcom_sim.link.fastdec.ldpc import FastLDPC5GDecoder
    from semcom_sim.link.fastdec.turbo import FastTurboDecoder

    if code == "ldpc":
        dec = FastLDPC5GDecoder(encoder, num_iter=num_iter or 20)
        return dec, f"fast layered offset min-sum (offset {dec.offset}, early stop)"
    if code == "turbo":
        dec = FastTurboDecoder(encoder, num_iter=num_iter or 6)
        return dec, f"fast {dec.algorithm} turbo (early stop)"
    raise UnknownNameError(f"no fast decoder for code {code!r}; known codes: ldpc, turbo")
