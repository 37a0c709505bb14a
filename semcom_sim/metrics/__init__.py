"""Task metrics as accumulators that aggregate exactly over batches.

All are higher-is-better.

| name           | class       | keys                                                   |
|----------------|-------------|--------------------------------------------------------|
| "accuracy"     | Accuracy    | accuracy, accuracy_stderr                              |
| "psnr"         | PSNR        | psnr, psnr_stderr (dB; per image on 0-255 levels)      |
| "bleu"         | BLEU        | bleu (corpus BLEU-4), bleu1, sentence_bleu1(_stderr)   |
| "vqa-accuracy" | VQAAccuracy | vqa_accuracy, vqa_accuracy_stderr                      |
| "map"          | MeanAP      | map (mAP@[.5:.95]), map50                              |
| "miou"         | MeanIoU     | miou, pixel_accuracy                                   |
| "speech-snr"   | SpeechSNR   | speech_snr, speech_snr_stderr (dB, per utterance)      |
| "segsnr"       | SegmentalSNR| segsnr, segsnr_stderr (dB; 20 ms frames, [-10, 35] dB) |

    m = METRICS.create("psnr")
    for batch in data.batches(64):
        m.update(reconstruct(batch.fields["image"]), batch.fields["image"])
    m.compute()  # {"psnr": ..., "psnr_stderr": ...}
"""

from __future__ import annotations

import math

from semcom_sim.metrics.base import MeanMetric, Metric
from semcom_sim.metrics.basic import PSNR, Accuracy, MeanIoU, VQAAccuracy
from semcom_sim.metrics.detection import MeanAP
from semcom_sim.metrics.speech import SegmentalSNR, SpeechSNR
from semcom_sim.metrics.text import BLEU
from semcom_sim.registry import Registry

__all__ = [
    "BLEU",
    "METRICS",
    "PSNR",
    "Accuracy",
    "MeanAP",
    "MeanIoU",
    "MeanMetric",
    "Metric",
    "SegmentalSNR",
    "SpeechSNR",
    "VQAAccuracy",
    "normalised_performance",
]

METRICS: Registry[Metric] = Registry("metric")
METRICS.register("accuracy")(Accuracy)
METRICS.register("psnr")(PSNR)
METRICS.register("bleu")(BLEU)
METRICS.register("vqa-accuracy")(VQAAccuracy)
METRICS.register("map")(MeanAP)
METRICS.register("miou")(MeanIoU)
METRICS.register("speech-snr")(SpeechSNR)
METRICS.register("segsnr")(SegmentalSNR)


def normalised_performance(
    metric: Metric | float,
    reference: float,
    key: str | None = None,
    higher_is_better: bool | None = None,
) -> dict[str, float]:
    """A performance relative to a reference (e.g. the noiseless upper bound), with both recorded.

    Args:
        metric: a Metric (``compute()[key]`` is used, ``key`` defaulting to its name) or a value.
        reference: the reference value of the same metric.
        key: which key of ``metric.compute()`` to use.
        higher_is_better: defaults to the metric's own flag (True for a bare value).

    Returns:
        {"value": v, "reference": reference, "normalised": v / reference if higher is better,
        else reference / v}; "normalised" is NaN when the divisor is 0.
    """
    if isinstance(metric, Metric):
        value = metric.compute()[key or metric.name]
        hib = metric.higher_is_better if higher_is_better is None else higher_is_better
    else:
        value, hib = float(metric), True if higher_is_better is None else higher_is_better
    num, den = (value, reference) if hib else (reference, value)
    return {
        "value": value,
        "reference": float(reference),
        "normalised": num / den if den else math.nan,
    }
