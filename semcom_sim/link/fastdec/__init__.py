"""Fast CPU channel decoders (numba) that stand in for Sionna's LDPC5G and Turbo decoders.

``backend="fast"`` means these classes; ``decode_backends()`` lists the choices and
``make_decoder(code, encoder, num_iter)`` builds one for a Sionna encoder.
"""

from semcom_sim.link.fastdec.backends import decode_backends, make_decoder
from semcom_sim.link.fastdec.ldpc import FastLDPC5GDecoder
from semcom_sim.link.fastdec.turbo import FastTurboDecoder

__all__ = ["FastLDPC5GDecoder", "FastTurboDecoder", "decode_backends", "make_decoder"]
