"""Datasets: real loaders on tiny self-written files, embedded generators, TaskData, Vocab."""

from __future__ import annotations

import json
import pickle
import wave
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from semcom_sim.data import DATASETS, TaskData, Vocab, cache_dir, dataset_info, load_dataset
from semcom_sim.data.core import stable_test_member
from semcom_sim.data.textproc import keep_sentence, normalise, normalise_answer
from semcom_sim.errors import DataError, UnknownNameError


def one_line_error(exc: pytest.ExceptionInfo, name: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg and name in msg, msg


# ---------------------------------------------------------------------------- CIFAR-10
def write_cifar(root: Path, per_batch: int = 4) -> None:
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        with open(root / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": name.encode()}, f)
    with open(root / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [f"class{i}".encode() for i in range(10)]}, f)


def test_cifar10_reads_python_batches(tmp_path):
    write_cifar(tmp_path / "cifar-10-batches-py")
    train = load_dataset("cifar10", "train", data_dir=tmp_path)
    test = load_dataset("cifar10", "test", data_dir=tmp_path)
    assert len(train) == 20 and len(test) == 4
    assert (
        train.fields["image"].shape == (20, 3, 32, 32)
        and train.fields["image"].dtype == torch.float32
    )
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "rb") as f:
        raw = pickle.load(f, encoding="bytes")
    expected = torch.from_numpy(raw[b"data"].reshape(-1, 3, 32, 32)).float() / 255
    assert torch.equal(test.fields["image"], expected)
    assert test.fields["label"].tolist() == raw[b"labels"]
    assert test.meta["class_names"][3] == "class3" and test.meta["kind"] == "real"
    sub = load_dataset("cifar10", "train", n=5, seed=1, data_dir=tmp_path)
    assert len(sub) == 5 and sub.fields["image"].shape == (5, 3, 32, 32)


