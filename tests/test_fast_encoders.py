"""The fast numba encoders and QAM mapper are bit-exact with Sionna's; the fast APP demapper
equals Sionna's to float tolerance; the link gives the same bytes with either backend."""

import numpy as np
import pytest
import torch

from semcom_sim.channel import AWGN, RayleighBlockFading
from semcom_sim.errors import SemcomError
from semcom_sim.link.digital import DigitalLink
from semcom_sim.link.fastenc import FastLDPC5GEncoder, FastTurboEncoder
from semcom_sim.link.mcs import LDPC_TABLE, MCS, parse_mcs
from semcom_sim.link.qam import demap_llr, map_bits
from semcom_sim.link.segmentation import block_size_ladder

# every LDPC rate the schemes use: the MCS table and the b512 envelopes' extra entries
LDPC_RATES = sorted({m.rate for m in LDPC_TABLE} | {"3/4"})
# a spread of the ladder: both ends, every change of step, and every 9th size (35 of 224)
_LADDER = block_size_ladder(8448)
LDPC_KS = sorted({*_LADDER[::9], 40, 48, 512, 528, 1024, 1056, 2048, 2112, 3840, 3904, 8448})
_TLADDER = block_size_ladder(6144)
TURBO_KS = sorted({*_TLADDER[::11], 40, 512, 528, 1024, 1056, 2048, 2112, 6144})


def _bits(m: int, k: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (m, k), generator=g).to(torch.float32)


@pytest.mark.parametrize("rate", LDPC_RATES)
def test_ldpc_encoder_bit_exact_over_the_ladder(rate):
    from fractions import Fraction

    from sionna.phy.fec.ldpc import LDPC5GEncoder

    for k in LDPC_KS:
        n = round(k / Fraction(rate))
        ref = LDPC5GEncoder(k, n)
        u = _bits(7, k, k)
        want = ref(u)
        got = FastLDPC5GEncoder(ref)(u)
        assert got.shape == want.shape == (7, n) and got.dtype == want.dtype
        assert torch.equal(got, want), f"k={k} n={n}"


@pytest.mark.parametrize("rate", [1 / 3, 1 / 2])
def test_turbo_encoder_bit_exact_over_the_ladder(rate):
    from sionna.phy.fec.turbo import TurboEncoder

    for k in TURBO_KS:
        ref = TurboEncoder(rate=rate, constraint_length=4, terminate=True, k=k)
        u = _bits(5, k, k + 1)
        want = ref(u)
        got = FastTurboEncoder(ref, k)(u)
        assert got.shape == want.shape and torch.equal(got, want), f"k={k} rate={rate}"


def test_encoders_keep_leading_dims_and_reject_bad_shapes():
    from sionna.phy.fec.ldpc import LDPC5GEncoder

    ref = LDPC5GEncoder(256, 512)
    enc = FastLDPC5GEncoder(ref)
    u = _bits(6, 256, 3).reshape(2, 3, 256)
    assert torch.equal(enc(u), ref(u))
    assert enc(torch.zeros(0, 256)).shape == (0, 512)
    assert not enc(torch.zeros(2, 256)).any()  # all-zero word in, all-zero codeword out
    with pytest.raises(SemcomError):
        enc(torch.zeros(2, 255))


@pytest.mark.parametrize("bps", [1, 2, 4, 6, 8])
def test_mapper_bit_exact_and_demapper_within_float_tolerance(bps):
    g = torch.Generator().manual_seed(bps)
    bits = torch.randint(0, 2, (3, 400 * bps), generator=g).to(torch.float32)
    x = map_bits(bits, bps, "sionna")
    assert torch.equal(map_bits(bits, bps, "fast"), x)
    assert torch.equal(map_bits(bits.to(torch.uint8), bps, "fast"), x)
    for snr_db in (-6.0, 0.0, 6.0, 15.0, 30.0):
        # per-symbol noise variances, as equalised fading channels give
        no = 10 ** (-snr_db / 10) * (0.2 + 2 * torch.rand(3, 400, generator=g))
        noise = torch.randn(3, 400, generator=g) + 1j * torch.randn(3, 400, generator=g)
        y = x + torch.sqrt(no / 2) * noise
        want = demap_llr(y, no, bps, "sionna")
        got = demap_llr(y, no, bps, "fast")
        assert got.shape == want.shape == (3, 400 * bps) and got.dtype == torch.float32
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)
        # scalar noise variance broadcasts the same way
        torch.testing.assert_close(
            demap_llr(y, no[0, 0].clone(), bps, "fast"),
            demap_llr(y, no[0, 0].clone(), bps, "sionna"),
            rtol=1e-5,
            atol=1e-4,
        )


