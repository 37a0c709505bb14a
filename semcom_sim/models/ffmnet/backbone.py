"""FFMNet's feature extraction (mobile side) and feature parsing (edge side), plain torch.

Feature extraction: ResNet stem, bottleneck stages Res1..Res4 (ResNet-50 in the ``paper``
preset), the extra stage Res5, then FSSD-style fusion of Res2..Res5 into D1. Feature parsing:
D1 -> D2 .. Dk with stride-2 (Dilated) Bottlenecks. Weights start random (He init): pretrained
ImageNet weights cannot be downloaded here.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from semcom_sim.models.ffmnet.config import FFMNetConfig


def conv_bn(
    cin: int, cout: int, k: int, stride: int = 1, dilation: int = 1, relu: bool = True, device=None
) -> nn.Sequential:
    """``k x k`` conv (no bias, 'same' padding for stride 1) + BatchNorm (+ ReLU)."""
    layers: list[nn.Module] = [
        nn.Conv2d(
            cin,
            cout,
            k,
            stride=stride,
            padding=dilation * (k - 1) // 2,
            dilation=dilation,
            bias=False,
            device=device,
        ),
        nn.BatchNorm2d(cout, device=device),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class Bottleneck(nn.Module):
    """ResNet bottleneck (v1.5: the stride sits on the 3x3 conv); with ``dilation > 1`` it is the
    'Dilated Bottleneck' (DetNet-style: the 3x3 conv is dilated, the 1x1 shortcut is kept).

    ``[B, cin, H, W] -> [B, cout, ceil(H / stride), ceil(W / stride)]``.
    """

    def __init__(
        self, cin: int, mid: int, cout: int, stride: int = 1, dilation: int = 1, device=None
    ) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_bn(cin, mid, 1, device=device),
            conv_bn(mid, mid, 3, stride=stride, dilation=dilation, device=device),
            conv_bn(mid, cout, 1, relu=False, device=device),
        )
        self.shortcut = (
            conv_bn(cin, cout, 1, stride=stride, relu=False, device=device)
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.body(x) + self.shortcut(x))


def res_stage(cin: int, planes: int, blocks: int, stride: int, expansion: int, device=None):
    """``blocks`` bottlenecks, the first one strided: ``cin -> planes * expansion`` channels."""
    cout = planes * expansion
    layers = [Bottleneck(cin, planes, cout, stride=stride, device=device)]
    layers += [Bottleneck(cout, planes, cout, device=device) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class FeatureExtractor(nn.Module):
    """Image -> D1 (the split point), the mobile-device part of FFMNet.

    ``[B, 3, H, W] -> [B, d_channels, H/s, W/s]`` with ``s = d1_stride`` (8: Res2's grid, as in
    the paper; 4: Res1's grid, the tiny preset's way to keep the paper's reals per pixel).
    """

    def __init__(self, cfg: FFMNetConfig, device=None) -> None:
        super().__init__()
        k = cfg.stem_kernel
        self.stem = nn.Sequential(
            conv_bn(3, cfg.stem_channels, k, stride=2, device=device),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        stages = []
        cin = cfg.stem_channels
        for i, (planes, blocks) in enumerate(zip(cfg.stage_planes, cfg.stage_blocks, strict=True)):
            stages.append(
                res_stage(cin, planes, blocks, 1 if i == 0 else 2, cfg.expansion, device=device)
            )
            cin = planes * cfg.expansion
        stages.append(res_stage(cin, cfg.res5_planes, cfg.res5_blocks, 2, cfg.expansion, device))
        self.stages = nn.ModuleList(stages)  # Res1..Res5
        fused = [p * cfg.expansion for p in cfg.stage_planes[1:]] + [
            cfg.res5_planes * cfg.expansion
        ]
        # FSSD fusion: 1x1 convs to a common width, bilinear resize to the Res2 grid, sum.
        self.lateral = nn.ModuleList(nn.Conv2d(c, cfg.d_channels, 1, device=device) for c in fused)
        self.fuse = conv_bn(cfg.d_channels, cfg.d_channels, 3, device=device)
        self.d1_stride = cfg.d1_stride
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        """``x [B, 3, H, W]`` -> D1 ``[B, C, H/s, W/s]`` (non-negative: ends in ReLU)."""
        s = self.d1_stride
        grid = (-(-x.shape[-2] // s), -(-x.shape[-1] // s))
        x = self.stem(x)
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        f0 = 0
        for lat, f in zip(self.lateral, feats[1:], strict=True):
            y = lat(f)
            if y.shape[-2:] != grid:
                y = F.interpolate(y, size=grid, mode="bilinear", align_corners=False)
            f0 = f0 + y
        return self.fuse(f0)


class FeatureParser(nn.Module):
    """D1 -> [D1, D2, ..., Dk], the first part of the edge server.

    D2..D{1+num_dilated} come from stride-2 Dilated Bottlenecks, the rest from stride-2
    Bottlenecks; every level has ``d_channels`` channels and half the rows/columns of the last
    (rounded up, so the last levels may stay 1 x 1).
    """

    def __init__(self, cfg: FFMNetConfig, device=None) -> None:
        super().__init__()
        c = cfg.d_channels
        self.blocks = nn.ModuleList(
            Bottleneck(
                c,
                c // 4,
                c,
                stride=2,
                dilation=cfg.dilation if k < cfg.num_dilated else 1,
                device=device,
            )
            for k in range(cfg.num_levels - 1)
        )
        init_weights(self)

    def forward(self, d1: Tensor) -> list[Tensor]:
        feats = [d1]
        for block in self.blocks:
            feats.append(block(feats[-1]))
        return feats


def init_weights(module: nn.Module) -> None:
    """He-normal convs, unit BatchNorm, zero biases (random init: no pretrained weights)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
