"""FFMNet + feature JSCC: shapes, box geometry, NMS, GDN, gradients, compression, training steps."""

from __future__ import annotations

import json
import math

import pytest
import torch

from semcom_sim.channel import AWGN
from semcom_sim.errors import SemcomError, UnknownNameError
from semcom_sim.models.ffmnet import (
    GDN,
    JSCC_SETTINGS,
    FeatureJSCC,
    FFMNet,
    FFMNetConfig,
    FFMNetJSCC,
    JSCCConfig,
    batched_nms,
    box_iou,
    count_parameters,
    cxcywh_to_xyxy,
    decode,
    encode,
    ffmnet_preset,
    jscc_preset,
    lower_bound,
    make_optimizer,
    make_priors,
    make_toy_scenes,
    match,
    nms,
    parameter_breakdown,
    ssd_loss,
    train_step_end_to_end,
    train_step_ffmnet,
    train_step_jscc,
    training_channel,
)

RESNET50_WITHOUT_FC = 25_557_032 - (2048 * 1000 + 1000)  # torchvision resnet50 minus its fc


@pytest.fixture(scope="module")
def tiny_cfg() -> FFMNetConfig:
    return ffmnet_preset("tiny")


@pytest.fixture(scope="module")
def scenes():
    return make_toy_scenes(4, 128, generator=torch.Generator().manual_seed(0))


def expected_num_priors(cfg: FFMNetConfig, sizes: list[int]) -> int:
    return sum(s * s * a for s, a in zip(sizes, cfg.boxes_per_location(), strict=True))


# ---------------------------------------------------------------- shapes and parameter counts


def test_tiny_shapes_at_every_level(tiny_cfg, scenes):
    torch.manual_seed(0)
    model = FFMNet(tiny_cfg)
    images, _ = scenes
    out = model(images)
    sizes = [32, 16, 8, 4, 2, 1]
    assert [tuple(f.shape) for f in out["features"]] == [(4, 128, s, s) for s in sizes]
    assert out["d1"] is out["features"][0] and (out["d1"] >= 0).all()
    # the paper's operating point: D1 holds 8 reals per input pixel (64 * 64 * 512 / 512**2)
    assert tiny_cfg.reals_per_pixel() == ffmnet_preset("paper").reals_per_pixel() == 8.0
    p = expected_num_priors(tiny_cfg, sizes)
    assert p == 32 * 32 * 4 + (16 * 16 + 8 * 8 + 4 * 4) * 6 + (2 * 2 + 1) * 4
    assert out["cls_logits"].shape == (4, p, 5)
    assert out["box_deltas"].shape == (4, p, 4)
    assert out["priors"].shape == (p, 4)
    assert out["seg_logits"].shape == (4, 5, 128, 128)
    assert FFMNet.segment(out).shape == (4, 128, 128)


def test_paper_preset_shapes_and_parameter_count():
    torch.manual_seed(0)
    cfg = ffmnet_preset("paper")
    model = FFMNet(cfg).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 512, 512))
    # Sec. II-B: D1..D7 are (64, 64, 512), (32, 32, 512), ..., (1, 1, 512).
    sizes = [64, 32, 16, 8, 4, 2, 1]
    assert [tuple(f.shape[1:]) for f in out["features"]] == [(512, s, s) for s in sizes]
    p = expected_num_priors(cfg, sizes)
    assert out["cls_logits"].shape == (1, p, 118)
    assert out["seg_logits"].shape == (1, 118, 512, 512)
    parts = parameter_breakdown(model)
    assert parts["resnet_res1_res4"] == RESNET50_WITHOUT_FC
    assert (
        parts["total"]
        == count_parameters(model)
        == sum(v for k, v in parts.items() if k != "total")
    )
    assert abs(parts["total"] - 63.2e6) / 63.2e6 < 0.05  # paper: 63.2 M


