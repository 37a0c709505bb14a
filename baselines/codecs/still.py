"""Modern still-image codecs beside JPEG: HEIF (HEVC intra), AVIF (AV1 intra) and WebP (VP8).

All three run in memory through Pillow (``pillow-heif``: libheif + x265 / libde265;
``pillow-avif-plugin``: libavif + libaom; WebP: Pillow's libwebp), 8 bits, RGB 4:2:0 (the
same chroma subsampling as the JPEG default). A grayscale image [B, 1, H, W] is sent as RGB
with equal channels and decoded to the mean of the three.

Byte counting (``count``), consistent with JPEG's ``"entropy"`` / ``"file"`` (``jpeg.py``):

    "codestream" (default): what varies from image to image is sent; what is a constant
        function of the codec settings and the image size (the container's boxes or chunks, the
        HEVC parameter sets, the AV1 sequence header, the VP8 start code and dimensions) is
        assumed shared by both ends, because a real link would not resend it with every image.
        Both ends build the *template* by encoding a blank image with the same size, quality
        and settings. The receiver rebuilds the file as template + sent bytes, patching the
        length fields from the payload length (which the link layer frames). ``encode`` checks,
        image by image, that the rebuilt file is byte-identical to the encoder's file, so the
        count is exact (it raises ``RuntimeError`` otherwise, as JPEG's header check does).

        - HEIF: sent = the single HEVC slice NAL unit of the ``mdat`` box, without its 4-byte
          length prefix. Shared: ``ftyp``, ``meta`` (``hvcC`` with VPS/SPS/PPS, ``ispe``,
          ``colr``, ``iloc``, ...), the ``mdat`` header. Patched: ``iloc`` extent length, ``mdat``
          size, the NAL length prefix.
        - AVIF: sent = the ``mdat`` content after the AV1 temporal-delimiter and sequence-header
          OBUs (the frame OBU, with its own header and size field). Shared: ``ftyp``, ``meta``,
          those two OBUs.
          Patched: ``iloc`` extent length, ``mdat`` size.
        - WebP: sent = the VP8 key frame without its 7 constant bytes (start code and
          dimensions): frame tag (3 bytes, holds the first partition size) + partitions.
          Shared: the RIFF/WEBP/``VP8 `` headers. Patched: the RIFF and chunk sizes, pad byte.
    "file": the whole file is sent and counted.

Fallback: an image whose payload cannot be decoded (empty, broken stream, wrong size or mode)
is mid-grey (0.5 everywhere) and flagged in ``Decoded.failed``. A corrupted codestream that
the decoder still decodes (with concealment) gives a corrupted image, not a failure.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import PIL
import torch
from PIL import Image, features

from semcom_sim.errors import SemcomError

from .base import CODECS, Codec, Decoded, Like, like_device, like_shape, to_numpy, to_uint8

STILL_COUNTS = ("codestream", "file")
MAX_SIDE = 16384


def check_still_quality(quality: int, what: str) -> int:
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise SemcomError(f"{what} quality must be an int in 1..100, got {quality!r}")
    return quality


# ------------------------------------------------------------------- ISO BMFF (HEIF, AVIF)


def _boxes(data: bytes, start: int, end: int) -> list[tuple[str, int, int]]:
    """Top-level boxes of ``data[start:end]``: (type, offset, size); 32-bit sizes only."""
    out, i = [], start
    while i + 8 <= end:
        size, typ = struct.unpack(">I4s", data[i : i + 8])
        if size < 8 or i + size > end:
            raise RuntimeError(f"bad ISO BMFF box at byte {i}")
        out.append((typ.decode("latin1"), i, size))
        i += size
    if i != end:
        raise RuntimeError("trailing bytes after the last ISO BMFF box")
    return out


def _find(boxes: list[tuple[str, int, int]], typ: str) -> tuple[int, int]:
    hits = [(o, s) for t, o, s in boxes if t == typ]
    if len(hits) != 1:
        raise RuntimeError(f"expected one {typ!r} box, found {len(hits)}")
    return hits[0]


def _iloc_length_field(data: bytes) -> tuple[int, int]:
    """(offset, width) of the extent_length of the file's only ``iloc`` item and extent."""
    top = _boxes(data, 0, len(data))
    mo, ms = _find(top, "meta")
    io_, _ = _find(_boxes(data, mo + 12, mo + ms), "iloc")
    p = io_ + 8
    version = data[p]
    p += 4
    off_size, len_size = data[p] >> 4, data[p] & 15
    base_size, idx_size = data[p + 1] >> 4, (data[p + 1] & 15) if version in (1, 2) else 0
    p += 2
    if version < 2:
        count = struct.unpack(">H", data[p : p + 2])[0]
        p += 2
    else:
        count = struct.unpack(">I", data[p : p + 4])[0]
        p += 4
    if count != 1:
        raise RuntimeError(f"iloc lists {count} items, expected 1")
    p += 2 if version < 2 else 4  # item_ID
    if version in (1, 2):
        p += 2  # construction_method
    p += 2 + base_size  # data_reference_index, base_offset
    extents = struct.unpack(">H", data[p : p + 2])[0]
    p += 2
    if extents != 1 or len_size not in (4, 8):
        raise RuntimeError("iloc item is not one extent with a 4- or 8-byte length")
    p += idx_size + off_size
    return p, len_size


