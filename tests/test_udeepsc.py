"""Tests of the U-DeepSC model (semcom_sim.models.udeepsc), tiny preset, CPU."""

from __future__ import annotations

import json
import math

import pytest
import torch

from semcom_sim.channel import AWGN, Channel, ChannelOutput, RayleighBlockFading
from semcom_sim.errors import SemcomError, UnknownNameError
from semcom_sim.models.udeepsc import (
    ALL_TASKS,
    KeepRatioNet,
    UDeepSC,
    UDeepSCConfig,
    algorithm1_phase,
    build_udeepsc,
    certainty_target_classification,
    certainty_target_reconstruction,
    certainty_target_tokens,
    codebook_loss,
    count_parameters,
    domain_adaptation_loss,
    keep_count,
    multi_exit_loss,
    paper_config,
    straight_through,
    task_loss,
    task_parameter_names,
    tiny_config,
    topk_keep,
    training_step,
)
from semcom_sim.models.udeepsc.qam import index_log_likelihoods, index_symbol_table, qam_points
from semcom_sim.models.udeepsc.transmission import FeatureLink
from semcom_sim.models.udeepsc.transmitter import Transmitter, TransmitterOutput

B = 8


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # The tiny model is latency-bound; one thread avoids oversubscription on shared CPUs.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


class NoiselessChannel(Channel):
    """``y = x`` with ``no_eff`` set from ``snr_db``: deterministic, SNR still reaches the model."""

    name = "noiseless"

    def forward(self, x, no, generator, num_symbols):
        return ChannelOutput(
            y=x,
            no_eff=no[:, None].expand(x.shape),
            h=None,
            channel_uses=self.channel_uses(num_symbols),
        )


