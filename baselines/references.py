"""Trivial references: what a receiver gets without learning anything (role ``reference``).

A learned result counts only beside these, computed on the same test examples and stored like
any other point, so Fig. 7, the cliff figures and the per-task plots show at once whether a model
learnt anything. None of them crosses the channel (their value does not depend on the SNR):

- ``majority-class``: the most frequent training label (image classification, sentiment, video
  sentiment); the chance level ``1/K`` is stored beside it as the extra ``chance``.
- ``question-prior``: VQA's question-only prior, the most frequent training answer of the same
  question text (else the most frequent answer overall).
- ``mean-image``: the training split's mean image (image reconstruction).
- ``mean-colour``: each image's own mean colour, 3 x 8 bits per image.
- ``block-colour``: the mean colour of each 8 x 8 block, 3 x 8 bits per block (16 blocks, 384
  bits for a 32 x 32 image: about what the tiny U-DeepSC sends).
- ``constant-sentence``: text reconstruction's floor, one training sentence sent for every
  example: of the first :data:`SENTENCE_CANDIDATES` training sentences, the one with the highest
  corpus BLEU-4 (+ BLEU-1 to break ties) against the rest of the training split.

Priors come from the embedded training split (:data:`PRIOR_EXAMPLES` examples, seed
:data:`PRIOR_SEED`), fitted on first use. ``num_symbols`` is the bits the reference would need
sent as uncoded QPSK (``bits / 2``; 0 for priors, which need nothing per example) -- a bandwidth
figure for the symbol plots, not a transmission.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import torch
from torch import Tensor

from semcom_sim.sim.scheme import SCHEMES, Scheme, SchemeOutput, Task

PRIOR_EXAMPLES = 1000
PRIOR_SEED = 0
BLOCK = 8
SENTENCE_CANDIDATES = 200


def _train_split(task: Task):
    from semcom_sim.data import load_dataset

    return load_dataset(task.dataset, split="train", n=PRIOR_EXAMPLES, seed=PRIOR_SEED)


class ReferenceScheme(Scheme):
    """Base class: no channel, one cheap prediction per example (SNR-independent)."""

    role = "reference"
    snr_chunk = 32
    tasks: tuple[str, ...] = ()
    description = ""

    def __init__(self, name: str, **_: Any) -> None:
        self.name = name
        self._fitted: dict[str, Any] = {}

    def supports(self, task: Task) -> bool:
        return task.name in self.tasks

    def prepare(self, task: Task, device: torch.device) -> None:
        self.task = task

    def prior(self, task: Task) -> Any:
        """The fitted prior of ``task`` (fitted once, on first use)."""
        if task.name not in self._fitted:
            self._fitted[task.name] = self.fit(task)
        return self._fitted[task.name]

    def fit(self, task: Task) -> Any:  # pragma: no cover - overridden where a prior is needed
        return None

    def predict(self, batch, task: Task) -> tuple[Any, Tensor]:
        """Predictions for ``batch`` and the bits per example they need."""
        raise NotImplementedError

    def run(self, batch, channel, snr_db, generator) -> SchemeOutput:
        pred, bits = self.predict(batch, self.task)
        sym = torch.ceil(bits.double() / 2.0).float()
        return SchemeOutput(
            pred, sym, channel.channel_uses(sym.long()).float(), self.extras(len(batch))
        )

    def run_grid(self, batch, channel, snr_grid_db, generators) -> list[SchemeOutput]:
        out = self.run(batch, channel, None, None)  # the same at every SNR
        return [out for _ in snr_grid_db]

    def extras(self, n: int) -> dict[str, Tensor]:
        return {}

    def config(self) -> dict:
        return {
            "name": self.name,
            "kind": "trivial reference",
            "description": self.description,
            "prior": f"embedded train split, {PRIOR_EXAMPLES} examples, seed {PRIOR_SEED}",
        }


class MajorityClass(ReferenceScheme):
    tasks = ("image-classification", "sentiment", "video-sentiment")
    description = "the most frequent training label; extra 'chance' = 1/K"

    def fit(self, task: Task) -> tuple[int, int]:
        labels = [int(v) for v in _train_split(task).fields["label"]]
        counts = Counter(labels)
        return counts.most_common(1)[0][0], len(counts)

    def predict(self, batch, task):
        label, k = self.prior(task)
        self._k = k
        n = len(batch)
        return torch.full((n,), label, dtype=torch.int64), torch.zeros(n)

    def extras(self, n: int) -> dict[str, Tensor]:
        return {"chance": torch.full((n,), 1.0 / self._k)}


class QuestionPrior(ReferenceScheme):
    tasks = ("vqa",)
    description = "most frequent training answer of the same question (else overall)"

    def fit(self, task: Task) -> tuple[dict[str, str], str]:
        f = _train_split(task).fields
        per: dict[str, Counter] = {}
        overall: Counter = Counter()
        for q, answers in zip(f["question"], f["answers"], strict=True):
            top = Counter(answers).most_common(1)[0][0]
            per.setdefault(q, Counter())[top] += 1
            overall[top] += 1
        return {q: c.most_common(1)[0][0] for q, c in per.items()}, overall.most_common(1)[0][0]

    def predict(self, batch, task):
        table, fallback = self.prior(task)
        pred = [table.get(q, fallback) for q in batch.fields["question"]]
        return pred, torch.zeros(len(batch))


class MeanImage(ReferenceScheme):
    tasks = ("image-reconstruction",)
    description = "the training split's mean image"

    def fit(self, task: Task) -> Tensor:
        return _train_split(task).fields["image"].float().mean(dim=0)

    def predict(self, batch, task):
        img = batch.fields["image"]
        mean = self.prior(task).to(img.dtype)
        return mean.expand_as(img).clone(), torch.zeros(len(batch))


def _ngrams(words: list[str], n: int) -> Counter:
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


class _RefNgrams:
    """The references' n-gram counts (n = 1..``max_n``), indexed for clipped matches.

    ``per_ref[i][n - 1]``: reference i's n-gram counts; ``hist[n - 1][g]``: how many references
    hold n-gram g how many times (count -> references), so that the clipped matches of a
    hypothesis n-gram seen ``c`` times, summed over the references, are
    ``sum(refs * min(c, count))`` over a few distinct counts instead of over every reference
    (the same integers)."""

    def __init__(self, refs: list[str], max_n: int) -> None:
        words = [r.split() for r in refs]
        self.per_ref = [[_ngrams(w, n) for n in range(1, max_n + 1)] for w in words]
        self.ref_len = sum(map(len, words))
        self.hist: list[dict[tuple, Counter]] = [{} for _ in range(max_n)]
        for grams in self.per_ref:
            for n, counts in enumerate(grams):
                for g, c in counts.items():
                    self.hist[n].setdefault(g, Counter())[c] += 1

    def __len__(self) -> int:
        return len(self.per_ref)

    def matches(self, n: int, g: tuple, c: int, skip: int = -1) -> int:
        """Sum over the references (but ``skip``) of min(c, count of n-gram g)."""
        h = self.hist[n - 1].get(g)
        m = sum(k * min(c, v) for v, k in h.items()) if h else 0
        if skip >= 0:
            m -= min(c, self.per_ref[skip][n - 1][g])
        return m


def _constant_bleu(hyp: str, refs: _RefNgrams, max_n: int, skip: int = -1) -> float:
    """:func:`constant_bleu` from indexed reference n-grams, leaving reference ``skip`` out
    (its length too)."""
    h = hyp.split()
    num_refs = len(refs) - (1 if skip >= 0 else 0)
    ref_len = refs.ref_len
    if skip >= 0:
        ref_len -= sum(refs.per_ref[skip][0].values())
    hyp_len = len(h) * num_refs
    if not h or hyp_len == 0:
        return 0.0
    logp = 0.0
    for n in range(1, max_n + 1):
        hn = _ngrams(h, n)
        total = sum(hn.values()) * num_refs
        if total == 0:
            return 0.0
        match = sum(refs.matches(n, g, c, skip) for g, c in hn.items())
        if match == 0:
            return 0.0
        logp += math.log(match / total) / max_n
    bp = 1.0 if hyp_len > ref_len else math.exp(1.0 - ref_len / hyp_len)
    return bp * math.exp(logp)


def constant_bleu(hyp: str, refs: list[str], max_n: int = 4) -> float:
    """Corpus BLEU-``max_n`` (0-1, unsmoothed, whitespace tokens) of ``hyp`` sent for every one
    of ``refs``: brevity penalty x geometric mean of the clipped n-gram precisions."""
    return _constant_bleu(hyp, _RefNgrams(refs, max_n), max_n)


class ConstantSentence(ReferenceScheme):
    tasks = ("text-reconstruction",)
    description = "the one training sentence with the highest BLEU against the training split"

    def fit(self, task: Task) -> str:
        text = [str(t) for t in _train_split(task).fields["text"]]
        ngrams = _RefNgrams(text, 4)  # once; each candidate leaves itself out
        best, best_key = text[0], (-1.0, -1.0)
        for i, cand in enumerate(text[:SENTENCE_CANDIDATES]):
            key = (
                _constant_bleu(cand, ngrams, 4, skip=i),
                _constant_bleu(cand, ngrams, 1, skip=i),
            )
            if key > best_key:
                best, best_key = cand, key
        return best

    def predict(self, batch, task):
        n = len(batch)
        return [self.prior(task)] * n, torch.zeros(n)

    def config(self) -> dict:
        return super().config() | {"candidates": SENTENCE_CANDIDATES}


def block_mean(images: Tensor, block: int) -> Tensor:
    """Each ``block x block`` block of ``images`` ``[N, C, H, W]`` replaced by its mean colour,
    quantised to 8 bits (as it would be sent); ``block`` >= H, W gives the per-image colour."""
    n, c, h, w = images.shape
    bh, bw = min(block, h), min(block, w)
    x = images.float()
    pooled = torch.nn.functional.avg_pool2d(x, (bh, bw), ceil_mode=True)
    pooled = torch.round(pooled.clamp(0, 1) * 255) / 255
    up = pooled.repeat_interleave(bh, dim=2).repeat_interleave(bw, dim=3)
    return up[:, :, :h, :w].to(images.dtype)


class BlockColour(ReferenceScheme):
    tasks = ("image-reconstruction",)

    def __init__(self, name: str, block: int | None, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.block = block
        self.description = (
            "each image's own mean colour (24 bits)"
            if block is None
            else f"mean colour of each {block}x{block} block (24 bits per block)"
        )

    def predict(self, batch, task):
        img = batch.fields["image"]
        h, w = img.shape[-2:]
        block = max(h, w) if self.block is None else self.block
        blocks = math.ceil(h / min(block, h)) * math.ceil(w / min(block, w))
        return block_mean(img, block), torch.full((len(batch),), 24.0 * blocks)

    def config(self) -> dict:
        return super().config() | {"block": self.block, "bits_per_colour": 24}


SCHEMES.register("majority-class", MajorityClass.description + " (trivial reference)")(
    lambda **kw: MajorityClass("majority-class")
)
SCHEMES.register("question-prior", QuestionPrior.description + " (VQA, trivial reference)")(
    lambda **kw: QuestionPrior("question-prior")
)
SCHEMES.register("mean-image", "the training split's mean image (trivial reference)")(
    lambda **kw: MeanImage("mean-image")
)
SCHEMES.register("mean-colour", "each image's own mean colour, 24 bits (trivial reference)")(
    lambda **kw: BlockColour("mean-colour", None)
)
SCHEMES.register("constant-sentence", ConstantSentence.description + " (trivial reference)")(
    lambda **kw: ConstantSentence("constant-sentence")
)
SCHEMES.register(
    "block-colour", f"mean colour of each {BLOCK}x{BLOCK} block, 24 bits each (trivial reference)"
)(lambda **kw: BlockColour("block-colour", BLOCK))