def bmff_split(data: bytes) -> tuple[bytes, bytes]:
    """(everything before the ``mdat`` content, the ``mdat`` content); ``mdat`` must be last."""
    top = _boxes(data, 0, len(data))
    if top[-1][0] != "mdat" or sum(t == "mdat" for t, _, _ in top) != 1:
        raise RuntimeError("expected one mdat box at the end of the file")
    mo = top[-1][1]
    return data[: mo + 8], data[mo + 8 :]


def bmff_rebuild(template: bytes, content: bytes) -> bytes:
    """The template file with its ``mdat`` content replaced and the length fields patched."""
    head = bytearray(bmff_split(template)[0])
    p, width = _iloc_length_field(template)
    head[p : p + width] = len(content).to_bytes(width, "big")
    head[-8:-4] = (8 + len(content)).to_bytes(4, "big")
    return bytes(head) + content


def _av1_prefix(content: bytes) -> bytes:
    """The OBUs of an AV1 ``mdat`` before its first frame (header) OBU: temporal delimiter and
    sequence header, a function of the settings and the image size only."""
    p = 0
    while p < len(content):
        if (content[p] >> 3) & 15 in (3, 6):  # OBU_FRAME_HEADER, OBU_FRAME
            return content[:p]
        p += _obu_length(content[p:])
    raise RuntimeError("AV1 mdat has no frame OBU")


def _obu_length(data: bytes) -> int:
    """Total length (header + size field + payload) of the first AV1 OBU of ``data``."""
    h = data[0]
    if not (h >> 1) & 1:
        raise RuntimeError("AV1 OBU without a size field")
    p = 1 + ((h >> 2) & 1)
    size = shift = 0
    while True:
        b = data[p]
        p += 1
        size |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return p + size


# ----------------------------------------------------------------------- the three codecs


