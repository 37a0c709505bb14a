"""Source codecs of the separation baselines: round trips, byte counting, fuzzing, bad input."""

from __future__ import annotations

import json
import math
import struct

import av
import numpy as np
import PIL
import pytest
import torch

from semcom_sim.baselines.codecs import (
    CODECS,
    FeatureJPEGCodec,
    H264Codec,
    JPEGCodec,
    PCMCodec,
    UTF8Codec,
    codec_from_config,
    create_codec,
)
from semcom_sim.baselines.codecs.feature import grid
from semcom_sim.baselines.codecs.fuzz import KINDS, corrupt_many
from semcom_sim.baselines.codecs.h264 import nal_type, split_annexb
from semcom_sim.baselines.codecs.jpeg import EOI, shared_header, split_jfif
from semcom_sim.baselines.codecs.synthetic import moving_clips, smooth_images, tone_speech
from semcom_sim.errors import SemcomError, UnknownNameError


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def psnr_db(a: torch.Tensor, b: torch.Tensor) -> float:
    return 10 * math.log10(1.0 / ((a - b) ** 2).mean().item())


# ----------------------------------------------------------------------------- registry, config


def test_registry_lists_every_codec_and_configs_rebuild_them():
    assert CODECS.names() == ["avif", "feature-jpeg", "h264", "heif", "jpeg", "pcm", "utf8", "webp"]
    for name in CODECS:
        codec = create_codec(name)
        cfg = json.loads(json.dumps(codec.config()))
        assert cfg["codec"] == name
        again = codec_from_config(cfg)
        assert again.config() == codec.config() and again.name == codec.name
    assert PIL.__version__ in JPEGCodec().description
    assert av.__version__ in H264Codec().description
    assert "libx264 core" in H264Codec().description
    with pytest.raises(UnknownNameError, match="known codecs: avif, feature-jpeg, h264"):
        create_codec("bpg")


@pytest.mark.parametrize(
    "factory, kwargs",
    [
        ("jpeg", {"quality": 0}),
        ("jpeg", {"quality": 50, "target_bytes": 100}),
        ("jpeg", {"count": "header"}),
        ("h264", {"crf": 60}),
        ("h264", {"crf": 20, "bit_rate": 10_000}),
        ("h264", {"preset": "turbo"}),
        ("pcm", {"bits_per_sample": 17}),
        ("feature-jpeg", {"quality": 101}),
    ],
)
def test_bad_settings_raise_semcom_error(factory, kwargs):
    with pytest.raises(SemcomError):
        create_codec(factory, **kwargs)


# ----------------------------------------------------------------------------- JPEG


@pytest.mark.parametrize("size", [32, 64])
def test_jpeg_q95_round_trip_psnr(size):
    x = smooth_images(16, size, size, gen(size), noise=0.01)
    out = JPEGCodec(quality=95).decode(JPEGCodec(quality=95).encode(x), like=x)
    assert out.data.shape == x.shape and out.data.dtype == torch.float32
    assert out.failed == [False] * 16
    assert psnr_db(out.data, x) > 30
    low = JPEGCodec(quality=10)
    assert psnr_db(low.decode(low.encode(x), like=x).data, x) < psnr_db(out.data, x)


def test_jpeg_grayscale_round_trip():
    x = smooth_images(4, 32, 48, gen(1), noise=0.0).mean(1, keepdim=True)
    codec = JPEGCodec(quality=95)
    out = codec.decode(codec.encode(x), like=x.shape)
    assert out.data.shape == (4, 1, 32, 48) and psnr_db(out.data, x) > 35


def test_entropy_count_is_scan_data_only_and_decodes_identically():
    x = smooth_images(8, 32, 32, gen(2))
    ent, whole = JPEGCodec(quality=50), JPEGCodec(quality=50, count="file")
    p_ent, p_file = ent.encode(x), whole.encode(x)
    header = shared_header(32, 32, 3, 50, "4:2:0")
    for e, f in zip(p_ent, p_file, strict=True):
        assert f == header + e + EOI  # the file is exactly shared header + payload + EOI
        assert len(e) < len(f) / 3 and len(f) - len(e) == len(header) + 2
    assert len(header) > 500  # the tables dominate a small JPEG
    a, b = ent.decode(p_ent, like=x), whole.decode(p_file, like=x)
    assert torch.equal(a.data, b.data) and not any(a.failed + b.failed)


