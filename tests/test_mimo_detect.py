"""ZF / LMMSE detectors: singular and ill-conditioned H, and high-SNR accuracy vs complex128."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semcom_sim.channel.mimo import lmmse_detect, zf_detect

DETECTORS = {"zf": zf_detect, "lmmse": lmmse_detect}


def _c(a) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.complex64))


def _ref_zf(y: np.ndarray, h: np.ndarray, no: np.ndarray):
    """Textbook ZF in complex128 (numpy): x = (H^H H)^-1 H^H y, no_eff = no [(H^H H)^-1]_ii."""
    hh = np.conj(np.swapaxes(h, -1, -2))
    inv = np.linalg.inv(hh @ h)
    x = (inv @ (hh @ y[..., None]))[..., 0]
    return x, no[..., None] * np.real(np.diagonal(inv, axis1=-2, axis2=-1))


def _ref_lmmse(y: np.ndarray, h: np.ndarray, no: np.ndarray):
    """The original unbiased LMMSE formula, in complex128: W = H^H (H H^H + no I)^-1."""
    hh = np.conj(np.swapaxes(h, -1, -2))
    a = h @ hh + no[..., None, None] * np.eye(h.shape[-2])
    w = hh @ np.linalg.inv(a)
    g = np.real(np.diagonal(w @ h, axis1=-2, axis2=-1))
    return (w @ y[..., None])[..., 0] / g, 1.0 / g - 1.0


REFS = {"zf": _ref_zf, "lmmse": _ref_lmmse}


@pytest.mark.parametrize("name", ["zf", "lmmse"])
def test_zero_column_loses_one_stream_keeps_the_other(name):
    # Stream 1 sees h1 = (1, 0.5j); stream 2 has no path at all: H is exactly singular.
    h = _c([[[1.0, 0.0], [0.5j, 0.0]]])
    x1 = 0.6 - 0.8j
    no = torch.tensor([0.01])
    y = (h[..., 0] * x1) + _c([[0.01, -0.02j]])
    x_hat, no_eff = DETECTORS[name](y, h, no)
    assert torch.isfinite(x_hat).all() and torch.isfinite(no_eff).all()
    h1 = h[0, :, 0].numpy().astype(np.complex128)
    energy = float(np.vdot(h1, h1).real)  # 1.25
    mrc = np.vdot(h1, y[0].numpy()) / energy  # the single-stream matched filter
    if name == "zf":
        assert abs(complex(x_hat[0, 0]) - mrc) < 1e-6
        assert float(no_eff[0, 0]) == pytest.approx(0.01 / energy, rel=1e-6)
    else:  # LMMSE of one stream, made unbiased, is the matched filter with no/|h|^2
        assert abs(complex(x_hat[0, 0]) - mrc) < 1e-5
        assert float(no_eff[0, 0]) == pytest.approx(0.01 / energy, rel=1e-5)
    assert float(no_eff[0, 1]) > 1e9  # the lost stream: no information, enormous noise


@pytest.mark.parametrize("name", ["zf", "lmmse"])
@pytest.mark.parametrize(
    "h",
    [
        [[1.0, 1.0], [1.0, 1.0]],  # rank 1: only the sum of the streams is seen
        [[0.3 + 0.1j, -0.6 - 0.2j], [0.9j - 0.3, 0.6 - 1.8j]],  # rank 1, complex (col2 = -2 col1)
        [[0.0, 0.0], [0.0, 0.0]],  # no channel at all
    ],
)
def test_exactly_singular_h_never_raises(name, h):
    hh = _c([h]).expand(4, 2, 2)
    y = _c(np.random.default_rng(0).normal(size=(4, 2)) + 0j)
    x_hat, no_eff = DETECTORS[name](y, hh, torch.full((4,), 0.1))
    assert x_hat.dtype == torch.complex64 and no_eff.dtype == torch.float32
    assert torch.isfinite(x_hat).all() and torch.isfinite(no_eff).all()
    if name == "zf" or not np.any(h):
        assert (no_eff > 1e6).all()  # each stream alone is unidentifiable: lost
    else:  # LMMSE uses the unit-energy prior: a finite MSE, as in complex128
        ref_x, ref_no = _ref_lmmse(
            y.numpy().astype(complex), hh.numpy().astype(complex), np.full(4, 0.1)
        )
        np.testing.assert_allclose(no_eff.numpy(), ref_no, rtol=1e-5)
        np.testing.assert_allclose(x_hat.numpy(), ref_x, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["zf", "lmmse"])
def test_ill_conditioned_h_matches_float64_reference(name):
    eps = 1e-3  # cond(H) ~ 4e3: complex64 normal equations lose ~all digits of the small mode
    h = np.array([[[1.0, 1.0], [1.0, 1.0 + eps]]], dtype=np.complex64).astype(np.complex128)
    y = np.array([[0.3 + 0.1j, -0.2 + 0.4j]])
    no = np.array([1e-4])
    ref_x, ref_no = REFS[name](y, h, no)
    x_hat, no_eff = DETECTORS[name](_c(y), _c(h), torch.tensor(no, dtype=torch.float32))
    assert torch.isfinite(x_hat).all()
    np.testing.assert_allclose(no_eff.numpy(), ref_no, rtol=1e-4)
    np.testing.assert_allclose(x_hat.numpy(), ref_x, rtol=1e-4, atol=1e-4 * np.abs(ref_x).max())
    if name == "zf":
        assert no_eff.min() > 1e3 * no[0]  # noise enhancement of the weak eigenmode


@pytest.mark.parametrize("name", ["zf", "lmmse"])
def test_high_snr_nr_gt_nt_matches_complex128_reference(name):
    """2 streams, 4 receive antennas, 30 dB, 20,000 i.i.d. Rayleigh draws: complex64 in/out."""
    rng = np.random.default_rng(1)
    b, nt, nr = 20000, 2, 4
    h = (rng.normal(size=(b, nr, nt)) + 1j * rng.normal(size=(b, nr, nt))) / np.sqrt(2 * nt)
    x = (rng.choice([-1, 1], (b, nt)) + 1j * rng.choice([-1, 1], (b, nt))) / np.sqrt(2)
    no = np.full(b, 10 ** (-30 / 10))
    noise = np.sqrt(no[:, None] / 2) * (rng.normal(size=(b, nr)) + 1j * rng.normal(size=(b, nr)))
    y = (h @ x[..., None])[..., 0] + noise
    # the reference sees the complex64-rounded inputs the detector sees
    h32, y32 = h.astype(np.complex64), y.astype(np.complex64)
    ref_x, ref_no = REFS[name](y32.astype(np.complex128), h32.astype(np.complex128), no)
    x_hat, no_eff = DETECTORS[name](
        torch.from_numpy(y32), torch.from_numpy(h32), torch.tensor(no, dtype=torch.float32)
    )
    assert x_hat.dtype == torch.complex64 and no_eff.dtype == torch.float32
    rel = np.abs(no_eff.numpy() / ref_no - 1)
    assert rel.max() < 1e-5, (np.median(rel), rel.max())
    assert np.abs(x_hat.numpy() - ref_x).max() < 1e-5
    # and the estimates are what the physics says: per-stream error variance = no_eff
    err = np.abs(x_hat.numpy() - x) ** 2 / no_eff.numpy()
    assert 0.95 < err.mean() < 1.05


def test_complex128_in_gives_complex128_out():
    h = torch.randn(3, 2, 2, dtype=torch.complex128)
    y = torch.randn(3, 2, dtype=torch.complex128)
    for det in DETECTORS.values():
        x_hat, no_eff = det(y, h, torch.full((3,), 0.5, dtype=torch.float64))
        assert x_hat.dtype == torch.complex128 and no_eff.dtype == torch.float64


@pytest.mark.parametrize("name", ["zf", "lmmse"])
def test_failed_inverse_falls_back_to_pseudo_inverse(name, monkeypatch):
    h = torch.randn(6, 4, 2, dtype=torch.complex64, generator=torch.Generator().manual_seed(3))
    y = torch.randn(6, 4, dtype=torch.complex64, generator=torch.Generator().manual_seed(4))
    no = torch.full((6,), 0.05)
    want = DETECTORS[name](y, h, no)
    inv_ex = torch.linalg.inv_ex

    def failing(a):  # report every inverse as failed and return garbage
        c, info = inv_ex(a)
        return torch.full_like(c, float("nan")), torch.ones_like(info)

    monkeypatch.setattr(torch.linalg, "inv_ex", failing)
    got = DETECTORS[name](y, h, no)
    for a, b in zip(want, got, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