class StillImageCodec(Codec):
    """Shared machinery; subclasses set ``codec_key``, ``label`` and the four hooks."""

    codec_key: str
    label: str
    role = "conventional"

    def __init__(self, quality: int = 50, count: str = "codestream") -> None:
        self.quality = check_still_quality(quality, self.label)
        if count not in STILL_COUNTS:
            raise SemcomError(f"count must be one of {STILL_COUNTS}, got {count!r}")
        self.count = count
        self.name = f"{self.codec_key}-q{quality}" + ("-file" if count == "file" else "")

    # hooks ---------------------------------------------------------------------------------
    def _save(self, rgb: np.ndarray) -> bytes:
        """uint8 [H, W, 3] -> the codec's file bytes."""
        raise NotImplementedError

    def _extract(self, data: bytes, template: bytes) -> bytes:
        """File -> the sent (varying) part, given the template of the same settings and size."""
        raise NotImplementedError

    def _rebuild(self, template: bytes, sent: bytes) -> bytes:
        """Template + sent part -> the file (may raise; the caller catches)."""
        raise NotImplementedError

    def _open(self, data: bytes) -> Image.Image:
        raise NotImplementedError

    # ---------------------------------------------------------------------------------------
    def config(self) -> dict:
        return {"codec": self.codec_key, "quality": self.quality, "count": self.count}

    def _shared(self) -> str:
        return (
            "constant template shared (codestream counted)"
            if self.count == "codestream"
            else "whole file counted"
        )

    def template(self, height: int, width: int) -> bytes:
        """The file both ends build for this size: a blank image at the same settings."""
        return _template(self, height, width)

    def shared_bytes(self, height: int, width: int) -> int:
        """Bytes of the template that are not sent (0 with ``count="file"``)."""
        if self.count == "file":
            return 0
        t = self.template(height, width)
        return len(t) - len(self._extract(t, t))

    def encode(self, batch: torch.Tensor) -> list[bytes]:
        """[B, C, H, W] float in [0, 1] (clipped), C = 1 or 3 -> B payloads."""
        x = to_numpy(batch, 4, self.label)
        if x.shape[1] not in (1, 3) or x.shape[2] < 1 or x.shape[3] < 1:
            raise SemcomError(f"{self.label} expects [B, 1 or 3, H, W], got {x.shape}")
        if max(x.shape[2:]) > MAX_SIDE:
            raise SemcomError(f"{self.label} images are at most {MAX_SIDE} pixels a side")
        img = to_uint8(x)
        if img.shape[1] == 1:
            img = np.repeat(img, 3, axis=1)
        h, w = img.shape[2:]
        out = []
        for im in img:
            data = self._save(np.ascontiguousarray(im.transpose(1, 2, 0)))
            if self.count == "file":
                out.append(data)
                continue
            template = self.template(h, w)
            sent = self._extract(data, template)
            if self._rebuild(template, sent) != data:
                raise RuntimeError(
                    f"{self.label}: the file is not template + sent bytes; codestream count invalid"
                )
            out.append(sent)
        return out

    def decode_one(self, payload: bytes, height: int, width: int) -> np.ndarray | None:
        """Payload -> uint8 [H, W, 3], or None if it cannot be decoded (never raises)."""
        if not payload:
            return None
        try:
            data = bytes(payload)
            if self.count == "codestream":
                data = self._rebuild(self.template(height, width), data)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with self._open(data) as im:
                    if im.size != (width, height):
                        return None  # checked before decoding: a header may claim a huge size
                    im.load()
                    if im.mode != "RGB":
                        im = im.convert("RGB")
                    arr = np.asarray(im, dtype=np.uint8)
        except Exception:  # any broken stream -> fallback; decode must never raise
            return None
        return arr if arr.shape == (height, width, 3) else None

    def decode(
        self, payloads: Sequence[bytes], like: Like = None, *, device: torch.device | None = None
    ) -> Decoded:
        """B payloads -> ``Decoded(data=[B, C, H, W] float32, failed)``; fallback mid-grey 0.5."""
        b, c, h, w = like_shape(like, len(payloads), 4, self.label)
        if c not in (1, 3):
            raise SemcomError(f"{self.label} decode: like must have 1 or 3 channels, got {c}")
        out = np.full((b, c, h, w), 0.5, np.float32)
        failed = []
        for i, p in enumerate(payloads):
            arr = self.decode_one(p, h, w) if h > 0 and w > 0 else None
            if arr is not None:
                img = arr.transpose(2, 0, 1).astype(np.float32) / np.float32(255)
                out[i] = img.mean(0, keepdims=True) if c == 1 else img
            failed.append(arr is None)
        data = torch.from_numpy(out).to(like_device(like, device))
        return Decoded(data, failed)


