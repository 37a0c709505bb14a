"""Deep JSCC of FFMNet's intermediate feature D1 (Sec. II-C) and the split model.

Symbol counting: the encoder outputs ``c x h x w`` real values per example; consecutive pairs are
packed into complex channel symbols with :func:`real_to_complex` (two reals = one channel use;
an odd count is zero-padded), and each example is normalised to unit average energy per complex
symbol before the channel, matching the toolkit's SNR convention (Es/N0 per complex symbol). The
compression ratio follows Table III: real values of D1 over real values sent, so ``(H/4, W/4,
C/32)`` is ``16 * 32 = 512`` and uses ``C H W / 1024`` complex symbols.
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
    ``mid -> C``, final ReLU (D1 is non-negative); IGDN after the first conv (``"mid"``) or
    before the ReLU (``"end"``).

    ``z_hat [B, C/k, h, w] -> D1_hat [B, C, H, W]``.
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
        return F.relu(x)


class FeatureJSCC(nn.Module):
    """The asymmetric autoencoder around the channel: D1 -> symbols -> channel -> D1_hat."""

    def __init__(self, config: JSCCConfig, device=None) -> None:
        super().__init__()
        self.config = config
        self.encoder = JSCCEncoder(config, device=device)
        self.decoder = JSCCDecoder(config, device=device)

    def encode(self, d1: Tensor) -> tuple[Tensor, tuple[int, ...]]:
        """D1 ``[B, C, H, W]`` -> complex symbols ``[B, n]`` with unit mean energy per example,
        and the latent shape ``(c, h, w)`` needed to unpack them."""
        if d1.dim() != 4 or d1.shape[1] != self.config.in_channels:
            raise SemcomError(
                f"D1 must be [B, {self.config.in_channels}, H, W], got {list(d1.shape)}"
            )
        z = self.encoder(d1)
        return normalize_power(real_to_complex(z.flatten(1))), tuple(z.shape[1:])

    def decode(self, y: Tensor, latent_shape: tuple[int, ...], size: tuple[int, int]) -> Tensor:
        """Received complex symbols ``[B, n]`` -> D1_hat ``[B, C, H, W]`` (``size`` = (H, W))."""
        c, h, w = latent_shape
        z = complex_to_real(y, c * h * w).reshape(y.shape[0], c, h, w)
        return self.decoder(z, size)

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
        """Task loss (eq. 2) of the outputs, plus ``l1`` = mean |D1 - D1_hat| (not in ``loss``)."""
        losses = self.ffmnet.loss(outputs, targets)
        losses["l1"] = F.l1_loss(outputs["d1_hat"], outputs["d1"])
        return losses
