"""Registration of the conventional schemes in :data:`semcom_sim.sim.scheme.SCHEMES`.

Per codec family (:data:`semcom_sim.baselines.families.FAMILIES`):

- the paper default, rate 1/2 QPSK: ``jpeg-ldpc``, ``utf8-turbo``, ``pcm-ldpc``, ``h264-ldpc``,
  ``feature-jpeg-ldpc``;
- one fixed-MCS scheme per entry of ``LDPC_TABLE`` (the staircase), named
  ``<family>-<mcs>``, e.g. ``jpeg-ldpc-2/3-16qam``; the entry equal to the paper default is
  not registered twice (``jpeg-ldpc`` *is* ``jpeg-ldpc-1/2-qpsk``; text keeps
  ``utf8-ldpc-1/2-qpsk`` because its paper default uses Turbo);
- ``<family>-envelope`` (best MCS of ``LDPC_TABLE`` per SNR, winner recorded as ``mcs_index``)
  and ``<family>-capacity`` (source codec + ideal code, plotted dashed);
- JPEG at other qualities with the paper MCS: ``jpeg-q10-ldpc`` ... ``jpeg-q90-ldpc``;
- the modern image codecs as families like JPEG's (``heif-ldpc``, ``avif-ldpc``, ``webp-ldpc``
  at quality 50, their staircases, ``-envelope`` and ``-capacity``), all tagged ``variant``;
- rate-controlled envelopes at a bandwidth budget (:func:`~semcom_sim.baselines.families.
  budget_scheme`): ``best-image-envelope`` (default sweep: the best of JPEG/HEIF/AVIF/WebP x
  quality x MCS per SNR within the symbols ``jpeg-ldpc`` spends on each image, the strongest
  separate-coding reference), per codec ``<codec>-budget-envelope`` (variants) and, for the
  published "BPG + LDPC at bandwidth ratio 1/6" comparison on CIFAR-10, ``heif-b512-envelope``
  and ``best-image-b512-envelope`` (at most 512 complex symbols per 32x32 image; variants), and
  ``heif-mosaic64-b512-envelope`` (HEIF on 8x8 mosaics of 64 images, as the published baseline).

Each scheme applies to every task of its family whose data it can send (``supports()`` by task
name), e.g. ``jpeg-ldpc`` to image reconstruction, image classification, VQA and detection +
segmentation; decision tasks only once a task model is registered in
:mod:`semcom_sim.baselines.receivers`.
"""

from __future__ import annotations

from semcom_sim.baselines.codecs import JPEGCodec
from semcom_sim.baselines.families import FAMILIES, IMAGE_CODECS, budget_scheme, family_scheme
from semcom_sim.link.mcs import LDPC_TABLE, parse_mcs
from semcom_sim.sim.scheme import SCHEMES

JPEG_QUALITIES = (10, 30, 70, 90)

_FIELD_WORDS = {
    "jpeg": "JPEG q50 (shared tables)",
    "utf8": "UTF-8",
    "pcm": "16-bit PCM",
    "h264": "H.264 crf 23 frames",
    "feature-jpeg": "8-bit features + JPEG q10",
    "heif": "HEIF/HEVC intra q50 (codestream)",
    "avif": "AVIF/AV1 intra q50 (codestream)",
    "webp": "WebP q50 (codestream)",
}
NEW_IMAGE_FAMILIES = ("heif", "avif", "webp")


def _register(name: str, help: str, **kwargs) -> None:
    def factory(device: str = "cpu", decoder: str = "auto"):
        return family_scheme(name=name, device=device, decoder=decoder, **kwargs)

    factory.__name__ = name
    # The single-MCS staircase is left out of the default sweep (the envelope runs every MCS).
    # So are the new image families: the default sweep gets their best-of, best-image-envelope.
    variant = kwargs.get("kind") == "mcs" or kwargs.get("family") in NEW_IMAGE_FAMILIES
    tags = ("variant",) if variant else ()
    SCHEMES.register(name, help, tags=tags)(factory)


