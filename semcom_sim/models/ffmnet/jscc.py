"""Deep JSCC of FFMNet's intermediate feature D1 (Sec. II-C) and the split model.

Symbol counting: the encoder outputs ``c x h x w`` real values per example; consecutive pairs are
packed into complex channel symbols with :func:`real_to_complex` (two reals = one channel use;
an odd count is zero-padded), and each example is normalised to unit average energy per complex
symbol before the channel, matching the toolkit's SNR convention (Es/N0 per complex symbol). The
compression ratio follows Table III: real values of D1 over real values sent, so ``(H/4, W/4,
C/32)`` is ``16 * 32 = 512`` and uses ``C H W / 1024`` complex symbols.

D1 normalisation (our choice; the paper is silent): D1 is a ReLU output whose channels differ in
scale by orders of magnitude, so the encoder sees per-channel standardised D1, ``(D1 - mean_c) /
std_c``, and the decoder's output is mapped back, ``D1_hat = ReLU(std_c * out + mean_c)`` (the
paper's final ReLU). ``mean_c`` and ``std_c`` are buffers measured on training D1 before step 2
(:meth:`FeatureJSCC.set_d1_stats`) and saved in the checkpoint's weights; untrained they are 0
and 1 (no normalisation).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semcom_sim.channel import Channel, complex_to_real, normalize_power, real_to_complex
from semcom_sim.errors import SemcomError
from semcom_sim.models.ffmnet.config import FFMNetConfig, JSCCConfig
from semcom_sim.models.ffmnet.gdn import GDN
from semcom_sim.models.ffmnet.model import FFMNet


class JSCCEncoder(nn.Module):
    """Mobile side: average pooling (stride s), 3x3 conv ``C -> C/k``, GDN.

    ``D1 [B, C, H, W] -> z [B, C/k, ceil(H/s), ceil(W/s)]`` (real, before power normalisation).
    """

    def __init__(self, cfg: JSCCConfig, device=None) -> None:
        super().__init__()
        self.stride = cfg.spatial_stride
        self.conv = nn.Conv2d(cfg.in_channels, cfg.latent_channels, 3, padding=1, device=device)
        self.gdn = GDN(cfg.latent_channels, device=device)

    def forward(self, d1: Tensor) -> Tensor:
        s = self.stride
        x = F.avg_pool2d(d1, s, s, ceil_mode=True) if s > 1 else d1
        return self.gdn(self.conv(x))


class JSCCDecoder(nn.Module):
    """Edge side: 3x3 conv ``C/k -> mid``, bilinear upsampling to the D1 grid, 3x3 conv
    ``mid -> C``; IGDN after the first conv (``"mid"``) or after the last one (``"end"``). The
    final ReLU comes after de-normalisation, in :meth:`FeatureJSCC.decode`.

    ``z_hat [B, C/k, h, w] -> standardised D1_hat [B, C, H, W]`` (before the ReLU).
    """

    def __init__(self, cfg: JSCCConfig, device=None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cfg.latent_channels, cfg.mid_channels, 3, padding=1, device=device)
        self.conv2 = nn.Conv2d(cfg.mid_channels, cfg.in_channels, 3, padding=1, device=device)
        self.position = cfg.igdn_position
        width = cfg.mid_channels if self.position == "mid" else cfg.in_channels
        self.igdn = GDN(width, inverse=True, device=device)

    def forward(self, z: Tensor, size: tuple[int, int]) -> Tensor:
        x = self.conv1(z)
        if self.position == "mid":
            x = self.igdn(x)
        x = self.conv2(F.interpolate(x, size=size, mode="bilinear", align_corners=False))
        if self.position == "end":
            x = self.igdn(x)
        return x


class FeatureJSCC(nn.Module):
    """The asymmetric autoencoder around the channel: D1 -> symbols -> channel -> D1_hat."""

    def __init__(self, config: JSCCConfig, device=None) -> None:
        super().__init__()
        self.config = config
        self.encoder = JSCCEncoder(config, device=device)
        self.decoder = JSCCDecoder(config, device=device)
        c = config.in_channels
        self.register_buffer("d1_mean", torch.zeros(c, device=device))
        self.register_buffer("d1_std", torch.ones(c, device=device))

    @torch.no_grad()
    def set_d1_stats(self, d1: Tensor) -> None:
        """Per-channel mean and std of training D1 ``[N, C, H, W]`` (std floored at 1 % of the
        channels' mean std, so dead channels do not blow up)."""
        mean = d1.mean(dim=(0, 2, 3))
        std = d1.std(dim=(0, 2, 3))
        std = std.clamp_min(max(1e-2 * float(std.mean()), 1e-6))
        self.d1_mean.copy_(mean)
        self.d1_std.copy_(std)

    def standardize(self, d1: Tensor) -> Tensor:
        """``(D1 - mean_c) / std_c``, ``[B, C, H, W]``."""
        return (d1 - self.d1_mean[:, None, None]) / self.d1_std[:, None, None]

    def encode(self, d1: Tensor) -> tuple[Tensor, tuple[int, ...]]:
        """D1 ``[B, C, H, W]`` -> complex symbols ``[B, n]`` with unit mean energy per example,
        and the latent shape ``(c, h, w)`` needed to unpack them."""
        if d1.dim() != 4 or d1.shape[1] != self.config.in_channels:
            raise SemcomError(
                f"D1 must be [B, {self.config.in_channels}, H, W], got {list(d1.shape)}"
            )
        z = self.encoder(self.standardize(d1))
        return normalize_power(real_to_complex(z.flatten(1))), tuple(z.shape[1:])

    def decode(self, y: Tensor, latent_shape: tuple[int, ...], size: tuple[int, int]) -> Tensor:
        """Received complex symbols ``[B, n]`` -> D1_hat ``[B, C, H, W]`` (``size`` = (H, W))."""
        c, h, w = latent_shape
        z = complex_to_real(y, c * h * w).reshape(y.shape[0], c, h, w)
        x = self.decoder(z, size)
        return F.relu(x * self.d1_std[:, None, None] + self.d1_mean[:, None, None])

    def forward(
        self,
        d1: Tensor,
        channel: Channel | None = None,
        snr_db: Tensor | float | None = None,
        generator: torch.Generator | None = None,
    ) -> dict:
        """Send D1 through ``channel`` at ``snr_db`` (scalar or ``[B]``); ``channel=None`` is
        noiseless.

        Returns a dict: ``d1_hat [B, C, H, W]``, ``symbols`` (complex ``[B, n]`` sent),
        ``received`` (complex ``[B, n]``), ``num_symbols`` (int64 ``[B]``, complex symbols =
        channel uses per example) and ``compression_ratio`` (float).
        """
        x, latent_shape = self.encode(d1)
        if channel is None:
            y = x
            uses = torch.full((x.shape[0],), x.shape[1], dtype=torch.int64, device=x.device)
        else:
            if snr_db is None:
                raise SemcomError("snr_db is needed when a channel is given (None = noiseless)")
            out = channel(x, snr_db, generator)
            y, uses = out.y, out.channel_uses
        h, w = d1.shape[-2:]
        return {
            "d1_hat": self.decode(y, latent_shape, (h, w)),
            "symbols": x,
            "received": y,
            "num_symbols": uses,
            "compression_ratio": self.config.compression_ratio(h, w),
        }


class FFMNetJSCC(nn.Module):
    """FFMNet split at D1 with the feature JSCC in between (Fig. 1).

    ``images -> extract (mobile) -> JSCC encoder -> channel -> JSCC decoder -> from_d1 (edge)``.
    """

    def __init__(self, ffmnet: FFMNet, jscc: FeatureJSCC) -> None:
        super().__init__()
        if jscc.config.in_channels != ffmnet.config.d_channels:
            raise SemcomError(
                f"JSCC in_channels={jscc.config.in_channels} != FFMNet d_channels="
                f"{ffmnet.config.d_channels}"
            )
        self.ffmnet = ffmnet
        self.jscc = jscc

    @classmethod
    def build(cls, ffmnet_config: FFMNetConfig, jscc_config: JSCCConfig, device=None):
        return cls(FFMNet(ffmnet_config, device=device), FeatureJSCC(jscc_config, device=device))

    def forward(
        self,
        images: Tensor,
        channel: Channel | None = None,
        snr_db: Tensor | float | None = None,
        generator: torch.Generator | None = None,
    ) -> dict:
        """``images [B, 3, H, W]`` -> FFMNet's output dict computed from D1_hat, plus ``d1``,
        ``d1_hat``, ``symbols``, ``received``, ``num_symbols`` and ``compression_ratio``."""
        d1 = self.ffmnet.extract(images)
        tx = self.jscc(d1, channel, snr_db, generator)
        out = self.ffmnet.from_d1(tx["d1_hat"], tuple(images.shape[-2:]))
        out.update(tx)
        out["d1"] = d1
        return out

    def loss(self, outputs: dict, targets: dict) -> dict[str, Tensor]:
        """Task loss (eq. 2) of the outputs, plus ``l1`` = mean |D1 - D1_hat| and ``l1_std`` =
        the same in standardised units (:func:`l1_terms`; neither is in ``loss``)."""
        losses = self.ffmnet.loss(outputs, targets)
        losses.update(l1_terms(self.jscc, outputs["d1"], outputs["d1_hat"]))
        return losses


def l1_terms(jscc: FeatureJSCC, d1: Tensor, d1_hat: Tensor) -> dict[str, Tensor]:
    """``l1`` = mean |D1 - D1_hat| and ``l1_std`` = mean |D1 - D1_hat| / std_c (the step-2 loss
    term: each channel counts by its own scale)."""
    return {
        "l1": F.l1_loss(d1_hat, d1),
        "l1_std": ((d1_hat - d1).abs() / jscc.d1_std[:, None, None]).mean(),
    }


@torch.no_grad()
def l1_references(jscc: FeatureJSCC, d1: Tensor) -> dict[str, float]:
    """L1 of the trivial predictors of D1 ``[N, C, H, W]``, raw and standardised: D1_hat = 0
    (``zero``) and D1_hat = the training per-channel mean (``mean``). A JSCC whose L1 is not
    well below both has not learnt D1."""
    std = jscc.d1_std[:, None, None]
    mean = jscc.d1_mean[:, None, None].expand_as(d1[0])
    return {
        "l1_zero": float(d1.abs().mean()),
        "l1_mean": float((d1 - mean).abs().mean()),
        "l1_std_zero": float((d1.abs() / std).mean()),
        "l1_std_mean": float(((d1 - mean).abs() / std).mean()),
    }
