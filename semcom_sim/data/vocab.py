"""A transparent word-level vocabulary: build from a corpus, encode, decode, save and load JSON.

Tokens are the words of :func:`semcom_sim.data.textproc.normalise` (lowercase a-z words). Ids
0-3 are the special tokens ``<pad> <bos> <eos> <unk>``; the other words follow by decreasing
corpus frequency, ties broken alphabetically, so the same corpus always gives the same ids.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from semcom_sim.data.textproc import words
from semcom_sim.errors import DataError

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
_FORMAT = "semcom-sim-vocab"


class Vocab:
    """Word <-> id map with special tokens at ids 0-3 (pad, bos, eos, unk)."""

    pad_id, bos_id, eos_id, unk_id = 0, 1, 2, 3

    def __init__(self, tokens: Sequence[str]) -> None:
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary starts with {SPECIALS}, got {tuple(tokens[:4])}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocabulary tokens are not unique")
        self.tokens: list[str] = list(tokens)
        self.index: dict[str, int] = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, texts: Iterable[str], min_freq: int = 1, max_size: int | None = None) -> Vocab:
        """Vocabulary of the words in ``texts`` seen at least ``min_freq`` times.

        Args:
            texts: the training corpus.
            min_freq: rarer words map to ``<unk>``.
            max_size: keep at most this many tokens in all (specials included).
        """
        counts = Counter(w for t in texts for w in words(t))
        ranked = sorted(
            (w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w)
        )
        if max_size is not None:
            ranked = ranked[: max(0, max_size - len(SPECIALS))]
        return cls([*SPECIALS, *ranked])

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def encode(self, text: str, add_bos_eos: bool = True, max_len: int | None = None) -> list[int]:
        """Ids of the words of ``text``; unknown words -> ``<unk>``.

        ``max_len`` truncates the word ids (before <bos>/<eos> are added).
        """
        ids = [self.index.get(w, self.unk_id) for w in words(text)][:max_len]
        return [self.bos_id, *ids, self.eos_id] if add_bos_eos else ids

    def encode_batch(
        self,
        texts: Sequence[str],
        add_bos_eos: bool = True,
        max_len: int | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """int64 [B, L] ids padded with ``<pad>`` to the longest sequence of the batch."""
        seqs = [self.encode(t, add_bos_eos, max_len) for t in texts]
        out = torch.full(
            (len(seqs), max((len(s) for s in seqs), default=0)), self.pad_id, dtype=torch.long
        )
        for i, s in enumerate(seqs):
            out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        return out.to(device)

    def decode(self, ids: Iterable[int]) -> str:
        """Words of ``ids``, skipping ``<pad>`` and ``<bos>`` and stopping at ``<eos>``."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i in (self.pad_id, self.bos_id):
                continue
            out.append(self.tokens[i] if 0 <= i < len(self.tokens) else UNK)
        return " ".join(out)

    def decode_batch(self, ids: torch.Tensor) -> list[str]:
        """Decode each row of an int [B, L] tensor."""
        return [self.decode(row.tolist()) for row in ids]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"format": _FORMAT, "version": 1, "tokens": self.tokens}))

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        path = Path(path)
        try:
            obj = json.loads(path.read_text())
            if obj.get("format") != _FORMAT:
                raise ValueError
            return cls(obj["tokens"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            why = "missing" if isinstance(exc, FileNotFoundError) else "malformed"
            raise DataError(
                f"{path}: {why} vocabulary; expected JSON "
                f"{{'format': '{_FORMAT}', 'tokens': [...]}}"
            ) from None
