"""Features on the air: digital (codebook indices as QAM symbols) or analog (power-normalised
continuous features), through a :class:`semcom_sim.channel.Channel` given at call time.

Only kept features are transmitted and counted. All modalities of a task form one symbol stream
``x = [x^I, x^T, x^S]`` (Sec. II-A); kept symbols are moved to the front (stable order) before the
channel so that fading blocks and MIMO channel uses are spent on transmitted symbols only, and
``num_symbols`` (int64 ``[B]``) is the per-example count. Which positions were kept is side
information the receiver needs: it is assumed delivered error-free but **counted**
(:func:`side_info_symbols`): a bitmap of the ``N`` feature positions of every modality whose
mask is not all ones (``N`` bits), costed as symbols of the index modulation
(``ceil(bits / num_bits_per_symbol)``) and added to ``num_symbols`` and ``channel_uses``.

During training, the dropped features still pass the channel as zero-energy symbols so that the
attention weights of the receiver can give the selection modules a gradient; they carry weight
0 in the forward pass.

``channel=None`` delivers the transmitted values noiselessly (the paper's upper bound).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from semcom_sim.channel import Channel, complex_to_real, normalize_power, real_to_complex
from semcom_sim.models.udeepsc.codebook import UnifiedCodebook, codebook_loss, straight_through
from semcom_sim.models.udeepsc.config import UDeepSCConfig
from semcom_sim.models.udeepsc.qam import index_log_likelihoods, index_symbol_table
from semcom_sim.models.udeepsc.transmitter import TransmitterOutput


@dataclass
class LinkOutput:
    """Receiver-side features and the cost of sending them.

    Attributes:
        received: modality -> ``[B, N, D]`` features at the receiver (gradient copied to the
            encoder output in digital mode).
        num_symbols: int64 ``[B]`` complex symbols transmitted per example.
        channel_uses: int64 ``[B]`` channel uses (differs from ``num_symbols`` for MIMO).
        codebook_loss: scalar eq. (12) over transmitted codewords (0 in analog mode).
        indices / received_indices: modality -> int64 ``[B, N, G]`` sent / decided indices
            (digital mode only; soft decoding reports the hard decision).
    """

    received: dict[str, Tensor]
    num_symbols: Tensor
    channel_uses: Tensor
    codebook_loss: Tensor
    indices: dict[str, Tensor] = field(default_factory=dict)
    received_indices: dict[str, Tensor] = field(default_factory=dict)
    side_info_bits: Tensor | None = None


def side_info_symbols(
    sent: dict[str, TransmitterOutput], num_bits_per_symbol: int
) -> tuple[Tensor, Tensor]:
    """``(bits, symbols)`` int64 ``[B]`` of the kept-position side information.

    Per modality with ``N`` feature positions, an example whose kept mask is not all ones needs
    the ``N``-bit bitmap of its kept positions (which also carries the length of padded text);
    an example that sends every position needs nothing.
    """
    bits = None
    for out in sent.values():
        kept = out.mask.detach() > 0.5  # [B, N]
        n = kept.shape[1]
        b = torch.where(kept.all(dim=1), 0, n).to(torch.int64)
        bits = b if bits is None else bits + b
    assert bits is not None
    symbols = torch.div(bits + num_bits_per_symbol - 1, num_bits_per_symbol, rounding_mode="floor")
    return bits, symbols


def _with_side_info(link: LinkOutput, sent, bps: int, channel: Channel | None) -> LinkOutput:
    bits, sym = side_info_symbols(sent, bps)
    sym = sym.to(link.num_symbols.device)
    uses = sym if channel is None else channel.channel_uses(sym).to(link.channel_uses.device)
    link.num_symbols = link.num_symbols + sym
    link.channel_uses = link.channel_uses + uses
    link.side_info_bits = bits.to(link.num_symbols.device)
    return link


def send_compacted(
    x: Tensor, keep: Tensor, snr_db: Tensor, channel: Channel, generator: torch.Generator | None
) -> tuple[Tensor, Tensor, Tensor]:
    """Send complex ``x`` ``[B, n]`` with kept symbols first; return ``(y, no_eff, channel_uses)``
    in the original order (``y``, ``no_eff`` ``[B, n]``)."""
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)
    inverse = torch.argsort(order, dim=1)
    out = channel(torch.gather(x, 1, order), snr_db, generator, num_symbols=keep.sum(dim=1))
    y = torch.gather(out.y, 1, inverse)
    no = torch.gather(out.no_eff.to(torch.float32), 1, inverse)
    return y, no, out.channel_uses


class FeatureLink(nn.Module):
    """Quantise (digital) or normalise (analog), map to symbols, send, demap."""

    def __init__(self, cfg: UDeepSCConfig, device=None) -> None:
        super().__init__()
        self.cfg = cfg
        self.digital = cfg.transmission == "digital"
        self.group_dim = cfg.feature_dim // cfg.codewords_per_feature
        if self.digital:
            keys = cfg.codebook_keys()
            self.codebook = UnifiedCodebook(
                {k: cfg.codebook_size(k) for k in keys},
                self.group_dim,
                cfg.modalities,
                device=device,
                normalize=cfg.codebook_normalize,
                restart=cfg.codebook_restart,
                keys=keys,
            )
            for m in cfg.modalities:
                table = index_symbol_table(cfg.bits_per_index(m), cfg.num_bits_per_symbol)
                self.register_buffer(f"table_{m}", table.to(device), persistent=False)
                # running mean energy of the sent index symbols (the model uses some indices
                # more than others, so the QAM points' uniform average of 1 does not hold)
                self.register_buffer(f"energy_{m}", torch.ones((), device=device))

    def symbol_table(self, modality: str) -> Tensor:
        """Complex ``[K_m, S_m]`` symbols of every index of ``modality``'s sub-codebook, scaled
        to unit mean energy per sent symbol (``power_normalize``, the one power convention)."""
        table = getattr(self, f"table_{modality}")
        if self.cfg.power_normalize:
            table = table * getattr(self, f"energy_{modality}").rsqrt()
        return table

    @torch.no_grad()
    def track_energy(self, modality: str, idx: Tensor, weight: Tensor, momentum: float = 0.02):
        """Training: update the running mean energy of ``modality``'s sent symbols (unscaled
        table) from indices ``idx`` ``[B, N, G]`` weighted by ``weight`` (1 = sent)."""
        e = getattr(self, f"table_{modality}")[idx].abs().pow(2).mean(dim=-1)  # [B, N, G]
        w = weight.to(e.dtype)
        if float(w.sum()) > 0:
            buf = getattr(self, f"energy_{modality}")
            buf.mul_(1 - momentum).add_(momentum * (e * w).sum() / w.sum())

    def forward(
        self,
        sent: dict[str, TransmitterOutput],
        snr_db: Tensor,
        channel: Channel | None,
        generator: torch.Generator | None = None,
        task: str | None = None,
    ) -> LinkOutput:
        """``sent``: modality -> transmitter output (in transmission order); ``snr_db`` ``[B]``;
        ``task`` picks the sub-codebooks when they are shared per task (``codebook_sharing``)."""
        if self.digital:
            link = self._digital(sent, snr_db, channel, generator, task)
        else:
            link = self._analog(sent, snr_db, channel, generator)
        return _with_side_info(link, sent, self.cfg.num_bits_per_symbol, channel)

    def _digital(self, sent, snr_db, channel, generator, task=None) -> LinkOutput:
        g, d = self.cfg.codewords_per_feature, self.group_dim
        xs, keeps, parts, losses, indices, z_groups = [], [], [], [], {}, {}
        key = {m: self.cfg.codebook_key(task, m) for m in sent}  # modality -> sub-codebook
        for m, out in sent.items():
            raw = out.features.unflatten(-1, (g, d))  # [B, N, G, d]
            # normalised codes: unit sub-vectors are quantised (eq. 12 on them); the decoder's
            # gradient is still copied to the encoder output itself (straight-through)
            z = nn.functional.normalize(raw, dim=-1) if self.cfg.codebook_normalize else raw
            weight = out.mask.detach()[..., None].expand(z.shape[:-1])
            idx, e = self.codebook.quantize(z, key[m])
            if self.training and self.codebook.restart:
                self.codebook.track_usage(key[m], idx, z, weight)
            if self.training and self.cfg.power_normalize:
                self.track_energy(m, idx, weight)
            losses.append(codebook_loss(z, e, self.cfg.beta, weight))
            sym = self.symbol_table(m)[idx]  # [B, N, G, S]
            xs.append(sym.flatten(1))
            keeps.append((weight > 0.5)[..., None].expand(sym.shape).flatten(1))
            parts.append(sym.shape[1:])
            indices[m], z_groups[m] = idx, raw
        x, keep = torch.cat(xs, dim=1), torch.cat(keeps, dim=1)
        x = x * keep
        num_symbols = keep.sum(dim=1)
        received, rx_indices = {}, {}
        if channel is None:
            uses = num_symbols
            for m in sent:
                rx_indices[m] = indices[m]
                received[m] = self.codebook.lookup(indices[m], key[m])
        else:
            y, no, uses = send_compacted(x, keep, snr_db, channel, generator)
            start = 0
            for m, shape in zip(sent, parts, strict=True):
                n = shape.numel()
                ym = y[:, start : start + n].reshape(-1, *shape)
                nom = no[:, start : start + n].reshape(-1, *shape)
                start += n
                llh = index_log_likelihoods(ym, nom, self.symbol_table(m))  # [B, N, G, K]
                rx_indices[m] = llh.argmax(dim=-1)
                if self.cfg.index_decoding == "soft":
                    received[m] = torch.softmax(llh, dim=-1) @ self.codebook.book(key[m])
                else:
                    received[m] = self.codebook.lookup(rx_indices[m], key[m])
        received = {m: straight_through(z_groups[m], q).flatten(-2) for m, q in received.items()}
        return LinkOutput(
            received=received,
            num_symbols=num_symbols,
            channel_uses=uses,
            codebook_loss=torch.stack(losses).sum(),
            indices=indices,
            received_indices=rx_indices,
        )

    def _analog(self, sent, snr_db, channel, generator) -> LinkOutput:
        xs, keeps, sizes = [], [], []
        for out in sent.values():
            c = real_to_complex(out.features)  # [B, N, D/2]
            xs.append(c.flatten(1))
            keeps.append((out.mask.detach() > 0.5)[..., None].expand(c.shape).flatten(1))
            sizes.append(c.shape[1:])
        x, keep = torch.cat(xs, dim=1), torch.cat(keeps, dim=1)
        x = normalize_power(x, mask=keep)
        num_symbols = keep.sum(dim=1)
        if channel is None:
            y, uses = x, num_symbols
        else:
            y, _, uses = send_compacted(x, keep, snr_db, channel, generator)
        received, start = {}, 0
        for m, shape in zip(sent, sizes, strict=True):
            n = shape.numel()
            received[m] = complex_to_real(y[:, start : start + n].reshape(-1, *shape))
            start += n
        zero = torch.zeros((), device=x.device)
        return LinkOutput(received, num_symbols, uses, zero)
