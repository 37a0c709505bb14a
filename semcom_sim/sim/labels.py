"""Axis labels of the stored metrics (shared by every figure)."""

METRIC_LABELS = {
    "psnr": "PSNR [dB]",
    "bleu": "BLEU-4 (sacrebleu corpus BLEU, 0-1)",
    "bleu1": "BLEU-1 (corpus, 0-1)",
    "sentence_bleu1": "mean sentence BLEU-1 (0-1)",
    "accuracy": "accuracy",
    "vqa_accuracy": "VQA soft accuracy",
    "map50": "mAP@.5",
    "map": "mAP@[.5:.95]",
    "miou": "mIoU",
    "speech_snr": "speech SNR [dB]",
    "segsnr": "segmental SNR [dB] (20 ms frames, [-10, 35])",
}
