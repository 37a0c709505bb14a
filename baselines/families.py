"""The paper's conventional schemes as families: one codec family x every task it serves.

What each task sends (:data:`TASK_PLANS`) and with which codec and MCS each field is sent
(:data:`FIELD_CODING`, the papers' choices: JPEG + LDPC for images, UTF-8 + Turbo for text,
16-bit PCM + LDPC for speech, H.264 + LDPC for video frames, all at rate 1/2 QPSK) are declared
once here and shared by every scheme and by the symbol accounting (Table I).

A *family* is named after the codec of a task's primary field ("jpeg": tasks whose primary field
is the image). Per family, :func:`family_scheme` builds

- ``"paper"``: the papers' default (each field with its own codec and MCS), e.g. ``jpeg-ldpc``;
- ``"mcs"``: every field with one fixed MCS, e.g. ``jpeg-ldpc-2/3-qpsk`` (the staircase);
- ``"envelope"``: the best MCS of a table per SNR (:mod:`semcom_sim.baselines.envelope`);
- ``"capacity"``: the ideal-code bound (:mod:`semcom_sim.baselines.capacity`).

The image families "heif", "avif" and "webp" (quality 50, codestream counted) serve the same
tasks as "jpeg" (:data:`IMAGE_TASKS`, VQA's question as in the papers). :func:`budget_scheme`
builds rate-controlled envelopes at a symbol budget over several image codecs
(:data:`IMAGE_CODECS`, :mod:`semcom_sim.baselines.budget`), e.g. ``best-image-envelope``.

Decision tasks need a task model (:mod:`semcom_sim.baselines.receivers`); a scheme supports
such a task only once a model is given or registered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from semcom_sim.baselines.budget import (
    DEFAULT_LADDER,
    PAPER_JPEG,
    BudgetCodec,
    EncodeCache,
    MosaicBudgetCodec,
    SelectBudgetCodec,
)
from semcom_sim.baselines.capacity import CapacityLink
from semcom_sim.baselines.codecs import (
    AVIFCodec,
    FeatureJPEGCodec,
    H264Codec,
    HEIFCodec,
    JPEGCodec,
    PCMCodec,
    UTF8Codec,
    WebPCodec,
)
from semcom_sim.baselines.envelope import EnvelopeScheme
from semcom_sim.baselines.receivers import FEATURE_SPLITS, TASK_RECEIVERS
from semcom_sim.baselines.separation import (
    ModelReceiver,
    ModelTransform,
    SeparationScheme,
    Stream,
)
from semcom_sim.errors import SemcomError
from semcom_sim.link.digital import DigitalLink
from semcom_sim.link.mcs import LDPC_TABLE, MCS, parse_mcs
from semcom_sim.sim.scheme import Scheme, SchemeOutput, Task

PAPER_LDPC = MCS("ldpc", "1/2", "qpsk")
PAPER_TURBO = MCS("turbo", "1/2", "qpsk")
KINDS = ("paper", "mcs", "envelope", "capacity")


@dataclass(frozen=True)
class FieldCoding:
    """How the papers code one kind of field: a codec factory and the MCS."""

    make_codec: Callable[[], Any]
    mcs: MCS


FIELD_CODING: dict[str, FieldCoding] = {
    "image": FieldCoding(lambda: JPEGCodec(quality=50), PAPER_LDPC),
    "text": FieldCoding(UTF8Codec, PAPER_TURBO),
    "question": FieldCoding(UTF8Codec, PAPER_TURBO),
    "audio": FieldCoding(lambda: PCMCodec(bits_per_sample=16, sample_rate=8000), PAPER_LDPC),
    "frames": FieldCoding(lambda: H264Codec(crf=23), PAPER_LDPC),
}


@dataclass(frozen=True)
class TaskPlan:
    """What a task sends conventionally.

    Attributes:
        fields: transmitted fields, primary first.
        output: the field whose reconstruction is the prediction (reconstruction tasks), or
            ``None`` for decision tasks (a task model makes the prediction).
        dataset: the task's embedded dataset (used for Table I when the task is not registered).
    """

    fields: tuple[str, ...]
    output: str | None
    dataset: str


TASK_PLANS: dict[str, TaskPlan] = {
    "image-reconstruction": TaskPlan(("image",), "image", "shapes32"),
    "image-classification": TaskPlan(("image",), None, "shapes32"),
    "text-reconstruction": TaskPlan(("text",), "text", "embedded-text"),
    "sentiment": TaskPlan(("text",), None, "embedded-sentiment"),
    "vqa": TaskPlan(("image", "question"), None, "embedded-vqa"),
    "video-sentiment": TaskPlan(("frames", "text", "audio"), None, "embedded-video-sentiment"),
    "speech-reconstruction": TaskPlan(("audio",), "audio", "embedded-speech"),
    "detseg": TaskPlan(("image",), None, "embedded-detseg"),
}


@dataclass(frozen=True)
class Family:
    """A codec family: its primary field's codec, paper-default scheme name and tasks.

    ``split`` families (feature-jpeg) code the output of a feature extractor and run a task
    head on the decoded features; their components are ``(extractor, head)``.
    """

    name: str
    field: str
    default_name: str
    tasks: tuple[str, ...]
    make_codec: Callable[[], Any]
    mcs: MCS
    split: bool = False


IMAGE_TASKS = ("image-reconstruction", "image-classification", "vqa", "detseg")

# Quality -> image codec, for the rate-controlled (budget) schemes.
IMAGE_CODECS: dict[str, Callable[[int], Any]] = {
    "jpeg": lambda q: JPEGCodec(quality=q),
    "heif": lambda q: HEIFCodec(quality=q),
    "avif": lambda q: AVIFCodec(quality=q),
    "webp": lambda q: WebPCodec(quality=q),
}

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "jpeg",
            "image",
            "jpeg-ldpc",
            ("image-reconstruction", "image-classification", "vqa", "detseg"),
            FIELD_CODING["image"].make_codec,
            PAPER_LDPC,
        ),
        *(
            Family(
                key,
                "image",
                f"{key}-ldpc",
                IMAGE_TASKS,
                lambda cls=cls: cls(quality=50),
                PAPER_LDPC,
            )
            for key, cls in (("heif", HEIFCodec), ("avif", AVIFCodec), ("webp", WebPCodec))
        ),
        Family(
            "utf8",
            "text",
            "utf8-turbo",
            ("text-reconstruction", "sentiment"),
            UTF8Codec,
            PAPER_TURBO,
        ),
        Family(
            "pcm",
            "audio",
            "pcm-ldpc",
            ("speech-reconstruction",),
            FIELD_CODING["audio"].make_codec,
            PAPER_LDPC,
        ),
        Family(
            "h264",
            "frames",
            "h264-ldpc",
            ("video-sentiment",),
            FIELD_CODING["frames"].make_codec,
            PAPER_LDPC,
        ),
        Family(
            "feature-jpeg",
            "image",
            "feature-jpeg-ldpc",
            ("detseg",),
            # q10, not the image families' q50: on FFMNet's D1 (32 x 32 x 128) q50 costs 1.7x
            # the symbols of D1 sent as analog values; q10 is where the error-free mAP@.5 of the
            # split reaches 90 % (results/ffmnet/jpeg_quality.md)
            lambda: FeatureJPEGCodec(quality=10),
            PAPER_LDPC,
            split=True,
        ),
    )
}


def family_of(task_name: str) -> Family | None:
    """The (non-split) family whose paper scheme serves ``task_name``."""
    for f in FAMILIES.values():
        if not f.split and task_name in f.tasks:
            return f
    return None


def build_separation(
    name: str,
    family: Family,
    task: str,
    *,
    mcs: MCS | None = None,
    codec=None,
    components: Any = None,
    link_factory: Callable[[MCS, Any], Any] = DigitalLink,
    device: str | torch.device = "cpu",
    decoder: str = "auto",
    on_block_error: str = "decode",
) -> SeparationScheme:
    """The separation scheme of ``family`` for one task.

    Args:
        mcs: one MCS for every stream (default: each field's paper MCS).
        codec: the primary field's codec (default: the family's).
        components: decision tasks: a receiver (callable on ``{field: reconstruction}``);
            split families: ``(extractor, head)``; reconstruction tasks: ``None``.
    """
    plan = TASK_PLANS[task]
    if plan.fields[0] != family.field:
        raise SemcomError(f"task {task!r} sends {plan.fields[0]!r} first, not {family.field!r}")
    transform, receiver = None, None
    if family.split:
        if components is None:
            raise SemcomError(f"{name}: needs (extractor, head) components for task {task!r}")
        extractor, head = components
        transform = ModelTransform(extractor)
        receiver = ModelReceiver(head, inputs=(family.field,))
    elif plan.output is None:
        receiver = components  # None until prepare() attaches the task model
    streams = []
    for i, field in enumerate(plan.fields):
        fc = FIELD_CODING[field]
        c = (codec if codec is not None else family.make_codec()) if i == 0 else fc.make_codec()
        m = mcs if mcs is not None else (family.mcs if i == 0 else fc.mcs)
        streams.append(Stream(field, c, m.with_backend(decoder), transform if i == 0 else None))
    first = streams[0]
    return SeparationScheme(
        name,
        first.codec,
        first.mcs,
        (task,),
        first.field,
        receiver=receiver,
        on_block_error=on_block_error,
        device=device,
        transform=first.transform,
        extra_streams=streams[1:],
        link_factory=link_factory,
    )


class TaskDispatch(Scheme):
    """One scheme name serving several tasks, each with its own scheme built on first use.

    ``build(task_name, components) -> Scheme``; ``components`` (task model or split halves) come
    from ``components`` given here or from the registries of
    :mod:`semcom_sim.baselines.receivers`, and are built in :meth:`prepare`.
    """

    snr_chunk = 1

    def __init__(
        self,
        name: str,
        tasks: tuple[str, ...],
        build: Callable[[str, Any], Scheme],
        needs: Callable[[str], Any],
        components: Mapping[str, Any] | None = None,
        description: dict | None = None,
    ) -> None:
        self.name = name
        self.task_names = tasks
        self._build = build
        self._needs = needs  # task -> registry holding its components, or None
        self._components = dict(components or {})
        self._subs: dict[str, Scheme] = {}
        self._current: Scheme | None = None
        self._description = description or {}
        if self._description.get("kind") == "capacity":
            self.role = "bound"

    def _available(self, task_name: str) -> bool:
        registry = self._needs(task_name)
        return registry is None or task_name in self._components or task_name in registry

    def supports(self, task: Task) -> bool:
        return task.name in self.task_names and self._available(task.name)

    def scheme_for(self, task_name: str, device: str | torch.device = "cpu") -> Scheme:
        """The (cached) scheme serving ``task_name``, components built on first use."""
        if task_name not in self._subs:
            if task_name not in self.task_names or not self._available(task_name):
                raise SemcomError(f"scheme {self.name!r} does not apply to task {task_name!r}")
            registry = self._needs(task_name)
            comp = None
            if registry is not None:
                comp = self._components.get(task_name)
                if comp is None:
                    comp = registry.create(task_name, device=str(device))
            self._subs[task_name] = self._build(task_name, comp)
        return self._subs[task_name]

    def bare_scheme(self, task_name: str) -> Scheme:
        """The task's scheme without task-model components (symbol accounting, configs)."""
        if task_name not in self.task_names:
            raise SemcomError(f"scheme {self.name!r} does not apply to task {task_name!r}")
        return self._build(task_name, None)

    def prepare(self, task: Task, device: torch.device) -> None:
        self._current = self.scheme_for(task.name, device)
        self._current.prepare(task, device)

    def _scheme(self) -> Scheme:
        if self._current is None:
            if len(self.task_names) == 1:
                return self.scheme_for(self.task_names[0])
            raise SemcomError(f"{self.name}: prepare(task, device) must run before run()")
        return self._current

    def run(self, batch, channel, snr_db, generator) -> SchemeOutput:
        return self._scheme().run(batch, channel, snr_db, generator)

    def identity(self, task: Task) -> dict:
        """The description plus the identity of the scheme serving ``task`` (its codec, MCS,
        decoder and task model), built without a device if not prepared yet."""
        sub = self._subs.get(task.name) or self.scheme_for(task.name)
        return {
            "name": self.name,
            "role": self.role,
            **self._description,
            "task": task.name,
            "scheme": sub.identity(task),
        }

    def config(self) -> dict:
        return {
            "name": self.name,
            **self._description,
            "tasks": list(self.task_names),
            "built": {t: s.config() for t, s in self._subs.items()},
        }


