"""Video sentiment: CMU-MOSI (real, layout below) and embedded-video-sentiment.

Fields: "frames" float32 [N, T, 3, H, W], "text" list[str], "audio" float32 [N, S] in [-1, 1],
"score" float32 [N] in [-3, 3], "label" int64 [N] (1 if score >= 0, the non-negative/negative
binary accuracy of the MOSI literature), "label7" int64 [N] = round(clip(score, -3, 3)) + 3.
meta: sample_rate, vocab (train split's words).

CMU-MOSI on-disk layout (ours; convert the official release into it):

    <data-dir>/cmu-mosi/              (or <data-dir>/)
        labels.csv                    header "clip_id,score,split"; split in train/valid/test
        clips/<clip_id>/frames.npy    uint8 [T0, H0, W0, 3]  -- or --
        clips/<clip_id>/frames/*.png  (or .jpg; sorted by name)
        clips/<clip_id>/transcript.txt
        clips/<clip_id>/audio.wav     PCM 16-bit, mono or stereo, any rate

Frames are sampled at ``num_frames`` evenly spaced indices and resized; audio is mixed to mono,
resampled to ``sample_rate`` and cut or zero-padded to ``audio_seconds``. Clips of split "valid"
are not loaded (only train and test are).
"""

from __future__ import annotations

import csv
import math
import wave
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from semcom_sim.data.core import (
    DatasetSpec,
    TaskData,
    balanced_labels,
    cached,
    check_split,
    default_n,
    find_root,
    item_rng,
    register_dataset,
    require_data_dir,
    subset_indices,
)
from semcom_sim.data.sentiment import NEGATIVE, POSITIVE
from semcom_sim.data.vocab import Vocab
from semcom_sim.errors import DataError