def make_batch(task: str, cfg: UDeepSCConfig, g: torch.Generator, b: int = B) -> dict:
    img = torch.rand(b, 3, cfg.image_size, cfg.image_size, generator=g)
    txt = torch.randint(1, cfg.vocab_size, (b, 10), generator=g)
    txt[: b // 2, 7:] = cfg.pad_id  # half the sentences are padded
    label = torch.randint(0, 2, (b,), generator=g)
    if task == "imgc":
        return dict(task=task, image=img, target=torch.randint(0, 10, (b,), generator=g))
    if task == "imgr":
        return dict(task=task, image=img, target=img)
    if task == "textr":
        return dict(task=task, text=txt, target=txt)
    if task == "textc":
        return dict(task=task, text=txt, target=label)
    if task == "vqa":
        n = cfg.num_classes["vqa"]
        return dict(task=task, image=img, text=txt, target=torch.randint(0, n, (b,), generator=g))
    video = torch.rand(b, 2, 3, cfg.image_size, cfg.image_size, generator=g)
    audio = torch.rand(b, 5 * cfg.frame_len - 7, generator=g) * 2 - 1
    return dict(task=task, video=video, text=txt, audio=audio, target=label)


def inputs_of(batch: dict) -> dict:
    return {k: v for k, v in batch.items() if k not in ("task", "target")}


@pytest.fixture(scope="module")
def model() -> UDeepSC:
    torch.manual_seed(0)
    return UDeepSC(tiny_config())


# ----------------------------------------------------------------------------- task tokens
def test_task_tokens_are_registered_and_trained(model):
    names = dict(model.named_parameters())
    for m, tx in model.transmitters.items():
        for t, p in tx.task_tokens.items():
            assert names[f"transmitters.{m}.task_tokens.{t}"] is p
    g = torch.Generator().manual_seed(1)
    model.zero_grad()
    batch = make_batch("vqa", model.config, g)
    training_step(model, batch, batch, 5.0, 1, g)["loss"].backward()
    for m in ("image", "text"):
        grad = model.transmitters[m].task_tokens["vqa"].grad
        assert grad is not None and grad.abs().sum() > 0
        assert model.transmitters[m].task_tokens["imgc" if m == "image" else "textc"].grad is None
    assert "transmitters.image.task_tokens.vqa" in model.state_dict()


# ----------------------------------------------------------------------------- codebook
def test_straight_through_copies_gradient():
    z = torch.randn(5, 4, requires_grad=True)
    q = torch.randn(5, 4)
    w = torch.randn(5, 4)
    out = straight_through(z, q)
    assert torch.equal(out, q + 0.0 * z) or torch.allclose(out, q)
    (out * w).sum().backward()
    assert torch.allclose(z.grad, w)


@pytest.mark.parametrize("decoding", ["hard", "soft"])
def test_link_gradient_to_encoder_is_identity(decoding):
    cfg = tiny_config(index_decoding=decoding)
    link = FeatureLink(cfg)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(3, 6, cfg.feature_dim, generator=g, requires_grad=True)
    mask = torch.ones(3, 6)
    sent = {"image": TransmitterOutput(features=z, mask=mask, valid=mask)}
    out = link(sent, torch.full((3,), 10.0), AWGN(), g)
    r = torch.randn(3, 6, cfg.feature_dim, generator=g)
    (out.received["image"] * r).sum().backward()
    assert torch.allclose(z.grad, r)  # decoder-input gradient copied to the encoder output
    assert link.codebook.books["image"].grad is None  # codebook trained by eq. (12) only


def test_codebook_loss_eq12_gradients():
    z = torch.tensor([[1.0, 2.0]], requires_grad=True)
    e = torch.tensor([[0.0, 0.0]], requires_grad=True)
    loss = codebook_loss(z, e, beta=0.25)
    assert loss.item() == pytest.approx(1.25 * 2.5)  # (1+4)/2 * (1 + beta)
    loss.backward()
    assert torch.allclose(e.grad, -(z.detach() - e.detach()))  # d/de mean (ng[z]-e)^2
    assert torch.allclose(z.grad, 0.25 * (z.detach() - e.detach()))


def test_codebook_quantize_and_unified_offsets(model):
    cb = model.link.codebook
    k = model.config.codebook_sizes
    assert cb.unified().shape == (k["image"] + k["text"] + k["speech"], cfg_dim(model))
    offsets = [0, k["image"], k["image"] + k["text"]]
    assert [cb.offset(m) for m in ("image", "text", "speech")] == offsets
    book = cb.books["text"].detach()
    z = book[[3, 7]] + 1e-3
    idx, e = cb.quantize(z, "text")
    assert idx.tolist() == [3, 7] and torch.allclose(e, book[[3, 7]])
    assert torch.equal(cb.unified()[cb.offset("text") + 7], cb.books["text"][7])


def cfg_dim(model):
    return model.config.feature_dim // model.config.codewords_per_feature


def test_domain_adaptation_loss_hand_case():
    e_a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    e_b = torch.tensor([[1.0, 1.0]])
    # E_A E_B^T = [[1], [1]], Frobenius norm sqrt(2)
    assert domain_adaptation_loss(e_a, e_b, normalize=False).item() == pytest.approx(-math.sqrt(2))
    # normalised: ||E_A^T E_A||_F = ||I||_F = sqrt(2), ||E_B^T E_B||_F = ||[[1,1],[1,1]]||_F = 2
    expected = -math.sqrt(2) / math.sqrt(math.sqrt(2) * 2)
    assert domain_adaptation_loss(e_a, e_b).item() == pytest.approx(expected)
    # zero rows (dropped features) add nothing; scale-free; -1 for proportional second moments
    e_b0 = torch.cat([e_b, torch.zeros(3, 2)])
    assert domain_adaptation_loss(e_a, 7 * e_b0).item() == pytest.approx(expected)
    rot = torch.tensor([[0.6, -0.8], [0.8, 0.6]])
    assert domain_adaptation_loss(e_a, 3 * rot).item() == pytest.approx(-1.0)
    z = torch.zeros(2, 2, requires_grad=True)
    domain_adaptation_loss(z, z, normalize=False).backward()
    assert torch.isfinite(z.grad).all()


# ----------------------------------------------------------------------------- QAM symbols
def test_qam_tables_unit_energy_and_noiseless_demap():
    for bits in (1, 2, 3, 4, 6):
        pts = qam_points(bits)
        assert pts.abs().pow(2).mean().item() == pytest.approx(1.0, abs=1e-6)
        assert pts.mean().abs().item() < 1e-6
        assert len(set(pts.tolist())) == 1 << bits
    for b, m, s in ((4, 4, 1), (8, 4, 2), (6, 4, 2), (5, 2, 3), (3, 1, 3)):
        table = index_symbol_table(b, m)
        assert table.shape == (1 << b, s)
        assert torch.allclose(table.abs().pow(2).mean(0), torch.ones(s), atol=1e-6)
        llh = index_log_likelihoods(table, torch.full(table.shape, 0.1), table)
        assert torch.equal(llh.argmax(-1), torch.arange(1 << b))


def test_gray_labels_neighbours_differ_in_one_bit():
    pts = qam_points(4)
    for a in range(16):
        d = (pts - pts[a]).abs()
        d[a] = math.inf
        for nb in torch.nonzero(d < d.min() + 1e-6).flatten().tolist():
            assert bin(a ^ nb).count("1") == 1


# ----------------------------------------------------------------------------- selection
def test_rho_non_decreasing_in_noise_for_random_weights():
    g = torch.Generator().manual_seed(0)
    t = torch.linspace(-4.0, 2.0, 301)  # log10 sigma^2
    for _ in range(20):
        net = KeepRatioNet(3, 8, 0.5)
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 4)
        rho = net(t)
        assert (rho.diff(dim=0) >= -1e-6).all()  # non-decreasing in sigma^2
        assert (rho.diff(dim=1) <= 1e-7).all()  # rho^1 >= rho^2 >= rho^3
        assert ((rho >= 0) & (rho <= 1)).all()


@pytest.mark.parametrize("training", [True, False])
def test_masks_accumulate_and_never_revive(training):
    cfg = tiny_config(text_depth=3, text_select_after=(1, 2, 3))
    tx = Transmitter(cfg, "text").train(training)
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(1, cfg.vocab_size, (16, 12), generator=g)
    ids[:, 9:] = cfg.pad_id
    for seed in range(5):
        g.manual_seed(seed)
        out = tx(ids, "textc", torch.linspace(-2, 0.5, 16), g)
        prev = out.valid
        for m in out.stage_masks:
            assert set(m.unique().tolist()) <= {0.0, 1.0}
            assert (m <= prev).all()
            prev = m
        assert torch.equal(out.mask, out.stage_masks[-1])