for _fam in FAMILIES.values():
    # feature-jpeg-*: split inference; they serve a task once its FEATURE_SPLITS back end is
    # registered (detseg: FFMNet's halves, semcom_sim.models.ffmnet.schemes).
    _words = _FIELD_WORDS[_fam.name]
    _register(
        _fam.default_name,
        f"{_words} + {_fam.mcs.name} (paper default); other fields as in the papers",
        family=_fam.name,
        kind="paper",
    )
    for _mcs in LDPC_TABLE:
        if _mcs == _fam.mcs:
            continue
        _register(
            f"{_fam.name}-{_mcs.name}",
            f"{_words} + {_mcs.name} on every stream (MCS staircase)",
            family=_fam.name,
            kind="mcs",
            mcs=_mcs,
        )
    _register(
        f"{_fam.name}-envelope",
        f"{_words}: best of the LDPC MCS table per SNR (winner in extras mcs_index)",
        family=_fam.name,
        kind="envelope",
    )
    _register(
        f"{_fam.name}-capacity",
        f"{_words} + ideal code at capacity, bandwidth of ldpc-1/3-qpsk (bound, dashed)",
        family=_fam.name,
        kind="capacity",
    )

for _q in JPEG_QUALITIES:
    SCHEMES.register(
        f"jpeg-q{_q}-ldpc", f"JPEG q{_q} (shared tables) + ldpc-1/2-qpsk", tags=("variant",)
    )(
        lambda device="cpu", decoder="auto", _q=_q: family_scheme(
            "jpeg",
            codec=JPEGCodec(quality=_q),
            name=f"jpeg-q{_q}-ldpc",
            device=device,
            decoder=decoder,
        )
    )


# The ratio-1/6 comparison picks the best of a wider code/modulation set (the published baseline
# reaches 64-QAM at rate 3/4); the quality is searched over every value 1..100.
WIDE_LDPC_TABLE = tuple(
    sorted(
        {*LDPC_TABLE, *map(parse_mcs, ("ldpc-3/4-qpsk", "ldpc-3/4-16qam", "ldpc-2/3-64qam",
                                       "ldpc-3/4-64qam"))},
        key=lambda m: (m.spectral_efficiency, m.name),
    )
)  # fmt: skip
FULL_LADDER = tuple(range(1, 101))


def _register_budget(name: str, help: str, variant: bool, **kwargs) -> None:
    def factory(device: str = "cpu", decoder: str = "auto"):
        return budget_scheme(name=name, device=device, decoder=decoder, **kwargs)

    factory.__name__ = name
    SCHEMES.register(name, help, tags=("variant",) if variant else ())(factory)


_register_budget(
    "best-image-envelope",
    "per image the best of JPEG/HEIF/AVIF/WebP at the quality filling the symbols jpeg-ldpc "
    "spends on it, best LDPC MCS per SNR (strongest separate-coding reference)",
    variant=False,
    select="transmitter",
    tasks=("image-reconstruction", "image-classification", "vqa"),
)
_register_budget(
    "best-image-all-envelope",
    "as best-image-envelope, but every (codec, MCS) pair simulated and the best kept per SNR",
    variant=True,
)
for _c in IMAGE_CODECS:
    _register_budget(
        f"{_c}-budget-envelope",
        f"{_c} at the quality filling jpeg-ldpc's symbols per image, best LDPC MCS per SNR",
        variant=True,
        codecs=(_c,),
    )
_register_budget(
    "heif-b512-envelope",
    "HEIF (BPG-class) at <= 512 complex symbols per image (ratio 1/6 at 32x32x3), best of 10 "
    "LDPC MCS (to 3/4 64-QAM) per SNR (the published BPG + LDPC comparison)",
    variant=True,
    codecs=("heif",),
    budget=512,
    table=WIDE_LDPC_TABLE,
    ladder=FULL_LADDER,
)
_register_budget(
    "heif-mosaic64-b512-envelope",
    "HEIF coding 8x8 mosaics of 64 consecutive images (headers amortised, as the published "
    "BPG + LDPC CIFAR baseline), <= 512 symbols per image, best of 10 LDPC MCS per SNR",
    variant=True,
    codecs=("heif",),
    budget=512,
    table=WIDE_LDPC_TABLE,
    ladder=FULL_LADDER,
    tasks=("image-reconstruction",),
    mosaic=64,
)
_register_budget(
    "best-image-b512-envelope",
    "best of JPEG/HEIF/AVIF/WebP x quality x 10 LDPC MCS per SNR at <= 512 symbols per image",
    variant=True,
    budget=512,
    table=WIDE_LDPC_TABLE,
    ladder=FULL_LADDER,
)
