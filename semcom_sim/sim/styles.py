"""One line style per scheme, the same in every figure: :func:`scheme_style` is the only place a
curve's colour, line style and marker come from.

The style is a pure function of the scheme's name (and, for names it does not know, its stored
role), never of the order in which a figure draws its curves, so U-DeepSC is the same blue in
Fig. 7, the cliff figures and the per-task plots. The rules, in order:

- the papers' schemes have fixed styles (:data:`NAMED`): U-DeepSC blue, T-DeepSC orange, the
  upper bound green dashed, each conventional family's default scheme its family colour, the
  best-codec envelope black;
- trivial references (role ``reference``, and the ``chance`` line) are grey, dashed or dotted;
- families of studies share their model's or codec's hue and differ in shade and line style:
  ``udeepsc-exit<d>`` (dashed, shade by ``d``), ``udeepsc-layer<l>`` (dotted, shade by ``l``),
  ``<codec>-ldpc-<rate>-<modulation>`` (fixed MCS, dash-dot, shade by spectral efficiency; also
  the member curves stored inside ``<codec>-envelope`` records), ``<codec>-envelope`` (thick),
  ``<codec>-capacity`` (dashed), ``<codec>-q<Q>-ldpc`` and ``<codec>-<x>-envelope`` variants,
  ``ffmnet-jscc-<ratio>x-<kind>`` (purple, darker for a higher ratio, line style by kind);
- any other name gets a colour and line style from a hash of the name.

:func:`is_paper_default` splits the schemes of a task into the papers' comparison (drawn in the
per-task plot and Fig. 7) and the studies (multi-exit, fixed layers, MCS staircase, capacity,
quality ladders ...), drawn in a separate figure.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass

__all__ = [
    "NAMED",
    "Style",
    "draw_curve",
    "is_paper_default",
    "mcs_efficiency",
    "mcs_style",
    "scheme_style",
]


@dataclass(frozen=True)
class Style:
    """A curve's look. ``ls`` is a matplotlib line style (a name or an ``(offset, dashes)``
    tuple); ``color`` a ``#rrggbb`` string."""

    color: str
    ls: str | tuple
    marker: str = ""
    lw: float = 1.6

    def kw(self) -> dict:
        """matplotlib keyword arguments (``color``, ``ls``, ``marker``, ``lw``)."""
        return {"color": self.color, "ls": self.ls, "marker": self.marker, "lw": self.lw}

    def key(self) -> tuple[str, str]:
        """(colour, line style) as comparable strings: what two curves of one axis must not
        share."""
        return self.color.lower(), _ls_key(self.ls)


_LS_NAMES = {"-": "solid", "--": "dashed", ":": "dotted", "-.": "dashdot"}


def _ls_key(ls) -> str:
    return _LS_NAMES.get(ls, ls) if isinstance(ls, str) else repr(ls)


