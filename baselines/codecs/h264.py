"""H.264 video codec via PyAV (libx264 to encode, FFmpeg's h264 decoder), in memory.

Each clip is one independent stream that starts with an IDR frame. What is sent and counted per
clip: the Annex B byte stream of every NAL unit the decoder needs (SPS and PPS once per clip,
then the coded slices), each behind a 3-byte start code 00 00 01 (the framing, counted). The
SEI NAL units are stripped (x264 writes one with its version and settings, ~680 bytes, that no
decoder needs). The receiver knows the number of frames T and the frame size (``like``).

Odd heights/widths are padded to even ones by repeating the last row/column (4:2:0 needs even
sizes) and cropped back after decoding. RGB <-> YUV 4:2:0 conversion uses FFmpeg's swscale
defaults on both ends.

Fallback: decoding goes on through errors (FFmpeg conceals damaged slices); frames that are
missing or of the wrong size are replaced by the last good frame, or mid-grey (0.5) before any
good frame. A clip is flagged in ``Decoded.failed`` when fewer than T good frames came out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction
from functools import cached_property

import numpy as np
import torch

from semcom_sim.errors import SemcomError

from .base import CODECS, Codec, Decoded, Like, like_device, like_shape, to_numpy, to_uint8

START = b"\x00\x00\x01"
NAL_SEI = 6
PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
)  # fmt: skip


X264_PARAMS = "asm=0"


def _av():
    try:
        import av
    except ImportError:
        raise SemcomError("the h264 codec needs PyAV: pip install av") from None
    return av


def split_annexb(data: bytes) -> list[bytes]:
    """Annex B byte stream -> NAL units (without start codes and trailing zero bytes)."""
    nals = []
    i = data.find(START)
    while i >= 0:
        j = data.find(START, i + 3)
        nal = data[i + 3 : j if j >= 0 else len(data)].rstrip(b"\x00")
        if nal:
            nals.append(nal)
        i = j
    return nals


def nal_type(nal: bytes) -> int:
    return nal[0] & 0x1F


@CODECS.register("h264", help="H.264 clips via PyAV/libx264 (crf or bit rate)")
class H264Codec(Codec):
    """H.264 for short clips, float32 [B, T, 3, H, W] in [0, 1] (clipped); one stream per clip.

    Args:
        crf: x264 constant rate factor (0..51, lower is better); default 23 without bit_rate.
        bit_rate: target bits per second instead of crf (x264 ABR at ``fps``).
        fps: frame rate, which only matters with ``bit_rate``.
        preset: x264 preset ("medium" default). x264 runs on 1 thread without its SIMD paths
            (``asm=0``: with them ~1 % of encodes of a small clip differed), so output is
            repeatable.

    ``decode(payloads, like)`` needs ``like`` = the batch shape [B, T, 3, H, W] (or a tensor).
    """

    def __init__(
        self,
        crf: float | None = None,
        bit_rate: int | None = None,
        fps: int = 25,
        preset: str = "medium",
        x264_params: str = X264_PARAMS,
    ) -> None:
        if x264_params != X264_PARAMS:  # config() round trip; other x264 settings untested
            raise SemcomError(f"x264_params must be {X264_PARAMS!r}, got {x264_params!r}")
        if crf is not None and bit_rate is not None:
            raise SemcomError("give H.264 crf or bit_rate, not both")
        if bit_rate is None:
            crf = 23 if crf is None else crf
            if isinstance(crf, bool) or not 0 <= crf <= 51:
                raise SemcomError(f"H.264 crf must be in 0..51, got {crf!r}")
        elif isinstance(bit_rate, bool) or not isinstance(bit_rate, int) or bit_rate < 1000:
            raise SemcomError(f"H.264 bit_rate must be an int >= 1000 bit/s, got {bit_rate!r}")
        if isinstance(fps, bool) or not isinstance(fps, int) or fps < 1:
            raise SemcomError(f"fps must be a positive int, got {fps!r}")
        if preset not in PRESETS:
            raise SemcomError(f"x264 preset must be one of {PRESETS}, got {preset!r}")
        self.crf, self.bit_rate, self.fps, self.preset = crf, bit_rate, fps, preset
        rate = f"crf{crf:g}" if crf is not None else f"br{bit_rate / 1000:g}k"
        self.name = f"h264-{rate}"

    @cached_property
    def x264_version(self) -> str:
        """x264 core version, read from the SEI that libx264 writes (then stripped)."""
        sei = b"".join(n for n in self._encode_clip(np.zeros((1, 16, 16, 3), np.uint8), keep=True))
        m = re.search(rb"x264 - core (\d+)( r\d+ [0-9a-f]+)?", sei)
        return m.group(0)[7:].decode() if m else "unknown"

    @property
    def description(self) -> str:
        av = _av()
        lavc = ".".join(map(str, av.library_versions["libavcodec"]))
        rate = f"crf {self.crf:g}" if self.crf is not None else f"{self.bit_rate} bit/s"
        return (
            f"H.264 via PyAV {av.__version__} (libavcodec {lavc}, libx264 {self.x264_version}), "
            f"{rate}, preset {self.preset}, {X264_PARAMS} (C paths), 4:2:0; SPS+PPS counted "
            "once per clip, SEI stripped, 3-byte start codes"
        )

    def config(self) -> dict:
        return {
            "codec": "h264",
            "crf": self.crf,
            "bit_rate": self.bit_rate,
            "fps": self.fps,
            "preset": self.preset,
            "x264_params": X264_PARAMS,
        }

    def _encode_clip(self, frames: np.ndarray, keep: bool = False) -> list[bytes]:
        """uint8 [T, H, W, 3] with even H, W -> NAL units (SEI dropped unless ``keep``)."""
        av = _av()
        t, h, w, _ = frames.shape
        ctx = av.CodecContext.create("libx264", "w")
        ctx.width, ctx.height, ctx.pix_fmt = w, h, "yuv420p"
        ctx.time_base = Fraction(1, self.fps)
        ctx.framerate = Fraction(self.fps, 1)
        ctx.thread_count = 1
        # X264_PARAMS: x264's SIMD paths are not repeatable here (measured: ~1 encode in 100 of
        # one fixed 4-frame 32 x 32 clip came out 1 byte shorter, in the default sweep's
        # reproduce test too); the C paths gave one output in 80 encodes of 64 clips
        opts = {"preset": self.preset, "x264-params": X264_PARAMS}
        if self.crf is not None:
            opts["crf"] = f"{self.crf:g}"
        else:
            ctx.bit_rate = self.bit_rate
        ctx.options = opts
        packets = []
        for k in range(t):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frames[k]), format="rgb24")
            frame = frame.reformat(format="yuv420p")
            frame.pts = k
            packets += ctx.encode(frame)
        packets += ctx.encode(None)
        nals = split_annexb(b"".join(bytes(p) for p in packets))
        return [n for n in nals if keep or nal_type(n) != NAL_SEI]

    def encode(self, batch: torch.Tensor) -> list[bytes]:
        """[B, T, 3, H, W] float in [0, 1] -> B payloads (one H.264 stream per clip)."""
        x = to_numpy(batch, 5, "H.264")
        b, t, c, h, w = x.shape
        if c != 3 or min(t, h, w) < 1:
            raise SemcomError(f"H.264 expects [B, T>=1, 3, H>=1, W>=1], got {x.shape}")
        frames = to_uint8(x).transpose(0, 1, 3, 4, 2)  # [B, T, H, W, 3]
        frames = np.pad(frames, ((0, 0), (0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        return [b"".join(START + n for n in self._encode_clip(clip)) for clip in frames]

    def _decode_clip(self, payload: bytes, t: int, hp: int, wp: int) -> list[np.ndarray]:
        """Payload -> up to t good uint8 [hp, wp, 3] frames, in display order (never raises)."""
        av = _av()
        good: list[np.ndarray] = []
        try:
            ctx = av.CodecContext.create("h264", "r")
            ctx.thread_count = 1
            packets = ctx.parse(bytes(payload)) + ctx.parse(None)
        except Exception:
            return good
        for packet in [*packets, None]:
            try:
                frames = ctx.decode(packet)
            except Exception:  # damaged packet: go on with the next one
                continue
            for f in frames:
                if len(good) < t and (f.height, f.width) == (hp, wp):
                    try:
                        good.append(f.to_ndarray(format="rgb24"))
                    except Exception:
                        pass
        return good

    def decode(
        self, payloads: Sequence[bytes], like: Like = None, *, device: torch.device | None = None
    ) -> Decoded:
        """B payloads -> ``Decoded(data=[B, T, 3, H, W] float32, failed)``; see module doc."""
        b, t, c, h, w = like_shape(like, len(payloads), 5, "H.264")
        if c != 3:
            raise SemcomError(f"H.264 decode: like must have 3 channels, got {c}")
        out = np.full((b, t, 3, h, w), 0.5, np.float32)
        failed = []
        for i, p in enumerate(payloads):
            good = self._decode_clip(p, t, h + h % 2, w + w % 2) if t * h * w > 0 else []
            for k, frame in enumerate(good):
                out[i, k] = frame[:h, :w].transpose(2, 0, 1) / np.float32(255)
            if 0 < len(good) < t:
                out[i, len(good) :] = out[i, len(good) - 1]  # freeze the last good frame
            failed.append(len(good) < t)
        data = torch.from_numpy(out).to(like_device(like, device))
        return Decoded(data, failed)