def score_labels(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(binary label: score >= 0, 7-class label: round(clip(score, -3, 3)) + 3) as int64."""
    return (score >= 0).astype(np.int64), (np.round(np.clip(score, -3, 3)) + 3).astype(np.int64)


# ---------------------------------------------------------------------------- embedded
VIDEO_T, VIDEO_SIZE, VIDEO_SR, VIDEO_SAMPLES = 4, 32, 8000, 4000
P_INFORMATIVE = 0.7  # chance that a modality's cue follows the true score
_ADVERBS = ("somewhat", "fairly", "really")
_VIDEO_TEMPLATES = (
    "i thought the movie was {adv} {adj}",
    "honestly it felt {adv} {adj}",
    "the story is {adv} {adj}",
    "to me the film seemed {adv} {adj}",
)


def _cue(score: float, rng: np.random.Generator) -> float:
    """score/3 plus noise with probability P_INFORMATIVE, else an unrelated cue; in [-1, 1]."""
    if rng.random() < P_INFORMATIVE:
        return float(np.clip(score / 3 + rng.normal(0, 0.15), -1, 1))
    return float(rng.uniform(-1, 1))


def _face_frames(cue: float, rng: np.random.Generator) -> np.ndarray:
    """float32 [T, 3, 32, 32]: a face whose mouth curves up (cue > 0) or down, growing over time."""
    ss, n = 2, VIDEO_SIZE * 2
    grid = (np.arange(n) + 0.5) / ss
    xx, yy = np.meshgrid(grid, grid)
    bg = rng.uniform(0, 1, 3).astype(np.float32)
    skin = np.array([0.95, 0.8, 0.6]) * rng.uniform(0.55, 1.0) + rng.normal(0, 0.04, 3)
    r = rng.uniform(10.5, 13.0)
    frames = []
    for t in range(VIDEO_T):
        cx, cy = 16 + rng.normal(0, 1.0), 16 + rng.normal(0, 1.0)
        curve = cue * (0.6 + 0.4 * t / (VIDEO_T - 1)) + rng.normal(0, 0.05)
        face = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
        eyes = ((xx - cx + 0.35 * r) ** 2 + (yy - cy + 0.25 * r) ** 2 <= 2.2) | (
            (xx - cx - 0.35 * r) ** 2 + (yy - cy + 0.25 * r) ** 2 <= 2.2
        )
        u = (xx - cx) / (0.5 * r)  # mouth spans |u| <= 1; centre lower than corners for a smile
        mouth_y = cy + 0.45 * r + 0.25 * r * curve * (1 - u**2) - 0.12 * r * curve
        mouth = (np.abs(u) <= 1) & (np.abs(yy - mouth_y) <= 0.9)
        img = np.where(face[None], skin[:, None, None], bg[:, None, None])
        img = np.where((eyes | mouth)[None], 0.1, img)
        img = img.reshape(3, VIDEO_SIZE, ss, VIDEO_SIZE, ss).mean(axis=(2, 4))
        frames.append(np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1))
    return np.stack(frames).astype(np.float32)


def _prosody(cue: float, rng: np.random.Generator) -> np.ndarray:
    """float32 [4000] at 8 kHz: a voiced tone whose pitch rises (cue > 0) or falls over 0.5 s."""
    t = np.arange(VIDEO_SAMPLES) / VIDEO_SR
    dur = VIDEO_SAMPLES / VIDEO_SR
    f0 = rng.uniform(120, 220) * 2.0 ** (0.8 * cue * (t / dur - 0.5))
    phase = 2 * math.pi * np.cumsum(f0) / VIDEO_SR
    sig = sum(0.6**k * np.sin(k * phase) for k in range(1, 5))
    env = (
        np.minimum(1, t / 0.05)
        * np.minimum(1, (dur - t) / 0.1)
        * (0.75 + 0.25 * np.sin(2 * math.pi * rng.uniform(3, 5) * t))
    )
    sig = sig * env + rng.normal(0, 0.01, t.shape)
    return (0.8 * sig / np.abs(sig).max()).astype(np.float32)


def _utterance(cue: float, rng: np.random.Generator) -> str:
    pool = POSITIVE if cue >= 0 else NEGATIVE
    adv = _ADVERBS[min(2, int(abs(cue) * 3))]
    template = _VIDEO_TEMPLATES[int(rng.integers(len(_VIDEO_TEMPLATES)))]
    return template.format(adv=adv, adj=pool[int(rng.integers(len(pool)))])


def make_video_item(
    label: int, rng: np.random.Generator
) -> tuple[np.ndarray, str, np.ndarray, float, np.ndarray]:
    """(frames, text, audio, score, cues [visual, text, audio]) for one clip of binary ``label``."""
    score = float(rng.uniform(0.05, 3.0)) * (1 if label else -1)
    cues = np.array([_cue(score, rng) for _ in range(3)], np.float32)
    return _face_frames(cues[0], rng), _utterance(cues[1], rng), _prosody(cues[2], rng), score, cues


EMBEDDED_VIDEO_SPEC = DatasetSpec(
    "embedded-video-sentiment",
    "embedded",
    "video-sentiment",
    {"train": 1200, "test": 600},
    "embedded: generated 4-frame 32x32 face clips, a sentence and an 8 kHz prosody tone whose "
    f"cues each follow the score with p={P_INFORMATIVE}, balanced binary labels, not CMU-MOSI",
    ("frames", "text", "audio", "score", "label", "label7", "cues"),
)


@lru_cache(maxsize=1)
def video_vocab() -> Vocab:
    """Every word an embedded-video-sentiment sentence can contain."""
    return Vocab.build([*_VIDEO_TEMPLATES, *_ADVERBS, *POSITIVE, *NEGATIVE])


@register_dataset(EMBEDDED_VIDEO_SPEC)
def embedded_video_sentiment(
    split: str = "test", n: int | None = None, seed: int = 0, data_dir=None
) -> TaskData:
    """Embedded multimodal sentiment clips whose three cues partly disagree (a CMU-MOSI stand-in).

    The score s is uniform in +-[0.05, 3] with a balanced sign. Each modality's cue is s/3 plus
    noise with probability 0.7 and an unrelated uniform cue otherwise: the face's mouth curvature,
    the sentence's adjective polarity and adverb strength, the pitch slope of the tone. Field
    "cues" float32 [N, 3] (visual, text, audio) records them for analysis, not as model input.
    """
    name = "embedded-video-sentiment"
    check_split(name, split)
    n = default_n(EMBEDDED_VIDEO_SPEC, split, n)

    def make() -> TaskData:
        labels = balanced_labels(seed, name, split, n, 2)
        items = [
            make_video_item(int(y), item_rng(seed, name, split, i)) for i, y in enumerate(labels)
        ]
        score = np.array([it[3] for it in items], np.float32)
        label, label7 = score_labels(score)
        return TaskData(
            name,
            split,
            {
                "frames": torch.from_numpy(np.stack([it[0] for it in items])),
                "text": [it[1] for it in items],
                "audio": torch.from_numpy(np.stack([it[2] for it in items])),
                "score": torch.from_numpy(score),
                "label": torch.from_numpy(label),
                "label7": torch.from_numpy(label7),
                "cues": torch.from_numpy(np.stack([it[4] for it in items])),
            },
            {
                "sample_rate": VIDEO_SR,
                "num_classes": 2,
                "class_names": ["negative", "non-negative"],
                "vocab": video_vocab(),
                "kind": "embedded",
                "task": "video-sentiment",
            },
            f"embedded: generated face/sentence/tone clips (seed {seed}, {split}), not CMU-MOSI; "
            "labels balanced in blocks of 2",
        )

    return cached((name, split, n, seed), make)


# ---------------------------------------------------------------------------- CMU-MOSI
MOSI_LAYOUT = (
    "labels.csv (clip_id,score,split) and clips/<clip_id>/{frames.npy or frames/*.png, "
    "transcript.txt, audio.wav} in <data-dir>/cmu-mosi/ or <data-dir>/ (see docs/data.md)"
)
MOSI_SPEC = DatasetSpec(
    "cmu-mosi",
    "real",
    "video-sentiment",
    {"train": 1284, "test": 686},
    "CMU-MOSI (Zadeh 2016) converted to semcom-sim's clip layout, read from --data-dir",
    ("frames", "text", "audio", "score", "label", "label7"),
)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """(mono float32 samples in [-1, 1], sample rate) of a 16-bit PCM wav file."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2:
                raise ValueError
            raw = (
                np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32)
                / 32768.0
            )
            return raw.reshape(-1, w.getnchannels()).mean(axis=1), w.getframerate()
    except FileNotFoundError:
        raise DataError(f"{path}: missing; expected {MOSI_LAYOUT}") from None
    except (wave.Error, EOFError, ValueError):
        raise DataError(f"{path}: malformed; expected a 16-bit PCM wav file") from None