@lru_cache(maxsize=256)
def _template_cached(key: tuple, height: int, width: int, codec: StillImageCodec) -> bytes:
    return codec._save(np.zeros((height, width, 3), np.uint8))


def _template(codec: StillImageCodec, height: int, width: int) -> bytes:
    key = tuple(sorted(codec.config().items()))
    return _template_cached(key, height, width, _Key(codec, key))


class _Key:
    """Hashes a codec by its configuration (for the template cache)."""

    def __init__(self, codec: StillImageCodec, key: tuple) -> None:
        self.codec, self.key = codec, key

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other) -> bool:
        return isinstance(other, _Key) and other.key == self.key

    def _save(self, rgb: np.ndarray) -> bytes:
        return self.codec._save(rgb)


def _heif():
    try:
        import pillow_heif
    except ImportError:
        raise SemcomError("the heif codec needs pillow-heif: pip install pillow-heif") from None
    return pillow_heif


@CODECS.register("heif", help="HEIF / HEVC intra (BPG-class) via pillow-heif (x265, libde265)")
class HEIFCodec(StillImageCodec):
    """HEVC intra in HEIF (libheif + x265 encoder, libde265 decoder): BPG's coding tools.

    Args:
        quality: libheif quality 1..100. count: "codestream" (default) or "file".
    """

    codec_key = "heif"
    label = "HEIF"

    @property
    def description(self) -> str:
        ph = _heif()
        info = ph.libheif_info()
        return (
            f"HEIF/HEVC intra via pillow-heif {ph.__version__} (libheif {info['libheif']}, "
            f"{info['HEIF']}, {info['decoders'].get('libde265', 'libde265')}), quality "
            f"{self.quality}, 4:2:0, {self._shared()}"
        )

    def _save(self, rgb: np.ndarray) -> bytes:
        ph = _heif()
        buf = io.BytesIO()
        heif = ph.from_bytes(mode="RGB", size=(rgb.shape[1], rgb.shape[0]), data=rgb.tobytes())
        heif.save(buf, quality=self.quality, chroma=420, save_nclx_profile=True)
        return buf.getvalue()

    def _extract(self, data: bytes, template: bytes) -> bytes:
        content = bmff_split(data)[1]
        if len(content) < 5 or int.from_bytes(content[:4], "big") != len(content) - 4:
            raise RuntimeError("HEIF mdat is not exactly one length-prefixed NAL unit")
        return content[4:]

    def _rebuild(self, template: bytes, sent: bytes) -> bytes:
        return bmff_rebuild(template, len(sent).to_bytes(4, "big") + sent)

    def _open(self, data: bytes) -> Image.Image:
        ph = _heif()
        ph.register_heif_opener(thumbnails=False, decode_threads=1)
        return Image.open(io.BytesIO(data), formats=["HEIF"])


def _avif():
    try:
        import pillow_avif
    except ImportError:
        raise SemcomError(
            "the avif codec needs pillow-avif-plugin: pip install pillow-avif-plugin"
        ) from None
    return pillow_avif