def test_topk_count_equals_round_n_rho():
    cfg = tiny_config()
    tx = Transmitter(cfg, "image").eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        out = tx(torch.rand(B, 3, 32, 32, generator=g), "imgc", torch.linspace(-3, 1, B), g)
    n = cfg.num_patches
    expected = torch.clamp(torch.round(n * out.rho[:, -1]), min=1)
    assert torch.equal(out.mask.sum(1), expected)
    for q, m in enumerate(out.stage_masks):
        assert torch.equal(m.sum(1), keep_count(torch.full((B,), float(n)), out.rho[:, q]).float())
    # direct: k = 0..N and already-dropped features
    score = torch.rand(4, 10, generator=g)
    current = torch.ones(4, 10)
    current[1, :3] = 0
    keep = topk_keep(score, current, torch.tensor([0, 10, 10, 3]))
    assert keep.sum(1).tolist() == [0, 7, 10, 3]
    assert (keep <= current).all()
    top3 = score[3].topk(3).indices
    assert keep[3, top3].sum() == 3


def test_keep_count_rounds_and_is_at_least_one():
    n = torch.tensor([10.0, 10.0, 10.0, 3.0])
    rho = torch.tensor([0.26, 0.24, 0.01, 0.5])
    assert keep_count(n, rho).tolist() == [3, 2, 1, 2]  # round(1.5) = 2 (half to even)


# ----------------------------------------------------------------------------- certainty, eq. 6
def test_certainty_targets_eq8_eq9():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.0, 5.0], [1.0, 3.0, 0.0]])
    assert certainty_target_classification(logits, torch.tensor([0, 1, 1])).tolist() == [1, 0, 1]
    soft = torch.tensor([[0.9, 0.1, 0.0], [0.0, 0.2, 0.8], [0.5, 0.0, 0.5]])
    assert certainty_target_classification(logits, soft).tolist() == [1, 1, 0]
    pred = torch.zeros(2, 3, 2, 2)
    target = torch.stack([torch.zeros(3, 2, 2), torch.full((3, 2, 2), 0.1)])
    c = certainty_target_reconstruction(pred, target, scale=10.0)
    assert c.tolist() == pytest.approx([1.0, 1.0 - math.tanh(1.0)])
    assert certainty_target_reconstruction(pred, target + 5, 1.0).max() < 1e-3  # worst -> 0
    tok = torch.nn.functional.one_hot(torch.tensor([[1, 2, 3, 0]]), 5).float()
    assert certainty_target_tokens(tok, torch.tensor([[1, 2, 0, 0]])).tolist() == [0.75]


def test_text_loss_can_leave_the_padding_out():
    """Cross-entropy over the two word positions only: -log softmax at the true ids."""
    logits = torch.tensor([[[0.0, 2.0, 0.0], [0.0, 0.0, 1.0], [9.0, 0.0, 0.0], [0.0, 9.0, 0.0]]])
    target = torch.tensor([[1, 2, 0, 0]])  # two pad positions, one of them badly predicted
    words = -torch.log_softmax(logits[0, :2], -1)[[0, 1], [1, 2]].mean()
    got = task_loss("text_reconstruction", logits, target, ignore_id=0)
    assert got.item() == pytest.approx(words.item())
    every = -torch.log_softmax(logits[0], -1)[torch.arange(4), target[0]].mean()
    assert task_loss("text_reconstruction", logits, target).item() == pytest.approx(every.item())


def test_text_embedding_spread_follows_the_config():
    def spread(**kw) -> float:
        torch.manual_seed(0)
        return Transmitter(tiny_config(vocab_size=2000, **kw), "text").embed.tokens.weight.std()

    assert spread(text_embed_std=0.02).item() == pytest.approx(0.02, rel=0.05)
    assert spread().item() == pytest.approx(0.88, rel=0.05)  # tiny: N(0,1) cut at 2
    torch.manual_seed(0)
    pos = UDeepSC(tiny_config(decoder_pos_std=1.0), tasks=["imgr"]).receiver.channel_decoder.pos
    assert pos["image"].std().item() == pytest.approx(0.88, rel=0.1)
    with pytest.raises(SemcomError):
        tiny_config(text_embed_std=0.0)
    with pytest.raises(SemcomError):
        tiny_config(decoder_pos_std=-1.0)


def test_multi_exit_loss_phases():
    lt = [torch.tensor(1.0), torch.tensor(2.0), torch.tensor(3.0)]
    lc = [torch.tensor(0.1), torch.tensor(0.2), torch.tensor(0.3)]
    w = (0.5, 1.0, 2.0)
    assert multi_exit_loss(lt, lc, 1, w).item() == pytest.approx(2.0 * 3.3)
    assert multi_exit_loss(lt, lc, 2, w).item() == pytest.approx(0.5 * 1.1 + 2.2 + 2 * 3.3)
    assert [algorithm1_phase(i) for i in (1, 2, 3, 4)] == [1, 2, 1, 2]
    with pytest.raises(ValueError):
        multi_exit_loss(lt, lc, 3, w)