def test_config_json_round_trip_and_errors():
    for cfg in (ffmnet_preset("tiny"), ffmnet_preset("paper", num_classes=20)):
        back = FFMNetConfig.from_json(cfg.to_json())
        assert back == cfg
        json.loads(cfg.to_json())
    jc = jscc_preset("512x", 512)
    assert JSCCConfig.from_json(jc.to_json()) == jc
    with pytest.raises(SemcomError):
        FFMNetConfig.from_dict({"bogus": 1})
    with pytest.raises(UnknownNameError):
        ffmnet_preset("huge")
    with pytest.raises(UnknownNameError):
        jscc_preset("2x", 512)
    with pytest.raises(SemcomError):
        JSCCConfig(in_channels=100, channel_divisor=32)


# ---------------------------------------------------------------- boxes


def test_iou_closed_forms_and_brute_force():
    a = torch.tensor([[0.0, 0, 2, 2], [0, 0, 4, 4], [10, 10, 11, 11]])
    b = torch.tensor([[1.0, 1, 3, 3], [1, 1, 2, 2], [0, 0, 2, 2]])
    iou = box_iou(a, b)
    assert iou[0, 0].item() == pytest.approx(1 / 7)
    assert iou[1, 1].item() == pytest.approx(1 / 16)
    assert iou[0, 2].item() == pytest.approx(1.0)
    assert (iou[2] == 0).all()
    g = torch.Generator().manual_seed(1)
    x = random_boxes(20, g)
    y = random_boxes(15, g)
    got = box_iou(x, y)
    for i in range(20):
        for j in range(15):
            assert got[i, j].item() == pytest.approx(
                iou_ref(x[i].tolist(), y[j].tolist()), abs=1e-6
            )


def test_encode_decode_round_trip():
    g = torch.Generator().manual_seed(2)
    priors = make_priors([(4, 4), (2, 2)], ((2.0,), (2.0, 3.0)), 0.2, 0.8)
    boxes = random_boxes(priors.shape[0], g) / 100.0
    deltas = encode(boxes, priors, (0.1, 0.2))
    torch.testing.assert_close(decode(deltas, priors, (0.1, 0.2)), boxes, atol=1e-5, rtol=0)
    zero = encode(cxcywh_to_xyxy(priors), priors, (0.1, 0.2))
    torch.testing.assert_close(zero, torch.zeros_like(zero), atol=1e-5, rtol=0)


def test_priors_layout():
    priors = make_priors([(2, 3)], ((2.0,),), 0.5, 0.9)
    assert priors.shape == (2 * 3 * 4, 4)
    assert (priors >= 0).all() and (priors <= 1).all()
    # cell (0, 0): centre (1/6, 1/4), square side 0.5 clipped at x = 0 -> cx 5/24, w 5/12
    assert priors[0].tolist() == pytest.approx([5 / 24, 0.25, 5 / 12, 0.5], abs=1e-6)
    r = math.sqrt(0.5) / 2  # second square box: side sqrt(s_0 * s_1) with s_1 = 1
    assert priors[1, 2:].tolist() == pytest.approx([1 / 6 + r, 0.25 + r], abs=1e-6)
    # cell (0, 1): centre (1/2, 1/4), nothing clipped in x
    assert priors[4].tolist() == pytest.approx([0.5, 0.25, 0.5, 0.5], abs=1e-6)
    # the 2:1 box of cell (1, 2): w = 0.5 sqrt(2), h = 0.5 / sqrt(2), centre (5/6, 3/4)
    x1, x2 = 5 / 6 - 0.25 * math.sqrt(2), 1.0
    y1, y2 = 0.75 - 0.125 * math.sqrt(2), 0.75 + 0.125 * math.sqrt(2)
    ref = [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]
    assert priors[(1 * 3 + 2) * 4 + 2].tolist() == pytest.approx(ref, abs=1e-6)