def _fit_audio(x: np.ndarray, rate: int, sample_rate: int, length: int) -> np.ndarray:
    if rate != sample_rate:
        from scipy.signal import resample_poly

        ratio = Fraction(sample_rate, rate).limit_denominator(1000)
        x = resample_poly(x, ratio.numerator, ratio.denominator)
    out = np.zeros(length, np.float32)
    out[: min(length, len(x))] = x[:length]
    return np.clip(out, -1, 1)


def _read_frames(clip: Path, num_frames: int, size: int) -> np.ndarray:
    from PIL import Image

    npy, folder = clip / "frames.npy", clip / "frames"
    if npy.is_file():
        try:
            arr = np.load(npy)
            if arr.ndim != 4 or arr.shape[-1] != 3 or len(arr) == 0:
                raise ValueError
        except (OSError, ValueError):
            raise DataError(f"{npy}: malformed; expected uint8 [T, H, W, 3]") from None
        pics = [Image.fromarray(np.asarray(f, np.uint8)) for f in arr]
    elif folder.is_dir():
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        if not files:
            raise DataError(f"{folder}: no .png/.jpg frames; expected {MOSI_LAYOUT}")
        pics = files
    else:
        raise DataError(f"{clip}: no frames.npy or frames/ folder; expected {MOSI_LAYOUT}")
    idx = np.linspace(0, len(pics) - 1, num_frames).round().astype(int)
    out = []
    for i in idx:
        try:
            im = pics[i] if isinstance(pics[i], Image.Image) else Image.open(pics[i])
            im = im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
        except OSError:
            raise DataError(
                f"{pics[i]}: malformed; expected an image file readable by Pillow"
            ) from None
        out.append(np.asarray(im, np.float32).transpose(2, 0, 1) / 255.0)
    return np.stack(out)