def family_scheme(
    family: str,
    kind: str = "paper",
    *,
    mcs: MCS | str | None = None,
    table: tuple[MCS, ...] = LDPC_TABLE,
    reference: MCS | str | None = None,
    codec=None,
    name: str | None = None,
    components: Mapping[str, Any] | None = None,
    device: str | torch.device = "cpu",
    decoder: str = "auto",
    on_block_error: str = "decode",
) -> TaskDispatch:
    """A conventional scheme of ``family`` for all of its tasks.

    Args:
        family: a key of :data:`FAMILIES` ("jpeg", "utf8", "pcm", "h264", "feature-jpeg").
        kind: "paper", "mcs" (needs ``mcs``), "envelope" (over ``table``) or "capacity"
            (ideal code with the bandwidth of ``reference``, default the lowest-rate MCS of
            ``table``).
        codec: the primary field's codec (e.g. ``JPEGCodec(quality=10)``); then give ``name``.
        components: per task name, a task model receiver or (split families) (extractor, head).
    """
    if family not in FAMILIES:
        raise SemcomError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    if kind not in KINDS:
        raise SemcomError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
    fam = FAMILIES[family]
    mcs = parse_mcs(mcs) if isinstance(mcs, str) else mcs
    reference = parse_mcs(reference) if isinstance(reference, str) else reference
    if kind == "mcs" and mcs is None:
        raise SemcomError("kind 'mcs' needs an mcs")
    if kind == "capacity" and reference is None:
        reference = min(table, key=lambda m: m.spectral_efficiency)
    default_names = {
        "paper": fam.default_name,
        "mcs": f"{fam.name}-{mcs.name}" if mcs is not None else "",
        "envelope": f"{fam.name}-envelope",
        "capacity": f"{fam.name}-capacity",
    }
    name = name or default_names[kind]
    common = dict(codec=codec, device=device, decoder=decoder, on_block_error=on_block_error)

    def build(task: str, comp: Any) -> Scheme:
        if kind == "paper":
            return build_separation(name, fam, task, components=comp, **common)
        if kind == "mcs":
            return build_separation(name, fam, task, mcs=mcs, components=comp, **common)
        if kind == "capacity":
            return build_separation(
                name, fam, task, mcs=reference, components=comp, link_factory=CapacityLink, **common
            )
        members = [
            build_separation(f"{name}[{m.name}]", fam, task, mcs=m, components=comp, **common)
            for m in table
        ]
        return EnvelopeScheme(name, members, table)

    def needs(task: str):
        if fam.split:
            return FEATURE_SPLITS
        return TASK_RECEIVERS if TASK_PLANS[task].output is None else None

    description = {
        "kind": kind,
        "family": fam.name,
        "mcs": None if mcs is None else mcs.name,
        "table": [m.name for m in table] if kind == "envelope" else None,
        "capacity_bandwidth_of": None if reference is None else reference.name,
    }
    return TaskDispatch(name, fam.tasks, build, needs, components, description)