def test_match_forces_best_prior_and_threshold():
    priors = make_priors([(4, 4)], ((2.0,),), 0.25, 0.5)
    gt = torch.tensor([[0.0, 0.0, 0.25, 0.25], [0.6, 0.6, 0.62, 0.62]])
    labels, boxes = match(gt, torch.tensor([1, 2]), priors, 0.5)
    iou = box_iou(gt, cxcywh_to_xyxy(priors))
    assert labels[iou[1].argmax()] == 2  # tiny box: IoU < 0.5 everywhere, still matched once
    assert (labels == 2).sum() == 1
    assert ((labels == 1) == (iou[0] >= 0.5) | (torch.arange(len(priors)) == iou[0].argmax())).all()
    torch.testing.assert_close(boxes[labels == 1], gt[:1].expand(int((labels == 1).sum()), -1))
    # a gt box whose best prior prefers another gt still gets that prior (later gt wins)
    two = torch.tensor([[0.5, 0.5, 1.0, 1.0], [0.9, 0.9, 0.2, 0.2]])  # cxcywh
    big, inner = torch.tensor([[0.0, 0.0, 1.0, 1.0]]), torch.tensor([[0.0, 0.0, 0.9, 0.9]])
    lab2, box2 = match(torch.cat([big, inner]), torch.tensor([1, 2]), two, 0.5)
    assert lab2.tolist() == [2, 0] and torch.equal(box2[0], inner[0])
    empty, _ = match(torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64), priors, 0.5)
    assert (empty == 0).all()


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_nms_matches_brute_force(threshold):
    g = torch.Generator().manual_seed(int(threshold * 10))
    boxes = random_boxes(80, g, spread=40.0)
    scores = torch.rand(80, generator=g)
    got = nms(boxes, scores, threshold).tolist()
    assert got == nms_ref(boxes.tolist(), scores.tolist(), threshold)
    labels = torch.randint(0, 3, (80,), generator=g)
    got_b = batched_nms(boxes, scores, labels, threshold).tolist()
    ref = []
    for c in range(3):
        idx = (labels == c).nonzero()[:, 0].tolist()
        kept = nms_ref([boxes[i].tolist() for i in idx], [scores[i].item() for i in idx], threshold)
        ref += [idx[k] for k in kept]
    assert got_b == sorted(ref, key=lambda i: -scores[i].item())
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).numel() == 0


# ---------------------------------------------------------------- detection loss, post-processing


def test_ssd_loss_closed_form_with_zero_logits():
    priors = make_priors([(8, 8), (4, 4)], ((2.0,), (2.0,)), 0.2, 0.6)
    p, k = priors.shape[0], 5
    boxes = [torch.tensor([[10.0, 10.0, 40.0, 50.0]]), torch.tensor([[60.0, 5.0, 100.0, 90.0]])]
    labels = [torch.tensor([1]), torch.tensor([3])]
    matched = [match(b / 128, lab, priors, 0.5) for b, lab in zip(boxes, labels, strict=True)]
    deltas = torch.stack([encode(m[1], priors, (0.1, 0.2)) for m in matched])
    logits = torch.zeros(2, p, k)
    loc, conf = ssd_loss(logits, deltas, priors, boxes, labels, (128, 128), (0.1, 0.2))
    assert loc.item() == pytest.approx(0.0, abs=1e-6)
    # every prior costs log(K); positives + 3x as many hard negatives, divided by the positives
    assert conf.item() == pytest.approx(4 * math.log(k), rel=1e-5)


def test_detect_recovers_a_perfect_prediction():
    priors = make_priors([(8, 8), (4, 4), (2, 2)], ((2.0,), (2.0, 3.0), (2.0,)), 0.2, 0.8)
    gt = torch.tensor([[16.0, 32.0, 64.0, 96.0], [80.0, 8.0, 120.0, 40.0]])
    lab = torch.tensor([2, 4])
    labels, matched = match(gt / 128, lab, priors, 0.5)
    logits = torch.nn.functional.one_hot(labels, 5).float()[None] * 20.0
    deltas = encode(matched, priors, (0.1, 0.2))[None]
    ((boxes, scores, classes),) = _detect(logits, deltas, priors)
    assert classes.tolist()[:2] in ([2, 4], [4, 2]) and len(classes) == 2
    for b, c in zip(boxes, classes, strict=True):
        torch.testing.assert_close(b, gt[lab.tolist().index(int(c))], atol=1e-3, rtol=0)
    assert (scores[:-1] >= scores[1:]).all()


