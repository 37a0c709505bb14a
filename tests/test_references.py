"""Trivial references: closed forms on the test examples themselves."""

from __future__ import annotations

import torch

from semcom_sim.baselines.references import block_mean
from semcom_sim.catalog import load_catalog
from semcom_sim.channel import AWGN

SCHEMES, TASKS = load_catalog()


def _run(name: str, task_name: str, n: int = 64):
    task = TASKS.create(task_name)
    data = task.load(n, seed=3)
    scheme = SCHEMES.create(name)
    assert scheme.role == "reference" and scheme.supports(task)
    scheme.prepare(task, torch.device("cpu"))
    batch = next(iter(data.batches(n)))
    outs = scheme.run_grid(batch, AWGN(), [-6.0, 18.0], [None, None])
    acc = task.new_accumulator()
    acc.update(outs[0].predictions, batch)
    assert torch.equal(outs[0].num_symbols, outs[1].num_symbols)  # SNR-independent
    return acc.compute()[task.primary_metric], outs[0], batch


def test_block_mean_is_exact_and_quantised():
    img = torch.rand(2, 3, 32, 32)
    out = block_mean(img, 8)
    ref = img[:, :, :8, :8].mean(dim=(2, 3))
    assert torch.allclose(out[:, :, 0, 0], torch.round(ref * 255) / 255)
    assert torch.equal(out[:, :, :8, :8], out[:, :, :1, :1].expand(2, 3, 8, 8))


def test_image_references_are_ordered_and_counted():
    mean, o_mean, _ = _run("mean-image", "image-reconstruction")
    colour, o_col, _ = _run("mean-colour", "image-reconstruction")
    block, o_blk, _ = _run("block-colour", "image-reconstruction")
    assert mean < colour < block  # more side information, closer images
    assert o_mean.num_symbols.eq(0).all() and o_col.num_symbols.eq(12).all()
    assert o_blk.num_symbols.eq(16 * 24 / 2).all()  # 16 blocks of 24 bits, as QPSK


def test_majority_class_and_chance():
    value, out, batch = _run("majority-class", "image-classification")
    labels = batch.fields["label"]
    pred = int(out.predictions[0])
    assert abs(value - float((labels == pred).float().mean())) < 1e-9
    assert abs(float(out.extras["chance"][0]) - 0.1) < 1e-6


def test_question_prior_beats_chance_on_vqa():
    value, out, _ = _run("question-prior", "vqa")
    assert isinstance(out.predictions[0], str) and value > 0.1


def test_constant_bleu_matches_sacrebleu():
    from sacrebleu.metrics import BLEU as SacreBLEU

    from semcom_sim.baselines.references import constant_bleu

    refs = ["the cat sat on the mat", "a dog sat on the mat today", "the cat is on the mat"]
    hyp = "the cat sat on the mat"
    want = SacreBLEU().corpus_score([hyp] * 3, [refs]).score / 100
    assert abs(constant_bleu(hyp, refs) - want) < 1e-9
    assert constant_bleu("zebra", refs, 1) == 0.0


def test_constant_sentence_is_one_training_sentence_at_the_floor():
    value, out, batch = _run("constant-sentence", "text-reconstruction")
    assert len(set(out.predictions)) == 1 and out.num_symbols.eq(0).all()
    assert out.predictions[0] not in batch.fields["text"]  # a training sentence, not a test one
    assert 0.0 <= value < 0.05  # no content: BLEU-4 near zero on unseen sentences
