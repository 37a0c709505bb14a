"""U-DeepSC configuration: one JSON-serialisable dataclass and the ``tiny`` / ``paper`` presets."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from semcom_sim.errors import SemcomError, UnknownNameError
from semcom_sim.models.udeepsc.tasks import ALL_TASKS, MODALITIES, task_spec
from semcom_sim.options import check_config_types


@dataclass
class UDeepSCConfig:
    """Every size and loss weight of a U-DeepSC / T-DeepSC model.

    ``tasks`` selects the tasks the model is built for: all six = U-DeepSC, one = T-DeepSC (only
    the transmitters, sub-codebooks, queries and heads that task needs are built).
    ``*_select_after`` lists the (1-based) encoder layers followed by a selection module (Sec.
    IV-B: "for a 4-layer channel encoder, feature selection at the 2nd and 4th layers").
    ``image_stem`` is how image patches become tokens: ``"patch"`` (one linear projection per
    patch, ViT and the paper) or ``"conv"`` (a small convolutional stem of 3x3 convolutions, one
    stride-2 step per factor 2 of ``patch_size``; Xiao et al. 2021, "Early convolutions help
    transformers see better"). ``image_standardize`` appends the image standardised per channel
    (zero mean, unit spread) to its RGB channels. Both are on in the tiny preset: measured on
    shapes32 (random colours on textured backgrounds), a 2-layer, 32-wide patch ViT stays at
    chance after 800 steps of 32 images, the conv stem with standardised input reaches 44-58 %.
    ``codebook_normalize`` uses unit-norm codewords and sub-vectors, ``codebook_restart`` moves
    unused codewords onto encoder outputs during training (see
    :mod:`~semcom_sim.models.udeepsc.codebook`; both on in the tiny preset, off in ``paper``).
    ``text_embed_std`` is the initial spread of the text token embedding (BERT's 0.02 by default)
    and ``text_loss_ignore_pad`` leaves the padding positions out of the text-reconstruction
    cross-entropy (the end of a sentence is still learned from ``<eos>``). Digital T-DeepSC text
    reconstruction needs both (std 1): with std 0.02 every word's feature starts almost the same,
    falls onto a handful of codewords (about 20 index pairs among ~2,500 words) and the receiver
    never tells words apart (see ``results/udeepsc/textr_probe/README.md``).
    ``decoder_pos_std`` is the initial spread of the receiver's positional tables (added to the
    LayerNorm-ed, unit-scale received features): at 0.02 digital text reconstruction does not
    learn which received word belongs to which output position (std 1 does).
    ``task_grad_normalize`` scales each of the two tasks of a step by the inverse norm of its own
    gradient (:func:`~semcom_sim.models.udeepsc.train.normalized_backward`). Measured on the
    warm-started U-DeepSC of session 7 (phase-2 objective, 32 examples, 6 dB): on the shared
    image encoder image reconstruction's gradient norm was 79 against 1003 for classification
    and 2558 for video sentiment, on the text encoder text reconstruction's 838 against 107521
    for sentiment; AdamW's per-parameter scaling, set by the largest, leaves the reconstruction
    tasks 13-130x smaller steps on the layers they share.
    ``task_encoder_layers`` makes the last that many layers of every transmitter of
    ``task_encoder_modalities`` shared by several tasks (with its final LayerNorm and
    projection) the task's own; the layers below stay shared (0: all shared, the paper).
    Measured on the U-DeepSC of session 8 (128 training images, noiseless): the shared image
    encoder's final features had an effective rank of 2.0 (of 16; T-DeepSC image
    reconstruction 4.0) and the two codewords of a patch were almost one (index-pair entropy
    3.8 bits against 5.5 for T-DeepSC): the top of the encoder served the classification tasks,
    and an encoder copied from either image T-DeepSC served only that task. The shipped
    U-DeepSC splits the image transmitter only (a split text transmitter cost sentiment 0.18).
    ``image_refine_width`` > 0 adds a residual post-filter to the image-reconstruction head of
    every exit (:class:`~semcom_sim.models.udeepsc.receiver.ImageRefiner`: three 3x3
    convolutions of that width over the assembled image, the last zero-initialised so the
    filter starts as the identity; 0: none, the paper's patch-wise linear head). The head
    predicts each 4x4 patch from its own decoder query, so nothing smooths across patch
    borders; measured on the session-10 checkpoints (frozen, outputs on 5000 training images,
    1500 steps): +0.6 dB for U-DeepSC, +0.8 dB for the image-reconstruction T-DeepSC (width 32)
    on the 500 test images. ``semcom-sim train refine`` trains it on a frozen checkpoint.
    ``codebook_sharing`` says which features share a sub-codebook (Sec. VI-D, Fig. 11):
    ``"modality"`` (one per modality, the paper's U-DeepSC / Sep-M), ``"joint"`` (one for every
    task and modality) or ``"task"`` (one per task, Sep-T). The latter two need equal
    ``codebook_sizes`` for all modalities (every book has that size; symbols per index unchanged).
    """

    tasks: tuple[str, ...] = ALL_TASKS
    # image transmitter (also the frames of video)
    image_size: int = 32
    patch_size: int = 4
    video_max_frames: int = 2
    image_dim: int = 64
    image_depth: int = 3
    image_heads: int = 4
    image_select_after: tuple[int, ...] = (2, 3)
    image_stem: str = "conv"
    image_standardize: bool = True
    # text transmitter
    vocab_size: int = 64
    text_max_len: int = 12
    pad_id: int = 0
    text_dim: int = 64
    text_depth: int = 2
    text_heads: int = 4
    text_select_after: tuple[int, ...] = (1, 2)
    text_embed_std: float = 1.0
    text_loss_ignore_pad: bool = True
    # speech transmitter (audio framed into non-overlapping frames of frame_len samples)
    frame_len: int = 64
    speech_max_frames: int = 8
    speech_dim: int = 32
    speech_depth: int = 2
    speech_heads: int = 2
    speech_select_after: tuple[int, ...] = (1, 2)
    task_encoder_layers: int = 0
    task_encoder_modalities: tuple[str, ...] = ("image", "text", "speech")
    mlp_ratio: float = 2.0
    dropout: float = 0.0
    # dynamic channel encoder (Sec. IV)
    dynamic: bool = True
    selection_dim_ratio: float = 0.25
    gumbel_tau: float = 1.0
    train_selection: str = "topk"
    selection_per_task: bool = True
    rho_hidden: int = 8
    rho_init: float = 0.9
    rho_min: float = 0.3
    keep_all_tasks: tuple[str, ...] = ("textr", "imgr")
    # features on the air (Sec. III)
    transmission: str = "digital"
    feature_dim: int = 16
    codewords_per_feature: int = 2
    codebook_sizes: dict[str, int] = field(
        default_factory=lambda: {"image": 16, "text": 256, "speech": 16}
    )
    num_bits_per_symbol: int = 2
    index_decoding: str = "hard"
    beta: float = 0.25
    codebook_normalize: bool = True
    codebook_restart: bool = True
    codebook_sharing: str = "modality"
    # unified receiver (Sec. II-C, II-D)
    decoder_dim: int = 64
    decoder_depth: int = 4
    decoder_heads: int = 4
    decoder_pos_std: float = 1.0
    recon_from_received: bool = True
    num_cls_queries: int = 2
    num_classes: dict[str, int] = field(
        default_factory=lambda: {"imgc": 10, "textc": 2, "vqa": 16, "msa": 2}
    )
    lcm_hidden: int = 16
    exit_threshold: float = 0.9
    exit_loss_weights: tuple[float, ...] | None = None
    recon_certainty_scale: float = 10.0
    image_refine_width: int = 0
    # loss weights of Algorithm 1
    rate_weight: float = 1.0
    rate_l1_weight: float = 0.002
    codebook_weight: float = 1.0
    da_weight: float = 1.0
    da_normalize: bool = True
    loss_normalize: bool = True
    task_grad_normalize: bool = False
    power_normalize: bool = True
    train_snr_db: tuple[float, float] = (0.0, 12.0)

    def __post_init__(self) -> None:
        check_config_types(self, "U-DeepSC")
        for name in ("tasks", "image_select_after", "text_select_after", "speech_select_after",
                     "keep_all_tasks", "task_encoder_modalities"):  # fmt: skip
            setattr(self, name, tuple(getattr(self, name)))
        self.train_snr_db = tuple(float(s) for s in self.train_snr_db)
        if self.exit_loss_weights is not None:
            self.exit_loss_weights = tuple(float(w) for w in self.exit_loss_weights)
        self.validate()

    # ------------------------------------------------------------------ derived quantities
    @property
    def modalities(self) -> tuple[str, ...]:
        """Modalities needed by ``tasks``, in canonical order."""
        used = {m for t in self.tasks for m in task_spec(t).modalities}
        return tuple(m for m in MODALITIES if m in used)

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    def max_features(self, modality: str) -> int:
        """Longest feature sequence a modality can send (sets positional tables)."""
        return {
            "image": self.num_patches * max(1, self.video_max_frames),
            "text": self.text_max_len,
            "speech": self.speech_max_frames,
        }[modality]

    def bits_per_index(self, modality: str) -> int:
        return int(math.log2(self.codebook_sizes[modality]))

    def codebook_keys(self) -> tuple[str, ...]:
        """Names of the sub-codebooks: the modalities, ``("joint",)`` or the tasks."""
        if self.codebook_sharing == "joint":
            return ("joint",)
        if self.codebook_sharing == "task":
            return tuple(t for t in ALL_TASKS if t in self.tasks)
        return self.modalities

    def codebook_key(self, task: str | None, modality: str) -> str:
        """The sub-codebook that quantises ``modality``'s features of ``task``."""
        if self.codebook_sharing == "joint":
            return "joint"
        if self.codebook_sharing == "task":
            if task is None:
                raise SemcomError("codebook_sharing 'task' needs the task of the features")
            return task
        return modality

    def codebook_size(self, key: str) -> int:
        """Entries of sub-codebook ``key`` (all sizes are equal unless sharing by modality)."""
        if self.codebook_sharing == "modality":
            return self.codebook_sizes[key]
        return self.codebook_sizes[self.modalities[0]]

    def symbols_per_index(self, modality: str) -> int:
        return -(-self.bits_per_index(modality) // self.num_bits_per_symbol)

    def symbols_per_feature(self, modality: str) -> int:
        """Complex channel symbols one kept feature costs (digital: G indices; analog: D/2)."""
        if self.transmission == "analog":
            return self.feature_dim // 2
        return self.codewords_per_feature * self.symbols_per_index(modality)

    def encoder_dims(self, modality: str) -> tuple[int, int, int, tuple[int, ...]]:
        """``(dim, depth, heads, select_after)`` of a modality's transmitter."""
        p = {"image": "image", "text": "text", "speech": "speech"}[modality]
        return (
            getattr(self, f"{p}_dim"),
            getattr(self, f"{p}_depth"),
            getattr(self, f"{p}_heads"),
            getattr(self, f"{p}_select_after"),
        )

    def output_dim(self, task: str) -> int:
        kind = task_spec(task).kind
        if kind == "classification":
            return self.num_classes[task]
        if kind == "image_reconstruction":
            return 3 * self.patch_size**2
        return self.vocab_size

    def num_queries(self, task: str) -> int:
        kind = task_spec(task).kind
        if kind == "image_reconstruction":
            return self.num_patches
        if kind == "text_reconstruction":
            return self.text_max_len
        return self.num_cls_queries

    def exit_weights(self) -> tuple[float, ...]:
        """lambda_i of eq. (6), one per decoder layer (default: all 1)."""
        if self.exit_loss_weights is None:
            return (1.0,) * self.decoder_depth
        return self.exit_loss_weights

    # ------------------------------------------------------------------ checks and JSON
    def validate(self) -> None:
        """Raise :class:`SemcomError` on an inconsistent configuration."""
        check_config_types(self, "U-DeepSC")
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            low = 0 if f.name in ("pad_id", "task_encoder_layers", "image_refine_width") else 1
            if f.type == "int" and v < low:
                raise SemcomError(f"{f.name} must be >= {low} (got {v})")
        if self.pad_id >= self.vocab_size:
            raise SemcomError(f"pad_id {self.pad_id} must be < vocab_size {self.vocab_size}")
        ranges = {"dropout": (0.0, 0.999), "exit_threshold": (0.0, 1.0)}
        for name in ("beta", "rate_weight", "rate_l1_weight", "codebook_weight", "da_weight",
                     "recon_certainty_scale"):  # fmt: skip
            ranges[name] = (0.0, None)
        for name, (lo, hi) in ranges.items():
            v = getattr(self, name)
            if v < lo or (hi is not None and v > hi):
                bound = f"in [{lo:g}, {hi:g}]" if hi is not None else f">= {lo:g}"
                raise SemcomError(f"{name} must be {bound} (got {v})")
        for name in ("gumbel_tau", "mlp_ratio", "selection_dim_ratio"):
            if not getattr(self, name) > 0:
                raise SemcomError(f"{name} must be > 0 (got {getattr(self, name)})")
        if self.exit_loss_weights is not None and any(w < 0 for w in self.exit_loss_weights):
            raise SemcomError("exit_loss_weights must be >= 0")
        if not self.tasks:
            raise SemcomError("a U-DeepSC model needs at least one task")
        for m in self.task_encoder_modalities:
            if m not in MODALITIES:
                known = ", ".join(MODALITIES)
                raise SemcomError(f"task_encoder_modalities: unknown {m!r}; known: {known}")
        for t in self.tasks + self.keep_all_tasks:
            task_spec(t)
        if len(set(self.tasks)) != len(self.tasks):
            raise SemcomError(f"tasks repeated: {self.tasks}")
        if self.image_size % self.patch_size:
            raise SemcomError("image_size must be a multiple of patch_size")
        if self.image_stem not in ("patch", "conv"):
            raise UnknownNameError(f"unknown image_stem {self.image_stem!r}; known: patch, conv")
        if self.image_stem == "conv" and self.patch_size & (self.patch_size - 1):
            raise SemcomError("image_stem 'conv' needs a power-of-two patch_size")
        for m in MODALITIES:
            dim, depth, heads, sel = self.encoder_dims(m)
            if dim % heads:
                raise SemcomError(f"{m}_dim {dim} not divisible by {m}_heads {heads}")
            if self.dynamic and (not sel or any(not 1 <= q <= depth for q in sel)):
                raise SemcomError(f"{m}_select_after {sel} must name layers in 1..{depth}")
            if list(sel) != sorted(set(sel)):
                raise SemcomError(f"{m}_select_after {sel} must be increasing")
        if self.transmission not in ("digital", "analog"):
            raise UnknownNameError(
                f"unknown transmission {self.transmission!r}; known: digital, analog"
            )
        if self.train_selection not in ("topk", "gumbel"):
            raise UnknownNameError(
                f"unknown train_selection {self.train_selection!r}; known: topk, gumbel"
            )
        if self.index_decoding not in ("hard", "soft"):
            raise UnknownNameError(
                f"unknown index_decoding {self.index_decoding!r}; known: hard, soft"
            )
        if self.feature_dim % self.codewords_per_feature:
            raise SemcomError("feature_dim must be a multiple of codewords_per_feature")
        if self.transmission == "analog" and self.feature_dim % 2:
            raise SemcomError("analog transmission needs an even feature_dim (2 reals per symbol)")
        for m in self.modalities:
            k = self.codebook_sizes.get(m)
            if k is None or k < 2 or k & (k - 1):
                raise SemcomError(f"codebook_sizes[{m!r}] must be a power of two >= 2, got {k}")
        if self.codebook_sharing not in ("modality", "joint", "task"):
            raise UnknownNameError(
                f"unknown codebook_sharing {self.codebook_sharing!r}; known: modality, joint, task"
            )
        if self.codebook_sharing != "modality":
            sizes = {self.codebook_sizes[m] for m in self.modalities}
            if len(sizes) > 1:
                raise SemcomError(
                    f"codebook_sharing {self.codebook_sharing!r} needs equal codebook_sizes "
                    f"for {', '.join(self.modalities)}"
                )
        if self.num_bits_per_symbol != 1 and self.num_bits_per_symbol % 2:
            raise SemcomError("num_bits_per_symbol must be 1 (BPSK) or even (square QAM)")
        for t in self.tasks:
            if task_spec(t).is_classification and self.num_classes.get(t, 0) < 2:
                raise SemcomError(f"num_classes[{t!r}] must be >= 2")
        if self.decoder_dim % self.decoder_heads:
            raise SemcomError("decoder_dim must be divisible by decoder_heads")
        if self.exit_loss_weights is not None and len(self.exit_loss_weights) != self.decoder_depth:
            raise SemcomError("exit_loss_weights needs one weight per decoder layer")
        if not self.text_embed_std > 0.0 or not self.decoder_pos_std > 0.0:
            raise SemcomError("text_embed_std and decoder_pos_std must be > 0")
        if not 0.0 < self.rho_init < 1.0:
            raise SemcomError("rho_init must be in (0, 1)")
        if not 0.0 <= self.rho_min < self.rho_init:
            raise SemcomError("rho_min must be in [0, rho_init)")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UDeepSCConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise SemcomError(f"unknown U-DeepSC config keys: {', '.join(sorted(unknown))}")
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> UDeepSCConfig:
        return cls.from_dict(json.loads(text))


def tiny_config(**overrides: Any) -> UDeepSCConfig:
    """Small dims and depths for tests and smoke runs (the dataclass defaults)."""
    return UDeepSCConfig(**overrides)


def paper_config(**overrides: Any) -> UDeepSCConfig:
    """Sizes of Sec. VI-A, widths fitted to Table II.

    Depths are the paper's: image 4, text 4, speech 6 Transformer encoder layers, 8 decoder
    layers. The paper gives no widths; these reproduce Table II: encoders 512 wide (text in the
    BERT-small shape, vocabulary 30522), decoder 384, FFN ratio 4. Parameters (T-DeepSC = the
    model built for one task, ``count_parameters(...)["task/<t>"]``), this preset vs Table II:
    imgc 32.35M / 32.6M, imgr 32.39M / 32.9M, textc 47.78M / 48.3M, textr 48.03M / 48.2M,
    vqa 62.34M / 63.0M, msa 81.01M / 83.8M, U-DeepSC total 82.81M / 84.1M.
    Features: D = 128 split into 8 codewords of 16 dims, 256-entry sub-codebooks (8 bits = two
    16-QAM symbols per codeword), i.e. 16 symbols per kept feature.
    """
    base: dict[str, Any] = dict(
        image_size=32,
        patch_size=4,
        video_max_frames=8,
        image_dim=512,
        image_depth=4,
        image_heads=8,
        image_select_after=(2, 4),
        image_stem="patch",
        image_standardize=False,
        vocab_size=30522,
        text_max_len=66,
        text_dim=512,
        text_depth=4,
        text_heads=8,
        text_select_after=(2, 4),
        frame_len=128,
        speech_max_frames=256,
        speech_dim=512,
        speech_depth=6,
        speech_heads=8,
        speech_select_after=(2, 4, 6),
        mlp_ratio=4.0,
        dropout=0.1,
        rho_hidden=16,
        feature_dim=128,
        codewords_per_feature=8,
        codebook_sizes={"image": 256, "text": 256, "speech": 256},
        num_bits_per_symbol=4,
        codebook_normalize=False,
        codebook_restart=False,
        decoder_dim=384,
        decoder_depth=8,
        decoder_heads=8,
        num_cls_queries=4,
        num_classes={"imgc": 10, "textc": 2, "vqa": 3129, "msa": 2},
        lcm_hidden=128,
        rho_min=0.0,
        rate_l1_weight=0.01,
        keep_all_tasks=(),
    )
    base.update(overrides)
    return UDeepSCConfig(**base)


PRESETS = {"tiny": tiny_config, "paper": paper_config}


def preset_config(name: str, **overrides: Any) -> UDeepSCConfig:
    """``tiny`` or ``paper`` with overrides (``None`` values are dropped)."""
    if name not in PRESETS:
        raise UnknownNameError(f"unknown U-DeepSC preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name](**{k: v for k, v in overrides.items() if v is not None})