def _naive_greedy_nms(boxes, scores, labels, thr):
    """Reference: one box at a time, suppressing later boxes of its label row by row."""
    from semcom_sim.models.ffmnet import box_iou

    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    keep, dead = [], set()
    for a, i in enumerate(order):
        if i in dead:
            continue
        keep.append(i)
        for j in order[a + 1 :]:
            if labels[j] == labels[i] and box_iou(boxes[i : i + 1], boxes[j : j + 1])[0, 0] > thr:
                dead.add(j)
    return keep


def test_batched_nms_matches_the_naive_greedy_definition():
    from semcom_sim.models.ffmnet import batched_nms

    g = torch.Generator().manual_seed(3)
    for _ in range(20):
        n = int(torch.randint(1, 60, (1,), generator=g))
        xy = torch.rand(n, 2, generator=g) * 100
        boxes = torch.cat([xy, xy + torch.rand(n, 2, generator=g) * 40], dim=1)
        scores = torch.rand(n, generator=g).round(decimals=1)  # ties on purpose
        labels = torch.randint(1, 4, (n,), generator=g)
        got = batched_nms(boxes, scores, labels, 0.45).tolist()
        assert got == _naive_greedy_nms(boxes, scores, labels.tolist(), 0.45)


def _detect(logits, deltas, priors):
    from semcom_sim.models.ffmnet import detect

    return detect(logits, deltas, priors, (128, 128), (0.1, 0.2), score_threshold=0.5)


def test_model_detect_format(tiny_cfg, scenes):
    torch.manual_seed(0)
    model = FFMNet(tiny_cfg).eval()
    images, _ = scenes
    with torch.no_grad():
        dets = model.detect(model(images), top_k=50)
    assert len(dets) == 4
    for boxes, scores, labels in dets:
        assert boxes.shape == (len(scores), 4) and len(scores) <= 50
        assert (boxes >= 0).all() and (boxes <= 128).all()
        assert ((labels >= 1) & (labels <= tiny_cfg.num_classes)).all()
        assert (scores[:-1] >= scores[1:]).all()


# ---------------------------------------------------------------- GDN


def test_gdn_matches_definition():
    gdn = GDN(4)
    g = torch.Generator().manual_seed(3)
    beta = 0.5 + torch.rand(4, generator=g)
    gamma = 0.2 * torch.rand(4, 4, generator=g)
    gdn.set_parameters(beta, gamma)
    x = torch.randn(2, 4, 3, 5, generator=g)
    ref = x / torch.sqrt(beta[None, :, None, None] + torch.einsum("ij,bjhw->bihw", gamma, x**2))
    torch.testing.assert_close(gdn(x), ref, atol=1e-5, rtol=1e-5)


