"""Fast CPU channel decoders (numba) that stand in for Sionna's LDPC5G and Turbo decoders."""

from semcom_sim.link.fastdec.ldpc import FastLDPC5GDecoder
from semcom_sim.link.fastdec.turbo import FastTurboDecoder

__all__ = ["FastLDPC5GDecoder", "FastTurboDecoder"]
