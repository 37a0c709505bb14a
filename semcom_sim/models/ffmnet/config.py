"""Configurations of FFMNet and of the feature JSCC, with the `tiny` and `paper` presets.

Both are plain dataclasses that round-trip through JSON (`to_json` / `from_json`), so the resolved
configuration can be stored beside every checkpoint and result.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields

from semcom_sim.errors import SemcomError, UnknownNameError


def default_aspect_ratios(num_levels: int) -> tuple[tuple[float, ...], ...]:
    """SSD's pattern: ratios {2} on the first and the last two levels, {2, 3} in between."""
    return tuple((2.0,) if k == 0 or k >= num_levels - 2 else (2.0, 3.0) for k in range(num_levels))


@dataclass
class FFMNetConfig:
    """FFMNet architecture and SSD settings.

    Class indices: ``num_classes`` counts the object classes only (117 in the paper); the
    detection and segmentation logits have ``num_classes + 1`` entries with index 0 = background.

    Backbone: a ResNet stem (``stem_kernel`` conv with stride 2, 3x3 max-pool with stride 2), then
    the four bottleneck stages Res1..Res4 (``stage_planes`` x ``expansion`` output channels, strides
    1, 2, 2, 2), then the extra stage Res5 (``res5_blocks`` bottlenecks, stride 2). Res2..Res5 are
    fused on the grid of stride ``d1_stride``: 8 in the paper (Res2's grid, 64 x 64 D1 for
    512 x 512 inputs), 4 in ``tiny`` (32 x 32 D1 for 128 x 128 inputs).

    Operating point: the paper's D1 holds ``64 * 64 * 512 / 512**2 = 8`` reals per input pixel,
    so its "512x" sends 1/64 of a real per input pixel. ``tiny`` keeps that: ``32 * 32 * 128 /
    128**2 = 8`` (:meth:`reals_per_pixel`), so its 512x sends 256 reals (128 complex symbols) per
    128 x 128 image, the paper's 4096 scaled by the pixel count.
    """

    name: str = "tiny"
    num_classes: int = 4
    image_size: int = 128
    stem_channels: int = 16
    stem_kernel: int = 3
    stage_planes: tuple[int, ...] = (8, 16, 32, 64)
    stage_blocks: tuple[int, ...] = (1, 1, 1, 1)
    expansion: int = 4
    res5_planes: int = 64
    res5_blocks: int = 1
    d_channels: int = 128  # width of F0 and of every pyramid level D1..Dk
    d1_stride: int = 4  # D1 grid = image / d1_stride (paper: 8 = Res2's grid)
    num_levels: int = 6  # D1..D{num_levels}
    num_dilated: int = 2  # D2.. D{1+num_dilated} come from Dilated Bottlenecks
    dilation: int = 2
    seg_channels: int = 16  # per-level width in the segmentation head (paper: 64)
    aspect_ratios: tuple[tuple[float, ...], ...] = ()  # () -> default_aspect_ratios(num_levels)
    min_scale: float = 0.1
    max_scale: float = 0.9
    variances: tuple[float, float] = (0.1, 0.2)
    match_iou: float = 0.5
    neg_pos_ratio: float = 3.0

    def __post_init__(self) -> None:
        self.stage_planes = tuple(int(v) for v in self.stage_planes)
        self.stage_blocks = tuple(int(v) for v in self.stage_blocks)
        self.variances = tuple(float(v) for v in self.variances)
        if not self.aspect_ratios:
            self.aspect_ratios = default_aspect_ratios(self.num_levels)
        self.aspect_ratios = tuple(tuple(float(r) for r in rs) for rs in self.aspect_ratios)
        self.validate()

    def validate(self) -> None:
        if self.num_classes < 1:
            raise SemcomError(f"num_classes must be >= 1, got {self.num_classes}")
        if len(self.stage_planes) != 4 or len(self.stage_blocks) != 4:
            raise SemcomError("stage_planes and stage_blocks need 4 entries (Res1..Res4)")
        if self.num_levels < 1 or not 0 <= self.num_dilated < self.num_levels:
            raise SemcomError("need num_levels >= 1 and 0 <= num_dilated < num_levels")
        if len(self.aspect_ratios) != self.num_levels:
            raise SemcomError(
                f"aspect_ratios has {len(self.aspect_ratios)} levels, num_levels={self.num_levels}"
            )
        if self.image_size < 8 or self.image_size % 8:
            raise SemcomError(f"image_size must be a multiple of 8, got {self.image_size}")
        if self.d1_stride not in (4, 8):
            raise SemcomError(f"d1_stride must be 4 (Res1 grid) or 8 (Res2), got {self.d1_stride}")

    @property
    def d1_size(self) -> int:
        """Rows (= columns) of D1 for ``image_size`` inputs."""
        return self.image_size // self.d1_stride

    def reals_per_pixel(self) -> float:
        """Real values of D1 per input pixel (8 in the paper: 64 * 64 * 512 / 512**2)."""
        return self.d_channels * self.d1_size**2 / self.image_size**2

    @property
    def num_logits(self) -> int:
        """Classes including background."""
        return self.num_classes + 1

    def boxes_per_location(self) -> list[int]:
        """Default boxes per cell on each level: 2 square + 2 per aspect ratio (SSD)."""
        return [2 + 2 * len(rs) for rs in self.aspect_ratios]

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: dict) -> FFMNetConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise SemcomError(f"unknown FFMNetConfig fields: {sorted(unknown)}")
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> FFMNetConfig:
        return cls.from_dict(json.loads(text))


