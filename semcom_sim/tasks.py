"""The tasks of the papers, each with its data (embedded default or real) and its metrics."""

from __future__ import annotations

from typing import Any

from semcom_sim.sim.scheme import TASKS, Task


class MetricSet:
    """Accumulates several metrics of one task over batches (exact aggregation)."""

    def __init__(self, metric_names: tuple[str, ...], target_field: str) -> None:
        from semcom_sim.metrics import METRICS

        self.metrics = [METRICS.create(m) for m in metric_names]
        self.target_field = target_field

    def update(self, predictions: Any, batch) -> None:
        target = batch.fields[self.target_field]
        for m in self.metrics:
            m.update(predictions, target)

    def compute(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for m in self.metrics:
            out.update(m.compute())
        return out


class DatasetTask(Task):
    """A task read from a registered dataset (see :mod:`semcom_sim.data`).

    Args:
        name: task name. dataset: embedded default. real_dataset: dataset read from --data-dir.
        modality: input modality. metric_names: registered metrics (primary first).
        metric_keys: the keys they report, primary first. target_field: data field compared.
    """

    def __init__(
        self,
        name: str,
        dataset: str,
        real_dataset: str,
        modality: str,
        metric_names: tuple[str, ...],
        metric_keys: tuple[str, ...],
        target_field: str,
    ) -> None:
        self.name = name
        self.dataset = dataset
        self.real_dataset = real_dataset
        self.modality = modality
        self.metric_names = metric_names
        self.metrics = metric_keys
        self.target_field = target_field

    def load(self, n: int, seed: int, data_dir: str | None = None):
        from semcom_sim.data import load_dataset

        name = self.dataset if data_dir is None else self.real_dataset
        return load_dataset(name, split="test", n=n, seed=seed, data_dir=data_dir)

    def new_accumulator(self) -> MetricSet:
        return MetricSet(self.metric_names, self.target_field)


def _register(name: str, help: str, **kwargs) -> None:
    TASKS.register(name, help)(lambda: DatasetTask(name=name, **kwargs))


_register(
    "image-reconstruction",
    "images -> images, PSNR (CIFAR-10 / embedded shapes32)",
    dataset="shapes32",
    real_dataset="cifar10",
    modality="image",
    metric_names=("psnr",),
    metric_keys=("psnr",),
    target_field="image",
)
_register(
    "text-reconstruction",
    "sentences -> sentences, BLEU (Europarl / embedded text)",
    dataset="embedded-text",
    real_dataset="europarl",
    modality="text",
    metric_names=("bleu",),
    metric_keys=("bleu", "bleu1"),
    target_field="text",
)


# speech
_register(
    "speech-reconstruction",
    "speech waveform -> waveform, SNR and segmental SNR in dB (embedded synthetic speech)",
    dataset="embedded-speech",
    real_dataset="embedded-speech",  # no real speech corpus is read: --data-dir is not used
    modality="speech",
    metric_names=("speech-snr", "segsnr"),
    metric_keys=("speech_snr", "segsnr"),
    target_field="audio",
)
