"""OFDM over TDL channels (Sionna blocks): closed forms, accounting, calibration, fairness."""

import math

import pytest
import torch

from semcom_sim.baselines.capacity import capacity_bits
from semcom_sim.channel import AWGN, CHANNELS, OFDMChannel
from semcom_sim.channel.ofdm import ls_mse_theory, ofdm_snr_db_to_no, overhead_factor
from semcom_sim.errors import SemcomError
from semcom_sim.link.qam import demap_llr, map_bits


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def qfunc(x: float) -> float:
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def rayleigh_qpsk_ber(snr_db: float) -> float:
    """Uncoded Gray QPSK over Rayleigh fading, perfect CSI: per bit Eb/N0 = Es/N0 / 2."""
    g = 10 ** (snr_db / 10) / 2
    return 0.5 * (1 - math.sqrt(g / (1 + g)))


def qpsk(b: int, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    bits = torch.randint(0, 2, (b, 2 * n), generator=g).float()
    return bits, map_bits(bits, 2)


def uncoded_ber(channel, snr_db: float, b: int, n: int, seed: int = 0) -> float:
    g = gen(seed)
    bits, x = qpsk(b, n, g)
    out = channel(x, snr_db, g)
    hard = (demap_llr(out.y, out.no_eff, 2) > 0).float()
    return float((hard != bits).float().mean())


def rel_err(x, y) -> torch.Tensor:
    return ((x - y).abs().pow(2)).double()


# ----------------------------------------------------------------------------- convention


def test_snr_convention_per_resource_element():
    assert float(ofdm_snr_db_to_no(10.0)) == pytest.approx(0.1)
    ch = OFDMChannel(profile="awgn", csi="perfect")
    snr_db = torch.tensor([0.0, 10.0, 20.0])
    x = torch.zeros(3, 4 * ch.data_symbols_per_slot, dtype=torch.complex64)
    r = ch.simulate(x, ofdm_snr_db_to_no(snr_db), gen())
    n = r["y"] - r["h"].reshape(r["y"].shape) * r["grid"]  # noise on every RE
    per_ex = n.abs().pow(2).reshape(3, -1).mean(1)
    assert torch.allclose(per_ex, 10 ** (-snr_db / 10), rtol=0.02)
    # pilots at data power: unit energy, like the data symbols
    rg = ch._blocks(torch.device("cpu"))["rg"]
    assert float(rg.pilot_pattern.pilots.abs().pow(2).mean()) == pytest.approx(1.0, rel=1e-6)


def test_tdl_has_unit_mean_power_gain_per_re():
    ch = OFDMChannel(profile="tdl-a", speed=30.0, csi="perfect")
    h = ch.sample_gains(400, ch.data_symbols_per_slot, gen(3))
    assert float(h.abs().pow(2).mean()) == pytest.approx(1.0, rel=0.04)


def test_channel_uses_count_pilots_cp_and_guards():
    ch = OFDMChannel()  # 128 FFT, CP 9, 14 symbols, pilots on 2 of them, 6+5 guards + DC
    assert ch.num_effective_subcarriers == 116
    d = ch.data_symbols_per_slot
    assert d == 12 * 116
    assert ch.slot_channel_uses == 14 * 137
    assert ch.overhead == pytest.approx(14 * 137 / d) == overhead_factor(128, 9, 14, d)
    n = torch.tensor([0, 1, d, d + 1, 3000])
    expect = [math.ceil(int(k) * 14 * 137 / d) for k in n]
    assert ch.channel_uses(n).tolist() == expect
    x = torch.ones(5, 3000, dtype=torch.complex64)
    out = ch(x, 10.0, gen(), num_symbols=n)
    assert out.channel_uses.tolist() == expect
    assert out.y.shape == (5, 3000) and out.no_eff.shape == (5, 3000)
    assert torch.isfinite(out.y).all() and torch.isfinite(out.no_eff).all()


# ----------------------------------------------------------------------------- physics


def test_flat_awgn_profile_reproduces_awgn_ber():
    snr = 4.0
    ch = OFDMChannel(profile="awgn", csi="perfect")
    ber = uncoded_ber(ch, snr, 20, 10_000)
    ref = uncoded_ber(AWGN(), snr, 20, 10_000, seed=1)
    theory = qfunc(math.sqrt(10 ** (snr / 10)))
    assert ber == pytest.approx(theory, rel=0.05)
    assert ber == pytest.approx(ref, rel=0.08)


def test_flat_rayleigh_profile_reproduces_rayleigh_ber():
    snr = 10.0
    ch = OFDMChannel(profile="rayleigh", csi="perfect")  # one CN(0,1) gain per slot
    ber = uncoded_ber(ch, snr, 4000, 100)
    assert ber == pytest.approx(rayleigh_qpsk_ber(snr), rel=0.10)


@pytest.mark.parametrize("tdl", ["tdl-a", "tdl-b", "tdl-c"])
def test_nlos_tdl_perfect_csi_matches_rayleigh_closed_form(tdl):
    snr = 10.0
    ch = OFDMChannel(profile=tdl, delay_spread=300e-9, speed=30.0, csi="perfect")
    ber = uncoded_ber(ch, snr, 96, 2 * ch.data_symbols_per_slot, seed=2)
    assert ber == pytest.approx(rayleigh_qpsk_ber(snr), rel=0.10), (tdl, ber)


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_ls_estimation_mse_at_pilots_is_no_over_pilot_energy(snr_db):
    ch = OFDMChannel(profile="tdl-a", speed=30.0, csi="ls", interpolation="lin")
    g = gen(4)
    _, x = qpsk(200, ch.data_symbols_per_slot, g)
    r = ch.simulate(x, ofdm_snr_db_to_no(torch.full((200,), snr_db)), g)
    blocks = ch._blocks(torch.device("cpu"))
    h_true = blocks["remove_nulled"](r["h"].reshape(200, 1, 1, 1, 1, 14, 128))
    pil = list(ch.pilot_ofdm_symbol_indices)
    err = rel_err(r["h_hat"][..., pil, :], h_true[..., pil, :])
    theory = float(ls_mse_theory(10 ** (-snr_db / 10), pilot_energy=1.0))
    assert float(err.mean()) / theory == pytest.approx(1.0, abs=0.05)
    # the error variance handed to the equaliser says the same at the pilots
    assert float(r["err_var"][..., pil, :].mean()) / theory == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize(
    ("csi", "profile", "speed"),
    [
        ("perfect", "tdl-a", 30.0),
        ("ls", "tdl-a", 30.0),
        ("ls", "tdl-c", 100.0),
        ("ls", "rayleigh", 0.0),
        ("lmmse", "tdl-a", 30.0),
    ],
)
def test_no_eff_is_calibrated(csi, profile, speed):
    kw = {"speed": speed} if profile.startswith("tdl") else {}
    ch = OFDMChannel(profile=profile, csi=csi, **kw)
    # calibration holds over channel realisations: enough examples per SNR (LMMSE is slow)
    snrs, b = ([0.0, 20.0], 64) if csi == "lmmse" else ([0.0, 10.0, 20.0, 30.0], 400)
    snr_db = torch.tensor(snrs).repeat(b // len(snrs))
    g = gen(5)
    _, x = qpsk(b, ch.data_symbols_per_slot, g)
    out = ch(x, snr_db, g)
    ratio = rel_err(out.y, x) / out.no_eff.double()
    for s in snr_db.unique():
        m = float(ratio[snr_db == s].mean())
        assert m == pytest.approx(1.0, abs=0.05), (csi, profile, float(s), m)


def test_sionnas_own_ls_error_variance_is_too_small_with_mobility():
    # why ls_error="model" is the default: Sionna's err_var ignores the interpolation error
    ch = OFDMChannel(profile="tdl-c", speed=100.0, csi="ls", ls_error="sionna")
    g = gen(6)
    _, x = qpsk(32, ch.data_symbols_per_slot, g)
    out = ch(x, 30.0, g)
    assert float((rel_err(out.y, x) / out.no_eff.double()).mean()) > 5.0


def test_ls_costs_snr_but_lmmse_costs_less():
    snr = 10.0
    bers = {}
    for csi in ("perfect", "ls", "lmmse"):
        ch = OFDMChannel(profile="tdl-a", speed=30.0, csi=csi)
        bers[csi] = uncoded_ber(ch, snr, 24, ch.data_symbols_per_slot, seed=7)
    assert bers["perfect"] < bers["lmmse"] < bers["ls"]


# ----------------------------------------------------------------------------- fairness, capacity


def test_same_seed_same_channel_and_pilots_whatever_the_scheme():
    """Two schemes (a DigitalLink payload and a learned scheme's symbols, different lengths and
    contents) run with the same seed see the same channel realisation and the same pilots."""
    from semcom_sim.link.digital import DigitalLink
    from semcom_sim.link.mcs import parse_mcs

    ch = OFDMChannel(profile="tdl-a", speed=30.0, csi="ls")
    seen = []
    orig = ch.simulate

    def record(x, no, generator):
        r = orig(x, no, generator)
        seen.append(r)
        return r

    ch.simulate = record
    link = DigitalLink(parse_mcs("ldpc-1/2-qpsk"))
    link.transmit([bytes(range(200)), bytes(300)], ch, 8.0, gen(9))
    learned = torch.view_as_complex(torch.randn(2, 150, 2, generator=gen(1))) / math.sqrt(2)
    ch(learned, 8.0, gen(9))
    (a, b) = seen
    s = min(a["h"].shape[1], b["h"].shape[1])
    assert a["h"].shape[1] > 1 and s == 1  # different bandwidths
    assert torch.equal(a["h"][:, :s], b["h"][:, :s])
    pil = list(ch.pilot_ofdm_symbol_indices)
    pa, pb = a["grid"][..., pil, :], b["grid"][..., pil, :]  # every slot, both schemes
    assert torch.equal(pa, pb[:1].expand_as(pa)) and torch.equal(pb, pb[:1].expand_as(pb))
    # and sample_gains is that same draw
    h = ch.sample_gains(2, 150, gen(9))
    assert torch.equal(h, ch.data_gains(b["h"], 150))
    # a different seed is a different channel
    assert not torch.equal(ch.sample_gains(2, 150, gen(10)), h)


def test_capacity_bits_uses_the_forward_draw():
    ch = OFDMChannel(profile="tdl-b", speed=10.0, csi="ls")
    n = torch.tensor([100, 2000, 0])
    snr = torch.tensor([0.0, 10.0, 5.0])
    cap = capacity_bits(ch, n, snr, gen(11))
    h = ch.sample_gains(3, 2000, gen(11)).abs().pow(2).double()
    s = 10 ** (snr.double() / 10)
    expect = [float(torch.log2(1 + s[i] * h[i, : n[i]]).sum()) for i in range(3)]
    assert cap.dtype == torch.float64
    assert cap.tolist() == pytest.approx(expect, rel=1e-9)
    flat = OFDMChannel(profile="awgn")
    assert capacity_bits(flat, n, snr).tolist() == pytest.approx(
        (n.double() * torch.log2(1 + s)).tolist()
    )


def test_gradient_reaches_the_symbols():
    ch = OFDMChannel(profile="tdl-a", csi="ls")
    x = (torch.randn(2, 300, dtype=torch.complex64)).requires_grad_()
    out = ch(x, 10.0, gen())
    out.y.abs().pow(2).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


# ----------------------------------------------------------------------------- config, CLI


def test_config_and_key_name_every_parameter():
    ch = CHANNELS.create("ofdm", profile="tdl-c", delay_spread=100e-9, speed=30.0, csi="lmmse")
    assert ch.key == "ofdm-tdl-c-ds100ns-v30-lmmse"
    cfg = ch.config()
    assert cfg["profile"] == "tdl-c" and cfg["csi"] == "lmmse" and cfg["speed"] == 30.0
    assert OFDMChannel(fft_size=64, num_guard_carriers=(3, 2)).key.endswith(
        "fft_size=64,num_guard_carriers=(3,2)"
    )
    keys = {OFDMChannel(csi=c).key for c in ("perfect", "ls", "lmmse")} | {
        OFDMChannel(speed=3.0).key,
        OFDMChannel(profile="tdl-b").key,
    }
    assert len(keys) == 5
    for bad in (
        {"profile": "tdl-f"},
        {"csi": "genie"},
        {"interpolation": "cubic"},
        {"delay_spread": -1.0},
        {"pilot_ofdm_symbol_indices": (14,)},
        {"num_guard_carriers": (64, 64)},
    ):
        with pytest.raises(SemcomError):
            OFDMChannel(**bad)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--channel", "ofdm", "--tdl", "F"], "known: A, B, C, D, E"),
        (["--channel", "ofdm", "--cdl", "Z"], "known: A, B, C, D, E"),
        (["--channel", "ofdm", "--tdl", "A", "--cdl", "C"], "one of --tdl, --cdl"),
        (["--channel", "ofdm", "--csi", "genie"], "known: perfect, ls, lmmse"),
        (["--channel", "awgn", "--speed", "3"], "only for --channel ofdm"),
        (["--channel", "rayleigh", "--csi", "ls"], "only for --channel ofdm"),
        (["--channel", "ofdm", "--coherence", "4"], "--coherence applies to --channel rayleigh"),
        (["--channel", "ofdm", "--ofdm-profile", "awgn", "--speed", "3"], "TDL profiles only"),
        (["--channel", "ofdm", "--csi", "lmmse", "--interpolation", "nn"], "--csi ls only"),
    ],
)
def test_cli_rejects_bad_ofdm_options(argv, message, tmp_path, capsys):
    from semcom_sim.cli import main

    out = tmp_path / "run"
    assert main(["sweep", *argv, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not out.exists()


def test_cli_sweep_over_ofdm(tmp_path):
    import csv

    from semcom_sim.cli import main

    out = tmp_path / "run"
    argv = [
        "sweep",
        "--snr",
        "0,12",
        "--samples",
        "4",
        "--batch-size",
        "4",
        "--quiet",
        "--no-plot",
        "--schemes",
        "jpeg-ldpc,jpeg-capacity,udeepsc",
        "--tasks",
        "image-reconstruction",
        "--out",
        str(out),
        "--channel",
        "ofdm",
        "--tdl",
        "A",
        "--delay-spread",
        "300e-9",
        "--speed",
        "30",
        "--csi",
        "ls",
    ]
    assert main(argv) == 0
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert {r["channel"] for r in rows} == {"ofdm-tdl-a-ds300ns-v30-ls-lin"}
    assert {r["scheme"] for r in rows} == {"jpeg-ldpc", "jpeg-capacity", "udeepsc"}
    for r in rows:  # bandwidth includes pilots, CP and guards
        assert float(r["mean_channel_uses"]) >= 1.3 * float(r["mean_symbols"])


# ----------------------------------------------------------------------------- every channel


@pytest.mark.parametrize("name", ["awgn", "rayleigh", "mimo", "ofdm"])
def test_every_registered_channel_exposes_its_draw_and_capacity(name):
    ch = CHANNELS.create(name)
    n, b = 50, 3
    h1 = ch.sample_gains(b, n, gen(21))
    h2 = ch.sample_gains(b, n, gen(21))
    assert torch.equal(h1, h2) and torch.isfinite(h1.abs()).all()
    cap = ch.capacity_bits(torch.tensor([n, 10, 0]), torch.tensor([5.0, 5.0, 5.0]), gen(21))
    assert cap.dtype == torch.float64 and cap.shape == (3,)
    assert cap[0] > cap[1] > 0 and cap[2] == 0


def test_rayleigh_forward_uses_the_sample_gains_draw():
    from semcom_sim.channel import RayleighBlockFading

    ch = RayleighBlockFading(coherence_symbols=8, equalize=False)
    x = torch.ones(4, 40, dtype=torch.complex64)
    out = ch(x, 3.0, gen(22))
    assert torch.equal(out.h, ch.sample_gains(4, 40, gen(22)))


# ----------------------------------------------------------------------------- SIMO


def mrc_qpsk_ber(snr_db: float) -> float:
    """Uncoded QPSK, 2-branch maximum-ratio combining over i.i.d. Rayleigh (Proakis 14.4-15)."""
    g = 10 ** (snr_db / 10) / 2
    mu = math.sqrt(g / (1 + g))
    return ((1 - mu) / 2) ** 2 * (2 + mu)


def test_simo_1x2_perfect_csi_matches_mrc_closed_form():
    ch = OFDMChannel(profile="tdl-a", speed=30.0, csi="perfect", num_rx_ant=2)
    assert ch.key.endswith("-1x2") and ch.config()["num_rx_ant"] == 2
    ber = uncoded_ber(ch, 6.0, 400, ch.data_symbols_per_slot)
    assert ber == pytest.approx(mrc_qpsk_ber(6.0), rel=0.10)
    h = ch.sample_gains(3, 20, gen(1))
    assert h.shape == (3, 20, 2)
    cap = ch.capacity_bits(torch.tensor([20]), torch.tensor([3.0]), gen(1))
    h1 = ch.sample_gains(1, 20, gen(1))[0]  # the capacity's draw: one example
    expect = torch.log2(1 + 10**0.3 * h1.abs().pow(2).double().sum(-1)).sum()
    assert float(cap[0]) == pytest.approx(float(expect), rel=1e-9)


def test_simo_lmmse_no_eff_is_calibrated():
    ch = OFDMChannel(profile="tdl-a", speed=30.0, csi="lmmse", num_rx_ant=2)
    g = gen(8)
    _, x = qpsk(32, ch.data_symbols_per_slot, g)
    out = ch(x, 6.0, g)
    assert float((rel_err(out.y, x) / out.no_eff.double()).mean()) == pytest.approx(1.0, abs=0.05)


# ----------------------------------------------------------------------------- CDL


@pytest.mark.parametrize("cdl", ["cdl-a", "cdl-c"])
def test_nlos_cdl_perfect_csi_matches_rayleigh_closed_form(cdl):
    ch = OFDMChannel(profile=cdl, delay_spread=300e-9, speed=30.0, csi="perfect")
    ber = uncoded_ber(ch, 10.0, 400, ch.data_symbols_per_slot, seed=3)
    assert ber == pytest.approx(rayleigh_qpsk_ber(10.0), rel=0.12), (cdl, ber)


def test_cdl_draws_from_the_generator_and_ls_no_eff_is_calibrated():
    ch = OFDMChannel(profile="cdl-c", speed=30.0, csi="ls")
    assert ch.key == "ofdm-cdl-c-ds300ns-v30-ls-lin"
    assert torch.equal(ch.sample_gains(2, 50, gen(4)), ch.sample_gains(2, 50, gen(4)))
    assert not torch.equal(ch.sample_gains(2, 50, gen(4)), ch.sample_gains(2, 50, gen(5)))
    g = gen(6)
    _, x = qpsk(200, ch.data_symbols_per_slot, g)
    snr_db = torch.tensor([10.0, 30.0]).repeat(100)
    out = ch(x, snr_db, g)
    ratio = rel_err(out.y, x) / out.no_eff.double()
    for s in (10.0, 30.0):
        assert float(ratio[snr_db == s].mean()) == pytest.approx(1.0, abs=0.05)
    with pytest.raises(SemcomError, match="one receive antenna"):
        OFDMChannel(profile="cdl-a", num_rx_ant=2)
