"""OFDM over 3GPP TR 38.901 TDL/CDL channels with pilot-estimated CSI, from Sionna's blocks.

A scheme's complex symbols ``[B, n]`` are placed, in order, on the data resource elements (REs)
of as many slots of a Sionna :class:`~sionna.phy.ofdm.ResourceGrid` as needed (``S =
ceil(n / D)`` slots of ``D`` data REs each; the last slot is zero-padded). Each example sees one
channel process over its ``S`` consecutive slots (TDL with the UE moving at ``speed``, sampled
once per OFDM symbol, cyclic prefix included in the symbol duration), applied in the frequency
domain (``y = h x + n`` per RE: the cyclic prefix is assumed longer than the channel, no ISI/ICI).
The receiver estimates the channel per slot from the pilots (``csi="ls"``: Sionna's
:class:`LSChannelEstimator` with interpolation; ``"lmmse"``: :class:`LMMSEChannelEstimator`
with the profile's frequency/time covariances; ``"perfect"``: the true gains) and equalises with
Sionna's :class:`LMMSEEqualizer`, which returns the post-equalisation noise variance per RE
(``no_eff``, estimation error included).

SNR convention (:func:`ofdm_snr_db_to_no`): ``snr_db`` is Es/N0 **per resource element per
receive antenna**: data and pilot REs carry unit mean energy, the channel has unit mean power
gain per RE (``E|h|^2 = 1``) and the noise per RE is ``no = 10**(-snr_db/10)``, as for every
other channel of semcom-sim. Pilots at data power are the energy overhead of estimation; they
are counted, with the cyclic prefix and the guard/DC carriers, as bandwidth (below), not as
energy.

Channel-use accounting (:meth:`OFDMChannel.channel_uses`): a slot occupies ``T (N_fft + N_cp)``
complex dimensions (the time-domain samples at rate ``N_fft * subcarrier_spacing``, guards and
DC included) and carries ``D`` data REs, so ``overhead = T (N_fft + N_cp) / D`` channel uses per
data symbol; ``n`` symbols are charged ``ceil(n * overhead)`` channel uses (the unused rest of a
last slot is assumed to carry other traffic). ``num_symbols`` stays ``n``.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np
import torch
from torch import Tensor

from semcom_sim.channel.base import Channel, ChannelOutput, complex_gaussian, complex_noise
from semcom_sim.errors import SemcomError

TDL_MODELS = ("A", "B", "C", "D", "E")
CDL_MODELS = ("A", "B", "C", "D", "E")
PROFILES = (
    tuple(f"tdl-{m.lower()}" for m in TDL_MODELS)
    + tuple(f"cdl-{m.lower()}" for m in CDL_MODELS)
    + ("rayleigh", "awgn")
)
#: Monte-Carlo draws (private seed) for the CDL covariances used by LMMSE and the LS error model
CDL_COV_DRAWS = 2000
CSI_MODES = ("perfect", "ls", "lmmse")
INTERPOLATIONS = ("lin", "nn", "lin_time_avg")
LS_ERRORS = ("model", "sionna")
SPEED_OF_LIGHT = 299_792_458.0


def ofdm_snr_db_to_no(snr_db: Tensor | float) -> Tensor:
    """Noise variance per RE per receive antenna for Es/N0 ``snr_db`` per RE (unit-energy REs)."""
    return torch.pow(10.0, -torch.as_tensor(snr_db, dtype=torch.float32) / 10.0)


def ls_mse_theory(no: Tensor | float, pilot_energy: float = 1.0) -> Tensor:
    """Mean squared error of the LS estimate at a pilot RE: ``no / |p|^2`` (unbiased, SISO)."""
    return torch.as_tensor(no, dtype=torch.float64) / pilot_energy


def overhead_factor(
    fft_size: int, cyclic_prefix_length: int, num_ofdm_symbols: int, num_data_symbols: int
) -> float:
    """Channel uses per data symbol: ``T (N_fft + N_cp) / D`` (pilots, CP, guards, DC)."""
    return num_ofdm_symbols * (fft_size + cyclic_prefix_length) / num_data_symbols


def _seeded(cls):
    """Sionna channel model ``cls`` whose random draws come from a torch.Generator set per call."""

    class Seeded(cls):
        _generator: torch.Generator | None = None

        @property
        def torch_rng(self) -> torch.Generator:  # type: ignore[override]
            if self._generator is not None:
                return self._generator
            return super().torch_rng

    Seeded.__name__ = f"Seeded{cls.__name__}"
    return Seeded


class OFDMChannel(Channel):
    """SISO/SIMO OFDM over a 3GPP TDL or CDL (or flat) channel with perfect, LS or LMMSE CSI.

    Args:
        profile: ``tdl-a`` ... ``tdl-e`` (TR 38.901 TDL; D and E are LoS), ``cdl-a`` ...
            ``cdl-e`` (TR 38.901 CDL, downlink, one omni single-polarised antenna at each end,
            UE moving at ``speed`` in a random direction; one receive antenna), ``rayleigh``
            (flat: one CN(0, 1) gain per slot, all REs) or ``awgn`` (``h = 1``).
        delay_spread: RMS delay spread [s] of the TDL profile.
        speed: UE speed [m/s] (Doppler ``speed / c * carrier_frequency``).
        carrier_frequency: [Hz].
        csi: ``perfect`` | ``ls`` | ``lmmse``.
        interpolation: LS interpolation, Sionna's ``lin`` | ``nn`` | ``lin_time_avg``.
        ls_error: error variance that LS hands the equaliser. ``model`` (default): the exact
            MSE of Sionna's LS + interpolator, a linear estimator, under the profile's
            frequency/time covariances (:meth:`ls_error_model`: noise *and* interpolation
            error); ``sionna``: Sionna's own (the pilot noise ``no`` interpolated; it ignores
            the interpolation error, so ``no_eff`` is too small at high SNR and mobility).
        num_rx_ant: receive antennas (SIMO, i.i.d. TDL per antenna, noise ``no`` per antenna;
            the LMMSE equaliser combines them). One transmit antenna.
        fft_size, subcarrier_spacing [Hz], num_ofdm_symbols (per slot), cyclic_prefix_length
            (samples), num_guard_carriers (left, right), dc_null, pilot_ofdm_symbol_indices
            (Kronecker pilot pattern on those OFDM symbols, all effective subcarriers): the
            :class:`~sionna.phy.ofdm.ResourceGrid`.
    """

    name = "ofdm"

    def __init__(
        self,
        profile: str = "tdl-a",
        delay_spread: float = 300e-9,
        speed: float = 0.0,
        carrier_frequency: float = 3.5e9,
        csi: str = "ls",
        interpolation: str = "lin",
        fft_size: int = 128,
        subcarrier_spacing: float = 30e3,
        num_ofdm_symbols: int = 14,
        cyclic_prefix_length: int = 9,
        num_guard_carriers: tuple[int, int] = (6, 5),
        dc_null: bool = True,
        pilot_ofdm_symbol_indices: tuple[int, ...] = (2, 11),
        ls_error: str = "model",
        num_rx_ant: int = 1,
    ) -> None:
        profile = profile.lower()
        if profile not in PROFILES:
            raise SemcomError(f"unknown OFDM profile {profile!r}; known: {', '.join(PROFILES)}")
        if csi not in CSI_MODES:
            raise SemcomError(f"unknown CSI mode {csi!r}; known: {', '.join(CSI_MODES)}")
        if interpolation not in INTERPOLATIONS:
            raise SemcomError(
                f"unknown interpolation {interpolation!r}; known: {', '.join(INTERPOLATIONS)}"
            )
        if ls_error not in LS_ERRORS:
            raise SemcomError(f"unknown ls_error {ls_error!r}; known: {', '.join(LS_ERRORS)}")
        if not delay_spread > 0 or speed < 0 or not carrier_frequency > 0:
            raise SemcomError(
                f"need delay_spread > 0, speed >= 0, carrier_frequency > 0 (got {delay_spread}, "
                f"{speed}, {carrier_frequency})"
            )
        if fft_size < 8 or num_ofdm_symbols < 1 or cyclic_prefix_length < 0:
            raise SemcomError("need fft_size >= 8, num_ofdm_symbols >= 1, cyclic_prefix >= 0")
        pil = tuple(int(i) for i in pilot_ofdm_symbol_indices)
        if not pil or any(not 0 <= i < num_ofdm_symbols for i in pil) or len(set(pil)) != len(pil):
            raise SemcomError(
                f"pilot OFDM symbol indices {list(pil)} must be distinct, in "
                f"0..{num_ofdm_symbols - 1}"
            )
        if len(pil) == num_ofdm_symbols:
            raise SemcomError("every OFDM symbol is a pilot symbol: no room for data")
        g = tuple(int(v) for v in num_guard_carriers)
        if len(g) != 2 or min(g) < 0 or sum(g) + int(dc_null) >= fft_size - 1:
            raise SemcomError(f"guard carriers {list(g)} leave no subcarriers of {fft_size}")
        self.profile = profile
        self.delay_spread = float(delay_spread)
        self.speed = float(speed)
        self.carrier_frequency = float(carrier_frequency)
        self.csi = csi
        self.interpolation = interpolation
        self.fft_size = int(fft_size)
        self.subcarrier_spacing = float(subcarrier_spacing)
        self.num_ofdm_symbols = int(num_ofdm_symbols)
        self.cyclic_prefix_length = int(cyclic_prefix_length)
        self.num_guard_carriers = g
        self.dc_null = bool(dc_null)
        self.pilot_ofdm_symbol_indices = pil
        self.ls_error = ls_error
        if int(num_rx_ant) < 1:
            raise SemcomError(f"num_rx_ant must be >= 1 (got {num_rx_ant})")
        self.num_rx_ant = int(num_rx_ant)
        if profile.startswith("cdl-") and self.num_rx_ant != 1:
            raise SemcomError("CDL profiles take one receive antenna (SISO) for now")
        self._blocks_cache: dict[str, dict] = {}

    # ------------------------------------------------------------------ grid and accounting

    @cached_property
    def num_effective_subcarriers(self) -> int:
        """Subcarriers that carry data or pilots (guards and DC removed)."""
        return self.fft_size - sum(self.num_guard_carriers) - int(self.dc_null)

    @cached_property
    def data_symbols_per_slot(self) -> int:
        """``D``: data REs per slot (Kronecker pilots fill whole OFDM symbols, SISO)."""
        return (self.num_ofdm_symbols - len(self.pilot_ofdm_symbol_indices)) * (
            self.num_effective_subcarriers
        )

    @cached_property
    def slot_channel_uses(self) -> int:
        """Complex dimensions one slot occupies: ``T (N_fft + N_cp)``."""
        return self.num_ofdm_symbols * (self.fft_size + self.cyclic_prefix_length)

    @property
    def overhead(self) -> float:
        """Channel uses per data symbol (>= 1): pilots, cyclic prefix, guard and DC carriers."""
        return overhead_factor(
            self.fft_size,
            self.cyclic_prefix_length,
            self.num_ofdm_symbols,
            self.data_symbols_per_slot,
        )

    @property
    def ofdm_symbol_duration(self) -> float:
        """[s], cyclic prefix included."""
        return (1.0 + self.cyclic_prefix_length / self.fft_size) / self.subcarrier_spacing

    def num_slots(self, n: int) -> int:
        """Slots needed for ``n`` data symbols."""
        return -(-int(n) // self.data_symbols_per_slot)

    def channel_uses(self, num_symbols: Tensor) -> Tensor:
        """``ceil(n * T (N_fft + N_cp) / D)`` per example (int64 ``[B]``), exact integer math."""
        n = num_symbols.to(torch.int64)
        return torch.div(
            n * self.slot_channel_uses + self.data_symbols_per_slot - 1,
            self.data_symbols_per_slot,
            rounding_mode="floor",
        )

    # ------------------------------------------------------------------ Sionna blocks (lazy)

    def _blocks(self, device: torch.device) -> dict:
        key = str(device)
        if key in self._blocks_cache:
            return self._blocks_cache[key]
        from sionna.phy.channel import subcarrier_frequencies
        from sionna.phy.mimo import StreamManagement
        from sionna.phy.ofdm import (
            LMMSEChannelEstimator,
            LMMSEEqualizer,
            LSChannelEstimator,
            RemoveNulledSubcarriers,
            ResourceGrid,
            ResourceGridMapper,
            tdl_time_cov_mat,
        )

        dev = key
        rg = ResourceGrid(
            num_ofdm_symbols=self.num_ofdm_symbols,
            fft_size=self.fft_size,
            subcarrier_spacing=self.subcarrier_spacing,
            num_tx=1,
            num_streams_per_tx=1,
            cyclic_prefix_length=self.cyclic_prefix_length,
            num_guard_carriers=self.num_guard_carriers,
            dc_null=self.dc_null,
            pilot_pattern="kronecker",
            pilot_ofdm_symbol_indices=list(self.pilot_ofdm_symbol_indices),
            device=dev,
        )
        if rg.num_data_symbols != self.data_symbols_per_slot:
            raise AssertionError(f"data REs {rg.num_data_symbols} != {self.data_symbols_per_slot}")
        sm = StreamManagement(np.ones([1, 1], dtype=int), 1)
        b: dict = {
            "rg": rg,
            "mapper": ResourceGridMapper(rg, device=dev),
            "remove_nulled": RemoveNulledSubcarriers(rg, device=dev),
            "equalizer": LMMSEEqualizer(rg, sm, device=dev),
            "frequencies": subcarrier_frequencies(
                self.fft_size, self.subcarrier_spacing, device=dev
            ),
            "effective": torch.as_tensor(np.asarray(rg.effective_subcarrier_ind), device=device),
        }
        if self.profile.startswith("cdl-"):
            from sionna.phy.channel.tr38901 import CDL, Antenna

            ant = Antenna("single", "V", "omni", self.carrier_frequency, device=dev)
            b["tdl"] = _seeded(CDL)(
                self.profile[-1].upper(),
                self.delay_spread,
                self.carrier_frequency,
                ut_array=ant,
                bs_array=ant,
                direction="downlink",
                min_speed=self.speed,
                max_speed=self.speed,
                device=dev,
            )
            # its ray phases come from a sub-object: seed that one from the same generator
            cir_gen = b["tdl"]._cir_gen
            cir_gen.__class__ = _seeded(type(cir_gen))
            b["sub_rngs"] = [cir_gen]
        if self.profile.startswith("tdl-"):
            from sionna.phy.channel.tr38901 import TDL

            model = self.profile[-1].upper()
            b["tdl"] = _seeded(TDL)(
                model,
                delay_spread=self.delay_spread,
                carrier_frequency=self.carrier_frequency,
                min_speed=self.speed,
                num_rx_ant=self.num_rx_ant,
                max_speed=self.speed,
                device=dev,
            )
        self._blocks_cache[key] = b  # sample_grid may now be called (CDL covariances)
        if self.csi != "perfect" and self.profile.startswith("cdl-"):
            try:
                cov_t, cov_f = self._empirical_cov(b, device)
            except BaseException:
                del self._blocks_cache[key]
                raise
            b["cov_f"], b["cov_t"] = cov_f, cov_t
        elif self.csi != "perfect":
            cov_f = self._freq_cov(b, device)
            if self.profile.startswith("tdl-"):
                cov_t = tdl_time_cov_mat(
                    self.profile[-1].upper(),
                    self.speed,
                    self.carrier_frequency,
                    self.ofdm_symbol_duration,
                    self.num_ofdm_symbols,
                    device=dev,
                )
            else:  # flat per slot: constant in time
                cov_t = torch.ones(
                    self.num_ofdm_symbols,
                    self.num_ofdm_symbols,
                    dtype=torch.complex64,
                    device=device,
                )
            b["cov_f"], b["cov_t"] = cov_f, cov_t
        if self.csi == "ls":
            b["estimator"] = LSChannelEstimator(
                rg, interpolation_type=self.interpolation, device=dev
            )
            if self.ls_error == "model":
                b["ls_error"] = self._ls_error_terms(b)
        elif self.csi == "lmmse":
            b["estimator"] = LMMSEChannelEstimator(rg, cov_t, cov_f, order="f-t", device=dev)
        self._blocks_cache[key] = b
        return b

    def _empirical_cov(self, b: dict, device: torch.device) -> tuple[Tensor, Tensor]:
        """CDL time ``[T, T]`` and frequency ``[K, K]`` covariances over the effective
        subcarriers, estimated from :data:`CDL_COV_DRAWS` one-slot draws of a private generator
        (seed 0), each normalised to a unit diagonal (their Kronecker product is the model)."""
        g = torch.Generator(device=device).manual_seed(0)
        h = self.sample_grid(CDL_COV_DRAWS, 1, g, device)[:, 0, 0]  # [N, T, F]
        eff = h[..., b["effective"]].to(torch.complex128)  # [N, T, K]
        rf = torch.einsum("ntk,ntl->kl", eff, eff.conj()) / (eff.shape[0] * eff.shape[1])
        rt = torch.einsum("ntk,nsk->ts", eff, eff.conj()) / (eff.shape[0] * eff.shape[2])
        rf = rf / rf.diagonal().real.mean()
        rt = rt / rt.diagonal().real.mean()
        return rt.to(torch.complex64), rf.to(torch.complex64)

    def _freq_cov(self, b: dict, device: torch.device) -> Tensor:
        """Frequency covariance over the effective subcarriers (actual indices, DC gap kept):
        ``R[u, v] = sum_l P_l exp(-j 2 pi tau_l f_sc (k_u - k_v))``, complex ``[K, K]``."""
        k = b["effective"].to(torch.float64)
        if "tdl" in b:
            tdl = b["tdl"]
            p = tdl.mean_powers.to(torch.float64).cpu()
            tau = tdl.delays.to(torch.float64).cpu()
            p = p / p.sum()
            dk = (k[:, None] - k[None, :]).cpu()
            phase = -2 * math.pi * self.subcarrier_spacing * dk[..., None] * tau
            r = (p * torch.exp(1j * phase)).sum(-1)
        else:
            r = torch.ones(len(k), len(k), dtype=torch.complex128)
        return r.to(torch.complex64).to(device)

    def _ls_error_terms(self, b: dict) -> tuple[Tensor, Tensor]:
        """``(a, c)`` float ``[T, K]`` with LS error variance ``a + c * no`` per RE.

        Sionna's LS estimate at the pilots is ``h_p + n_p / x_p``; its interpolator is linear,
        ``h_hat = W h_ls`` (``W`` ``[T K, P]``, read off by interpolating unit impulses). With
        ``R = R_t (x) R_f`` the channel covariance over the slot's REs (profile statistics, as
        LMMSE uses): ``a_r = R_rr - 2 Re sum_p W_rp conj(R_rp) + (W R_PP W^H)_rr`` (the
        interpolation error) and ``c_r = sum_p |W_rp|^2 / |x_p|^2`` (the pilot noise).
        """
        est = b["estimator"]
        rg = b["rg"]
        t, k = self.num_ofdm_symbols, self.num_effective_subcarriers
        pind = est._pilot_ind[0, 0].to(torch.int64).cpu()  # [P] into the flattened [T*K] grid
        pil = rg.pilot_pattern.pilots[0, 0].to(torch.complex128).cpu()  # [P] pilot symbols
        npil = pind.numel()
        dev = est.device
        eye = torch.eye(npil, dtype=torch.complex64, device=dev).reshape(npil, 1, 1, 1, 1, npil)
        out, _ = est._interpol(eye, torch.zeros(eye.shape, dtype=torch.float32, device=dev))
        w = out.reshape(npil, t * k).T.to(torch.complex128).cpu()  # [T*K, P]
        rt = b["cov_t"].to(torch.complex128).cpu()
        rf = b["cov_f"].to(torch.complex128).cpu()
        tt, kk = torch.arange(t * k) // k, torch.arange(t * k) % k
        r_rp = rt[tt][:, tt[pind]] * rf[kk][:, kk[pind]]  # [T*K, P]
        r_pp = r_rp[pind]  # [P, P]
        r_rr = (rt[tt, tt] * rf[kk, kk]).real
        a = r_rr - 2 * (w * r_rp.conj()).sum(-1).real + ((w @ r_pp) * w.conj()).sum(-1).real
        c = (w.abs().pow(2) / pil.abs().pow(2)).sum(-1)
        dev_t = b["effective"].device
        return (
            a.clamp_min(0).reshape(t, k).to(torch.float32).to(dev_t),
            c.reshape(t, k).to(torch.float32).to(dev_t),
        )

    # ------------------------------------------------------------------ channel realisation

    def sample_grid(self, batch: int, n: int, generator: torch.Generator | None, device) -> Tensor:
        """Draw the channel: complex ``[B, S, Nr, T, N_fft]`` frequency response per RE (all
        subcarriers, each receive antenna) over the ``S = ceil(n / D)`` slots; ``E|h|^2 = 1``.

        The TDL's random parameters (Doppler, angles, phases) are drawn per example from
        ``generator`` and do not depend on ``n``: more slots see more of the same process.
        """
        device = torch.device(device)
        s, t, f = max(self.num_slots(n), 1), self.num_ofdm_symbols, self.fft_size
        nr = self.num_rx_ant
        if self.profile == "awgn":
            return torch.ones(batch, s, nr, t, f, dtype=torch.complex64, device=device)
        if self.profile == "rayleigh":
            h = complex_gaussian((batch, s, nr), generator, device)
            return h[..., None, None].expand(batch, s, nr, t, f).contiguous()
        from sionna.phy.channel import cir_to_ofdm_channel

        b = self._blocks(device)
        tdl = b["tdl"]
        seeded = [tdl, *b.get("sub_rngs", [])]
        for m in seeded:
            m._generator = generator
        try:
            a, tau = tdl(batch, s * t, 1.0 / self.ofdm_symbol_duration)
        finally:
            for m in seeded:
                m._generator = None
        h = cir_to_ofdm_channel(b["frequencies"], a, tau)  # [B, 1, Nr, 1, 1, S*T, F]
        return h.reshape(batch, nr, s, t, f).transpose(1, 2).contiguous()

    def data_gains(self, h_grid: Tensor, n: int) -> Tensor:
        """Gains of the data REs in transmission order from ``[B, S, Nr, T, F]``: complex
        ``[B, n]`` (one receive antenna) or ``[B, n, Nr]``."""
        b, s, nr, t, f = h_grid.shape
        blocks = self._blocks(h_grid.device)
        eff = blocks["remove_nulled"](h_grid.reshape(b * s, 1, nr, 1, 1, t, f))
        mask = self._data_mask(h_grid.device)  # [T, K] bool
        g = eff.reshape(b, s, nr, t, -1)[..., mask]  # [B, S, Nr, D] (row-major: symbol, sc)
        g = g.transpose(2, 3).reshape(b, s * mask.sum(), nr)[:, :n]
        return g[..., 0] if nr == 1 else g

    def _data_mask(self, device) -> Tensor:
        t = self.num_ofdm_symbols
        m = torch.ones(t, self.num_effective_subcarriers, dtype=torch.bool, device=device)
        m[list(self.pilot_ofdm_symbol_indices)] = False
        return m

    def sample_gains(
        self, batch: int, num_symbols: int, generator: torch.Generator | None, device="cpu"
    ) -> Tensor:
        """Gains seen by each data symbol: complex ``[B, num_symbols]`` (``[B, num_symbols,
        Nr]`` with several receive antennas); forward's draw."""
        return self.data_gains(self.sample_grid(batch, num_symbols, generator, device), num_symbols)

    # ------------------------------------------------------------------ forward

    def forward(
        self, x: Tensor, no: Tensor, generator: torch.Generator | None, num_symbols: Tensor
    ) -> ChannelOutput:
        r = self.simulate(x, no, generator)
        return ChannelOutput(
            y=r["x_hat"], no_eff=r["no_eff"], h=None, channel_uses=self.channel_uses(num_symbols)
        )

    def simulate(self, x: Tensor, no: Tensor, generator: torch.Generator | None) -> dict:
        """One transmission with every intermediate (tests, diagnostics).

        Args:
            x: complex ``[B, n]`` unit-energy symbols. no: float ``[B]`` noise variance per RE.
        Returns a dict: ``h`` complex ``[B, S, Nr, T, N_fft]`` true response
        (:meth:`sample_grid`), ``grid`` complex ``[B*S, 1, 1, T, N_fft]`` transmitted grid (pilots
        included), ``y`` ``[B*S, 1, Nr, T, N_fft]`` received grid, ``h_hat`` / ``err_var``
        ``[B*S, 1, Nr, 1, 1, T, K]`` the
        receiver's estimate and its error variance (zero with perfect CSI), ``x_hat`` complex
        ``[B, n]`` and ``no_eff`` float ``[B, n]`` equalised data symbols and their noise.
        """
        bsz, n = x.shape
        device = x.device
        blocks = self._blocks(device)
        h = self.sample_grid(bsz, n, generator, device)  # [B, S, Nr, T, F] drawn first
        s, nr, t, f = h.shape[1:]
        d = self.data_symbols_per_slot
        xs = torch.nn.functional.pad(x.to(torch.complex64), (0, s * d - n))
        grid = blocks["mapper"](xs.reshape(bsz * s, 1, 1, d))  # [B*S, 1, 1, T, F]
        h5 = h.reshape(bsz * s, 1, nr, t, f)
        no_s = no.to(device=device, dtype=torch.float32).repeat_interleave(s)  # [B*S]
        noise = complex_noise(h5.shape, no_s[:, None, None, None, None], generator, device)
        y = h5 * grid + noise  # [B*S, 1, Nr, T, F]
        if self.csi == "perfect":
            h_hat = blocks["remove_nulled"](h5.reshape(bsz * s, 1, nr, 1, 1, t, f))
            err_var = torch.zeros_like(h_hat.real)
        else:
            h_hat, err_var = blocks["estimator"](y, no_s[:, None, None])
            if "ls_error" in blocks:  # exact MSE of this linear estimator (see ls_error)
                a, c = blocks["ls_error"]
                err_var = (a + c * no_s[:, None, None]).reshape(bsz * s, 1, 1, 1, 1, t, -1)
        x_hat, no_eff = blocks["equalizer"](y, h_hat, err_var, no_s[:, None, None])
        return {
            "h": h,
            "grid": grid,
            "y": y,
            "h_hat": h_hat,
            "err_var": err_var,
            "x_hat": x_hat.reshape(bsz, s * d)[:, :n],
            "no_eff": no_eff.reshape(bsz, s * d)[:, :n].to(torch.float32),
        }

    # ------------------------------------------------------------------ capacity

    def capacity_bits(
        self,
        num_symbols: Tensor,
        snr_db: Tensor,
        generator: torch.Generator | None = None,
        device: str | torch.device = "cpu",
    ) -> Tensor:
        """Bits an ideal code delivers: float64 ``[P]``, ``sum_i log2(1 + snr ||h_i||^2)`` over the
        data REs of each example (the same draw as :meth:`forward`), perfect CSI at the receiver,
        none at the transmitter. With estimated CSI this stays the perfect-CSI bound (the pilots'
        bandwidth is charged in ``channel_uses``; the estimation loss is not subtracted)."""
        device, num_symbols, snr, smax = self._capacity_setup(num_symbols, snr_db, device)
        p = num_symbols.numel()
        if smax == 0:
            return torch.zeros(p, dtype=torch.float64, device=device)
        g = self.sample_gains(p, smax, generator, device).abs().pow(2).double()
        if self.num_rx_ant > 1:  # SIMO, one stream: log2(1 + snr * sum_r |h_r|^2)
            g = g.sum(-1)
        per = torch.log2(1.0 + snr[:, None] * g)
        return self._sum_first(per, num_symbols)

    # ------------------------------------------------------------------ description

    def config(self) -> dict:
        return {
            "name": self.name,
            "profile": self.profile,
            "delay_spread": self.delay_spread,
            "speed": self.speed,
            "carrier_frequency": self.carrier_frequency,
            "csi": self.csi,
            "interpolation": self.interpolation,
            "ls_error": self.ls_error,
            "num_rx_ant": self.num_rx_ant,
            "fft_size": self.fft_size,
            "subcarrier_spacing": self.subcarrier_spacing,
            "num_ofdm_symbols": self.num_ofdm_symbols,
            "cyclic_prefix_length": self.cyclic_prefix_length,
            "num_guard_carriers": list(self.num_guard_carriers),
            "dc_null": self.dc_null,
            "pilot_pattern": "kronecker",
            "pilot_ofdm_symbol_indices": list(self.pilot_ofdm_symbol_indices),
            "data_symbols_per_slot": self.data_symbols_per_slot,
            "overhead": self.overhead,
            "snr_convention": "Es/N0 per resource element per receive antenna, pilots at data "
            "power",
        }

    @property
    def key(self) -> str:
        """e.g. ``ofdm-tdl-a-ds300ns-v30-ls``; non-default grid parameters appended."""
        parts = [f"ofdm-{self.profile}"]
        if self.profile[:4] in ("tdl-", "cdl-"):
            parts.append(f"ds{self.delay_spread * 1e9:g}ns")
            parts.append(f"v{self.speed:g}")
        if self.csi == "ls":
            ls = f"ls-{self.interpolation}"
            parts.append(ls if self.ls_error == "model" else ls + "-sionnaerr")
        else:
            parts.append(self.csi)
        default = OFDMChannel.__new__(OFDMChannel)
        OFDMChannel.__init__(default)
        grid = (
            "fft_size",
            "subcarrier_spacing",
            "num_ofdm_symbols",
            "cyclic_prefix_length",
            "num_guard_carriers",
            "dc_null",
            "pilot_ofdm_symbol_indices",
            "carrier_frequency",
        )
        diff = [f"{k}={getattr(self, k)}" for k in grid if getattr(self, k) != getattr(default, k)]
        if self.num_rx_ant > 1:
            parts.append(f"1x{self.num_rx_ant}")
        key = "-".join(parts)
        if diff:
            key += "-" + ",".join(diff).replace(" ", "")
        return key