def test_igdn_inverts_gdn():
    """Exact for gamma = 0 (any beta); for beta = 1 and diagonal gamma g the round trip is
    ``x * sqrt(1 - (u / (1 + u))^2)`` with ``u = g x^2``: close to x when g x^2 is small."""
    g = torch.Generator().manual_seed(4)
    x = 3 * torch.randn(2, 6, 4, 4, generator=g)
    fwd, inv = GDN(6), GDN(6, inverse=True)
    beta = 0.1 + torch.rand(6, generator=g)
    for layer in (fwd, inv):
        layer.set_parameters(beta, torch.zeros(6, 6))
    torch.testing.assert_close(inv(fwd(x)), x, atol=1e-5, rtol=1e-5)

    diag = torch.tensor([1e-3, 1e-2, 0.1, 0.5, 1.0, 2.0])
    for layer in (fwd, inv):
        layer.set_parameters(torch.ones(6), torch.diag(diag))
    u = diag[None, :, None, None] * x**2
    torch.testing.assert_close(
        inv(fwd(x)), x * torch.sqrt(1 - (u / (1 + u)) ** 2), atol=1e-5, rtol=1e-4
    )
    small = slice(0, 2)  # g <= 1e-2, |x| < ~12: relative error <= u^2 / 2
    rel = (inv(fwd(x)) - x).abs()[:, small] / x.abs()[:, small].clamp_min(1e-6)
    assert (rel <= 0.5 * u[:, small] ** 2 + 1e-5).all()


def test_gdn_parameters_stay_positive_after_a_large_step():
    gdn = GDN(5)
    opt = torch.optim.SGD(gdn.parameters(), lr=10.0)
    x = torch.randn(2, 5, 3, 3)
    loss = 100.0 * (gdn.beta.sum() + gdn.gamma.sum()) + gdn(x).sum()
    opt.zero_grad()
    loss.backward()
    assert (gdn.beta_p.grad > 0).all()  # the step pushes every raw parameter down
    opt.step()
    assert (gdn.beta_p < gdn.beta_bound).all() and (gdn.gamma_p < 0).all()  # raw: out of range
    assert (gdn.beta >= 1e-6).all() and (gdn.gamma >= 0).all()  # effective: still valid
    assert torch.isfinite(gdn(x)).all() and torch.isfinite(GDN(5, inverse=True)(x)).all()


def test_lower_bound_gradient():
    x = torch.tensor([0.0, 0.0, 2.0], requires_grad=True)
    y = lower_bound(x, 1.0)
    assert y.tolist() == [1.0, 1.0, 2.0]
    y.backward(torch.tensor([-1.0, 1.0, 1.0]))
    # below the bound: a gradient that would raise x passes (-1), one that would lower it stops
    assert x.grad.tolist() == [-1.0, 0.0, 1.0]


# ---------------------------------------------------------------- JSCC


