"""HEIF (HEVC intra), AVIF and WebP: byte counting (codestream vs file), round trips, fuzzing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from semcom_sim.baselines.codecs import (
    AVIFCodec,
    HEIFCodec,
    JPEGCodec,
    WebPCodec,
    codec_from_config,
    create_codec,
)
from semcom_sim.baselines.codecs.fuzz import KINDS, corrupt_many
from semcom_sim.baselines.codecs.still import bmff_split
from semcom_sim.baselines.codecs.synthetic import smooth_images
from semcom_sim.errors import SemcomError

STILL = {"heif": HEIFCodec, "avif": AVIFCodec, "webp": WebPCodec}


def images(n: int = 6, h: int = 32, w: int = 32, seed: int = 0) -> torch.Tensor:
    return smooth_images(n, h, w, torch.Generator().manual_seed(seed))


def psnr_db(a: torch.Tensor, b: torch.Tensor) -> float:
    return 10 * math.log10(1.0 / ((a - b) ** 2).mean().item())


@pytest.mark.parametrize("name", list(STILL))
def test_config_round_trip_and_description(name):
    codec = create_codec(name, quality=30)
    again = codec_from_config(codec.config())
    assert again.config() == codec.config() and again.name == f"{name}-q30"
    assert "quality 30" in codec.description and "codestream counted" in codec.description
    assert create_codec(name, count="file").name == f"{name}-q50-file"


@pytest.mark.parametrize("name", list(STILL))
@pytest.mark.parametrize("kwargs", [{"quality": 0}, {"quality": 101}, {"count": "entropy"}])
def test_bad_settings_raise(name, kwargs):
    with pytest.raises(SemcomError):
        create_codec(name, **kwargs)


@pytest.mark.parametrize("name", list(STILL))
@pytest.mark.parametrize("hw", [(32, 32), (24, 40), (17, 9)])
def test_receiver_rebuilds_the_exact_file_from_sent_bytes_plus_template(name, hw):
    """The counted bytes + the shared template give back the encoder's file byte for byte, and
    the two counts decode to the same image."""
    h, w = hw
    x = images(4, h, w)
    stream, whole = STILL[name](quality=50), STILL[name](quality=50, count="file")
    sent, files = stream.encode(x), whole.encode(x)
    template = stream.template(h, w)
    shared = stream.shared_bytes(h, w)
    assert shared > 0 and whole.shared_bytes(h, w) == 0
    for s, f in zip(sent, files, strict=True):
        assert stream._rebuild(template, s) == f  # exactly template + sent
        assert len(f) - len(s) == shared  # the shared part is the same for every image
        assert 0 < len(s) < len(f)
    a, b = stream.decode(sent, like=x), whole.decode(files, like=x)
    assert a.num_failed == 0 and b.num_failed == 0
    assert torch.equal(a.data, b.data)
    assert psnr_db(a.data, x) > 24


@pytest.mark.parametrize("name", list(STILL))
def test_quality_trades_bytes_for_psnr(name):
    x = images(8)
    lo, hi = STILL[name](quality=10), STILL[name](quality=90)
    plo, phi = lo.encode(x), hi.encode(x)
    assert np.mean([len(p) for p in plo]) < np.mean([len(p) for p in phi])
    assert psnr_db(lo.decode(plo, like=x).data, x) + 3 < psnr_db(hi.decode(phi, like=x).data, x)


def test_codestream_count_removes_the_container_and_headers():
    """At 32x32 most of a HEIF/AVIF file is container and parameter sets; WebP's is small."""
    x = images(8)
    for name, min_shared in (("heif", 300), ("avif", 200), ("webp", 20)):
        assert STILL[name]().shared_bytes(32, 32) >= min_shared, name
    heif = HEIFCodec().encode(x)
    assert all(
        int.from_bytes(bmff_split(f)[1][:4], "big") > 0 for f in HEIFCodec(count="file").encode(x)
    )
    assert np.mean([len(p) for p in heif]) < 400


@pytest.mark.parametrize("name", list(STILL))
def test_grayscale_and_constant_images(name):
    x = images(3).mean(1, keepdim=True)
    codec = STILL[name](quality=90)
    out = codec.decode(codec.encode(x), like=x)
    assert out.data.shape == x.shape and out.num_failed == 0 and psnr_db(out.data, x) > 28
    flat = torch.full((2, 3, 16, 16), 0.25)
    rec = codec.decode(codec.encode(flat), like=flat).data
    assert (rec - flat).abs().max() < 0.03


@pytest.mark.parametrize("name", list(STILL))
def test_wrong_input_raises_and_wrong_like_falls_back(name):
    codec = STILL[name]()
    with pytest.raises(SemcomError):
        codec.encode(torch.rand(2, 2, 8, 8))
    with pytest.raises(SemcomError):
        codec.encode(torch.full((1, 3, 8, 8), float("nan")))
    x = images(2, 16, 16)
    sent = codec.encode(x)
    with pytest.raises(SemcomError):
        codec.decode(sent, like=(3, 3, 16, 16))
    # The file of a 16x16 image, decoded as 24x24, is the fallback (the size is checked).
    whole = STILL[name](count="file")
    out = whole.decode(whole.encode(x), like=(2, 3, 24, 24))
    assert out.failed == [True, True] and (out.data == 0.5).all()


@pytest.mark.parametrize("name", list(STILL))
@pytest.mark.parametrize("count", ["codestream", "file"])
def test_fuzz_corrupted_payloads_never_raise(name, count):
    codec = STILL[name](quality=50, count=count)
    x = images(6, 32, 32, seed=8)
    num = 600  # 100 of each corruption kind
    bad, _, kinds = corrupt_many(codec.encode(x), num, np.random.default_rng(9))
    assert sorted(set(kinds)) == sorted(KINDS)
    out = codec.decode(bad, like=(num, 3, 32, 32))
    assert out.data.shape == (num, 3, 32, 32) and out.data.dtype == torch.float32
    assert torch.isfinite(out.data).all()
    failed = torch.tensor(out.failed)
    assert failed.any() and not failed.all()
    assert (out.data[failed] == 0.5).all()
    assert all(f for f, b in zip(out.failed, bad, strict=True) if len(b) == 0)
    assert out.data.min() >= 0 and out.data.max() <= 1


def test_jpeg_and_new_codecs_share_the_interface():
    x = images(2)
    for codec in (JPEGCodec(), HEIFCodec(), AVIFCodec(), WebPCodec()):
        out = codec.decode(codec.encode(x), like=x)
        assert out.data.shape == x.shape and out.failed == [False, False]
