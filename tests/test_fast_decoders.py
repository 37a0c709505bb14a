"""Fast numba decoders against Sionna's LDPC5G and LTE turbo decoders.

LLRs are those of Gray-mapped QPSK over AWGN written in closed form (each bit rides on I or
Q as BPSK with amplitude 1/sqrt(2)); they equal Sionna's "app" QPSK demapper output, with
Sionna's sign (positive = bit 1) and no = 1 / (Eb/N0 * rate * 2).

BLER comparisons are paired and give Sionna a 0.1 dB head start: both decoders see the same
bits and the same standard-normal noise draw z, Sionna at Eb/N0 = x - 0.1 dB and the fast
decoder at x. "No worse than Sionna by more than 0.1 dB" means fast errors(x) <= Sionna
errors(x - 0.1); we allow 3 standard deviations of the paired difference (sqrt of the number
of discordant blocks). A decoder 0.2 dB worse than Sionna fails: on these waterfalls 0.1 dB
changes the BLER by a factor of about 1.7 to 3.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
from sionna.phy.fec.turbo import TurboDecoder, TurboEncoder

from semcom_sim.errors import SemcomError, UnknownNameError
from semcom_sim.link.fastdec import (
    FastLDPC5GDecoder,
    FastTurboDecoder,
    decode_backends,
    make_decoder,
)


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """Sionna's decoders run far faster with one torch thread when the 2 cores are shared."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _bits(batch: int, k: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (batch, k), generator=g).to(torch.float32)