@pytest.mark.parametrize("channels, sos_len", [(1, 8), (3, 12)])
def test_split_jfif_stops_after_the_sos_header(channels, sos_len):
    header = shared_header(8, 8, channels, 75, "4:2:0")
    assert header[:2] == b"\xff\xd8" and header[-2 - sos_len : -sos_len] == b"\xff\xda"
    assert split_jfif(header + b"\x01\x02" + EOI) == (header, b"\x01\x02")


@pytest.mark.parametrize("count", ["entropy", "file"])
def test_jpeg_byte_budget_picks_largest_fitting_quality(count):
    x = smooth_images(6, 32, 32, gen(3))
    budget = 150 if count == "entropy" else 800
    codec = JPEGCodec(target_bytes=budget, count=count)
    payloads = codec.encode(x)
    assert all(len(p) <= budget for p in payloads)
    if count == "entropy":  # first byte is the quality; q+1 must not fit
        for img, p in zip(x, payloads, strict=True):
            q = p[0]
            assert 1 <= q < 100
            above = JPEGCodec(quality=q + 1).encode(img[None])[0]
            assert 1 + len(above) > budget or q == 100
            assert p[1:] == JPEGCodec(quality=q).encode(img[None])[0]
    out = codec.decode(payloads, like=x)
    assert not any(out.failed) and psnr_db(out.data, x) > 20
    bigger = JPEGCodec(target_bytes=2 * budget, count=count)
    assert psnr_db(bigger.decode(bigger.encode(x), like=x).data, x) > psnr_db(out.data, x)


# ----------------------------------------------------------------------------- H.264


def test_h264_crf18_decodes_every_frame_of_smooth_clips():
    v = moving_clips(2, 6, 32, 32, gen(4))
    codec = H264Codec(crf=18)
    payloads = codec.encode(v)
    out = codec.decode(payloads, like=v)
    assert out.data.shape == v.shape and out.failed == [False, False]
    assert psnr_db(out.data, v) > 30
    for p in payloads:  # SPS and PPS once, no SEI, one IDR first
        types = [nal_type(n) for n in split_annexb(p)]
        assert types[:3] == [7, 8, 5] and types.count(7) == 1 and types.count(8) == 1
        assert 6 not in types and set(types) <= {1, 5, 7, 8}
        assert b"x264" not in p
    assert payloads == codec.encode(v)  # repeatable (x264 on one thread)


def test_h264_is_repeatable_on_the_clip_that_was_not():
    """With x264's SIMD paths, about 1 encode in 100 of this clip (4th test clip of the default
    sweep's video sentiment, 4 frames of 32 x 32) came out 1 byte shorter in some processes
    (0 to 6 % of encodes per process), and the default sweep's reproduce test failed on it;
    300 encodes must now agree bit for bit (a guard: a process may not show the old flake)."""
    from semcom_sim.sim.engine import point_seed
    from semcom_sim.tasks import TASKS

    task = TASKS.create("video-sentiment")
    clip = task.load(4, point_seed(0, "data", task.name), None).fields["frames"][3:4]
    codec = H264Codec(crf=23)
    first = codec.encode(clip)
    assert all(codec.encode(clip) == first for _ in range(300))


@pytest.mark.parametrize("hw", [(17, 23), (1, 1), (33, 8)])
def test_h264_odd_frame_sizes(hw):
    v = moving_clips(1, 3, *hw, gen(5))
    codec = H264Codec(crf=10)
    out = codec.decode(codec.encode(v), like=v)
    assert out.data.shape == v.shape and out.failed == [False]
    assert (out.data - v).abs().mean() < 0.05