# ----------------------------------------------------------------------------- whole model
@pytest.mark.parametrize("task", ALL_TASKS)
def test_every_parameter_of_the_task_gets_a_gradient(model, task):
    """Rule: a task's parameters are all except those named after another task or after a
    modality it does not use (see parameter_belongs_to); phase 2 trains every exit head."""
    g = torch.Generator().manual_seed(7)
    model.zero_grad(set_to_none=True)
    batch = make_batch(task, model.config, g)
    training_step(model, batch, batch, 4.0, 2, g)["loss"].backward()
    expected = set(task_parameter_names(model, task))
    got = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert got == expected
    for n in expected:
        assert torch.isfinite(dict(model.named_parameters())[n].grad).all(), n


def test_output_shapes_and_finite(model):
    cfg = model.config
    g = torch.Generator().manual_seed(2)
    shapes = {
        "imgc": (B, 10),
        "imgr": (B, 3, 32, 32),
        "textr": (B, 10, cfg.vocab_size),
        "textc": (B, 2),
        "vqa": (B, cfg.num_classes["vqa"]),
        "msa": (B, 2),
    }
    for training in (True, False):
        model.train(training)
        for task in ALL_TASKS:
            batch = make_batch(task, cfg, g)
            with torch.no_grad():
                out = model(
                    task, torch.linspace(-5, 25, B), AWGN(), g, **inputs_of(batch), early_exit=False
                )
            assert out["output"].shape == shapes[task]
            assert out["logits" if task != "imgr" else "recon"] is out["output"]
            assert len(out["exit_outputs"]) == cfg.decoder_depth
            assert out["certainty"].shape == (B, cfg.decoder_depth)
            assert out["exit_layer"].shape == (B,) and out["exit_layer"].dtype == torch.int64
            assert out["num_symbols"].shape == (B,) and out["num_symbols"].dtype == torch.int64
            assert out["keep_ratio"].shape == (B,)
            for v in (out["output"], out["certainty"], out["loss_rate"], out["loss_codebook"]):
                assert torch.isfinite(v).all()
            assert ((out["certainty"] > 0) & (out["certainty"] < 1)).all()
    model.train()


def _side_bits(out, modalities) -> torch.Tensor:
    """N bits per modality whose kept mask drops a position (the kept-position bitmap)."""
    total = 0
    for m in modalities:
        mask = out["keep_masks"][m]
        total = total + (mask.sum(1) < mask.shape[1]).long() * mask.shape[1]
    return total


def test_symbol_count_matches_kept_features(model):
    model.eval()
    cfg = model.config
    g = torch.Generator().manual_seed(4)
    batch = make_batch("msa", cfg, g)
    with torch.no_grad():
        out = model("msa", 3.0, AWGN(), g, **inputs_of(batch))
    # e.g. tiny: 16-entry image / speech books = 4 bits = 2 QPSK symbols per codeword, the
    # 256-entry text book 4 symbols; G codewords per feature
    mods = ("image", "text", "speech")
    kept = sum(out["keep_masks"][m].sum(1) * cfg.symbols_per_feature(m) for m in mods)
    side = _side_bits(out, ("image", "text", "speech"))
    assert (side > 0).all() and torch.equal(out["side_info_bits"], side)
    # the kept-position bitmaps are side information, counted at the index modulation's bits
    bps = cfg.num_bits_per_symbol
    expected = kept.long() + torch.div(side + bps - 1, bps, rounding_mode="floor")
    assert torch.equal(out["num_symbols"], expected)
    assert torch.equal(out["channel_uses"], out["num_symbols"])
    model.train()


def test_symbols_fall_weakly_as_snr_rises():
    torch.manual_seed(5)
    model = UDeepSC(tiny_config()).eval()
    g = torch.Generator().manual_seed(5)
    snr = torch.linspace(-10.0, 30.0, 41)
    for task in ALL_TASKS:
        batch = make_batch(task, model.config, g, b=1)
        inputs = {k: v.expand(len(snr), *v.shape[1:]) for k, v in inputs_of(batch).items()}
        with torch.no_grad():
            out = model(task, snr, AWGN(), g, **inputs)
        assert (out["num_symbols"].diff() <= 0).all(), task
        fixed = task in model.config.keep_all_tasks or task == "textc"
        assert out["num_symbols"][0] > out["num_symbols"][-1] or fixed