def read_mosi_labels(path: Path) -> list[tuple[str, float, str]]:
    """(clip_id, score, split) rows of labels.csv."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = [(r["clip_id"].strip(), float(r["score"]), r["split"].strip()) for r in reader]
    except FileNotFoundError:
        raise DataError(f"{path}: missing; expected {MOSI_LAYOUT}") from None
    except (KeyError, ValueError, TypeError, AttributeError, UnicodeDecodeError):
        raise DataError(
            f"{path}: malformed; expected CSV header 'clip_id,score,split' with numeric scores"
        ) from None
    bad = [r for r in rows if not -3 <= r[1] <= 3 or r[2] not in ("train", "valid", "test")]
    if bad:
        raise DataError(
            f"{path}: clip {bad[0][0]!r} needs score in [-3, 3] and split train/valid/test"
        )
    return rows


@register_dataset(MOSI_SPEC)
def cmu_mosi(
    split: str = "test",
    n: int | None = None,
    seed: int = 0,
    data_dir=None,
    num_frames: int = 8,
    size: int = 64,
    sample_rate: int = 16000,
    audio_seconds: float = 4.0,
) -> TaskData:
    """CMU-MOSI clips (real) in semcom-sim's layout (see the module doc)."""
    check_split("cmu-mosi", split)
    root = find_root(
        require_data_dir("cmu-mosi", data_dir, MOSI_LAYOUT), ["cmu-mosi", "mosi"], "labels.csv"
    )
    rows = read_mosi_labels(root / "labels.csv")
    train_texts = []
    for cid, _, sp in rows:
        if sp == "train":
            train_texts.append(_read_text(root / "clips" / cid / "transcript.txt"))
    chosen = [r for r in rows if r[2] == split]
    chosen = [chosen[i] for i in subset_indices(len(chosen), n, seed)]
    length = int(round(sample_rate * audio_seconds))
    frames, texts, audio = [], [], []
    for cid, _, _ in chosen:
        clip = root / "clips" / cid
        frames.append(_read_frames(clip, num_frames, size))
        texts.append(_read_text(clip / "transcript.txt"))
        audio.append(_fit_audio(*read_wav(clip / "audio.wav"), sample_rate, length))
    score = np.array([r[1] for r in chosen], np.float32)
    label, label7 = score_labels(score)
    return TaskData(
        "cmu-mosi",
        split,
        {
            "frames": torch.from_numpy(np.stack(frames))
            if frames
            else torch.zeros(0, num_frames, 3, size, size),
            "text": texts,
            "audio": torch.from_numpy(np.stack(audio)) if audio else torch.zeros(0, length),
            "score": torch.from_numpy(score),
            "label": torch.from_numpy(label),
            "label7": torch.from_numpy(label7),
            "clip_id": [r[0] for r in chosen],
        },
        {
            "sample_rate": sample_rate,
            "num_classes": 2,
            "class_names": ["negative", "non-negative"],
            "vocab": Vocab.build(train_texts),
            "kind": "real",
            "task": "video-sentiment",
        },
        f"CMU-MOSI {split} clips from {root}",
    )


def _read_text(path: Path) -> str:
    try:
        return " ".join(path.read_text(encoding="utf-8").split())
    except FileNotFoundError:
        raise DataError(f"{path}: missing; expected {MOSI_LAYOUT}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: malformed; expected UTF-8 text") from None