def test_h264_bit_rate_mode_and_truncated_stream_freezes():
    v = moving_clips(1, 8, 32, 32, gen(6))
    low, high = H264Codec(bit_rate=20_000), H264Codec(bit_rate=400_000)
    assert len(low.encode(v)[0]) < len(high.encode(v)[0])
    p = H264Codec(crf=23).encode(v)[0]
    nals = split_annexb(p)
    keep = b"".join(b"\x00\x00\x01" + n for n in nals[:5])  # SPS, PPS and 3 frames
    out = H264Codec(crf=23).decode([keep], like=v)
    assert out.failed == [True]
    assert 1 <= len(out.data[0].flatten(1).unique(dim=0)) < 8  # frozen frames repeat


# ----------------------------------------------------------------------------- UTF-8, PCM


def test_utf8_exact_and_replacement():
    texts = ["hello world", "", "héllo wörld 日本語 🚀", "a\x00b"]
    codec = UTF8Codec()
    payloads = codec.encode(texts)
    assert [len(p) for p in payloads] == [11, 0, 28, 3]
    out = codec.decode(payloads)
    assert out.data == texts and out.failed == [False] * 4
    bad = codec.decode([b"ab\xffc", b"\xe6\x97"])
    assert bad.data == ["ab\ufffdc", "\ufffd"] and bad.failed == [True, True]
    with pytest.raises(SemcomError):
        codec.encode(["ok", 3])
    with pytest.raises(SemcomError):
        codec.encode(["\ud800"])


@pytest.mark.parametrize("bits", [16, 8, 5])
def test_pcm_exact_after_quantisation(bits):
    x = tone_speech(3, 1001, 8000, gen(bits))
    codec = PCMCodec(bits_per_sample=bits)
    payloads = codec.encode(x)
    assert all(len(p) == math.ceil(1001 * bits / 8) for p in payloads)
    out = codec.decode(payloads, like=x)
    q = codec.quantise(x)
    assert torch.equal(out.data, q) and not any(out.failed)
    assert (q - x).abs().max() <= 0.5 / 2 ** (bits - 1) + 1e-7


def test_pcm16_closed_form_bytes_and_silence():
    codec = PCMCodec()
    x = torch.tensor([[0.0, 0.5, -1.0, 1.0, -0.5 / 32768]])
    assert codec.encode(x)[0] == struct.pack(">5h", 0, 16384, -32768, 32767, 0)
    silent = torch.zeros(2, 400)
    out = codec.decode(codec.encode(silent), like=silent)
    assert torch.equal(out.data, silent) and not any(out.failed)
    assert codec.bit_rate == 128_000


# ----------------------------------------------------------------------------- feature codec


def test_grid_is_near_square():
    assert [grid(c) for c in (1, 2, 3, 4, 5, 16, 17, 256)] == [
        (1, 1), (1, 2), (2, 2), (2, 2), (2, 3), (4, 4), (4, 5), (16, 16),
    ]  # fmt: skip


def test_feature_codec_round_trip_and_side_info():
    f = torch.randn(3, 17, 6, 10, generator=gen(7)) * 4 + 1
    codec = FeatureJPEGCodec(quality=95)
    payloads = codec.encode(f)
    for p, fi in zip(payloads, f, strict=True):
        assert struct.unpack("<2f", p[:8]) == (fi.min().item(), fi.max().item())
    out = codec.decode(payloads, like=f)
    assert out.data.shape == f.shape and not any(out.failed)
    span = (f.amax((1, 2, 3)) - f.amin((1, 2, 3))).view(3, 1, 1, 1)
    assert ((out.data - f).abs() / span).mean() < 0.03
    whole = FeatureJPEGCodec(quality=95, count="file").encode(f)
    assert all(len(w) > len(p) + 300 for w, p in zip(whole, payloads, strict=True))


def test_feature_codec_constant_tensors():
    f = torch.stack([torch.full((5, 4, 4), 2.5), torch.zeros(5, 4, 4), torch.full((5, 4, 4), -7.0)])
    codec = FeatureJPEGCodec(quality=30)
    out = codec.decode(codec.encode(f), like=f)
    assert torch.equal(out.data, f) and not any(out.failed)


# ----------------------------------------------------------------------------- bad input