def test_mixed_snr_batch_equals_per_snr_passes():
    torch.manual_seed(6)
    model = UDeepSC(tiny_config(index_decoding="soft")).eval()
    g = torch.Generator().manual_seed(6)
    snr = torch.tensor([-4.0, 2.0, 8.0, 20.0])
    ch = NoiselessChannel()
    for task in ("vqa", "msa", "imgr"):
        batch = make_batch(task, model.config, g, b=4)
        with torch.no_grad():
            full = model(task, snr, ch, g, **inputs_of(batch), exit_threshold=0.5)
            for i, s in enumerate(snr.tolist()):
                one = model(
                    task,
                    s,
                    ch,
                    g,
                    **{k: v[i : i + 1] for k, v in inputs_of(batch).items()},
                    exit_threshold=0.5,
                )
                assert torch.allclose(one["output"][0], full["output"][i], atol=1e-5)
                assert one["num_symbols"].item() == full["num_symbols"][i].item()
                assert one["exit_layer"].item() == full["exit_layer"][i].item()
                for m, mask in one["keep_masks"].items():
                    assert torch.equal(mask[0], full["keep_masks"][m][i])
                n = one["exit_layer"].item()
                assert torch.allclose(one["certainty"][0, :n], full["certainty"][i, :n], atol=1e-5)


def test_early_exit_threshold(model):
    model.eval()
    g = torch.Generator().manual_seed(8)
    x = inputs_of(make_batch("imgc", model.config, g))
    n = model.config.decoder_depth
    with torch.no_grad():
        first = model("imgc", 5.0, None, g, **x, exit_threshold=0.0)
        never = model("imgc", 5.0, None, g, **x, exit_threshold=1.0)
        full = model("imgc", 5.0, None, g, **x, exit_threshold=1.0, early_exit=False)
    assert (first["exit_layer"] == 1).all() and len(first["exit_outputs"]) == 1
    assert torch.isnan(first["certainty"][:, 1:]).all()
    assert (never["exit_layer"] == n).all()
    assert torch.equal(never["output"], never["exit_outputs"][-1])
    cert = full["certainty"]
    assert len(full["exit_outputs"]) == n and torch.isfinite(cert).all()
    delta = cert[:, 0].median().item()  # about half the examples exit at layer 1
    for skip in (True, False):
        with torch.no_grad():
            mid = model("imgc", 5.0, None, g, **x, exit_threshold=delta, early_exit=skip)
        above = cert > delta
        expected = torch.where(above.any(1), above.int().argmax(1) + 1, n)
        assert torch.equal(mid["exit_layer"], expected)
        for b in range(B):
            i = expected[b].item()
            assert torch.allclose(mid["output"][b], full["exit_outputs"][i - 1][b], atol=1e-6)
    assert len(set(expected.tolist())) > 1
    model.train()


def test_noiseless_upper_bound_and_t_deepsc():
    torch.manual_seed(9)
    t = UDeepSC(tiny_config(), tasks=["textc"])
    assert set(t.transmitters) == {"text"} and set(t.receiver.heads) == {"textc"}
    assert set(t.link.codebook.books) == {"text"}
    assert set(task_parameter_names(t, "textc")) == {n for n, _ in t.named_parameters()}
    t.eval()
    g = torch.Generator().manual_seed(9)
    batch = make_batch("textc", t.config, g)
    with torch.no_grad():
        out = t("textc", 0.0, None, g, **inputs_of(batch))
    idx = out["indices"]["text"]
    assert torch.equal(out["received_indices"]["text"], idx)
    with torch.no_grad():
        noisy = t("textc", -10.0, AWGN(), g, **inputs_of(batch))
    kept = noisy["keep_masks"]["text"].bool()
    assert (noisy["received_indices"]["text"] != noisy["indices"]["text"])[kept].any()
    with pytest.raises(SemcomError):
        t("imgc", 0.0, None, g, image=torch.rand(2, 3, 32, 32))


def test_analog_mode_and_rayleigh():
    torch.manual_seed(10)
    cfg = tiny_config(transmission="analog")
    model = UDeepSC(cfg)
    assert not hasattr(model.link, "codebook")
    g = torch.Generator().manual_seed(10)
    batch = make_batch("vqa", cfg, g)
    res = training_step(model, batch, make_batch("imgc", cfg, g), None, 2, g, channel="rayleigh")
    res["loss"].backward()
    assert res["codebook"] == 0 and torch.isfinite(res["loss"])
    model.eval()
    with torch.no_grad():
        out = model("vqa", 5.0, RayleighBlockFading(4), g, **inputs_of(batch))
    kept = out["keep_masks"]["image"].sum(1) + out["keep_masks"]["text"].sum(1)
    side = _side_bits(out, ("image", "text"))  # costed at the config's bits per symbol
    bps = cfg.num_bits_per_symbol
    expected = (kept * cfg.feature_dim // 2).long() + torch.div(
        side + bps - 1, bps, rounding_mode="floor"
    )
    assert torch.equal(out["num_symbols"], expected)


def test_smoke_training_reduces_loss(seed: int = 11):
    """Algorithm 1 on synthetic data whose class sets the image colour: imgc learns."""
    torch.manual_seed(seed)
    model = UDeepSC(tiny_config(), tasks=["imgc", "textc"])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=5e-3)
    g = torch.Generator().manual_seed(seed)
    palette = torch.rand(10, 3, 1, 1, generator=g)
    losses = []
    for step in range(1, 61):
        y = torch.randint(0, 10, (16,), generator=g)
        img = 0.7 * palette[y] + 0.3 * torch.rand(16, 3, 32, 32, generator=g)
        a = dict(task="imgc", image=img, target=y)
        b = make_batch("textc", model.config, g)
        res = training_step(model, a, b, None, algorithm1_phase(step), g, optimizer=opt)
        assert all(torch.isfinite(v) for v in res.values())
        if step % 2:  # phase-1 steps: last-exit loss only
            losses.append(res["task_a"].item())
    # task losses are normalised by log C (uniform prediction = 1)
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.25 / math.log(10)


