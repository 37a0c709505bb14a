"""Channel interface: complex symbols in, equalised symbols and post-equalisation noise out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor

from semcom_sim.channel.conventions import broadcast_snr, snr_db_to_no
from semcom_sim.errors import SemcomError


@dataclass
class ChannelOutput:
    """What a receiver gets from a channel.

    Attributes:
        y: complex ``[B, n]``: the receiver's estimate of the transmitted symbols (for fading and
            MIMO channels: after equalisation with perfect CSI; unequalised when the channel was
            built with ``equalize=False``).
        no_eff: float ``[B, n]``: noise variance of ``y`` per symbol (post-equalisation), the
            value a soft demapper needs for correct LLRs.
        h: complex ``[B, n]`` per-symbol gain for SISO fading (CSI), or ``None``.
        channel_uses: int64 ``[B]``: channel uses spent by each example.
    """

    y: Tensor
    no_eff: Tensor
    h: Tensor | None
    channel_uses: Tensor


def complex_noise(shape, no: Tensor, generator: torch.Generator | None, device) -> Tensor:
    """Circularly symmetric complex Gaussian noise of variance ``no`` (broadcast to ``shape``)."""
    n = torch.randn(*shape, 2, generator=generator, device=device)
    # in place, the scale broadcast over (real, imaginary): the same values as multiplying the
    # complex view by the real scale, without a second full-size tensor
    n.mul_(torch.sqrt(torch.as_tensor(no, device=n.device) / 2.0).unsqueeze(-1))
    return torch.view_as_complex(n)


def complex_gaussian(shape, generator: torch.Generator | None, device) -> Tensor:
    """CN(0, 1) samples, ``E|h|^2 = 1``."""
    return complex_noise(shape, torch.ones((), device=device), generator, device)


class Channel(ABC):
    """A channel holds no SNR: ``snr_db`` is an argument of every call, one value per example.

    Subclasses implement :meth:`forward`. Inputs are complex ``[B, n]`` symbols with unit average
    energy per channel use (see :mod:`semcom_sim.channel.conventions`).
    """

    name: str = "channel"

    def __call__(
        self,
        x: Tensor,
        snr_db: Tensor | float,
        generator: torch.Generator | None = None,
        num_symbols: Tensor | None = None,
    ) -> ChannelOutput:
        """Send ``x`` (complex ``[B, n]``) at ``snr_db`` (scalar or ``[B]``).

        ``num_symbols`` (int ``[B]``, default ``n``) is the number of valid symbols per example when
        variable-length transmissions are padded into one tensor; it only sets ``channel_uses``.

        ``generator`` may also be a sequence of ``R`` generators (``R`` divides ``B``): the rows
        are then ``R`` consecutive blocks of ``B / R`` examples (e.g. one block per SNR point of
        a sweep) and block ``r`` draws its noise and fading from ``generator[r]`` alone, exactly
        as a call with that block and that generator would.
        """
        if not torch.is_complex(x) or x.dim() != 2:
            raise ValueError(f"channel input must be complex [B, n], got {x.dtype} {list(x.shape)}")
        b, n = x.shape
        no = snr_db_to_no(broadcast_snr(snr_db, b, device=x.device)).to(x.device)
        if num_symbols is None:
            num_symbols = torch.full((b,), n, dtype=torch.int64, device=x.device)
        num_symbols = num_symbols.to(torch.int64)
        if generator is None or isinstance(generator, torch.Generator):
            return self.forward(x, no, generator, num_symbols)
        gens = list(generator)
        if not gens or b % len(gens):
            raise ValueError(f"{len(gens)} generators for {b} rows: the count must divide B")
        step = b // len(gens)
        parts = [
            self.forward(x[i : i + step], no[i : i + step], g, num_symbols[i : i + step])
            for i, g in zip(range(0, b, step), gens, strict=True)
        ]
        return ChannelOutput(
            y=torch.cat([p.y for p in parts]),
            no_eff=torch.cat([p.no_eff for p in parts]),
            h=None if parts[0].h is None else torch.cat([p.h for p in parts]),
            channel_uses=torch.cat([p.channel_uses for p in parts]),
        )

    @abstractmethod
    def forward(
        self, x: Tensor, no: Tensor, generator: torch.Generator | None, num_symbols: Tensor
    ) -> ChannelOutput:
        """``x`` complex ``[B, n]``; ``no`` float ``[B]`` noise variance per receive antenna."""

    def channel_uses(self, num_symbols: Tensor) -> Tensor:
        """Channel uses needed for ``num_symbols`` complex symbols (int ``[B]``)."""
        return num_symbols.to(torch.int64)

    def sample_gains(
        self,
        batch: int,
        num_symbols: int,
        generator: torch.Generator | None,
        device: str | torch.device = "cpu",
    ) -> Tensor:
        """Draw the channel realisation for ``batch`` examples of ``num_symbols`` symbols.

        It is exactly the draw :meth:`forward` makes first from the same ``generator`` state
        (forward calls it), so a capacity bound or a test sees the gains the link saw. The shape
        is the channel's own (SISO: complex ``[B, n]`` per-symbol gain; MIMO: ``[B, uses, Nr,
        Nt]``).
        """
        raise SemcomError(f"{type(self).__name__} does not expose its channel realisation")

    def capacity_bits(
        self,
        num_symbols: Tensor,
        snr_db: Tensor,
        generator: torch.Generator | None = None,
        device: str | torch.device = "cpu",
    ) -> Tensor:
        """Bits an ideal code delivers over each example's symbols: float64 ``[P]``.

        Args:
            num_symbols: int ``[P]`` complex symbols per example.
            snr_db: float ``[P]`` per-example SNR (this channel's convention).
            generator: draws the channel realisation (:meth:`sample_gains`).
        """
        raise SemcomError(f"the capacity bound is not defined for {type(self).__name__}")

    @staticmethod
    def _capacity_setup(
        num_symbols: Tensor, snr_db: Tensor, device: str | torch.device
    ) -> tuple[torch.device, Tensor, Tensor, int]:
        """``(device, num_symbols int64, snr linear float64, max symbols)`` for capacity_bits."""
        device = torch.device(device)
        num_symbols = num_symbols.to(device=device, dtype=torch.int64)
        snr = torch.pow(10.0, snr_db.to(device=device, dtype=torch.float64) / 10.0)
        smax = int(num_symbols.max()) if num_symbols.numel() else 0
        return device, num_symbols, snr, smax

    @staticmethod
    def _sum_first(per: Tensor, counts: Tensor) -> Tensor:
        """Sum of each row of ``per`` ``[P, U]`` over its first ``counts[p]`` entries: ``[P]``."""
        mask = torch.arange(per.shape[1], device=per.device)[None, :] < counts[:, None]
        return (per * mask).sum(dim=1)

    def config(self) -> dict:
        """JSON-serialisable description (stored with every result)."""
        return {"name": self.name}

    @property
    def key(self) -> str:
        """Short identifier used in result stores, e.g. ``awgn`` or ``mimo2x2-lmmse``."""
        return self.name
