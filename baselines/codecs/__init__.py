"""Conventional source codecs for the separation baselines (source codec + digital link).

Every codec implements ``Codec``: ``encode(batch) -> list[bytes]`` (exactly the bytes sent),
``decode(payloads, like) -> Decoded(data, failed)`` (never raises on corrupted payloads),
``description`` (library and version) and ``config()`` (rebuilds it via ``codec_from_config``).

Factory names in ``CODECS``: "jpeg", "heif", "avif", "webp", "h264", "utf8", "pcm",
"feature-jpeg".
"""

from .base import CODECS, Codec, Decoded, codec_from_config, create_codec
from .feature import FeatureJPEGCodec
from .h264 import H264Codec
from .jpeg import JPEGCodec
from .pcm import PCMCodec
from .still import AVIFCodec, HEIFCodec, StillImageCodec, WebPCodec
from .text import UTF8Codec

__all__ = [
    "AVIFCodec",
    "CODECS",
    "Codec",
    "Decoded",
    "FeatureJPEGCodec",
    "H264Codec",
    "HEIFCodec",
    "JPEGCodec",
    "PCMCodec",
    "StillImageCodec",
    "UTF8Codec",
    "WebPCodec",
    "codec_from_config",
    "create_codec",
]
