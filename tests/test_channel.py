"""The channel layer against closed forms."""

import math

import pytest
import torch

from semcom_sim.channel import (
    AWGN,
    MIMORayleigh,
    RayleighBlockFading,
    complex_to_real,
    ebno_db_to_snr_db,
    normalize_power,
    real_to_complex,
    snr_db_to_ebno_db,
    snr_db_to_no,
)
from semcom_sim.link.qam import demap_llr, map_bits


def qfunc(x: float) -> float:
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_noise_variance_matches_convention_for_several_snr_in_one_call():
    snr_db = torch.tensor([-6.0, 0.0, 7.5, 18.0])
    x = torch.zeros(4, 10**6, dtype=torch.complex64)
    out = AWGN()(x, snr_db, gen())
    measured = out.y.abs().pow(2).mean(dim=1)
    expected = 10 ** (-snr_db / 10)
    assert torch.allclose(measured, expected, rtol=0.02)
    # real and imaginary parts carry half each (circular symmetry)
    assert torch.allclose(out.y.real.pow(2).mean(1), expected / 2, rtol=0.02)
    assert torch.allclose(out.no_eff[:, 0], expected)


def test_conversions():
    assert float(snr_db_to_no(10.0)) == pytest.approx(0.1)
    assert ebno_db_to_snr_db(1.0, 2, 0.5) == pytest.approx(1.0)
    assert ebno_db_to_snr_db(0.0, 4, 0.5) == pytest.approx(10 * math.log10(2))
    assert snr_db_to_ebno_db(ebno_db_to_snr_db(3.3, 6, 2 / 3), 6, 2 / 3) == pytest.approx(3.3)
    z = torch.randn(5, 7)
    assert torch.equal(complex_to_real(real_to_complex(z), 7), z)
    x = torch.randn(3, 50, dtype=torch.complex64) * 4
    assert torch.allclose(normalize_power(x).abs().pow(2).mean(1), torch.ones(3), atol=1e-5)
    m = torch.rand(3, 50) > 0.5
    xm = normalize_power(x, m)
    assert torch.allclose(xm.abs().pow(2).sum(1) / m.sum(1), torch.ones(3), atol=1e-5)
    assert torch.all(xm[~m] == 0)


def _uncoded_ber(bps: int, snr_db: list[float], channel=None, n_sym: int = 200_000, seed=0):
    g = gen(seed)
    bits = torch.randint(0, 2, (len(snr_db), n_sym * bps), generator=g).float()
    x = map_bits(bits, bps)
    out = (channel or AWGN())(x, torch.tensor(snr_db), g)
    hard = (demap_llr(out.y, out.no_eff, bps) > 0).float()
    return (hard != bits).float().mean(dim=1)


def test_uncoded_qpsk_ber_matches_q_function():
    snrs = [0.0, 4.0, 8.0]
    ber = _uncoded_ber(2, snrs)
    for s, b in zip(snrs, ber, strict=True):
        theory = qfunc(math.sqrt(10 ** (s / 10)))  # Es/N0 = 2 Eb/N0 -> Q(sqrt(Es/N0))
        assert float(b) == pytest.approx(theory, rel=0.10), (s, float(b), theory)


def test_uncoded_16qam_ber_matches_closed_form():
    snrs = [6.0, 10.0, 14.0]
    ber = _uncoded_ber(4, snrs)
    for s, b in zip(snrs, ber, strict=True):
        a = math.sqrt(10 ** (s / 10) / 5)  # half the minimum distance over sigma
        theory = (3 * qfunc(a) + 2 * qfunc(3 * a) - qfunc(5 * a)) / 4  # Gray 16-QAM, exact
        assert float(b) == pytest.approx(theory, rel=0.10), (s, float(b), theory)