# ----------------------------------------------------------------------------- config, counts
def test_config_json_round_trip_and_validation():
    cfg = paper_config(tasks=("vqa", "imgc"), exit_loss_weights=[1.0] * 8)
    back = UDeepSCConfig.from_json(cfg.to_json())
    assert back == cfg and isinstance(back.tasks, tuple)
    json.loads(cfg.to_json())
    with pytest.raises(UnknownNameError):
        tiny_config(tasks=("imgx",))
    with pytest.raises(SemcomError):
        tiny_config(codebook_sizes={"image": 12, "text": 16, "speech": 16})
    with pytest.raises(SemcomError):
        UDeepSCConfig.from_dict({"bogus": 1})
    with pytest.raises(SemcomError):
        build_udeepsc("tiny")("imgc", 0.0, None, None, text=torch.ones(2, 3, dtype=torch.long))


def test_count_parameters_tiny_and_paper():
    counts = count_parameters(UDeepSC(tiny_config()))
    comps = [k for k in counts if not k.startswith("task/") and k != "total"]
    assert sum(counts[k] for k in comps) == counts["total"]
    assert counts["task/msa"] > counts["task/vqa"] > counts["task/imgc"]
    assert counts["total"] < 2_000_000
    paper = count_parameters(build_udeepsc("paper", device="meta"))
    table2 = {"imgc": 32.6, "imgr": 32.9, "textc": 48.3, "textr": 48.2, "vqa": 63.0, "msa": 83.8}
    for t, ref in table2.items():
        assert paper[f"task/{t}"] / 1e6 == pytest.approx(ref, rel=0.05), t
    assert paper["total"] / 1e6 == pytest.approx(84.1, rel=0.05)


def test_safetensors_round_trip(tmp_path):
    from safetensors.torch import load_file, save_file

    torch.manual_seed(12)
    model = UDeepSC(tiny_config(), tasks=["vqa"]).eval()
    save_file(model.state_dict(), tmp_path / "m.safetensors")
    (tmp_path / "m.json").write_text(model.config.to_json())
    back = UDeepSC(UDeepSCConfig.from_json((tmp_path / "m.json").read_text())).eval()
    back.load_state_dict(load_file(tmp_path / "m.safetensors"))
    g = torch.Generator().manual_seed(12)
    batch = make_batch("vqa", model.config, g)
    with torch.no_grad():
        a = model("vqa", 5.0, None, None, **inputs_of(batch))
        b = back("vqa", 5.0, None, None, **inputs_of(batch))
    assert torch.equal(a["output"], b["output"])


# ----------------------------------------------------------------------------- issue 12 fixes
def _count_batch(cfg: UDeepSCConfig, g: torch.Generator, b: int = 16) -> dict:
    """Sentiment batch whose sentences all have the same length; the label is the content."""
    txt = torch.randint(1, cfg.vocab_size, (b, 9), generator=g)
    label = torch.arange(b) % 2
    txt[label == 1, :3] = 5  # positive sentences start with a marker word
    return dict(task="textc", text=txt, target=label)


@pytest.mark.parametrize("train", [True, False])
def test_kept_count_carries_no_label(train):
    """The number of kept features is a function of (length, SNR) alone, in training (Gumbel
    top-k) and at inference (top-k): it cannot encode the sentiment label."""
    torch.manual_seed(21)
    model = UDeepSC(tiny_config(), tasks=["textc"]).train(train)
    g = torch.Generator().manual_seed(21)
    batch = _count_batch(model.config, g)
    for snr in (0.0, 12.0):
        out = model("textc", snr, AWGN(), g, **inputs_of(batch))
        kept = out["keep_masks"]["text"].detach().sum(dim=1)
        assert kept.unique().numel() == 1, (train, snr, kept)
    # eq. 17's independent Gumbel decisions (train_selection "gumbel") do not fix the count: a
    # selector that drops every feature of one class would hand the receiver the label
    model = UDeepSC(tiny_config(train_selection="gumbel"), tasks=["textc"]).train()
    counts = set()
    for _ in range(3):
        out = model("textc", 6.0, AWGN(), g, **inputs_of(batch))
        counts |= set(out["keep_masks"]["text"].detach().sum(dim=1).tolist())
    assert len(counts) > 1


def test_selection_modules_are_per_task():
    cfg = tiny_config(tasks=("imgc", "imgr"), keep_all_tasks=("textr",))
    tx = UDeepSC(cfg).transmitters["image"]
    assert set(tx.selectors) == {"imgc", "imgr"}
    keep_all = UDeepSC(tiny_config(tasks=("imgc", "imgr"))).transmitters["image"]
    assert "imgr" not in keep_all.selectors
    shared = UDeepSC(tiny_config(tasks=("imgc", "imgr"), selection_per_task=False))
    assert set(shared.transmitters["image"].selectors) == {"shared"}


