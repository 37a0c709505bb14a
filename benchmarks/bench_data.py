"""Embedded datasets: generation time and sanity baselines (learnable, but not by shortcuts).

    python benchmarks/bench_data.py [--epochs 3] [--out results/benchmarks/data.json]

Measures, on this machine's CPU:
- seconds to generate each embedded dataset's default test split (cache cleared first) and
  1000 shapes32 images;
- shapes32: test accuracy of a linear classifier on pixels vs a tiny CNN (learnable, not trivial);
- embedded-sentiment: unigram vs unigram+bigram bag-of-words logistic regression (negation and
  contrast defeat word-level shortcuts);
- embedded-video-sentiment: accuracy of each modality's cue sign vs their majority vote
  (fusion matters);
- embedded-vqa: accuracy of the best answer per question type without the image (the prior).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import torch
from torch import nn

from semcom_sim.data import DATASETS, clear_cache, load_dataset


def _fit(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, lr: float, bs: int = 128
) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=g).split(bs):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()


def _acc(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def shapes_baselines(epochs: int) -> dict[str, float]:
    torch.manual_seed(0)
    tr, te = load_dataset("shapes32", "train"), load_dataset("shapes32", "test")
    xtr, ytr, xte, yte = (
        tr.fields["image"],
        tr.fields["label"],
        te.fields["image"],
        te.fields["label"],
    )
    linear = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))
    _fit(linear, xtr, ytr, epochs, 1e-3)

    def block(i: int, o: int) -> list[nn.Module]:
        return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU()]

    cnn = nn.Sequential(
        *block(3, 32),
        nn.MaxPool2d(2),
        *block(32, 64),
        nn.MaxPool2d(2),
        *block(64, 64),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 10),
    )
    _fit(cnn, xtr, ytr, epochs, 3e-3)
    return {
        "linear_pixels": _acc(linear, xte, yte),
        "tiny_cnn": _acc(cnn, xte, yte),
        "epochs": epochs,
    }


def sentiment_baselines() -> dict[str, float]:
    tr, te = load_dataset("embedded-sentiment", "train"), load_dataset("embedded-sentiment", "test")

    def feats(texts: list[str], index: dict[str, int], bigrams: bool) -> torch.Tensor:
        out = torch.zeros(len(texts), len(index))
        for i, t in enumerate(texts):
            w = t.split()
            for tok in w + (
                [f"{a}_{b}" for a, b in zip(w, w[1:], strict=False)] if bigrams else []
            ):
                if tok in index:
                    out[i, index[tok]] = 1.0
        return out

    result = {}
    for bigrams in (False, True):
        toks = Counter()
        for t in tr.fields["text"]:
            w = t.split()
            toks.update(
                w + ([f"{a}_{b}" for a, b in zip(w, w[1:], strict=False)] if bigrams else [])
            )
        index = {k: i for i, k in enumerate(sorted(toks))}
        xtr, xte = (
            feats(tr.fields["text"], index, bigrams),
            feats(te.fields["text"], index, bigrams),
        )
        torch.manual_seed(0)
        model = nn.Linear(len(index), 2)
        _fit(model, xtr, tr.fields["label"], 10, 1e-2)
        result["bow_unigram_bigram" if bigrams else "bow_unigram"] = _acc(
            model, xte, te.fields["label"]
        )
    return result


def video_cues() -> dict[str, float]:
    d = load_dataset("embedded-video-sentiment", "test")
    y, cues = d.fields["label"], d.fields["cues"]
    votes = (cues >= 0).long()
    out = {
        m: (votes[:, k] == y).float().mean().item()
        for k, m in enumerate(("visual", "text", "audio"))
    }
    out["majority_of_three"] = ((votes.sum(1) >= 2).long() == y).float().mean().item()
    return out


def vqa_prior() -> float:
    tr, te = load_dataset("embedded-vqa", "train"), load_dataset("embedded-vqa", "test")
    best = {}
    for qt in set(tr.fields["question_type"]):
        answers = Counter(
            a[0]
            for a, t in zip(tr.fields["answers"], tr.fields["question_type"], strict=True)
            if t == qt
        )
        best[qt] = answers.most_common(1)[0][0]
    hits = [
        best[t] == a[0]
        for a, t in zip(te.fields["answers"], te.fields["question_type"], strict=True)
    ]
    return sum(hits) / len(hits)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--out", default="results/benchmarks/data.json")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    gen = {}
    for name in DATASETS.names():
        if name.startswith("embedded-") or name == "shapes32":
            clear_cache()
            t = time.perf_counter()
            n = len(load_dataset(name, "test"))
            gen[name] = {"n": n, "seconds": round(time.perf_counter() - t, 3)}
    clear_cache()
    t = time.perf_counter()
    load_dataset("shapes32", "test", n=1000, seed=123)
    gen["shapes32_1000_images_seconds"] = round(time.perf_counter() - t, 3)
    result = {
        "generation_test_split": gen,
        "shapes32_test_accuracy": shapes_baselines(args.epochs),
        "embedded_sentiment_test_accuracy": sentiment_baselines(),
        "embedded_video_cue_accuracy": video_cues(),
        "embedded_vqa_prior_accuracy": vqa_prior(),
        "torch": torch.__version__,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