@dataclass
class JSCCConfig:
    """The asymmetric feature autoencoder of Sec. II-C.

    Encoder: ``spatial_stride`` x average pooling, 3x3 conv ``in_channels -> in_channels //
    channel_divisor``, GDN, power normalisation. Decoder: 3x3 conv to ``mid_channels``, bilinear
    upsampling back to the D1 grid, 3x3 conv to ``in_channels``, ReLU, with IGDN either after the
    first conv (``igdn_position="mid"``, mirroring the encoder's conv + GDN) or after the last
    conv (``"end"``).
    """

    in_channels: int = 128
    spatial_stride: int = 4
    channel_divisor: int = 32
    mid_channels: int = 0  # 0 -> in_channels // 2
    igdn_position: str = "mid"

    def __post_init__(self) -> None:
        if self.spatial_stride < 1:
            raise SemcomError(f"spatial_stride must be >= 1, got {self.spatial_stride}")
        if self.channel_divisor < 1 or self.in_channels % self.channel_divisor:
            raise SemcomError(
                f"in_channels={self.in_channels} is not divisible by "
                f"channel_divisor={self.channel_divisor}"
            )
        if self.igdn_position not in ("mid", "end"):
            raise SemcomError(f"igdn_position must be 'mid' or 'end', got {self.igdn_position!r}")
        if not self.mid_channels:
            self.mid_channels = max(self.in_channels // 2, self.latent_channels)

    @property
    def latent_channels(self) -> int:
        return self.in_channels // self.channel_divisor

    def latent_size(self, height: int, width: int) -> tuple[int, int]:
        """Spatial size of the transmitted latent for a D1 of ``height x width``."""
        s = self.spatial_stride
        return math.ceil(height / s), math.ceil(width / s)

    def num_real(self, height: int, width: int) -> int:
        """Real values sent per example."""
        h, w = self.latent_size(height, width)
        return self.latent_channels * h * w

    def num_symbols(self, height: int, width: int) -> int:
        """Complex channel symbols sent per example: two reals per symbol (odd -> zero-padded)."""
        return math.ceil(self.num_real(height, width) / 2)

    def compression_ratio(self, height: int, width: int) -> float:
        """Real values of D1 (``C*H*W``) over real values sent, as in the paper's Table III."""
        return self.in_channels * height * width / self.num_real(height, width)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: dict) -> JSCCConfig:
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise SemcomError(f"unknown JSCCConfig fields: {sorted(unknown)}")
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> JSCCConfig:
        return cls.from_dict(json.loads(text))


# Table III of the paper: name -> (spatial_stride, channel_divisor); ratio = stride^2 * divisor.
JSCC_SETTINGS: dict[str, tuple[int, int]] = {
    "128x": (2, 32),
    "256x": (2, 64),
    "512x": (4, 32),
    "1024x": (4, 64),
}


def ffmnet_preset(name: str, **overrides) -> FFMNetConfig:
    """``tiny``: 128 x 128 inputs, narrow ResNet, D1 32 x 32 x 128 (8 reals per pixel, as the
    paper), 6 levels (32, 16, 8, 4, 2, 1) of 128 channels.
    ``paper``: 512 x 512 inputs, ResNet-50 Res1..Res4, D1 64 x 64 x 512, 7 levels (64 .. 1) of
    512 channels, 117 object classes."""
    if name == "tiny":
        base: dict = {}
    elif name == "paper":
        base = dict(
            name="paper",
            num_classes=117,
            image_size=512,
            stem_channels=64,
            stem_kernel=7,
            stage_planes=(64, 128, 256, 512),
            stage_blocks=(3, 4, 6, 3),
            expansion=4,
            res5_planes=512,
            res5_blocks=1,
            d_channels=512,
            d1_stride=8,
            num_levels=7,
            num_dilated=2,
            seg_channels=64,
            min_scale=0.07,
            max_scale=0.95,
        )
    else:
        raise UnknownNameError(f"unknown ffmnet preset {name!r}; known presets: paper, tiny")
    base.update(overrides)
    return FFMNetConfig(**base)


def jscc_preset(setting: str, in_channels: int, **overrides) -> JSCCConfig:
    """JSCC for one of Table III's settings (``128x``, ``256x``, ``512x``, ``1024x``)."""
    if setting not in JSCC_SETTINGS:
        known = ", ".join(JSCC_SETTINGS)
        raise UnknownNameError(f"unknown JSCC setting {setting!r}; known settings: {known}")
    stride, divisor = JSCC_SETTINGS[setting]
    return JSCCConfig(
        in_channels=in_channels, spatial_stride=stride, channel_divisor=divisor, **overrides
    )
