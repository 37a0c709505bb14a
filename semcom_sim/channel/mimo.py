"""Nt x Nr i.i.d. Rayleigh MIMO with spatial multiplexing and ZF / LMMSE detection."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from semcom_sim.channel.base import Channel, ChannelOutput, complex_gaussian, complex_noise

# Relative Tikhonov term of the Gram inverse: (H^H H + (reg + DELTA * tr(H^H H) / Nt) I)^-1.
# In float64 it changes a well-conditioned inverse by ~1e-12 (relative), keeps an exactly singular
# H invertible (the lost stream gets no_eff ~ no * 1e12 / |H|^2) and caps no_eff for cond(H) > 1e6.
GRAM_DELTA = 1e-12
# The smallest absolute term (H = 0) and the largest no_eff returned (finite in float32).
_TINY = 1e-30
NO_EFF_MAX = 1e30


def _gram_solve(y: Tensor, h: Tensor, reg: Tensor | None) -> tuple[Tensor, Tensor]:
    """``z = C H^H y`` and ``diag(C)`` for ``C = (H^H H + (reg + d) I)^-1``, in complex128.

    Args:
        y: complex ``[..., Nr]``; h: complex ``[..., Nr, Nt]``; reg: float64 ``[...]`` or None.
    Returns:
        ``z`` complex128 ``[..., Nt]`` and ``diag(C)`` float64 ``[..., Nt]``. With ``d > 0`` the
        matrix is Hermitian positive definite; should an inverse still fail, that matrix falls
        back to the pseudo-inverse, so this never raises on finite input.
    """
    h = h.to(torch.complex128)
    nt = h.shape[-1]
    gram = h.mH @ h
    eye = torch.eye(nt, dtype=torch.complex128, device=h.device)
    d = GRAM_DELTA * torch.diagonal(gram, dim1=-2, dim2=-1).real.sum(-1) / nt + _TINY
    if reg is not None:
        d = d + reg
    a = gram + d[..., None, None].to(torch.complex128) * eye
    c, info = torch.linalg.inv_ex(a)
    bad = info != 0
    if bool(bad.any()):  # not reached for finite input (tested by forcing it)
        c = torch.where(bad[..., None, None], torch.linalg.pinv(a, hermitian=True), c)
    z = (c @ (h.mH @ y.to(torch.complex128).unsqueeze(-1))).squeeze(-1)
    return z, torch.diagonal(c, dim1=-2, dim2=-1).real


def zf_detect(y: Tensor, h: Tensor, no: Tensor) -> tuple[Tensor, Tensor]:
    """Zero-forcing detection of unit-energy streams (solved in complex128, never raises).

    Args:
        y: complex ``[..., Nr]``; h: complex ``[..., Nr, Nt]``; no: float, broadcast to ``[...]``.
    Returns:
        ``x_hat`` complex ``[..., Nt]`` (dtype of ``y``) and its noise variance ``[..., Nt]`` per
        stream (the real dtype of ``y``): ``no * [(H^H H)^-1]_ii``. The inverse carries a relative
        Tikhonov term of :data:`GRAM_DELTA` (see there), so a singular ``H`` gives finite
        outputs: the pseudo-inverse estimate and a very large ``no_eff`` for the lost stream.
    """
    z, c = _gram_solve(y, h, None)
    no_eff = no.to(torch.float64)[..., None] * c
    real = y.real.dtype
    return z.to(y.dtype), no_eff.clamp(max=NO_EFF_MAX).to(real)


def lmmse_detect(y: Tensor, h: Tensor, no: Tensor) -> tuple[Tensor, Tensor]:
    """Unbiased LMMSE detection of unit-energy streams (as Sionna's ``lmmse_equalizer``).

    ``W = H^H (H H^H + no I)^-1 = (H^H H + no I)^-1 H^H``, ``G = W H``; ``x_hat_i = (W y)_i /
    G_ii`` and its noise variance is ``1/G_ii - 1`` (for Nt = Nr = 1 this is ``no/|h|^2``).
    Solved in complex128 in the Nt x Nt form, with ``1 - G_ii = no [(H^H H + no I)^-1]_ii``
    (the per-stream MSE, free of cancellation at high SNR), so ``no_eff = MSE_i / (1 - MSE_i)``;
    ``G_ii`` is floored at 1e-12 (a lost stream gets ``no_eff`` ~ 1e12). Never raises; shapes
    and dtypes as :func:`zf_detect`.
    """
    no64 = no.to(torch.float64)
    z, c = _gram_solve(y, h, no64)
    mse = (no64[..., None] * c).clamp(0.0, 1.0)
    g = (1.0 - mse).clamp(min=1e-12)
    x_hat = z / g
    no_eff = (mse / g).clamp(max=NO_EFF_MAX)
    return x_hat.to(y.dtype), no_eff.to(y.real.dtype)


class MIMORayleigh(Channel):
    """Spatial multiplexing over ``H ~ CN(0, 1)^{Nr x Nt}`` (i.i.d.), perfect CSI at the receiver.

    A stream of ``n`` symbols uses ``ceil(n / Nt)`` channel uses; per use, the ``Nt`` symbols are
    sent with energy ``1/Nt`` each (unit total transmit energy per channel use) and every receive
    antenna sees noise ``no``. The detector returns unit-energy symbol estimates in the original
    order with their post-detection noise variance per stream.

    Args:
        nt, nr: antennas. detector: ``"lmmse"`` or ``"zf"`` (ZF needs ``nr >= nt``).
        coherence_uses: channel uses per fading block (1 = a new H every use).
    """

    name = "mimo"

    def __init__(
        self, nt: int = 2, nr: int = 2, detector: str = "lmmse", coherence_uses: int = 1
    ) -> None:
        if nt < 1 or nr < 1 or coherence_uses < 1:
            raise ValueError("nt, nr and coherence_uses must be >= 1")
        if detector not in ("lmmse", "zf"):
            raise ValueError(f"unknown detector {detector!r}; known: lmmse, zf")
        if detector == "zf" and nr < nt:
            raise ValueError("ZF detection needs nr >= nt")
        self.nt, self.nr, self.detector, self.coherence_uses = nt, nr, detector, coherence_uses

    def channel_uses(self, num_symbols: Tensor) -> Tensor:
        return torch.div(num_symbols.to(torch.int64) + self.nt - 1, self.nt, rounding_mode="floor")

    def forward(
        self, x: Tensor, no: Tensor, generator: torch.Generator | None, num_symbols: Tensor
    ) -> ChannelOutput:
        b, n = x.shape
        nt, nr = self.nt, self.nr
        uses = -(-n // nt)
        s = torch.nn.functional.pad(x, (0, uses * nt - n)).reshape(b, uses, nt)
        h = self.sample_gains(b, n, generator, x.device)
        no_u = no[:, None].expand(b, uses)
        noise = complex_noise((b, uses, nr), no_u[..., None], generator, x.device)
        y = (h @ (s / nt**0.5).unsqueeze(-1)).squeeze(-1) + noise
        # Detect the scaled streams s/sqrt(Nt): equivalent channel H/sqrt(Nt), unit-energy symbols.
        detect = lmmse_detect if self.detector == "lmmse" else zf_detect
        x_hat, no_eff = detect(y, h / nt**0.5, no_u)
        x_hat = x_hat.reshape(b, uses * nt)[:, :n]
        no_eff = no_eff.reshape(b, uses * nt)[:, :n]
        return ChannelOutput(
            y=x_hat, no_eff=no_eff, h=None, channel_uses=self.channel_uses(num_symbols)
        )

    def sample_gains(
        self, batch: int, num_symbols: int, generator: torch.Generator | None, device="cpu"
    ) -> Tensor:
        """``H`` per channel use: complex ``[B, ceil(n/Nt), Nr, Nt]``, one draw per block of
        ``coherence_uses`` uses."""
        uses = -(-num_symbols // self.nt)
        blocks = -(-uses // self.coherence_uses)
        h = complex_gaussian((batch, blocks, self.nr, self.nt), generator, device)
        return h[:, torch.arange(uses, device=device) // self.coherence_uses]

    def capacity_bits(
        self,
        num_symbols: Tensor,
        snr_db: Tensor,
        generator: torch.Generator | None = None,
        device: str | torch.device = "cpu",
    ) -> Tensor:
        """``ceil(S / Nt)`` uses, each ``log2 det(I + snr/Nt H H^H)`` (equal power per transmit
        antenna, CSI at the receiver only), ``H`` as drawn by :meth:`sample_gains`."""
        device, num_symbols, snr, smax = self._capacity_setup(num_symbols, snr_db, device)
        uses = self.channel_uses(num_symbols)
        u = int(uses.max()) if uses.numel() else 0
        if u == 0:
            return torch.zeros(num_symbols.numel(), dtype=torch.float64, device=device)
        h = self.sample_gains(num_symbols.numel(), smax, generator, device).to(torch.complex128)
        eye = torch.eye(self.nr, dtype=torch.complex128, device=device)
        a = eye + (snr / self.nt)[:, None, None, None] * (h @ h.mH)
        per = torch.linalg.slogdet(a).logabsdet / math.log(2.0)
        return self._sum_first(per, uses)

    def config(self) -> dict:
        return {
            "name": self.name,
            "nt": self.nt,
            "nr": self.nr,
            "detector": self.detector,
            "coherence_uses": self.coherence_uses,
        }

    @property
    def key(self) -> str:
        key = f"mimo{self.nt}x{self.nr}-{self.detector}"
        return key if self.coherence_uses == 1 else f"{key}-coh{self.coherence_uses}"