def budget_scheme(
    codecs: tuple[str, ...] = tuple(IMAGE_CODECS),
    budget: int | str = PAPER_JPEG,
    *,
    name: str,
    table: tuple[MCS, ...] = LDPC_TABLE,
    ladder: tuple[int, ...] = DEFAULT_LADDER,
    tasks: tuple[str, ...] = IMAGE_TASKS,
    mosaic: int = 1,
    select: str = "all",
    components: Mapping[str, Any] | None = None,
    device: str | torch.device = "cpu",
    decoder: str = "auto",
    on_block_error: str = "decode",
) -> TaskDispatch:
    """Best (codec, MCS) per SNR at a bandwidth budget, each codec at the quality filling it.

    Members: every codec of ``codecs`` (keys of :data:`IMAGE_CODECS`) x every MCS of ``table``;
    a member sends each image at the highest quality of ``ladder`` whose payload fits the
    image's symbol budget through its MCS (:class:`~semcom_sim.baselines.budget.BudgetCodec`;
    ``budget`` an int = complex symbols per image, or ``"paper-jpeg"`` = the symbols of
    ``jpeg-ldpc`` on the same image). Per SNR the envelope keeps the member with the best task
    metric (:class:`EnvelopeScheme`, common noise seed). Other fields of a task (VQA's
    question) are sent as in the papers and count on top, the same for every member.
    ``mosaic > 1``: groups of that many consecutive images are coded as one mosaic image
    (:class:`~semcom_sim.baselines.budget.MosaicBudgetCodec`; ``budget`` must be an int).

    ``select``: ``"all"`` simulates every (codec, MCS) member; ``"transmitter"`` makes one
    member per MCS that sends each image with the codec whose budget-filling payload decodes
    best at the transmitter (noiseless PSNR, :class:`~semcom_sim.baselines.budget.
    SelectBudgetCodec`; codec choice per image, MCS per SNR), len(codecs) times cheaper.
    """
    if select not in ("all", "transmitter"):
        raise SemcomError(f"select must be 'all' or 'transmitter', got {select!r}")
    unknown = [c for c in codecs if c not in IMAGE_CODECS]
    if not codecs or unknown:
        raise SemcomError(f"unknown image codecs {unknown}; known: {', '.join(IMAGE_CODECS)}")
    fam = FAMILIES["jpeg"]
    caches = {c: EncodeCache() for c in codecs}

    def build(task: str, comp: Any) -> Scheme:
        members, mcss, labels = [], [], []
        if select == "transmitter":
            for m in table:
                codec = SelectBudgetCodec(
                    [BudgetCodec(IMAGE_CODECS[c], c, m, budget, ladder, cache=caches[c])
                     for c in codecs]
                )  # fmt: skip
                members.append(
                    build_separation(
                        f"{name}[{m.name}]",
                        fam,
                        task,
                        mcs=m,
                        codec=codec,
                        components=comp,
                        device=device,
                        decoder=decoder,
                        on_block_error=on_block_error,
                    )
                )
            return EnvelopeScheme(name, members, table)
        for c in codecs:
            for m in table:
                if mosaic > 1:
                    codec = MosaicBudgetCodec(
                        IMAGE_CODECS[c], c, m, budget, mosaic, ladder, cache=caches[c]
                    )
                else:
                    codec = BudgetCodec(IMAGE_CODECS[c], c, m, budget, ladder, cache=caches[c])
                label = f"{c}/{m.name}" if len(codecs) > 1 else m.name
                members.append(
                    build_separation(
                        f"{name}[{label}]",
                        fam,
                        task,
                        mcs=m,
                        codec=codec,
                        components=comp,
                        device=device,
                        decoder=decoder,
                        on_block_error=on_block_error,
                    )
                )
                mcss.append(m)
                labels.append(label)
        return EnvelopeScheme(name, members, mcss, labels)

    def needs(task: str):
        return TASK_RECEIVERS if TASK_PLANS[task].output is None else None

    description = {
        "kind": "budget-envelope",
        "codecs": list(codecs),
        "budget": budget,
        "budget_rule": "complex symbols per image"
        if budget != PAPER_JPEG
        else "per image, the symbols of jpeg-ldpc (JPEG q50 + ldpc-1/2-qpsk)",
        "ladder": list(ladder),
        "table": [m.name for m in table],
        "mosaic": mosaic,
        "select": select,
    }
    scheme = TaskDispatch(name, tasks, build, needs, components, description)
    scheme.role = "conventional"
    return scheme