def test_constant_images_and_wrong_input():
    x = torch.stack([torch.zeros(3, 16, 16), torch.ones(3, 16, 16), torch.full((3, 16, 16), 0.5)])
    for codec in (JPEGCodec(quality=90), JPEGCodec(quality=90, count="file")):
        out = codec.decode(codec.encode(x), like=x)
        assert (out.data - x).abs().max() <= 2 / 255 and not any(out.failed)
    codec = JPEGCodec()
    with pytest.raises(SemcomError, match="NaN"):
        codec.encode(torch.full((1, 3, 8, 8), float("nan")))
    with pytest.raises(SemcomError, match="4-dim"):
        codec.encode(torch.zeros(3, 8, 8))
    with pytest.raises(SemcomError, match="like"):
        codec.decode([b""])
    with pytest.raises(SemcomError, match="batch size"):
        codec.decode([b"", b""], like=(3, 3, 8, 8))
    with pytest.raises(SemcomError, match="channels"):
        codec.decode([b""], like=(1, 2, 8, 8))
    with pytest.raises(SemcomError):
        H264Codec().encode(torch.zeros(1, 2, 1, 8, 8))


def test_decoders_accept_any_bytes_like_payload():
    x = smooth_images(2, 16, 16, gen(10))
    f = torch.randn(2, 4, 4, 4, generator=gen(11))
    for codec, data in [(JPEGCodec(), x), (FeatureJPEGCodec(), f), (PCMCodec(), f.flatten(1))]:
        payloads = codec.encode(data)
        ref = codec.decode(payloads, like=data).data
        for wrap in (bytearray, memoryview):
            out = codec.decode([wrap(p) for p in payloads], like=data)
            assert torch.equal(out.data, ref) and not any(out.failed)


# ----------------------------------------------------------------------------- fuzz


def _fuzz_cases():
    g = gen(8)
    return {
        "jpeg": (JPEGCodec(quality=50), smooth_images(6, 32, 32, g)),
        "jpeg-file": (JPEGCodec(quality=50, count="file"), smooth_images(6, 32, 32, g)),
        "jpeg-budget-gray": (
            JPEGCodec(target_bytes=120),
            smooth_images(6, 24, 40, g).mean(1, keepdim=True),
        ),
        "h264": (H264Codec(crf=23), moving_clips(3, 3, 15, 16, g)),
        "utf8": (UTF8Codec(), ["héllo wörld 日本語", "", "plain ascii text " * 4]),
        "pcm16": (PCMCodec(), tone_speech(3, 500, 8000, g)),
        "pcm5": (PCMCodec(bits_per_sample=5), tone_speech(3, 501, 8000, g)),
        "feature-jpeg": (FeatureJPEGCodec(quality=50), torch.randn(3, 10, 8, 8, generator=g)),
    }


FALLBACK = {"jpeg": 0.5, "jpeg-file": 0.5, "jpeg-budget-gray": 0.5, "h264": 0.5, "pcm16": 0.0,
            "pcm5": 0.0, "feature-jpeg": 0.0}  # fmt: skip


@pytest.mark.parametrize("case", list(_fuzz_cases()))
def test_fuzz_corrupted_payloads_never_raise(case):
    codec, x = _fuzz_cases()[case]
    num = 1200  # 200 of each corruption kind
    bad, _, kinds = corrupt_many(codec.encode(x), num, np.random.default_rng(9))
    assert sorted(set(kinds)) == sorted(KINDS)
    like = None if isinstance(x, list) else (num, *x.shape[1:])
    out = codec.decode(bad, like=like)
    assert len(out.failed) == num
    if isinstance(x, list):
        assert all(isinstance(s, str) for s in out.data)
        return
    assert out.data.shape == like and out.data.dtype == torch.float32
    assert torch.isfinite(out.data).all()
    failed = torch.tensor(out.failed)
    assert failed.any() and not failed.all()
    if case != "h264":  # h264 freezes the last good frame; others use one fallback value
        assert (out.data[failed] == FALLBACK[case]).all()
    assert all(f for f, b in zip(out.failed, bad, strict=True) if len(b) == 0)
    if case != "feature-jpeg":
        assert out.data.min() >= -1 and out.data.max() <= 1