class RecordingChannel(NoiselessChannel):
    """Noiseless, and keeps what was sent (``x`` and the per-example symbol counts)."""

    def forward(self, x, no, generator, num_symbols):
        self.sent = (x.detach(), num_symbols.detach())
        return super().forward(x, no, generator, num_symbols)


@pytest.mark.parametrize("bits", [2, 4])
def test_index_symbols_have_unit_mean_energy_at_the_channel_input(bits):
    """The one power convention: mean |x|^2 over the symbols sent = 1. QPSK is exact; 16-QAM
    indices are used unevenly, so the link scales its table by the running mean energy."""
    torch.manual_seed(22)
    cfg = tiny_config(tasks=("imgc",), num_bits_per_symbol=bits)
    model = UDeepSC(cfg)
    g = torch.Generator().manual_seed(22)
    img = torch.rand(32, 3, 32, 32, generator=g) * 0.3  # dark images: a skewed index usage
    model.train()
    for _ in range(200):  # the running estimate converges (no optimiser: usage is fixed)
        model("imgc", 6.0, NoiselessChannel(), g, image=img)
    ch = RecordingChannel()
    model.eval()
    with torch.no_grad():
        model("imgc", 6.0, ch, g, image=img)
    x, n = ch.sent
    sent = torch.arange(x.shape[1])[None, :] < n[:, None]  # kept symbols are sent first
    energy = x.abs().pow(2)[sent].mean().item()
    assert energy == pytest.approx(1.0, abs=0.02 if bits == 4 else 1e-5)
    raw = model.link.energy_image.item()
    if bits == 4:
        assert abs(raw - 1.0) > 0.03  # the unscaled table would not have been unit energy