@pytest.mark.parametrize("setting", list(JSCC_SETTINGS))
def test_jscc_compression_ratio_and_symbols(setting):
    ratio = int(setting[:-1])
    stride, divisor = JSCC_SETTINGS[setting]
    assert stride**2 * divisor == ratio
    # paper's D1: (64, 64, 512)
    cfg = jscc_preset(setting, 512)
    assert cfg.compression_ratio(64, 64) == ratio
    assert cfg.num_symbols(64, 64) == 64 * 64 * 512 // ratio // 2
    torch.manual_seed(0)
    jscc = FeatureJSCC(cfg)
    with torch.no_grad():
        out = jscc(torch.rand(2, 512, 64, 64))
    assert out["symbols"].shape == (2, 64 * 64 * 512 // ratio // 2)
    assert out["num_symbols"].tolist() == [cfg.num_symbols(64, 64)] * 2
    assert out["compression_ratio"] == ratio
    assert out["d1_hat"].shape == (2, 512, 64, 64) and (out["d1_hat"] >= 0).all()
    # tiny preset's D1: (32, 32, 128); the same reals per input pixel as the paper's
    small = jscc_preset(setting, 128)
    assert small.num_symbols(32, 32) == 32 * 32 * 128 // ratio // 2
    assert small.num_real(32, 32) / 128**2 == cfg.num_real(64, 64) / 512**2


def test_power_normalisation_and_channel():
    torch.manual_seed(0)
    jscc = FeatureJSCC(jscc_preset("512x", 128))
    d1 = torch.rand(3, 128, 16, 16) * torch.tensor([0.1, 1.0, 50.0])[:, None, None, None]
    snr = torch.tensor([0.0, 10.0, 30.0])
    out = jscc(d1, AWGN(), snr, torch.Generator().manual_seed(0))
    energy = out["symbols"].abs().pow(2).mean(dim=1)
    torch.testing.assert_close(energy, torch.ones(3), atol=1e-5, rtol=0)
    assert out["num_symbols"].tolist() == [32, 32, 32]
    noise = (out["received"] - out["symbols"]).abs().pow(2).mean(dim=1)
    assert noise[0] > noise[1] > noise[2]
    clean = jscc(d1)
    assert torch.equal(clean["received"], clean["symbols"])
    with pytest.raises(SemcomError):
        jscc(d1, AWGN())


def test_d1_standardisation_and_trivial_predictors():
    from semcom_sim.models.ffmnet.jscc import l1_references, l1_terms

    torch.manual_seed(0)
    jscc = FeatureJSCC(JSCCConfig(in_channels=16, spatial_stride=2, channel_divisor=4))
    scale = torch.logspace(-1, 1, 16)[None, :, None, None]  # channels 2 decades apart
    d1 = torch.relu(torch.randn(32, 16, 8, 8)) * scale
    jscc.set_d1_stats(d1)
    z = jscc.standardize(d1)
    torch.testing.assert_close(z.mean(dim=(0, 2, 3)), torch.zeros(16), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std(dim=(0, 2, 3)), torch.ones(16), atol=1e-4, rtol=0)
    ref = l1_references(jscc, d1)
    assert ref["l1_zero"] == pytest.approx(float(d1.mean()))  # d1 >= 0
    assert ref["l1_std_mean"] == pytest.approx(float(z.abs().mean()), rel=1e-5)
    terms = l1_terms(jscc, d1, torch.zeros_like(d1))
    assert float(terms["l1"]) == pytest.approx(ref["l1_zero"])
    assert float(terms["l1_std"]) == pytest.approx(ref["l1_std_zero"], rel=1e-5)


def test_jscc_overfits_a_small_batch_well_below_the_mean_predictor():
    """The step-2 wiring can learn D1: L1 on one batch falls far below the trivial predictors
    (fails if, e.g., the decoder cannot reach D1's scale or the gradient does not flow)."""
    from semcom_sim.models.ffmnet.jscc import l1_references, l1_terms

    torch.manual_seed(0)
    jscc = FeatureJSCC(jscc_preset("128x", 64))  # 8 x 8 x 64 D1 -> 4 x 4 x 2 latent
    # two smooth (4 x 4 -> 8 x 8 bilinear) non-negative patterns: what survives the encoder's
    # 2x average pooling, so a perfect reconstruction is possible
    basis = torch.nn.functional.interpolate(
        torch.relu(torch.randn(2, 64, 4, 4)), size=(8, 8), mode="bilinear", align_corners=False
    )
    scale = torch.logspace(-1, 1, 64)[None, :, None, None]
    d1 = torch.einsum("bk,kchw->bchw", torch.rand(8, 2), basis) * scale
    jscc.set_d1_stats(d1)
    opt = torch.optim.Adam(jscc.parameters(), lr=5e-3)
    for _ in range(300):
        loss = l1_terms(jscc, d1, jscc(d1)["d1_hat"])["l1_std"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        final = float(l1_terms(jscc, d1, jscc(d1)["d1_hat"])["l1_std"])
    assert final < 0.3 * l1_references(jscc, d1)["l1_std_mean"]


def test_odd_real_count_is_padded():
    cfg = JSCCConfig(in_channels=6, spatial_stride=1, channel_divisor=2)  # 3 x 3 x 3 = 27 reals
    assert cfg.num_symbols(3, 3) == 14
    out = FeatureJSCC(cfg)(torch.rand(1, 6, 3, 3))
    assert out["symbols"].shape == (1, 14) and out["d1_hat"].shape == (1, 6, 3, 3)


@pytest.mark.parametrize("position", ["mid", "end"])
def test_gradients_reach_every_parameter(tiny_cfg, scenes, position):
    torch.manual_seed(0)
    model = FFMNetJSCC.build(tiny_cfg, jscc_preset("512x", 128, igdn_position=position))
    images, targets = scenes
    out = model(images, AWGN(), torch.tensor([0.0, 5.0, 10.0, 20.0]), torch.Generator())
    losses = model.loss(out, targets)
    (losses["loss"] + losses["l1"]).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    assert all(torch.isfinite(v) for v in losses.values())
    # every parameter moves some output: a random projection of all outputs
    model.zero_grad()
    out = model(images, AWGN(), 5.0, torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(2)
    total = sum(
        (out[k] * torch.randn(out[k].shape, generator=g)).sum()
        for k in ("cls_logits", "box_deltas", "seg_logits")
    )
    total.backward()
    silent = [n for n, p in model.named_parameters() if not p.grad.abs().gt(0).any()]
    assert silent == []


# ---------------------------------------------------------------- training steps


def test_three_training_steps_reduce_the_loss(tiny_cfg, scenes):
    torch.manual_seed(0)
    images, targets = scenes
    ffm = FFMNet(tiny_cfg)
    opt = make_optimizer(ffm, 1, lr=1e-3)
    step1 = [train_step_ffmnet(ffm, opt, images, targets)["loss"] for _ in range(6)]
    assert step1[-1] < 0.7 * step1[0]

    model = FFMNetJSCC(ffm, FeatureJSCC(jscc_preset("512x", 128)))
    frozen = {k: v.clone() for k, v in ffm.state_dict().items()}
    channel, snr_db = training_channel(5.0)
    opt = make_optimizer(model, 2, lr=1e-3)
    step2 = [
        train_step_jscc(
            model, opt, images, targets, channel, snr_db, torch.Generator().manual_seed(0)
        )
        for _ in range(5)
    ]
    assert step2[-1]["loss"] < step2[0]["loss"]
    assert step2[0]["loss"] == pytest.approx(step2[0]["l1_std"] + step2[0]["task"], rel=1e-6)
    assert all(torch.equal(v, ffm.state_dict()[k]) for k, v in frozen.items())  # incl. BN stats

    opt = make_optimizer(model, 3, lr=1e-3)
    step3 = [
        train_step_end_to_end(model, opt, images, targets, None, None)["loss"] for _ in range(4)
    ]
    assert step3[-1] < step3[0]
    assert not all(torch.equal(v, ffm.state_dict()[k]) for k, v in frozen.items())
    assert training_channel(None) == (None, None)
    with pytest.raises(SemcomError):
        make_optimizer(ffm, 2)


# ---------------------------------------------------------------- references


def random_boxes(n: int, g: torch.Generator, spread: float = 100.0) -> torch.Tensor:
    xy = spread * torch.rand(n, 2, generator=g)
    wh = 1.0 + 30.0 * torch.rand(n, 2, generator=g)
    return torch.cat([xy, xy + wh], dim=1)


def iou_ref(a: list[float], b: list[float]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def nms_ref(boxes: list[list[float]], scores: list[float], threshold: float) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep: list[int] = []
    for i in order:
        if all(iou_ref(boxes[i], boxes[k]) <= threshold for k in keep):
            keep.append(i)
    return keep


def test_segment_is_the_first_maximal_class_like_argmax():
    from semcom_sim.models.ffmnet.model import FFMNet

    g = torch.Generator().manual_seed(0)
    for shape in [(4, 5, 16, 12), (2, 2, 3, 3), (2, 1, 3, 3), (1, 20, 4, 4)]:
        x = torch.randn(*shape, generator=g).round(decimals=1)  # many ties
        assert torch.equal(FFMNet.segment({"seg_logits": x}), x.argmax(dim=1))
        x.view(-1)[7] = float("nan")
        assert torch.equal(FFMNet.segment({"seg_logits": x}), x.argmax(dim=1))