def _rgb(hex_colour: str) -> tuple[float, float, float]:
    h = hex_colour.lstrip("#")
    return tuple(int(h[i : i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def _hex(rgb) -> str:
    return "#" + "".join(f"{round(max(0.0, min(1.0, c)) * 255):02x}" for c in rgb)


def shade(hex_colour: str, t: float) -> str:
    """``hex_colour`` mixed with white (``t`` > 0) or black (``t`` < 0); ``|t|`` <= 1."""
    target = 1.0 if t > 0 else 0.0
    return _hex(c + abs(t) * (target - c) for c in _rgb(hex_colour))


# Family hues: each codec or model family has one, its schemes are shades of it.
FAMILY_COLOURS = {
    "udeepsc": "#1f77b4",
    "tdeepsc": "#ff7f0e",
    "upper-bound": "#2ca02c",
    "jpeg": "#d62728",
    "heif": "#8c564b",
    "avif": "#e377c2",
    "webp": "#bcbd22",
    "utf8": "#e31a1c",
    "pcm": "#a50f15",
    "h264": "#b2182b",
    "best-image": "#17becf",
    "ffmnet": "#9467bd",
    "ffmnet-jpeg": "#7f2704",
    "feature-jpeg": "#7f2704",
}
GREY = "#6e6e6e"
DOT, DASH, DASHDOT = (0, (1, 1.5)), (0, (5, 2)), (0, (4, 1.5, 1, 1.5))

NAMED: dict[str, Style] = {
    "udeepsc": Style("#1f77b4", "-", "o", 2.0),
    "tdeepsc": Style("#ff7f0e", "-", "s", 2.0),
    "upper-bound": Style("#2ca02c", "--", "", 1.8),
    "jpeg-ldpc": Style("#d62728", "-", "D", 1.8),
    "utf8-turbo": Style("#e31a1c", "-", "D", 1.8),
    "h264-ldpc": Style("#b2182b", "-", "D", 1.8),
    "pcm-ldpc": Style("#a50f15", "-", "D", 1.8),
    "heif-ldpc": Style("#8c564b", "-", "D", 1.6),
    "avif-ldpc": Style("#e377c2", "-", "D", 1.6),
    "webp-ldpc": Style("#bcbd22", "-", "D", 1.6),
    "best-image-envelope": Style("#000000", "-", "*", 2.4),
    "ffmnet-uncompressed": Style("#4a2377", "--", "", 1.8),
    "ffmnet-jscc-512x-snr0": Style("#c5b0d5", "-", "v", 1.8),
    "ffmnet-jscc-512x-snr5": Style("#9467bd", "-", "o", 2.0),
    "ffmnet-jscc-512x-snr10": Style("#5b3a8c", "-", "^", 1.8),
    "ffmnet-jscc-512x-ref": Style("#9467bd", ":", "", 1.6),
    "ffmnet-jpeg-ldpc": Style("#a63603", "-", "D", 1.8),
    "udeepsc-fixed-layer": Style("#3f3fbf", DOT, "^", 1.6),  # Fig. 10: all udeepsc-layer<l>
    # trivial references: grey, dashed / dotted
    "majority-class": Style("#555555", DASH, "", 1.3),
    "question-prior": Style("#555555", DOT, "", 1.5),
    "mean-image": Style("#444444", DASH, "", 1.3),
    "mean-colour": Style("#888888", DOT, "", 1.5),
    "block-colour": Style("#999999", DASHDOT, "", 1.3),
    "constant-sentence": Style("#666666", DASHDOT, "", 1.5),
    "chance": Style("#b5b5b5", DOT, "", 1.1),
    "local-model": Style("#6e6e6e", (0, (6, 2, 1, 2, 1, 2)), "x", 1.3),  # no-channel model
}

_MOD_BITS = {"bpsk": 1, "qpsk": 2, "16qam": 4, "64qam": 6, "256qam": 8}
_MCS = re.compile(r"^(?:(?P<fam>.+)-)?(?P<code>ldpc|turbo)-(?P<num>\d+)/(?P<den>\d+)-(?P<mod>\w+)$")
_FALLBACK_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
    "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d",
)  # fmt: skip
_FALLBACK_LS = ("-", (0, (6, 1.5)), (0, (2, 1)), (0, (6, 1.5, 1.5, 1.5)), (0, (8, 2, 1, 2, 1, 2)))


def mcs_efficiency(mcs: str) -> float:
    """Information bits per complex symbol of an MCS label (``ldpc-2/3-16qam`` -> 2.67); NaN
    for a label that is not ``<code>-<k>/<n>-<modulation>``."""
    m = _MCS.match(mcs)
    if not m:
        return float("nan")
    return int(m["num"]) / int(m["den"]) * _MOD_BITS.get(m["mod"], 2)


def mcs_style(family: str, mcs: str) -> Style:
    """A fixed-MCS curve of ``family`` (e.g. ``jpeg``, ``ldpc-1/2-16qam``): dash-dot, thin, the
    family's hue, darker for a higher spectral efficiency. The same whether the curve is a
    scheme (``jpeg-ldpc-1/2-16qam``) or a member stored inside ``jpeg-envelope``'s records."""
    base = FAMILY_COLOURS.get(family) or _fallback(family).color
    eff = mcs_efficiency(mcs)
    if eff != eff:  # NaN: not an MCS label
        return Style(shade(base, 0.3), (0, (3, 1, 1, 1, 1, 1)), ".", 0.9)
    t = max(-0.6, min(0.7, 0.7 - 0.42 * eff))  # 2/3 bit light ... 6 bit dark
    return Style(shade(base, t), "-.", ".", 0.9)


def scheme_style(name: str, role: str | None = None) -> Style:
    """The style of scheme ``name`` in every figure (see the module docstring for the rules).

    Args:
        name: the scheme's registered name (or ``chance`` for the chance line).
        role: its stored role; used only for names no rule knows (``reference`` -> grey).
    """
    if name in NAMED:
        return NAMED[name]
    m = re.fullmatch(r"udeepsc-exit(\d*\.?\d+)", name)
    if m:  # multi-exit thresholds: dashed blues, darker for a stricter threshold
        d = float(m[1])
        return Style(shade(FAMILY_COLOURS["udeepsc"], 0.75 - 1.3 * min(d, 1.0)), "--", "v", 1.3)
    m = re.fullmatch(r"udeepsc-layer(\d+)", name)
    if m:  # fixed exit layers: dotted, purple-blue, darker for a deeper layer
        k = int(m[1])
        base = "#3f3fbf"
        return Style(shade(base, 0.6 - 0.25 * ((k - 1) % 6)), DOT if k <= 6 else ":", "^", 1.5)
    m = re.fullmatch(r"ffmnet-jscc-(\d+)x-(ref|noiseless|step2-ref)", name)
    if m:  # FFMNet JSCC per compression ratio: darker for a higher ratio, line style by kind
        t = max(-0.6, min(0.6, 0.45 - 0.3 * (math.log2(int(m[1])) - 7)))
        ls = {"ref": DOT, "noiseless": "--", "step2-ref": DASHDOT}
        return Style(shade(FAMILY_COLOURS["ffmnet"], t), ls[m[2]], "p", 1.4)
    m = _MCS.match(name)
    if m and m["fam"]:
        return mcs_style(m["fam"], name[len(m["fam"]) + 1 :])
    fam, kind = _family(name)
    if fam is not None:
        base = FAMILY_COLOURS[fam]
        if kind == "envelope":
            return Style(shade(base, -0.35), "-", "o", 2.6)
        if kind == "capacity":
            return Style(base, "--", "", 1.8)
        if kind == "ldpc":
            return Style(base, "-", "D", 1.6)
        q = re.fullmatch(r"q(\d+)-ldpc", kind)
        if q:  # quality ladder: darker for higher quality
            return Style(shade(base, 0.6 - 0.012 * int(q[1])), (0, (6, 1.5, 1.5, 1.5)), "x", 1.1)
        e = re.fullmatch(r"(.+)-envelope", kind)
        if e:  # budget / block-size variants of the envelope
            h = _hash(e[1]) % 16
            return Style(shade(base, 0.55 - 0.07 * h), (0, (2, 1)), "o", 1.6)
    if role == "reference":
        h = _hash(name)
        ls = (DASH, DOT, DASHDOT)[h % 3]
        return Style(("#444444", "#777777", "#9a9a9a")[(h // 3) % 3], ls, "", 1.3)
    return _fallback(name)


def _family(name: str) -> tuple[str | None, str]:
    """(family, rest) for ``<family>-<rest>`` names of a known family (longest family first)."""
    for fam in sorted(FAMILY_COLOURS, key=len, reverse=True):
        if name.startswith(fam + "-"):
            return fam, name[len(fam) + 1 :]
    return None, name


def _hash(text: str) -> int:
    """A stable hash (the same in every process, unlike ``hash``)."""
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:4], "big")


def _fallback(name: str) -> Style:
    h = _hash(name)
    colour = _FALLBACK_COLOURS[h % len(_FALLBACK_COLOURS)]
    ls = _FALLBACK_LS[(h // len(_FALLBACK_COLOURS)) % len(_FALLBACK_LS)]
    return Style(shade(colour, -0.2), ls, "p", 1.4)


PAPER_LEARNED = (
    "udeepsc",
    "tdeepsc",
    "upper-bound",
    "ffmnet-uncompressed",
    "ffmnet-jscc-512x-ref",
    "ffmnet-jscc-512x-snr0",
    "ffmnet-jscc-512x-snr5",
    "ffmnet-jscc-512x-snr10",
)
PAPER_CONVENTIONAL = ("best-image-envelope", "ffmnet-jpeg-ldpc")


def is_paper_default(name: str, role: str) -> bool:
    """Whether ``name`` belongs to the papers' comparison (learned schemes, upper bounds, each
    family's default conventional scheme, the best-codec envelope, trivial references) rather
    than to a study (exit thresholds, fixed layers, fixed MCS, envelopes, capacity, ...)."""
    from semcom_sim.baselines.families import FAMILIES

    if role == "reference":
        return True
    defaults = {f.default_name for f in FAMILIES.values()}
    return name in PAPER_LEARNED or name in PAPER_CONVENTIONAL or name in defaults


def draw_curve(ax, name: str, x, y, yerr=None, role: str | None = None, label: str | None = None,
               **overrides):  # fmt: skip
    """Draw scheme ``name``'s curve ([n] x, y, optional yerr) on ``ax`` in its style; the data
    line gets ``gid = "scheme:<name>"`` so tests can find it. Returns the data line."""
    kw = scheme_style(name, role).kw() | {"ms": 4} | overrides
    label = name if label is None else label
    if yerr is not None and any(e for e in yerr):
        line = ax.errorbar(x, y, yerr=yerr, capsize=2, label=label, **kw).lines[0]
    else:
        (line,) = ax.plot(x, y, label=label, **kw)
    line.set_gid(f"scheme:{name}")
    return line