def _reference_llr(y: torch.Tensor, no: float, bps: int) -> torch.Tensor:
    """Exact APP LLRs from every constellation point, in float64 (log-sum-exp per bit)."""
    from semcom_sim.link.qam import _tables

    pts = _tables(bps)[0].to(torch.complex128)
    d = -(y.to(torch.complex128)[..., None] - pts).abs() ** 2 / no  # [..., M]
    bit = (torch.arange(2**bps)[:, None] >> torch.arange(bps - 1, -1, -1)) & 1  # [M, bps]
    llr = [
        torch.logsumexp(d[..., bit[:, j] == 1], -1) - torch.logsumexp(d[..., bit[:, j] == 0], -1)
        for j in range(bps)
    ]
    return torch.stack(llr, -1).reshape(*y.shape[:-1], -1).to(torch.float32)


@pytest.mark.parametrize("bps", [1, 2, 4, 6])
def test_demapper_equals_float64_log_sum_exp(bps):
    """The fast demapper (closed form for one level pair, per-dimension sums otherwise) gives
    the exact APP LLRs to float32 rounding: within 2 float32 ulps of a float64 log-sum-exp over
    every point, at low and high SNR."""
    g = torch.Generator().manual_seed(10 + bps)
    bits = torch.randint(0, 2, (2, 3000 * bps), generator=g).to(torch.float32)
    x = map_bits(bits, bps, "fast")
    for no in (4.0, 0.3, 0.02):
        noise = torch.randn(2, 3000, generator=g) + 1j * torch.randn(2, 3000, generator=g)
        y = (x + (no / 2) ** 0.5 * noise).to(torch.complex64)
        got = demap_llr(y, torch.tensor(no), bps, "fast")
        want = _reference_llr(y, no, bps)
        ulp = torch.finfo(torch.float32).eps * want.abs().clamp_min(1e-3)
        assert bool(((got - want).abs() <= 2 * ulp + 1e-6).all())
        assert torch.equal(got, demap_llr(y, torch.full((2, 3000), no), bps, "fast"))


@pytest.mark.parametrize("bps", [2, 4, 6])
def test_demapper_noise_per_row_equals_per_symbol(bps):
    """A noise variance given per row (``[B, 1]`` or an expanded view, read once per row) and
    the same values given per symbol (a full tensor) give bit-identical LLRs; so does a 3-D
    input, whose rows are its last dimension."""
    g = torch.Generator().manual_seed(3 + bps)
    y = (torch.randn(3, 2, 500, generator=g) + 1j * torch.randn(3, 2, 500, generator=g)) * 0.8
    y = y.to(torch.complex64)
    no = torch.rand(3, 2, 1, generator=g) * 0.5 + 1e-3
    full = no.expand(3, 2, 500).contiguous()
    want = demap_llr(y, full, bps, "fast")
    assert torch.equal(demap_llr(y, no, bps, "fast"), want)
    assert torch.equal(demap_llr(y, no.expand(3, 2, 500), bps, "fast"), want)
    rows = [demap_llr(y[i, j : j + 1], full[i, j : j + 1], bps, "fast") for i in range(3)
            for j in range(2)]  # fmt: skip
    assert torch.equal(torch.cat(rows).reshape(want.shape), want)


