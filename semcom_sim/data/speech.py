"""embedded-speech: synthetic utterance-like signals at 8 kHz (no real speech corpus is read).

Field "audio" float32 [N, S] in [-1, 1] (S = 8000, one second), "num_syllables" int64 [N];
meta["sample_rate"] = 8000.

Each utterance is 2-5 "syllables" separated by short pauses, made with the classic
source-filter model: a glottal impulse train (fundamental 90-240 Hz with a slight contour and a
falling declination over the utterance) through a one-pole spectral tilt and three two-pole
resonators at a vowel's formants (a, e, i, o, u; Peterson & Barney's adult male averages), under
a Hann envelope, preceded by a short noise burst like a consonant onset. The signal is
peak-normalised to 0.8.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from semcom_sim.data.core import (
    DatasetSpec,
    TaskData,
    cached,
    check_split,
    default_n,
    item_rng,
    register_dataset,
)

SAMPLE_RATE = 8000
NUM_SAMPLES = 8000
# Formants F1, F2, F3 in Hz (Peterson & Barney 1952, adult male averages, rounded).
VOWELS = {
    "a": (730, 1090, 2440),
    "e": (530, 1840, 2480),
    "i": (270, 2290, 3010),
    "o": (570, 840, 2410),
    "u": (300, 870, 2240),
}
_BANDWIDTHS = (90.0, 110.0, 170.0)


def _resonator(x: np.ndarray, freq: float, bandwidth: float) -> np.ndarray:
    """Two-pole resonator at ``freq`` Hz with ``bandwidth`` Hz, unit gain at DC."""
    from scipy.signal import lfilter

    r = math.exp(-math.pi * bandwidth / SAMPLE_RATE)
    a = [1.0, -2 * r * math.cos(2 * math.pi * freq / SAMPLE_RATE), r * r]
    return lfilter([sum(a)], a, x)


def make_utterance(rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """(float32 [8000] in [-1, 1], number of syllables) for one synthetic utterance."""
    from scipy.signal import lfilter

    out = np.zeros(NUM_SAMPLES)
    f0_base = rng.uniform(90, 240)
    pos = int(rng.uniform(0.03, 0.12) * SAMPLE_RATE)
    count = 0
    for k in range(int(rng.integers(2, 6))):
        n = int(rng.uniform(0.12, 0.25) * SAMPLE_RATE)
        if pos + n > NUM_SAMPLES:
            break
        ramp = np.arange(n) / (n - 1)
        f0 = f0_base * (1 - 0.04 * k) * (1 + rng.uniform(-0.1, 0.1) * ramp)
        cycles = np.cumsum(f0) / SAMPLE_RATE
        syl = np.diff(np.floor(cycles), prepend=0.0)  # one impulse per glottal cycle
        syl = lfilter([1.0], [1.0, -0.9], syl)  # spectral tilt of the glottal source
        for f, b in zip(VOWELS["aeiou"[int(rng.integers(5))]], _BANDWIDTHS, strict=True):
            syl = _resonator(syl, f, b)
        syl *= np.hanning(n)
        burst = min(n, int(0.02 * SAMPLE_RATE))
        syl[:burst] += rng.normal(0, 0.3 * np.abs(syl).max(), burst) * np.linspace(1, 0, burst)
        out[pos : pos + n] += syl
        count += 1
        pos += n + int(rng.uniform(0.03, 0.1) * SAMPLE_RATE)
    out += rng.normal(0, 0.002 * np.abs(out).max(), NUM_SAMPLES)
    return (0.8 * out / np.abs(out).max()).astype(np.float32), count


SPEECH_SPEC = DatasetSpec(
    "embedded-speech",
    "embedded",
    "speech",
    {"train": 2000, "test": 500},
    "embedded: synthetic utterance-like signals at 8 kHz (formant-weighted harmonic syllables), "
    "not recorded speech",
    ("audio", "num_syllables"),
)


@register_dataset(SPEECH_SPEC)
def embedded_speech(
    split: str = "test", n: int | None = None, seed: int = 0, data_dir=None
) -> TaskData:
    """Embedded synthetic 1 s utterances at 8 kHz (no real speech corpus is read)."""
    check_split("embedded-speech", split)
    n = default_n(SPEECH_SPEC, split, n)

    def make() -> TaskData:
        items = [make_utterance(item_rng(seed, "embedded-speech", split, i)) for i in range(n)]
        return TaskData(
            "embedded-speech",
            split,
            {
                "audio": torch.from_numpy(np.stack([it[0] for it in items])),
                "num_syllables": torch.tensor([it[1] for it in items], dtype=torch.long),
            },
            {"sample_rate": SAMPLE_RATE, "kind": "embedded", "task": "speech"},
            f"embedded: synthetic source-filter utterances at 8 kHz (seed {seed}, {split}), "
            "not recorded speech",
        )

    return cached(("embedded-speech", split, n, seed), make)