def test_reconstruction_beats_the_mean_colour_after_a_short_run():
    """Image reconstruction decodes from the received features: after 150 steps on 16 images
    the PSNR beats sending each image's mean colour (which a model that ignores the
    received patches cannot)."""
    from semcom_sim.models.udeepsc.losses import task_objective

    torch.manual_seed(23)
    cfg = tiny_config(tasks=("imgr",), dynamic=False)
    model = UDeepSC(cfg)
    g = torch.Generator().manual_seed(23)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 32), indexing="ij")
    a = torch.rand(16, 3, 1, 1, generator=g)
    img = (a * yy + (1 - a) * xx).clamp(0, 1)  # a colour gradient per image
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    for step in range(150):
        out = model("imgr", 20.0, NoiselessChannel(), g, image=img)
        loss = task_objective(cfg, "imgr", out, img, 1 + step % 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.after_step(g)
    model.eval()
    with torch.no_grad():
        rec = model("imgr", 20.0, NoiselessChannel(), g, image=img, exit_threshold=1.0)["recon"]
    mse = (rec - img).pow(2).mean().item()
    mean_colour = (img.mean(dim=(2, 3), keepdim=True) - img).pow(2).mean().item()
    assert 10 * math.log10(mean_colour / mse) > 1.0  # at least 1 dB better


def test_task_loss_shares_are_balanced_at_init():
    """With ``loss_normalize`` every task loss starts near 1 (its trivial predictor's loss),
    and the gradient norms the six tasks put on the shared decoder stay within a factor 10."""
    from semcom_sim.models.udeepsc.losses import task_objective

    torch.manual_seed(24)
    model = UDeepSC(tiny_config())
    g = torch.Generator().manual_seed(24)
    norms, losses = {}, {}
    shared = list(model.receiver.layers.parameters())
    for task in ALL_TASKS:
        batch = make_batch(task, model.config, g)
        out = model(task, 6.0, AWGN(), g, **inputs_of(batch))
        loss = task_objective(model.config, task, out, batch["target"], 1)
        grads = torch.autograd.grad(loss, shared, allow_unused=True)
        norms[task] = math.sqrt(sum(float(gr.pow(2).sum()) for gr in grads if gr is not None))
        losses[task] = float(loss.detach())
    assert all(0.3 < v < 3.0 for v in losses.values()), losses
    assert max(norms.values()) / min(norms.values()) < 10.0, norms


def test_normalized_backward_puts_each_task_gradient_at_unit_norm():
    """``task_grad_normalize``: grad = g_a/|g_a| + g_b/|g_b| + mean(w) g_rest, whatever the
    tasks' raw scales (a 1000x smaller task gets the same share); can fail if a part is dropped
    or mis-weighted."""
    from semcom_sim.models.udeepsc.train import normalized_backward

    p = torch.nn.Parameter(torch.tensor([1.0, 2.0, -1.0]))
    q = torch.nn.Parameter(torch.tensor([0.5]))
    la = 1000.0 * (p * torch.tensor([1.0, 0.0, 0.0])).sum()  # grad (1000, 0, 0) on p
    lb = 0.001 * (p[1] + q[0])  # grad (0, 1e-3, 0) on p, 1e-3 on q
    rest = (p**2).sum()  # grad 2p
    norms = normalized_backward([la, lb], rest, [p, q])
    assert norms[0] == pytest.approx(1000.0) and norms[1] == pytest.approx(2**0.5 * 1e-3)
    wa, wb = 1 / 1000.0, 1 / (2**0.5 * 1e-3)
    mean_w = (wa + wb) / 2
    want_p = torch.tensor([1000 * wa, 1e-3 * wb, 0.0]) + mean_w * 2 * p.detach()
    assert torch.allclose(p.grad, want_p, rtol=1e-5)
    assert torch.allclose(q.grad, torch.tensor([1e-3 * wb]), rtol=1e-5)


def test_trainer_with_task_grad_normalize_logs_both_norms(tmp_path):
    from semcom_sim.cli import main

    out = tmp_path / "u"
    argv = ["train", "udeepsc", "--steps", "2", "--train-samples", "8", "--batch-size", "4"]
    argv += ["--warmup", "0", "--quiet", "--out", str(out), "--log-every", "1"]
    assert main(argv + ["--set", "task_grad_normalize=true"]) == 0
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert rows and all(r["grad_a"] > 0 and r["grad_b"] > 0 for r in rows)
    assert all(math.isfinite(r["loss"]) for r in rows)


@pytest.mark.parametrize("task", ["imgr", "vqa", "textr"])
def test_task_encoder_layers_are_the_tasks_own(task):
    """``task_encoder_layers``: the top of a shared transmitter is per task (gradients reach
    only the task's own top), a one-task transmitter keeps the plain layout."""
    torch.manual_seed(3)
    cfg = tiny_config(task_encoder_layers=1)
    model = UDeepSC(cfg)
    image = model.transmitters["image"]
    assert len(image.layers) == cfg.image_depth - 1
    assert set(image.task_top) == {"imgc", "imgr", "vqa", "msa"}
    assert not model.transmitters["speech"].task_top  # one task: nothing to split
    g = torch.Generator().manual_seed(7)
    model.zero_grad(set_to_none=True)
    batch = make_batch(task, cfg, g)
    training_step(model, batch, batch, 4.0, 2, g)["loss"].backward()
    got = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert got == set(task_parameter_names(model, task))
    assert any(f"task_top.{task}." in n for n in got)
    assert not any("task_top." in n and f"task_top.{task}." not in n for n in got)
    only_image = UDeepSC(tiny_config(task_encoder_layers=1, task_encoder_modalities=["image"]))
    assert only_image.transmitters["image"].task_top
    assert not only_image.transmitters["text"].task_top
    with pytest.raises(SemcomError, match="unknown .pixels.; known: image, text, speech"):
        tiny_config(task_encoder_modalities=["pixels"])
    counts = count_parameters(model)
    assert counts["total"] == sum(v for k, v in counts.items() if "/" not in k and k != "total")
    plain = UDeepSC(tiny_config(task_encoder_layers=1), tasks=["imgr"])
    assert set(plain.state_dict()) == set(UDeepSC(tiny_config(), tasks=["imgr"]).state_dict())


def test_warm_start_copies_a_t_deepsc_top_into_its_task_top():
    from semcom_sim.models.udeepsc.schemes import load_model
    from semcom_sim.models.udeepsc.trainers import warm_start

    path = "semcom_sim/models/udeepsc/checkpoints/tdeepsc-tiny-imgr"
    t_model, _, _ = load_model(path)
    u = UDeepSC(tiny_config(task_encoder_layers=1))
    info = warm_start(u, [path], torch.device("cpu"))
    top = u.transmitters["image"].task_top["imgr"]
    last = t_model.transmitters["image"].layers[-1]
    for (n, a), (_, b) in zip(
        top["layers"][0].state_dict().items(), last.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), n
    assert torch.equal(top["proj"].weight, t_model.transmitters["image"].proj.weight)
    shared = u.transmitters["image"].layers[0].attn.q.weight
    assert torch.equal(shared, t_model.transmitters["image"].layers[0].attn.q.weight)
    other = u.transmitters["image"].task_top["imgc"]["proj"].weight  # no imgc checkpoint given
    assert not torch.equal(other, t_model.transmitters["image"].proj.weight)
    assert info[0]["tensors"] > 0


def test_task_weights_scale_the_sampling_probabilities():
    from semcom_sim.models.udeepsc.trainers import task_probabilities, task_weights

    sets = {"imgc": [0] * 100, "textr": [0] * 25, "vqa": [0] * 100}
    base = task_probabilities(sets, 0.5)
    assert torch.allclose(base, torch.tensor([10, 5, 10], dtype=torch.float64) / 25)
    w = task_weights(["textr=4"], tuple(sets))
    assert w == {"textr": 4.0}
    assert torch.allclose(
        task_probabilities(sets, 0.5, w), torch.tensor([10, 20, 10], dtype=torch.float64) / 40
    )
    for bad in ("textr", "msa=2", "textr=0", "textr=x", "textr=inf"):
        with pytest.raises(SemcomError):
            task_weights([bad], tuple(sets))