def _noise(shape, seed: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def _qpsk_awgn_llr(c: torch.Tensor, z: torch.Tensor, ebno_db: float, rate: float):
    """Sionna-sign LLRs of codeword bits c sent as Gray QPSK over AWGN with noise draw z."""
    no = 1.0 / (10 ** (ebno_db / 10) * rate * 2)
    a = 1 / math.sqrt(2)
    y = a * (2 * c - 1) + math.sqrt(no / 2) * z
    return 4 * a * y / no


def _paired_check(u, llr_fast, llr_ref, fast, ref, lo: float):
    """Assert fast errors <= reference errors + 3 sigma; return (fast BLER, ref BLER)."""
    err_f = (fast(llr_fast) != u).any(dim=1).numpy()
    err_r = (ref(llr_ref) != u).any(dim=1).numpy()
    assert err_r.mean() > lo, "reference point is not on the waterfall; the test has no power"
    discordant = int((err_f != err_r).sum())
    slack = 3 * math.sqrt(max(discordant, 1))
    assert err_f.sum() <= err_r.sum() + slack, (err_f.mean(), err_r.mean())
    return err_f.mean(), err_r.mean()


# ----------------------------------------------------------------------------------- LDPC
@pytest.mark.parametrize(
    ("k", "n"),
    [(100, 300), (1024, 2048), (4000, 6000), (8448, 16896)],  # bg2 1/3, bg2 1/2, bg1 2/3, bg1 1/2
)
def test_ldpc_matches_sionna_noiseless_and_high_snr(k, n):
    enc = LDPC5GEncoder(k, n)
    fast, ref = FastLDPC5GDecoder(enc), LDPC5GDecoder(enc)
    u = _bits(4, k, seed=k)
    c = enc(u)
    for llr in (20 * (2 * c - 1), _qpsk_awgn_llr(c, _noise(c.shape, seed=n), 4.0, k / n)):
        out = fast(llr)
        assert out.dtype == llr.dtype and out.shape == u.shape
        assert torch.equal(out, ref(llr))
        assert torch.equal(out, u)
    assert fast.last_num_iter.shape == (4,) and (fast.last_num_iter >= 1).all()


def test_ldpc_noiseless_stops_after_one_iteration():
    enc = LDPC5GEncoder(512, 1024)
    fast = FastLDPC5GDecoder(enc)
    u = _bits(3, 512, seed=1)
    assert torch.equal(fast(20 * (2 * enc(u) - 1)), u)
    assert (fast.last_num_iter == 1).all()


@pytest.mark.parametrize("ebno_db", [1.25, 1.5])
def test_ldpc_bler_within_0p1_db_of_sionna(ebno_db):
    k, n, batch = 1024, 2048, 400
    enc = LDPC5GEncoder(k, n)
    fast, ref = FastLDPC5GDecoder(enc), LDPC5GDecoder(enc, num_iter=20)
    u = _bits(batch, k, seed=7)
    c = enc(u)
    z = _noise(c.shape, seed=int(ebno_db * 100))
    _paired_check(
        u,
        _qpsk_awgn_llr(c, z, ebno_db, k / n),
        _qpsk_awgn_llr(c, z, ebno_db - 0.1, k / n),
        fast,
        ref,
        lo=0.02,
    )


LADDER_K = [40, 56, 104, 296, 512, 528, 1008, 1056, 2048, 2112, 3840, 4096, 6144, 8448]


@pytest.mark.parametrize("rate", [1 / 3, 1 / 2, 2 / 3, 3 / 4])
def test_ldpc_round_trip_block_size_ladder(rate):
    for k in LADDER_K:
        n = round(k / rate)
        enc = LDPC5GEncoder(k, n)
        fast = FastLDPC5GDecoder(enc)
        u = _bits(3, k, seed=k)
        c = enc(u)
        llr = _qpsk_awgn_llr(c, _noise(c.shape, seed=k + 1), 7.0, k / n)
        assert torch.equal(fast(llr), u), (k, n)


def test_ldpc_shapes_batch_zero_and_errors():
    enc = LDPC5GEncoder(120, 240)
    fast = FastLDPC5GDecoder(enc)
    u = _bits(6, 120, seed=3).reshape(2, 3, 120)
    out = fast(20 * (2 * enc(u) - 1))
    assert out.shape == (2, 3, 120) and torch.equal(out, u)
    assert fast(torch.zeros(0, 240)).shape == (0, 120)
    assert fast.last_num_iter.shape == (0,)
    with pytest.raises(SemcomError):
        fast(torch.zeros(2, 241))
    with pytest.raises(SemcomError):
        FastLDPC5GDecoder(enc, num_iter=0)


# ---------------------------------------------------------------------------------- Turbo
def _turbo_encoder(rate: float) -> TurboEncoder:
    return TurboEncoder(rate=rate, constraint_length=4, terminate=True)


@pytest.mark.parametrize("rate", [1 / 3, 1 / 2])
@pytest.mark.parametrize("algorithm", ["log-map", "maxlog"])
def test_turbo_matches_sionna_noiseless_and_high_snr(rate, algorithm):
    enc = _turbo_encoder(rate)
    fast, ref = FastTurboDecoder(enc, algorithm=algorithm), TurboDecoder(enc, algorithm="map")
    k = 200
    u = _bits(4, k, seed=11)
    c = enc(u)
    assert c.shape[-1] == (3 * k + 12 if rate < 0.4 else 2 * k + 8)
    for llr in (20 * (2 * c - 1), _qpsk_awgn_llr(c, _noise(c.shape, seed=12), 4.0, rate)):
        out = fast(llr)
        assert out.shape == u.shape and out.dtype == llr.dtype
        assert torch.equal(out, ref(llr))
        assert torch.equal(out, u)


@pytest.mark.parametrize("ebno_db", [0.5, 0.75])
def test_turbo_bler_within_0p1_db_of_sionna_map(ebno_db):
    k, batch, rate = 512, 300, 1 / 3
    enc = _turbo_encoder(rate)
    fast, ref = FastTurboDecoder(enc), TurboDecoder(enc, num_iter=6, algorithm="map")
    u = _bits(batch, k, seed=21)
    c = enc(u)
    z = _noise(c.shape, seed=int(ebno_db * 100) + 1)
    _paired_check(
        u,
        _qpsk_awgn_llr(c, z, ebno_db, k / c.shape[-1]),
        _qpsk_awgn_llr(c, z, ebno_db - 0.1, k / c.shape[-1]),
        fast,
        ref,
        lo=0.03,
    )


TURBO_K = [40, 48, 104, 512, 1008, 2048, 4096, 6144]


@pytest.mark.parametrize("rate", [1 / 3, 1 / 2])
def test_turbo_round_trip_block_size_ladder(rate):
    enc = _turbo_encoder(rate)
    fast = FastTurboDecoder(enc)
    for k in TURBO_K:
        u = _bits(2, k, seed=k)
        c = enc(u)
        llr = _qpsk_awgn_llr(c, _noise(c.shape, seed=k + 2), 5.0, rate)
        assert torch.equal(fast(llr), u), k
        assert (fast.last_num_iter <= 6).all()


def test_turbo_shapes_batch_zero_and_errors():
    enc = _turbo_encoder(1 / 3)
    fast = FastTurboDecoder(enc)
    u = _bits(6, 64, seed=5).reshape(3, 2, 64)
    out = fast(20 * (2 * enc(u) - 1))
    assert out.shape == (3, 2, 64) and torch.equal(out, u)
    assert fast(torch.zeros(0, 3 * 64 + 12)).shape == (0, 64)
    with pytest.raises(SemcomError):
        fast(torch.zeros(1, 3 * 64 + 13))
    with pytest.raises(SemcomError):
        FastTurboDecoder(TurboEncoder(rate=1 / 3, constraint_length=4, terminate=False))
    with pytest.raises(SemcomError):
        FastTurboDecoder(enc, algorithm="bcjr")


def test_decode_backends_and_make_decoder():
    assert {"auto", "fast", "sionna"} <= set(decode_backends())
    ldpc, turbo = LDPC5GEncoder(64, 128), _turbo_encoder(1 / 2)
    dec, name = make_decoder("ldpc", ldpc, 20)
    assert isinstance(dec, FastLDPC5GDecoder) and dec.num_iter == 20 and name
    dec, name = make_decoder("turbo", turbo)
    assert isinstance(dec, FastTurboDecoder) and dec.num_iter == 6 and name
    with pytest.raises(UnknownNameError):
        make_decoder("polar", ldpc)


def test_llr_helper_matches_sionna_demapper():
    from sionna.phy.mapping import Demapper, Mapper

    c = _bits(2, 64, seed=9)
    no = 0.3
    x = Mapper("qam", 2)(c)
    z = _noise((2, 32, 2), seed=10)
    y = x + math.sqrt(no / 2) * torch.complex(z[..., 0], z[..., 1])
    ref = Demapper("app", "qam", 2)(y, torch.tensor(no))
    # Sionna's QPSK: bit 2i on I, bit 2i+1 on Q, bit 1 -> negative amplitude.
    ours = 4 / math.sqrt(2) * torch.stack([-y.real, -y.imag], dim=-1).reshape(2, 64) / no
    np.testing.assert_allclose(ref.numpy(), ours.numpy(), rtol=1e-4, atol=1e-4)
