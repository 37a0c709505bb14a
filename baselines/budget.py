"""Rate control against a channel-symbol budget: the codec quality that fills a bandwidth.

A :class:`BudgetCodec` wraps an image codec with a quality ladder. Per image it sends the
highest quality of the ladder whose payload, through the digital link of a given MCS, uses at
most the image's symbol budget (:meth:`DigitalLink.num_symbols`: CRC, padding and segmentation
included). This is how "BPG + LDPC at bandwidth ratio r" baselines are run: for each code and
modulation the source rate is the largest that fits the bandwidth, and the best configuration
is chosen per SNR (:func:`semcom_sim.baselines.families.budget_scheme`).

Budget rules (``budget``):
    - an int: at most that many complex symbols per image (bandwidth ratio ``k/n = 1/6`` for a
      32x32x3 image, ``n = 3072`` source values, is ``k = 512`` complex symbols, the convention
      of the deep JSCC papers);
    - ``"paper-jpeg"``: the symbols that the paper's default (JPEG q50, tables shared, +
      ``ldpc-1/2-qpsk``) spends on the same image, so the scheme never uses more bandwidth than
      ``jpeg-ldpc``, image by image.

Payload: one byte, the index of the chosen quality in the ladder (counted: the receiver needs
it to rebuild the codec's shared template), then the codec's payload. An image for which not
even the lowest quality fits is not sent (empty payload, 0 symbols; the receiver shows the
codec's fallback, mid-grey), so the budget is never exceeded.

Encoding every quality of the ladder is the expensive part (HEIF: ~6 ms per 32x32 image and
quality). The payloads are cached per image (by the bytes of its 8-bit pixels), so the members
of an envelope (one per MCS) and the SNR points of a sweep reuse them; :class:`EncodeCache` is
shared by the members.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import xxhash

from semcom_sim.baselines.codecs import Codec, Decoded, JPEGCodec
from semcom_sim.baselines.codecs.base import Like, like_device, like_shape, to_numpy, to_uint8
from semcom_sim.errors import SemcomError
from semcom_sim.link.digital import DigitalLink
from semcom_sim.link.mcs import MCS, parse_mcs

PAPER_JPEG = "paper-jpeg"
DEFAULT_LADDER = tuple(range(5, 100, 5))  # 5, 10, ..., 95
REFERENCE_MCS = parse_mcs("ldpc-1/2-qpsk")


class EncodeCache:
    """Payloads per (codec config, quality, image), bounded (cleared when full)."""

    def __init__(self, max_items: int = 200_000) -> None:
        self.max_items = max_items
        self._store: dict[tuple, bytes] = {}

    def get(self, codec: Codec, image: np.ndarray, fresh: torch.Tensor) -> bytes:
        """The payload of ``image`` (uint8 [C, H, W]; ``fresh`` the float [1, C, H, W])."""
        key = (repr(sorted(codec.config().items())), image.shape, _digest(image))
        out = self._store.get(key)
        if out is None:
            if len(self._store) >= self.max_items:
                self._store.clear()
            out = self._store[key] = codec.encode(fresh)[0]
        return out


def _digest(image: np.ndarray) -> bytes:
    return xxhash.xxh3_128(np.ascontiguousarray(image)).digest()


def check_budget(budget: int | str) -> int | str:
    if budget == PAPER_JPEG:
        return budget
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise SemcomError(f"budget must be a positive int (symbols) or {PAPER_JPEG!r}: {budget!r}")
    return budget


class BudgetCodec(Codec):
    """Per image, the highest ladder quality of ``make(quality)`` that fits the symbol budget.

    Args:
        make: quality -> codec (e.g. ``lambda q: HEIFCodec(quality=q)``).
        key: the codec's factory name (for names and configs), e.g. "heif".
        mcs: the MCS whose symbol count the budget is checked against.
        budget: symbols per image (int) or ``"paper-jpeg"`` (see the module docstring).
        ladder: increasing qualities (at most 255).
        cache: an :class:`EncodeCache` shared with other members (default: its own).

    ``encode([B, C, H, W]) -> B payloads``; ``decode(payloads, like)`` needs ``like``.
    """

    def __init__(
        self,
        make: Callable[[int], Codec],
        key: str,
        mcs: MCS | str,
        budget: int | str = PAPER_JPEG,
        ladder: Sequence[int] = DEFAULT_LADDER,
        cache: EncodeCache | None = None,
    ) -> None:
        ladder = tuple(int(q) for q in ladder)
        if not ladder or len(ladder) > 255 or list(ladder) != sorted(set(ladder)):
            raise SemcomError(f"quality ladder must be 1..255 increasing values, got {ladder}")
        self.make, self.key, self.ladder = make, key, ladder
        self.mcs = parse_mcs(mcs) if isinstance(mcs, str) else mcs
        self.budget = check_budget(budget)
        self.codecs = [make(q) for q in ladder]
        self.cache = cache if cache is not None else EncodeCache()
        self._link = DigitalLink(self.mcs)
        self._ref_link = DigitalLink(REFERENCE_MCS)
        self._ref_codec = JPEGCodec(quality=50)
        b = self.budget if isinstance(self.budget, str) else f"b{self.budget}"
        self.name = f"{key}-{b}-{self.mcs.name}"

    @property
    def description(self) -> str:
        rule = (
            "the symbols of JPEG q50 + ldpc-1/2-qpsk on the same image"
            if self.budget == PAPER_JPEG
            else f"{self.budget} complex symbols"
        )
        return (
            f"{self.codecs[0].description.split(', quality')[0]}; per image the highest quality "
            f"of {list(self.ladder)} whose payload (+1 byte quality index) through "
            f"{self.mcs.name} fits {rule}; images that do not fit at any quality are not sent"
        )

    def config(self) -> dict:
        return {
            "codec": f"budget-{self.key}",
            "base": self.codecs[0].config(),
            "mcs": self.mcs.name,
            "budget": self.budget,
            "ladder": list(self.ladder),
        }

    def budgets(self, x: torch.Tensor) -> list[int]:
        """Symbols allowed per image of ``x`` [B, C, H, W]."""
        if self.budget != PAPER_JPEG:
            return [self.budget] * len(x)
        ref = [self.cache.get(self._ref_codec, im, x[i : i + 1]) for i, im in enumerate(_u8(x))]
        return [self._ref_link.num_symbols(len(p)) for p in ref]

    def encode(self, batch: torch.Tensor) -> list[bytes]:
        """[B, C, H, W] float in [0, 1] -> B payloads (quality index byte + codec payload)."""
        x = torch.as_tensor(to_numpy(batch, 4, "budget codec"))
        out = []
        for i, (im, allowed) in enumerate(zip(_u8(x), self.budgets(x), strict=True)):
            best = b""
            lo, hi = 0, len(self.ladder) - 1  # bisection: payload size ~monotone in quality
            while lo <= hi:
                mid = (lo + hi) // 2
                p = bytes([mid]) + self.cache.get(self.codecs[mid], im, x[i : i + 1])
                if self._link.num_symbols(len(p)) <= allowed:
                    best, lo = p, mid + 1
                else:
                    hi = mid - 1
            out.append(best)
        return out

    def decode(
        self, payloads: Sequence[bytes], like: Like = None, *, device: torch.device | None = None
    ) -> Decoded:
        """B payloads -> ``Decoded(data=[B, C, H, W] float32, failed)``; fallback mid-grey."""
        b, c, h, w = like_shape(like, len(payloads), 4, "budget codec")
        out = torch.full((b, c, h, w), 0.5)
        failed = []
        for i, p in enumerate(payloads):
            if len(p) < 2 or p[0] >= len(self.codecs):
                failed.append(True)
                continue
            dec = self.codecs[p[0]].decode([bytes(p[1:])], like=(1, c, h, w))
            out[i] = dec.data[0]
            failed.append(dec.failed[0])
        return Decoded(out.to(like_device(like, device)), failed)


def _u8(x: torch.Tensor) -> np.ndarray:
    return to_uint8(x.detach().cpu().numpy())


class MosaicBudgetCodec(BudgetCodec):
    """Groups of ``group`` consecutive images coded as one mosaic image, headers amortised.

    The batch is cut into consecutive groups of ``group`` images (the last may be smaller),
    each tiled row-major into a near-square grid (cols = ceil(sqrt(g)), rows = ceil(g / cols),
    unused tiles black) and coded as one image at the highest ladder quality whose payload
    (1 quality byte + codestream), cut into g nearly equal slices (one per image, the first
    ones a byte longer), fits ``budget`` symbols per slice through ``mcs``. Each image's link
    payload is its slice; the receiver joins the g received slices of the group, decodes the
    mosaic and crops the tiles. One undecodable mosaic makes its whole group mid-grey (as a
    real mosaic coder would). This is how the published "BPG + LDPC" CIFAR baseline codes
    8 x 8 mosaics of 64 images. ``budget`` must be an int (symbols per image).
    """

    def __init__(
        self,
        make: Callable[[int], Codec],
        key: str,
        mcs: MCS | str,
        budget: int,
        group: int = 64,
        ladder: Sequence[int] = DEFAULT_LADDER,
        cache: EncodeCache | None = None,
    ) -> None:
        if budget == PAPER_JPEG:
            raise SemcomError("a mosaic budget must be a number of symbols per image")
        super().__init__(make, key, mcs, budget, ladder, cache)
        if isinstance(group, bool) or not isinstance(group, int) or not 1 <= group <= 1024:
            raise SemcomError(f"mosaic group must be an int in 1..1024, got {group!r}")
        self.group = group
        self.name = f"{key}-mosaic{group}-b{budget}-{self.mcs.name}"

    @property
    def description(self) -> str:
        return (
            f"{super().description}; coded as mosaics of {self.group} consecutive images, "
            "the mosaic payload cut into one slice per image"
        )

    def config(self) -> dict:
        return {**super().config(), "codec": f"mosaic-budget-{self.key}", "group": self.group}

    @staticmethod
    def grid(g: int) -> tuple[int, int]:
        cols = max(1, int(np.ceil(np.sqrt(g))))
        return -(-g // cols), cols

    @staticmethod
    def slices(payload: bytes, g: int) -> list[bytes]:
        base, extra = divmod(len(payload), g)
        out, p = [], 0
        for i in range(g):
            n = base + (i < extra)
            out.append(payload[p : p + n])
            p += n
        return out

    def encode(self, batch: torch.Tensor) -> list[bytes]:
        """[B, C, H, W] float in [0, 1] -> B payloads (slices of the group mosaics)."""
        x = torch.as_tensor(to_numpy(batch, 4, "mosaic codec"))
        out: list[bytes] = []
        for start in range(0, len(x), self.group):
            tiles = x[start : start + self.group]
            g, (c, h, w) = len(tiles), tiles.shape[1:]
            rows, cols = self.grid(g)
            canvas = torch.zeros(rows * cols, c, h, w)
            canvas[:g] = tiles
            mosaic = canvas.reshape(rows, cols, c, h, w).permute(2, 0, 3, 1, 4)
            mosaic = mosaic.reshape(1, c, rows * h, cols * w)
            m8 = _u8(mosaic)[0]
            best = [b""] * g
            lo, hi = 0, len(self.ladder) - 1
            while lo <= hi:
                mid = (lo + hi) // 2
                p = bytes([mid]) + self.cache.get(self.codecs[mid], m8, mosaic)
                parts = self.slices(p, g)
                if self._link.num_symbols(len(parts[0])) <= self.budget:
                    best, lo = parts, mid + 1
                else:
                    hi = mid - 1
            out += best
        return out

    def decode(
        self, payloads: Sequence[bytes], like: Like = None, *, device: torch.device | None = None
    ) -> Decoded:
        """B payloads -> ``Decoded(data=[B, C, H, W] float32, failed)``; fallback mid-grey."""
        b, c, h, w = like_shape(like, len(payloads), 4, "mosaic codec")
        out = torch.full((b, c, h, w), 0.5)
        failed = [True] * b
        for start in range(0, b, self.group):
            group = [bytes(p) for p in payloads[start : start + self.group]]
            g = len(group)
            rows, cols = self.grid(g)
            p = b"".join(group)
            if len(p) < 2 or p[0] >= len(self.codecs):
                continue
            dec = self.codecs[p[0]].decode([p[1:]], like=(1, c, rows * h, cols * w))
            if dec.failed[0]:
                continue
            tiles = dec.data[0].reshape(c, rows, h, cols, w).permute(1, 3, 0, 2, 4)
            out[start : start + g] = tiles.reshape(rows * cols, c, h, w)[:g]
            failed[start : start + g] = [False] * g
        return Decoded(out.to(like_device(like, device)), failed)


class SelectBudgetCodec(Codec):
    """Per image, the codec of ``members`` whose budget-filling payload decodes best.

    The members (:class:`BudgetCodec` s of different codecs with the same MCS and budget) each
    fill the image's budget; the transmitter decodes each candidate itself (noiseless: it
    knows its own source distortion, not the channel) and sends the one with the highest PSNR
    (ties: fewer bytes). This is rate-distortion optimisation across codecs at the transmitter;
    the receiver learns the choice from the first payload byte (counted), which holds
    ``codec * len(ladder) + quality`` (or two bytes, codec then quality, when that exceeds 255).
    Choices are cached per image, so the SNR points of a sweep reuse them.
    """

    def __init__(self, members: Sequence[BudgetCodec]) -> None:
        if not members or len({(m.mcs, m.budget, m.ladder) for m in members}) != 1:
            raise SemcomError("SelectBudgetCodec needs members with one MCS, budget and ladder")
        self.members = list(members)
        self.mcs, self.budget, self.ladder = members[0].mcs, members[0].budget, members[0].ladder
        self._merged = len(members) * len(self.ladder) <= 256
        self._choices: dict[tuple, bytes] = {}
        keys = "+".join(m.key for m in members)
        b = self.budget if isinstance(self.budget, str) else f"b{self.budget}"
        self.name = f"select[{keys}]-{b}-{self.mcs.name}"

    @property
    def description(self) -> str:
        return (
            "per image the best-PSNR (noiseless, at the transmitter) of: "
            + "; ".join(m.description for m in self.members)
            + "; codec and quality in the first payload byte(s) (counted)"
        )

    def config(self) -> dict:
        return {"codec": "select-budget", "members": [m.config() for m in self.members]}

    def _header(self, codec: int, quality: int) -> bytes:
        if self._merged:
            return bytes([codec * len(self.ladder) + quality])
        return bytes([codec, quality])

    def _parse(self, p: bytes) -> tuple[int, int, bytes] | None:
        if self._merged:
            if len(p) < 2:
                return None
            codec, quality = divmod(p[0], len(self.ladder))
            rest = p[1:]
        else:
            if len(p) < 3:
                return None
            codec, quality, rest = p[0], p[1], p[2:]
        if codec >= len(self.members) or quality >= len(self.ladder):
            return None
        return codec, quality, rest

    def encode(self, batch: torch.Tensor) -> list[bytes]:
        """[B, C, H, W] float in [0, 1] -> B payloads (choice byte(s) + codec payload)."""
        x = torch.as_tensor(to_numpy(batch, 4, "select codec"))
        u8 = _u8(x)
        out: list[bytes] = [b""] * len(x)
        todo = []
        for i, im in enumerate(u8):
            key = (im.shape, _digest(im))
            if key in self._choices:
                out[i] = self._choices[key]
            else:
                todo.append(i)
        if todo:
            xs = x[todo]
            target = torch.round(xs * 255)
            best = [(-np.inf, 0, b"")] * len(todo)  # (psnr, -bytes, payload)
            for c, m in enumerate(self.members):
                payloads = m.encode(xs)
                rec = torch.round(m.decode(payloads, like=xs).data * 255)
                mse = ((rec - target) ** 2).mean(dim=(1, 2, 3)).clamp_min(1e-10)
                psnr = (10 * torch.log10(255.0**2 / mse)).tolist()
                for j, p in enumerate(payloads):
                    if not p:
                        continue
                    extra = 0 if self._merged else 1
                    if m._link.num_symbols(len(p) + extra) > m.budgets(xs[j : j + 1])[0]:
                        continue  # the two-byte header would not fit
                    cand = (psnr[j], -len(p), self._header(c, p[0]) + p[1:])
                    if cand[:2] > best[j][:2]:
                        best[j] = cand
            for j, i in enumerate(todo):
                out[i] = best[j][2]
                if len(self._choices) >= 200_000:
                    self._choices.clear()
                self._choices[(u8[i].shape, _digest(u8[i]))] = out[i]
        return out

    def decode(
        self, payloads: Sequence[bytes], like: Like = None, *, device: torch.device | None = None
    ) -> Decoded:
        """B payloads -> ``Decoded(data=[B, C, H, W] float32, failed)``; fallback mid-grey."""
        b, c, h, w = like_shape(like, len(payloads), 4, "select codec")
        out = torch.full((b, c, h, w), 0.5)
        failed = []
        for i, p in enumerate(payloads):
            parsed = self._parse(bytes(p))
            if parsed is None:
                failed.append(True)
                continue
            codec, quality, rest = parsed
            dec = self.members[codec].codecs[quality].decode([rest], like=(1, c, h, w))
            out[i] = dec.data[0]
            failed.append(dec.failed[0])
        return Decoded(out.to(like_device(like, device)), failed)