def test_rayleigh_unit_gain_and_noise_from_convention():
    ch = RayleighBlockFading(coherence_symbols=1, equalize=False)
    x = torch.ones(2, 10**6, dtype=torch.complex64)
    out = ch(x, torch.tensor([5.0, 5.0]), gen())
    assert float(out.h.abs().pow(2).mean()) == pytest.approx(1.0, rel=0.02)
    noise = out.y - out.h * x
    assert float(noise.abs().pow(2).mean()) == pytest.approx(10**-0.5, rel=0.02)


def test_rayleigh_block_structure_and_equalised_noise():
    ch = RayleighBlockFading(coherence_symbols=8)
    x = torch.ones(4, 64, dtype=torch.complex64)
    out = ch(x, 100.0, gen())
    h = out.h.reshape(4, 8, 8)
    assert torch.equal(h, h[:, :, :1].expand_as(h))  # constant within a block
    assert torch.allclose(out.y, x, atol=1e-3)  # perfect CSI at 100 dB
    assert torch.allclose(out.no_eff, 1e-10 / out.h.abs().pow(2), rtol=1e-4)


def test_rayleigh_uncoded_bpsk_ber_matches_closed_form():
    # BPSK over Rayleigh with perfect CSI: 0.5 (1 - sqrt(g / (1 + g))), g = Es/N0
    s = 10.0
    ber = float(_uncoded_ber(1, [s], RayleighBlockFading(coherence_symbols=1))[0])
    g = 10 ** (s / 10)
    assert ber == pytest.approx(0.5 * (1 - math.sqrt(g / (1 + g))), rel=0.10)


@pytest.mark.parametrize("detector", ["lmmse", "zf"])
def test_mimo_post_detection_noise_variance_is_calibrated(detector):
    ch = MIMORayleigh(2, 2, detector=detector)
    bits = torch.randint(0, 2, (1, 400_000), generator=gen(3)).float()
    x = map_bits(bits, 2)
    out = ch(x, 10.0, gen(4))
    err = (out.y - x).abs().pow(2)
    # Given H, E|x_hat - x|^2 = no_eff for both unbiased detectors (noise + interference), so
    # the normalised error has mean 1. (Raw means do not converge for 2x2 ZF: E[1/|h|^2] = inf.)
    assert float((err / out.no_eff).mean()) == pytest.approx(1.0, rel=0.03)
    assert out.channel_uses.tolist() == [x.shape[1] // 2]


def test_mimo_lmmse_not_worse_than_zf_at_5db():
    b_lmmse = _uncoded_ber(2, [5.0], MIMORayleigh(2, 2, "lmmse"), seed=7)
    b_zf = _uncoded_ber(2, [5.0], MIMORayleigh(2, 2, "zf"), seed=7)  # same H and noise
    assert float(b_lmmse) <= float(b_zf)
    assert float(b_zf) > 0.01  # a regime where the two detectors differ


def test_mimo_1x1_equals_siso_closed_form():
    s = 10.0
    ber = float(_uncoded_ber(1, [s], MIMORayleigh(1, 1, "zf"))[0])
    g = 10 ** (s / 10)
    assert ber == pytest.approx(0.5 * (1 - math.sqrt(g / (1 + g))), rel=0.10)


@pytest.mark.parametrize("channel", [AWGN(), RayleighBlockFading(4), MIMORayleigh(2, 2)])
def test_per_example_snr_equals_separate_calls(channel):
    snrs = [0.0, 6.0, 12.0]
    together = _uncoded_ber(2, snrs, channel, n_sym=100_000, seed=11)
    for i, s in enumerate(snrs):
        alone = float(_uncoded_ber(2, [s], channel, n_sym=100_000, seed=100 + i)[0])
        assert float(together[i]) == pytest.approx(alone, rel=0.10, abs=2e-4)


def test_channel_rejects_real_input():
    with pytest.raises(ValueError):
        AWGN()(torch.ones(2, 3), 0.0)
    with pytest.raises(ValueError):
        AWGN()(torch.ones(2, 3, dtype=torch.complex64), torch.zeros(3))