@CODECS.register("avif", help="AVIF / AV1 intra via pillow-avif-plugin (libavif, libaom)")
class AVIFCodec(StillImageCodec):
    """AV1 intra in AVIF (libavif; libaom encoder at ``speed``, one thread; dav1d decoder).

    Args:
        quality: libavif quality 1..100. speed: encoder speed 0 (slowest, best) .. 10 (default 6).
        count: "codestream" (default) or "file".
    """

    codec_key = "avif"
    label = "AVIF"

    def __init__(self, quality: int = 50, count: str = "codestream", speed: int = 6) -> None:
        super().__init__(quality, count)
        if isinstance(speed, bool) or not isinstance(speed, int) or not 0 <= speed <= 10:
            raise SemcomError(f"AVIF speed must be an int in 0..10, got {speed!r}")
        self.speed = speed

    def config(self) -> dict:
        return {**super().config(), "speed": self.speed}

    @property
    def description(self) -> str:
        pa = _avif()
        from pillow_avif import _avif as lib

        versions = getattr(lib, "libavif_version", "?")
        codecs = lib.codec_versions() if hasattr(lib, "codec_versions") else ""
        return (
            f"AVIF/AV1 intra via pillow-avif-plugin {pa.__version__} (libavif {versions}; "
            f"{codecs}), quality {self.quality}, speed {self.speed}, 4:2:0, {self._shared()}"
        )

    def _save(self, rgb: np.ndarray) -> bytes:
        _avif()
        buf = io.BytesIO()
        Image.fromarray(rgb, "RGB").save(
            buf,
            "AVIF",
            quality=self.quality,
            speed=self.speed,
            max_threads=1,
            subsampling="4:2:0",
            codec="aom",
        )
        return buf.getvalue()

    def _extract(self, data: bytes, template: bytes) -> bytes:
        content = bmff_split(data)[1]
        prefix = _av1_prefix(bmff_split(template)[1])
        if _av1_prefix(content) != prefix:
            raise RuntimeError("AVIF sequence header differs from the template's")
        return content[len(prefix) :]

    def _rebuild(self, template: bytes, sent: bytes) -> bytes:
        return bmff_rebuild(template, _av1_prefix(bmff_split(template)[1]) + sent)

    def _open(self, data: bytes) -> Image.Image:
        _avif()
        return Image.open(io.BytesIO(data), formats=["AVIF"])


@CODECS.register("webp", help="WebP lossy (VP8 intra) via Pillow's libwebp")
class WebPCodec(StillImageCodec):
    """Lossy WebP (VP8 key frame) via Pillow.

    Args:
        quality: libwebp quality 1..100. method: effort 0..6 (default 4, libwebp's default).
        count: "codestream" (default) or "file".
    """

    codec_key = "webp"
    label = "WebP"

    def __init__(self, quality: int = 50, count: str = "codestream", method: int = 4) -> None:
        super().__init__(quality, count)
        if isinstance(method, bool) or not isinstance(method, int) or not 0 <= method <= 6:
            raise SemcomError(f"WebP method must be an int in 0..6, got {method!r}")
        self.method = method

    def config(self) -> dict:
        return {**super().config(), "method": self.method}

    @property
    def description(self) -> str:
        return (
            f"WebP lossy (VP8) via Pillow {PIL.__version__} (libwebp {features.version('webp')}), "
            f"quality {self.quality}, method {self.method}, 4:2:0, {self._shared()}"
        )

    def _save(self, rgb: np.ndarray) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(rgb, "RGB").save(
            buf, "WEBP", quality=self.quality, method=self.method, lossless=False, exact=False
        )
        return buf.getvalue()

    @staticmethod
    def _vp8(data: bytes) -> bytes:
        if data[:4] != b"RIFF" or data[8:16] != b"WEBPVP8 ":
            raise RuntimeError("not a simple lossy WebP file")
        size = struct.unpack("<I", data[16:20])[0]
        if (
            20 + size + (size & 1) != len(data)
            or struct.unpack("<I", data[4:8])[0] != len(data) - 8
        ):
            raise RuntimeError("WebP chunk sizes do not match the file")
        return data[20 : 20 + size]

    def _extract(self, data: bytes, template: bytes) -> bytes:
        vp8, const = self._vp8(data), self._vp8(template)[3:10]
        if vp8[3:10] != const:
            raise RuntimeError("WebP start code / dimensions differ from the template's")
        return vp8[:3] + vp8[10:]

    def _rebuild(self, template: bytes, sent: bytes) -> bytes:
        vp8 = sent[:3] + self._vp8(template)[3:10] + sent[3:]
        pad = b"\x00" * (len(vp8) & 1)
        riff = struct.pack("<I", 12 + len(vp8) + len(pad))
        return b"RIFF" + riff + b"WEBPVP8 " + struct.pack("<I", len(vp8)) + vp8 + pad

    def _open(self, data: bytes) -> Image.Image:
        return Image.open(io.BytesIO(data), formats=["WEBP"])