def test_cifar10_missing_and_malformed_files(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    write_cifar(root)
    (root / "data_batch_3").unlink()
    with pytest.raises(DataError) as exc:
        load_dataset("cifar10", "train", data_dir=tmp_path)
    one_line_error(exc, "data_batch_3")
    (root / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(DataError) as exc:
        load_dataset("cifar10", "test", data_dir=tmp_path)
    one_line_error(exc, "test_batch")
    with pytest.raises(DataError) as exc:
        load_dataset("cifar10", "test")
    one_line_error(exc, "cifar10")


# ---------------------------------------------------------------------------- SST-2
def test_sst2_glue_tsv_and_dev_is_test(tmp_path):
    d = tmp_path / "SST-2"
    d.mkdir()
    (d / "train.tsv").write_text("sentence\tlabel\nhide new secretions \t0\na charming movie \t1\n")
    (d / "dev.tsv").write_text(
        "sentence\tlabel\nit 's a charming and often affecting journey . \t1\n"
    )
    test = load_dataset("sst2", "test", data_dir=tmp_path)
    assert test.fields["text"] == ["it 's a charming and often affecting journey ."]
    assert test.fields["label"].tolist() == [1]
    assert (
        "charming" in test.meta["vocab"] and "journey" not in test.meta["vocab"]
    )  # train-split vocab
    assert load_dataset("sst2", "train", data_dir=tmp_path).fields["label"].tolist() == [0, 1]
    (d / "dev.tsv").write_text("index\tsentence\n0\tfoo\n")
    with pytest.raises(DataError) as exc:
        load_dataset("sst2", "test", data_dir=tmp_path)
    one_line_error(exc, "dev.tsv")
    (d / "train.tsv").unlink()
    with pytest.raises(DataError) as exc:
        load_dataset("sst2", "train", data_dir=tmp_path)
    one_line_error(exc, "train.tsv")


# ---------------------------------------------------------------------------- Europarl
def test_europarl_length_rule_and_deterministic_split(tmp_path):
    lines = [
        "Resumption of the session",  # 4 words: kept
        "I declare resumed the session of the European Parliament.",
        "Too short.",  # 2 words: dropped
        " ".join(["word"] * 31),  # 31 words: dropped
        "<CHAPTER ID=1>",  # markup only: dropped
        "Madam President, on a point of order: I'd like 2 minutes!",
    ] + [f"This is sentence number {chr(97 + i)} of the test corpus." for i in range(26)]
    (tmp_path / "europarl").mkdir()
    (tmp_path / "europarl" / "europarl-v7.fr-en.en").write_text("\n".join(lines) + "\n")
    train = load_dataset("europarl", "train", data_dir=tmp_path)
    test = load_dataset("europarl", "test", data_dir=tmp_path)
    kept = [normalise(s) for s in lines if keep_sentence(normalise(s))]
    assert sorted(train.fields["text"] + test.fields["text"]) == sorted(kept)
    assert len(kept) == 29
    assert "madam president on a point of order i d like minutes" in kept
    assert all(stable_test_member(s) for s in test.fields["text"])
    assert not any(stable_test_member(s) for s in train.fields["text"])
    vocab = test.meta["vocab"]
    assert vocab.decode(vocab.encode(train.fields["text"][0])) == train.fields["text"][0]
    with pytest.raises(DataError) as exc:
        load_dataset("europarl", "test", data_dir=tmp_path / "europarl" / "nothing")
    one_line_error(exc, "nothing")


def test_text_normalisation_rule():
    assert normalise("Don't stop-me now, 2024!") == "don t stop me now"
    assert normalise("Café Über") == "cafe uber"
    assert keep_sentence("a b c d") and not keep_sentence("a b c") and not keep_sentence("a " * 31)


# ---------------------------------------------------------------------------- VQAv2
def write_vqa(root: Path) -> None:
    root.mkdir()
    for split, qids in (("train2014", [1, 2, 3]), ("val2014", [10, 11])):
        qs = [
            {"image_id": 100 + q % 2, "question": f"what is {q}?", "question_id": q} for q in qids
        ]
        (root / f"v2_OpenEnded_mscoco_{split}_questions.json").write_text(
            json.dumps({"questions": qs})
        )
        ans = {
            1: ["Yes"] * 10,
            2: ["yes"] * 6 + ["two"] * 4,
            3: ["2"] * 7 + ["red"] * 3,
            10: ["Two"] * 2 + ["blue"] * 8,
            11: ["yes."] * 4 + ["no"] * 6,
        }
        anns = [
            {
                "question_id": q,
                "image_id": 100 + q % 2,
                "answers": [{"answer": a, "answer_id": i + 1} for i, a in enumerate(ans[q])],
            }
            for q in qids
        ]
        (root / f"v2_mscoco_{split}_annotations.json").write_text(json.dumps({"annotations": anns}))
        (root / split).mkdir()
        for image_id in (100, 101):
            Image.new("RGB", (20, 10), (image_id, 0, 0)).save(
                root / split / f"COCO_{split}_{image_id:012d}.jpg"
            )
    np.savez(
        root / "features_test.npz",
        image_id=np.array([100, 101]),
        features=np.eye(2, dtype=np.float32),
    )


def test_vqav2_official_json_answer_vocab_and_images(tmp_path):
    write_vqa(tmp_path / "vqav2")
    d = DATASETS.create("vqav2", split="test", data_dir=tmp_path, image_size=8, num_answers=2)
    # training answers: yes x16, 2 x11 (two -> 2), red x3 -> top 2 = yes, 2
    assert d.meta["answer_vocab"] == ["yes", "2"]
    assert d.fields["question"] == ["what is 10?", "what is 11?"]
    assert d.fields["answers"][0][:2] == ["2", "2"]  # "Two" normalised
    assert d.fields["answer_index"].tolist() == [-1, -1]  # blue and no are out of vocabulary
    assert d.fields["image"].shape == (2, 3, 8, 8)
    assert d.fields["image"][0, 0].mean().item() == pytest.approx(100 / 255, abs=0.02)
    assert torch.equal(d.fields["image_features"], torch.eye(2))
    assert d.fields["question_id"].tolist() == [10, 11]
    (tmp_path / "vqav2" / "v2_mscoco_val2014_annotations.json").write_text("{bad json")
    with pytest.raises(DataError) as exc:
        load_dataset("vqav2", "test", data_dir=tmp_path)
    one_line_error(exc, "v2_mscoco_val2014_annotations.json")


def test_normalise_answer():
    assert normalise_answer("Two.") == "2"
    assert normalise_answer("A red ball!") == "red ball"
    assert normalise_answer("1,000") == "1000" and normalise_answer("1.5") == "1.5"


# ---------------------------------------------------------------------------- CMU-MOSI
def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((samples * 32767).astype("<i2").tobytes())


def write_mosi(root: Path) -> None:
    (root / "clips").mkdir(parents=True)
    rows = [("c1", 2.4, "train"), ("c2", -0.4, "test"), ("c3", 0.0, "test"), ("c4", -3.0, "valid")]
    (root / "labels.csv").write_text(
        "clip_id,score,split\n" + "".join(f"{c},{s},{p}\n" for c, s, p in rows)
    )
    for k, (cid, _, _) in enumerate(rows):
        clip = root / "clips" / cid
        clip.mkdir()
        (clip / "transcript.txt").write_text(f"clip {cid} is  quite good\n")
        write_wav(clip / "audio.wav", 0.5 * np.sin(np.arange(800) * 0.1), 8000)
        if k % 2:
            (clip / "frames").mkdir()
            for t in range(3):
                Image.new("RGB", (16, 12), (80 * t, 0, 0)).save(clip / "frames" / f"{t:03d}.png")
        else:
            np.save(clip / "frames.npy", np.full((5, 12, 16, 3), 200, np.uint8))


def test_cmu_mosi_layout(tmp_path):
    write_mosi(tmp_path / "cmu-mosi")
    d = DATASETS.create(
        "cmu-mosi",
        split="test",
        data_dir=tmp_path,
        num_frames=4,
        size=8,
        sample_rate=16000,
        audio_seconds=0.2,
    )
    assert d.fields["frames"].shape == (2, 4, 3, 8, 8) and d.fields["audio"].shape == (2, 3200)
    assert d.fields["label"].tolist() == [0, 1]  # -0.4 -> negative; 0.0 -> non-negative
    assert d.fields["label7"].tolist() == [3, 3]
    assert d.fields["text"][0] == "clip c2 is quite good" and d.fields["clip_id"] == ["c2", "c3"]
    # 100 ms of tone resampled 8 -> 16 kHz fills 1600 samples, then zero padding
    assert (
        d.fields["audio"][0, :1500].abs().max() > 0.4
        and d.fields["audio"][0, 1700:].abs().max() == 0
    )
    assert d.fields["frames"][0, :, 0, 0, 0].tolist() == pytest.approx(
        [0, 80 / 255, 80 / 255, 160 / 255],
        abs=0.01,  # indices round(linspace(0, 2, 4))
    )
    assert d.meta["sample_rate"] == 16000
    (tmp_path / "cmu-mosi" / "labels.csv").write_text("clip_id,score,split\nc1,4.5,train\n")
    with pytest.raises(DataError) as exc:
        load_dataset("cmu-mosi", "test", data_dir=tmp_path)
    one_line_error(exc, "labels.csv")


# ---------------------------------------------------------------------------- COCO format
def test_coco_detseg_polygons_rle_and_crowd(tmp_path):
    from pycocotools import mask as mask_utils

    root = tmp_path / "coco-detseg"
    (root / "annotations").mkdir(parents=True)
    (root / "images" / "test").mkdir(parents=True)
    Image.new("RGB", (40, 20), (0, 255, 0)).save(root / "images" / "test" / "a.png")
    rle_mask = np.zeros((20, 40), np.uint8, order="F")
    rle_mask[10:20, 30:40] = 1
    rle = mask_utils.encode(rle_mask)
    rle["counts"] = rle["counts"].decode()
    coco = {
        "images": [{"id": 7, "file_name": "a.png", "height": 20, "width": 40}],
        "categories": [{"id": 18, "name": "dog"}, {"id": 3, "name": "car"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 7,
                "category_id": 18,
                "bbox": [0, 0, 20, 10],
                "area": 200,
                "iscrowd": 0,
                "segmentation": [[0, 0, 20, 0, 20, 10, 0, 10]],
            },
            {
                "id": 2,
                "image_id": 7,
                "category_id": 3,
                "bbox": [30, 10, 10, 10],
                "area": 100,
                "iscrowd": 0,
                "segmentation": rle,
            },
            {
                "id": 3,
                "image_id": 7,
                "category_id": 3,
                "bbox": [0, 14, 4, 4],
                "area": 16,
                "iscrowd": 1,
                "segmentation": [[0, 14, 4, 14, 4, 18, 0, 18]],
            },
        ],
    }
    (root / "annotations" / "instances_test.json").write_text(json.dumps(coco))
    d = DATASETS.create("coco-detseg", split="test", data_dir=tmp_path, size=20)
    assert d.meta["class_names"] == ["background", "car", "dog"]  # ids 3, 18 -> 1, 2
    mask = d.fields["mask"][0]
    assert mask.shape == (20, 20)
    assert mask[2, 2] == 2 and mask[15, 18] == 1 and mask[16, 1] == 255 and mask[5, 14] == 0
    boxes = d.fields["boxes"][0]
    assert d.fields["box_labels"][0].tolist() == [2, 1]  # largest area first, crowd has no box
    assert torch.allclose(
        boxes, torch.tensor([[0, 0, 10, 10], [15, 10, 20, 20]], dtype=torch.float32)
    )
    (root / "annotations" / "instances_test.json").write_text(json.dumps({"images": []}))
    with pytest.raises(DataError) as exc:
        load_dataset("coco-detseg", "test", data_dir=tmp_path)
    one_line_error(exc, "instances_test.json")


# ---------------------------------------------------------------------------- embedded
EMBEDDED = [n for n in DATASETS.names() if n.startswith("embedded-") or n == "shapes32"]


def same(a: TaskData, b: TaskData) -> bool:
    for k in a.fields:
        x, y = a.fields[k], b.fields[k]
        if isinstance(x, torch.Tensor):
            if (
                x.dtype != y.dtype
                or x.shape != y.shape
                or x.numpy().tobytes() != y.numpy().tobytes()
            ):
                return False
        elif len(x) != len(y) or any(
            not torch.equal(p, q) if isinstance(p, torch.Tensor) else p != q
            for p, q in zip(x, y, strict=True)
        ):
            return False
    return True


@pytest.mark.parametrize("name", EMBEDDED)
def test_embedded_deterministic_by_seed_and_prefix_stable(name):
    a = load_dataset(name, "test", n=12, seed=3)
    b = load_dataset(name, "test", n=12, seed=3)
    assert len(a) == 12 and same(a, b) and a.meta["kind"] == "embedded"
    assert "embedded" in a.provenance
    c = load_dataset(name, "test", n=12, seed=4)
    if name != "embedded-text":  # a fixed corpus: the seed only picks a subset
        assert not same(a, c)
        assert same(a, load_dataset(name, "test", n=20, seed=3).subset(range(12)))
        assert not same(a, load_dataset(name, "train", n=12, seed=3))


def test_embedded_field_contracts():
    img = load_dataset("shapes32", "test", n=20)
    x = img.fields["image"]
    assert x.shape == (20, 3, 32, 32) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert img.fields["label"].dtype == torch.int64 and img.meta["num_classes"] == 10

    v = load_dataset("embedded-video-sentiment", "test", n=10)
    assert v.fields["frames"].shape == (10, 4, 3, 32, 32) and v.fields["audio"].shape == (10, 4000)
    score = v.fields["score"]
    assert score.dtype == torch.float32 and score.abs().max() <= 3
    assert torch.equal(v.fields["label"], (score >= 0).long())
    assert torch.equal(v.fields["label7"], torch.round(score.clamp(-3, 3)).long() + 3)
    assert v.fields["audio"].abs().max() <= 1 and len(v.fields["text"]) == 10

    q = load_dataset("embedded-vqa", "test", n=15)
    vocab = q.meta["answer_vocab"]
    for answers, idx, question in zip(
        q.fields["answers"], q.fields["answer_index"], q.fields["question"], strict=True
    ):
        assert len(answers) == 10 and len(set(answers)) == 1 and vocab[idx] == answers[0]
        assert q.meta["vocab"].unk_id not in q.meta["vocab"].encode(question)

    d = load_dataset("embedded-detseg", "test", n=10)
    assert d.fields["image"].shape == (10, 3, 128, 128) and d.fields["mask"].dtype == torch.int64
    for boxes, labels, mask in zip(
        d.fields["boxes"], d.fields["box_labels"], d.fields["mask"], strict=True
    ):
        assert boxes.shape == (len(labels), 4) and 1 <= len(labels) <= 5
        assert set(mask.unique().tolist()) <= {0, *labels.tolist()}
        for (x1, y1, x2, y2), c in zip(boxes.long().tolist(), labels.tolist(), strict=True):
            assert (mask[y1:y2, x1:x2] == c).any() and (x2 > x1) and (y2 > y1)

    s = load_dataset("embedded-speech", "test", n=4)
    assert s.fields["audio"].shape == (4, 8000) and s.meta["sample_rate"] == 8000
    assert s.fields["audio"].abs().max() <= 1

    p = load_dataset("embedded-photos", "test", n=3)
    assert p.fields["image"].shape == (3, 3, 32, 32) and p.fields["image"].std() > 0.02

    t = load_dataset("embedded-text", "test")
    assert len(t) > 100 and all(keep_sentence(s) and s == normalise(s) for s in t.fields["text"])
    assert not set(t.fields["text"]) & set(load_dataset("embedded-text", "train").fields["text"])


def test_embedded_class_balance():
    assert Counter(
        load_dataset("shapes32", "train", n=100).fields["label"].tolist()
    ) == dict.fromkeys(range(10), 10)
    for name in ("embedded-sentiment", "embedded-video-sentiment"):
        assert load_dataset(name, "test", n=50).fields["label"].sum().item() == 25
    types = Counter(load_dataset("embedded-vqa", "test", n=25).fields["question_type"])
    assert set(types.values()) == {5}


def test_embedded_sentiment_has_no_word_level_shortcut():
    d = load_dataset("embedded-sentiment", "train", n=2000)
    with_good = [
        y
        for s, y in zip(d.fields["text"], d.fields["label"].tolist(), strict=True)
        if "great" in s.split()
    ]
    assert 0.2 < np.mean(with_good) < 0.8  # "great" appears in negative sentences too
    negated = [
        y
        for s, y in zip(d.fields["text"], d.fields["label"].tolist(), strict=True)
        if " not great" in s
    ]
    assert np.mean(negated) < 0.5


def test_sentiment_words_agree_with_vader():
    vader = pytest.importorskip("vaderSentiment")
    from importlib.resources import files

    from semcom_sim.data.sentiment import NEGATIVE, POSITIVE

    lex = {}
    for line in (files(vader) / "vader_lexicon.txt").read_text(encoding="utf-8").splitlines():
        word, value = line.split("\t")[:2]
        lex[word] = float(value)
    assert all(lex[w] > 0 for w in POSITIVE if w in lex) and all(
        lex[w] < 0 for w in NEGATIVE if w in lex
    )


# ---------------------------------------------------------------------------- API
def test_taskdata_subset_batches_and_length_check():
    d = TaskData("x", "test", {"a": torch.arange(7), "b": list("abcdefg")})
    assert len(d) == 7
    sub = d.subset([6, 0])
    assert sub.fields["a"].tolist() == [6, 0] and sub.fields["b"] == ["g", "a"]
    sizes = [len(b) for b in d.batches(3)]
    assert sizes == [3, 3, 1]
    assert torch.equal(torch.cat([b.fields["a"] for b in d.batches(3)]), d.fields["a"])
    with pytest.raises(ValueError):
        TaskData("x", "test", {"a": torch.arange(3), "b": [1]})


def test_registry_errors_and_info(monkeypatch, tmp_path):
    with pytest.raises(UnknownNameError) as exc:
        load_dataset("imagenet")
    assert "shapes32" in str(exc.value)
    with pytest.raises(Exception) as exc:
        load_dataset("shapes32", split="validation")
    assert "split" in str(exc.value)
    info = {d["name"]: d for d in dataset_info()}
    assert set(info) == set(DATASETS.names())
    assert info["cifar10"]["kind"] == "real" and info["shapes32"]["sizes"] == {
        "train": 10000,
        "test": 2000,
    }
    assert info["embedded-text"]["sizes"]["test"] > 0
    monkeypatch.setenv("SEMCOM_SIM_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"


def test_vocab_roundtrip_unknown_and_json(tmp_path):
    v = Vocab.build(["the cat sat", "the dog"], min_freq=1)
    assert v.tokens[:5] == ["<pad>", "<bos>", "<eos>", "<unk>", "the"]
    ids = v.encode("The cat flew")
    assert ids[0] == v.bos_id and ids[-1] == v.eos_id and ids[3] == v.unk_id
    assert v.decode(ids) == "the cat <unk>"
    batch = v.encode_batch(["the cat", "dog"])
    assert batch.shape == (2, 4) and batch[1, -1].item() == v.pad_id
    assert v.decode_batch(batch) == ["the cat", "dog"]
    v.save(tmp_path / "v.json")
    assert Vocab.load(tmp_path / "v.json").tokens == v.tokens
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(DataError) as exc:
        Vocab.load(tmp_path / "bad.json")
    one_line_error(exc, "bad.json")
    assert len(Vocab.build(["a a b c"], min_freq=2)) == 5
