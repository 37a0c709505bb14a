"""BLEU for text reconstruction, computed by sacrebleu.

"bleu" is corpus BLEU-4 (sacrebleu's defaults: 13a tokenisation, case-sensitive, no smoothing
needed at corpus level) and "bleu1" corpus BLEU with unigrams only (still with the brevity
penalty), both on a 0-1 scale (sacrebleu's score / 100, clamped to [0, 1]: sacrebleu scores
an exact match 100.00000000000004), as the papers plot BLEU in [0, 1].
"sentence_bleu1" is the mean over sentences of sentence-level BLEU-1 (sacrebleu, effective
order), with "sentence_bleu1_stderr": the U-DeepSC and DeepSC codes average per-sentence BLEU
(nltk ``sentence_bleu``; U-DeepSC with weights (1, 0, 0, 0) on BERT word pieces), so their
figures are closest to "sentence_bleu1", not to corpus BLEU.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from semcom_sim.metrics.base import Metric, clamp_range


class BLEU(Metric):
    """Corpus BLEU-4 and BLEU-1 plus mean sentence BLEU-1 over all updates (one reference each).

    ``pred`` and ``target`` are list[str] of equal length (hypotheses and references).
    """

    name = "bleu"
    bounds = (0.0, 1.0)

    def __init__(self) -> None:
        from sacrebleu.metrics import BLEU as SacreBLEU

        self._bleu4 = SacreBLEU()
        self._bleu1 = SacreBLEU(max_ngram_order=1)
        self._sent1 = SacreBLEU(max_ngram_order=1, effective_order=True)
        self.reset()

    def reset(self) -> None:
        self.hypotheses: list[str] = []
        self.references: list[str] = []

    def update(self, pred: Sequence[str], target: Sequence[str]) -> None:
        if len(pred) != len(target):
            raise ValueError(f"bleu: {len(pred)} hypotheses for {len(target)} references")
        self.hypotheses += [str(p) for p in pred]
        self.references += [str(t) for t in target]

    def signature(self) -> str:
        """sacrebleu's signature of the BLEU-4 settings (for the record)."""
        return str(self._bleu4.get_signature())

    def compute(self) -> dict[str, float]:
        if not self.hypotheses:
            keys = ("bleu", "bleu1", "sentence_bleu1", "sentence_bleu1_stderr")
            return dict.fromkeys(keys, math.nan)
        refs = [self.references]
        sent = np.array(
            [
                clamp_range(self._sent1.sentence_score(h, [r]).score / 100)
                for h, r in zip(self.hypotheses, self.references, strict=True)
            ]
        )
        stderr = float(sent.std(ddof=1) / math.sqrt(len(sent))) if len(sent) > 1 else 0.0
        return {
            "bleu": clamp_range(self._bleu4.corpus_score(self.hypotheses, refs).score / 100),
            "bleu1": clamp_range(self._bleu1.corpus_score(self.hypotheses, refs).score / 100),
            "sentence_bleu1": clamp_range(sent.mean()),
            "sentence_bleu1_stderr": stderr,
        }