def test_demapper_huge_llrs_keep_sign_and_magnitude():
    """Far from the noise (|LLR| ~ 1e6) the fast path's fallback keeps the exact value."""
    x = map_bits(torch.tensor([[0.0, 1, 1, 0, 1, 1]]), 6, "sionna")
    no = torch.full((1, 1), 1e-5)
    want = demap_llr(x, no, 6, "sionna")
    got = demap_llr(x, no, 6, "fast")
    assert torch.equal(got > 0, want > 0) and bool(torch.isfinite(got).all())
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-2)


@pytest.mark.parametrize(
    "mcs",
    [*LDPC_TABLE, parse_mcs("turbo-1/2-qpsk"), parse_mcs("turbo-1/3-16qam")],
    ids=lambda m: m.name,
)
def test_link_gives_identical_results_with_fast_and_sionna_blocks(mcs):
    """Same payloads, channel and noise seed: the received bytes and CRC verdicts agree when
    the encoder, mapper and demapper are Sionna's instead (the decoder is the fast one), and
    the link's configuration names the blocks that ran."""
    rng = np.random.default_rng(1)
    payloads = [rng.integers(0, 256, int(n), dtype=np.uint8).tobytes() for n in (0, 5, 130, 400)]
    fast = MCS(mcs.code, mcs.rate, mcs.modulation, backend="fast")
    links = {b: DigitalLink(fast, blocks=b) for b in ("fast", "sionna")}
    assert "bit-exact" in links["fast"].config()["encoder"]
    assert links["sionna"].config()["encoder"].startswith("sionna")
    assert links["fast"].config()["qam"] != links["sionna"].config()["qam"]
    failures = 0
    for ch, snr in ((AWGN(), -3.0), (AWGN(), 6.0), (RayleighBlockFading(16), 8.0)):
        a, b = (
            links[x].transmit(payloads, ch, snr, torch.Generator().manual_seed(7))
            for x in ("fast", "sionna")
        )
        assert a.payloads == b.payloads
        assert all(np.array_equal(x, y) for x, y in zip(a.block_ok, b.block_ok, strict=True))
        assert torch.equal(a.num_symbols, b.num_symbols)
        failures += sum(not ok for ok in a.payload_ok)
    assert failures > 0  # the comparison covers failed blocks (decoder guesses) too


def test_link_rejects_unknown_blocks_backend_and_reports_stage_timings():
    with pytest.raises(SemcomError):
        DigitalLink(MCS(), blocks="gpu")
    t: dict[str, float] = {}
    DigitalLink(MCS()).transmit([b"abc" * 50] * 3, AWGN(), 5.0, torch.Generator(), timings=t)
    stages = {"segment_crc", "encode", "map", "channel", "demap", "decode", "crc_join"}
    assert set(t) == stages and all(v >= 0 for v in t.values())


def test_shared_table_ldpc_encoders_equal_fresh_sionna_encoders():
    """Codes of one lifting size share Sionna's lifted tables (built once): every instance
    still has exactly the tables, parity-check matrix and codewords of a fresh encoder."""
    from sionna.phy.fec.ldpc import LDPC5GEncoder

    from semcom_sim.link.fec import _shared_tables_encoder

    shared = _shared_tables_encoder()
    rng = np.random.default_rng(3)
    # neighbours share a lifting size; BG1 and BG2; a short code
    for k, n in [(600, 1200), (601, 1202), (3000, 4000), (3001, 4002), (100, 300), (40, 120)]:
        ref, got = LDPC5GEncoder(k, n), shared(k, n)
        for name in ("_pcm_a_ind", "_pcm_b_inv_ind", "_pcm_c1_ind", "_pcm_c2_ind"):
            assert torch.equal(getattr(ref, name), getattr(got, name)), (k, name)
        assert ref.pcm.shape == got.pcm.shape and (ref.pcm != got.pcm).nnz == 0
        assert (ref.z, ref.k_ldpc, ref.n_ldpc) == (got.z, got.k_ldpc, got.n_ldpc)
        u = torch.from_numpy(rng.integers(0, 2, (4, k)).astype(np.float32))
        assert torch.equal(ref(u), got(u))
