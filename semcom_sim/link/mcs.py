"""Modulation-and-coding schemes (MCS): named, serialisable, parsed from ``code-rate-mod``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from fractions import Fraction

from semcom_sim.errors import SemcomError

CODES = ("ldpc", "turbo", "uncoded")
MODULATIONS = {"bpsk": 1, "qpsk": 2, "16qam": 4, "64qam": 6, "256qam": 8}
BACKENDS = ("auto", "fast", "sionna")
# Largest information block (CRC included) per code: 5G NR LDPC base graph 1, LTE Turbo.
MAX_BLOCK_BITS = {"ldpc": 8448, "turbo": 6144, "uncoded": 8448}
TURBO_RATES = (Fraction(1, 3), Fraction(1, 2))


@dataclass(frozen=True)
class MCS:
    """A modulation-and-coding scheme.

    Attributes:
        code: ``"ldpc"`` (5G NR), ``"turbo"`` (LTE, (13,15) octal, terminated) or ``"uncoded"``.
        rate: code rate as a fraction string, e.g. ``"1/2"`` (``"1"`` for uncoded).
        modulation: ``"bpsk"``, ``"qpsk"``, ``"16qam"``, ``"64qam"`` or ``"256qam"`` (Gray QAM,
            unit average energy; BPSK is sent as a real-valued QAM-2 constellation).
        max_block_bits: largest code block (information bits incl. the 24-bit CRC).
        num_iter: maximum decoder iterations; ``None`` takes the backend's default (fast: 15
            layered min-sum / 6 turbo iterations with early stopping; Sionna: 20 flooding BP /
            6 MAP turbo iterations), recorded with the results.
        backend: ``"auto"``, ``"fast"`` (numba) or ``"sionna"`` decoders.
    """

    code: str = "ldpc"
    rate: str = "1/2"
    modulation: str = "qpsk"
    max_block_bits: int | None = None
    num_iter: int | None = None
    backend: str = "auto"

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise SemcomError(f"unknown code {self.code!r}; known codes: {', '.join(CODES)}")
        if self.modulation not in MODULATIONS:
            known = ", ".join(MODULATIONS)
            raise SemcomError(f"unknown modulation {self.modulation!r}; known: {known}")
        if self.backend not in BACKENDS:
            raise SemcomError(f"unknown backend {self.backend!r}; known: {', '.join(BACKENDS)}")
        try:
            r = Fraction(self.rate)
        except (ValueError, ZeroDivisionError):
            raise SemcomError(
                f"bad code rate {self.rate!r}; expected a fraction like 1/2"
            ) from None
        if self.code == "uncoded" and r != 1:
            raise SemcomError("uncoded transmission has rate 1")
        if self.code == "turbo" and r not in TURBO_RATES:
            raise SemcomError(f"LTE Turbo supports rates 1/3 and 1/2, not {self.rate}")
        if self.code == "ldpc" and not (Fraction(1, 5) <= r <= Fraction(19, 20)):
            raise SemcomError(f"5G LDPC supports rates between 1/5 and 0.95, not {self.rate}")
        if self.max_block_bits is None:
            object.__setattr__(self, "max_block_bits", MAX_BLOCK_BITS[self.code])
        if not 40 <= self.max_block_bits <= MAX_BLOCK_BITS[self.code]:
            raise SemcomError(f"max_block_bits must be in [40, {MAX_BLOCK_BITS[self.code]}]")

    @property
    def coderate(self) -> float:
        return float(Fraction(self.rate))

    @property
    def num_bits_per_symbol(self) -> int:
        return MODULATIONS[self.modulation]

    @property
    def name(self) -> str:
        """Canonical name, e.g. ``ldpc-1/2-qpsk`` (parsable by :func:`parse_mcs`)."""
        return f"{self.code}-{self.rate}-{self.modulation}"

    @property
    def spectral_efficiency(self) -> float:
        """Information bits per complex symbol (CRC and padding ignored)."""
        return self.coderate * self.num_bits_per_symbol

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> MCS:
        return cls(**d)

    def with_backend(self, backend: str) -> MCS:
        return replace(self, backend=backend)


def parse_mcs(text: str) -> MCS:
    """Parse ``ldpc-1/2-qpsk`` (or with ``:`` separators) into an :class:`MCS`."""
    parts = text.replace(":", "-").split("-")
    if len(parts) != 3:
        raise SemcomError(f"bad MCS {text!r}; expected code-rate-modulation, e.g. ldpc-1/2-qpsk")
    return MCS(code=parts[0], rate=parts[1], modulation=parts[2])


# The envelope's default MCS table (issue: R in {1/3,1/2,2/3} QPSK, {1/2,2/3} 16-QAM, 1/2 64-QAM).
LDPC_TABLE = tuple(
    parse_mcs(s)
    for s in (
        "ldpc-1/3-qpsk",
        "ldpc-1/2-qpsk",
        "ldpc-2/3-qpsk",
        "ldpc-1/2-16qam",
        "ldpc-2/3-16qam",
        "ldpc-1/2-64qam",
    )
)