# ---------------------------------------------------------------------- CLI helpers

#: ``semcom-sim sweep`` options that only the OFDM channel takes (argparse dest names).
OFDM_ARGS = (
    "tdl",
    "cdl",
    "ofdm_profile",
    "delay_spread",
    "speed",
    "csi",
    "interpolation",
    "carrier_frequency",
    "fft_size",
    "subcarrier_spacing",
    "cp_length",
    "rx_antennas",
)


def reject_ofdm_args(args, channel_name: str) -> None:
    """Raise :class:`SemcomError` if OFDM-only options were given for another channel."""
    given = [a for a in OFDM_ARGS if getattr(args, a, None) is not None]
    if given:
        flags = ", ".join("--" + a.replace("_", "-") for a in given)
        raise SemcomError(f"{flags}: only for --channel ofdm, not {channel_name}")


def ofdm_from_args(args) -> OFDMChannel:
    """Build an :class:`OFDMChannel` from ``semcom-sim sweep`` options (``None`` = default).

    Rejects options of other channels (``--coherence``) and inconsistent ones; every error is a
    one-line :class:`SemcomError` listing the choices.
    """
    if getattr(args, "coherence", None) is not None:
        raise SemcomError("--coherence applies to --channel rayleigh only, not ofdm")
    profile = None
    if args.tdl is not None:
        tdl = str(args.tdl).upper()
        if tdl not in TDL_MODELS:
            raise SemcomError(f"unknown --tdl {args.tdl!r}; known: {', '.join(TDL_MODELS)}")
        profile = f"tdl-{tdl.lower()}"
    if getattr(args, "cdl", None) is not None:
        cdl = str(args.cdl).upper()
        if profile is not None:
            raise SemcomError("give one of --tdl, --cdl, --ofdm-profile")
        if cdl not in CDL_MODELS:
            raise SemcomError(f"unknown --cdl {args.cdl!r}; known: {', '.join(CDL_MODELS)}")
        profile = f"cdl-{cdl.lower()}"
    if args.ofdm_profile is not None:
        if profile is not None:
            raise SemcomError("give one of --tdl, --cdl, --ofdm-profile")
        profile = str(args.ofdm_profile).lower()
    if profile in ("rayleigh", "awgn"):
        for a in ("delay_spread", "speed"):
            if getattr(args, a) is not None:
                raise SemcomError(
                    f"--{a.replace('_', '-')} applies to TDL profiles only, not {profile}"
                )
    if args.interpolation is not None and args.csi not in (None, "ls"):
        raise SemcomError(f"--interpolation applies to --csi ls only, not {args.csi}")
    kwargs = {
        "profile": profile,
        "delay_spread": args.delay_spread,
        "speed": args.speed,
        "csi": args.csi,
        "interpolation": args.interpolation,
        "carrier_frequency": args.carrier_frequency,
        "fft_size": args.fft_size,
        "subcarrier_spacing": args.subcarrier_spacing,
        "cyclic_prefix_length": args.cp_length,
        "num_rx_ant": getattr(args, "rx_antennas", None),
    }
    return OFDMChannel(**{k: v for k, v in kwargs.items() if v is not None})
