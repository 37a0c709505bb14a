"""Conventional baselines: schemes, envelope, capacity bound, symbol accounting, cliff tooling.

Kept short on a CPU: few examples, short payloads, 3-6 SNR points per curve.
"""

import math

import numpy as np
import pytest
import torch

from semcom_sim.baselines.accounting import (
    conventional_symbols_table,
    example_symbols,
    payload_symbols,
)
from semcom_sim.baselines.capacity import CapacityLink, awgn_threshold_snr_db, capacity_bits
from semcom_sim.baselines.codecs import H264Codec, JPEGCodec, PCMCodec
from semcom_sim.baselines.families import (
    FAMILIES,
    PAPER_LDPC,
    PAPER_TURBO,
    TASK_PLANS,
    family_scheme,
)
from semcom_sim.baselines.receivers import TASK_RECEIVERS
from semcom_sim.baselines.separation import (
    FeatureSeparationScheme,
    ModelReceiver,
    SeparationScheme,
    Stream,
)
from semcom_sim.catalog import load_catalog
from semcom_sim.channel import AWGN, MIMORayleigh, RayleighBlockFading
from semcom_sim.channel.base import Channel
from semcom_sim.cli import main
from semcom_sim.data import TaskData, load_dataset
from semcom_sim.errors import SemcomError
from semcom_sim.link.mcs import LDPC_TABLE, parse_mcs
from semcom_sim.metrics import Accuracy
from semcom_sim.metrics.base import MeanMetric
from semcom_sim.sim.cliff import cliff_snr, cliff_summary, crossover_snr, curve, plot_cliff
from semcom_sim.sim.engine import SweepConfig, point_seed, run_sweep
from semcom_sim.sim.scheme import Task
from semcom_sim.sim.store import Record, ResultStore

SCHEMES, TASKS = load_catalog()


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One torch thread: small decoder calls are many times faster on a shared, busy CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ----------------------------------------------------------------------------- local test tasks


class AudioPSNR(MeanMetric):
    """10 log10(1 / MSE) per clip (signals in [-1, 1]), capped at 100 dB."""

    name = "audio_psnr"

    def values(self, pred, target):
        mse = ((pred.double() - target.double()) ** 2).mean(dim=1).numpy()
        return np.minimum(10 * np.log10(1.0 / np.maximum(mse, 1e-10)), 100.0)

    def compute(self):
        v = self.all_values()
        return {"audio_psnr": float(v.mean()) if v.size else math.nan}


class LocalTask(Task):
    """A task over an embedded dataset with one metric (stands in for tasks not yet registered)."""

    def __init__(self, name, dataset, metric, target, key, crop=None):
        self.name, self.dataset, self.modality = name, dataset, "test"
        self.metrics, self._metric, self._target, self._crop = (key,), metric, target, crop

    def load(self, n, seed, data_dir=None):
        d = load_dataset(self.dataset, "test", n=n, seed=seed)
        if self._crop:  # short audio keeps the LDPC decoding of the tests small
            d.fields["audio"] = d.fields["audio"][:, : self._crop]
        return d

    def new_accumulator(self):
        task = self

        class Acc:
            def __init__(self):
                self.m = task._metric()

            def update(self, pred, batch):
                self.m.update(pred, batch.fields[task._target])

            def compute(self):
                return self.m.compute()

        return Acc()


def speech_task():
    return LocalTask(
        "speech-reconstruction", "embedded-speech", AudioPSNR, "audio", "audio_psnr", crop=400
    )


def classification_task():
    return LocalTask("image-classification", "shapes32", Accuracy, "label", "accuracy")


def _sweep(store, schemes, task, snrs, samples, seed=0, channel=None):
    channel = channel or AWGN()
    cfg = SweepConfig(
        schemes=[s.name for s in schemes],
        tasks=[task.name],
        channel=channel.config() | {"key": channel.key},
        snr_db=list(snrs),
        samples=samples,
        seed=seed,
        batch_size=samples,
    )
    run_sweep(cfg, schemes, [task], channel, store)
    return [r for r in store.records() if r.task == task.name and r.samples == samples]


def _noiseless(task, scheme, samples, seed=0):
    """The task metric of the primary codec's round trip on the sweep's examples."""
    data = task.load(samples, point_seed(seed, "data", task.name))
    s = scheme.bare_scheme(task.name).streams[0]
    x = data.fields[s.field]
    dec = s.codec.decode(s.codec.encode(x), like=x if isinstance(x, torch.Tensor) else None)
    acc = task.new_accumulator()
    acc.update(dec.data, data)
    return float(acc.compute()[task.primary_metric])


class TinyClassifier(torch.nn.Module):
    """Fixed weights: class = argmax of a linear map of the mean colour."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.lin = torch.nn.Linear(3, num_classes)
        torch.nn.init.normal_(self.lin.weight, generator=torch.Generator().manual_seed(1))

    def forward(self, image):
        return self.lin(image.mean(dim=(2, 3)))


# ----------------------------------------------------------------------------- registration


def test_paper_baselines_registered_and_apply_by_task_name():
    for name in (
        "jpeg-ldpc",
        "utf8-turbo",
        "pcm-ldpc",
        "h264-ldpc",
        "jpeg-envelope",
        "jpeg-capacity",
        "utf8-envelope",
        "utf8-capacity",
        "pcm-envelope",
        "pcm-capacity",
        "jpeg-q10-ldpc",
        "jpeg-q90-ldpc",
    ):
        assert name in SCHEMES, name
    # the feature-JPEG family is registered like every other (paper default, staircase, envelope,
    # capacity) and serves detseg once FFMNet's FEATURE_SPLITS back end is registered
    for name in ("feature-jpeg-ldpc", "feature-jpeg-envelope", "feature-jpeg-capacity"):
        assert name in SCHEMES, name
    assert SCHEMES.create("feature-jpeg-ldpc").supports(TASKS.create("detseg"))
    assert not SCHEMES.create("feature-jpeg-ldpc").supports(TASKS.create("image-reconstruction"))
    for fam in ("jpeg", "utf8", "pcm"):
        staircase = [f"{fam}-{m.name}" for m in LDPC_TABLE if f"{fam}-{m.name}" in SCHEMES]
        assert len(staircase) == (6 if fam == "utf8" else 5)  # 1/2 QPSK is the paper default
    jpeg = SCHEMES.create("jpeg-ldpc")
    assert jpeg.supports(TASKS.create("image-reconstruction"))
    assert not jpeg.supports(TASKS.create("text-reconstruction"))
    assert SCHEMES.create("utf8-turbo").supports(TASKS.create("text-reconstruction"))
    assert SCHEMES.create("pcm-ldpc").supports(speech_task())
    # decision tasks: only with a task model (given, or registered by task name)
    cls = classification_task()
    saved = TASK_RECEIVERS._factories.pop("image-classification", None)  # the catalog's model
    try:
        assert not jpeg.supports(cls)
        assert family_scheme("jpeg", components={cls.name: lambda rx: rx}).supports(cls)
        TASK_RECEIVERS._factories["image-classification"] = lambda device="cpu": None
        assert SCHEMES.create("jpeg-envelope").supports(cls)
    finally:
        TASK_RECEIVERS._factories.pop("image-classification", None)
        if saved is not None:
            TASK_RECEIVERS._factories["image-classification"] = saved
    # every task plan's fields are fields of its embedded data, and every family's plan is valid
    for task, plan in TASK_PLANS.items():
        fields = load_dataset(plan.dataset, "test", n=1, seed=0).fields
        assert set(plan.fields) <= set(fields), task
    assert all(set(f.tasks) <= set(TASK_PLANS) for f in FAMILIES.values())


# ----------------------------------------------------------------------------- capacity bound


def test_capacity_awgn_is_the_shannon_threshold():
    link = CapacityLink(parse_mcs("ldpc-1/3-qpsk"))
    payloads = [bytes(range(50)), b"", bytes(200)]
    syms = [link.num_symbols(len(p)) for p in payloads]
    assert syms == [payload_symbols(len(p), parse_mcs("ldpc-1/3-qpsk")) for p in payloads]
    for i in (0, 2):
        thr = awgn_threshold_snr_db(len(payloads[i]), syms[i])
        above = link.transmit(payloads, AWGN(), torch.tensor([thr + 0.01] * 3))
        below = link.transmit(payloads, AWGN(), torch.tensor([thr - 0.01] * 3))
        assert above.payloads[i] == payloads[i] and above.payload_ok[i]
        assert below.payloads[i] == b"" and not below.payload_ok[i]
        assert below.payload_ok[1] and below.num_symbols[1] == 0  # nothing to send
    assert above.num_symbols.tolist() == syms


@pytest.mark.parametrize(
    "channel",
    [RayleighBlockFading(coherence_symbols=10**6), MIMORayleigh(nt=1, nr=1, coherence_uses=10**6)],
)
def test_capacity_single_fading_block_matches_outage_probability(channel):
    # one block: lost iff |h|^2 < (2^(bits/U) - 1) / snr, so P(lost) = 1 - exp(-that)
    n, u, snr_db = 4000, 200, 3.0
    bits = 8 * 30
    cap = capacity_bits(
        channel, torch.full((n,), u), torch.full((n,), snr_db), torch.Generator().manual_seed(0)
    )
    p_lost = float((cap < bits).double().mean())
    p = 1 - math.exp(-(2 ** (bits / u) - 1) / 10 ** (snr_db / 10))
    assert abs(p_lost - p) < 4 * math.sqrt(p * (1 - p) / n)


def test_capacity_mimo_is_the_log_det_of_the_drawn_channels():
    from semcom_sim.channel.base import complex_gaussian

    ch = MIMORayleigh(nt=2, nr=3, coherence_uses=2)
    # 7 symbols -> 4 uses in 2 coherence blocks; 3 symbols -> 2 uses (the first block)
    cap = capacity_bits(
        ch, torch.tensor([7, 3]), torch.tensor([10.0, 0.0]), torch.Generator().manual_seed(0)
    )
    h = complex_gaussian((2, 2, 3, 2), torch.Generator().manual_seed(0), "cpu").to(torch.complex128)
    lam = torch.linalg.eigvalsh(h.mH @ h)  # [2, 2 blocks, 2]
    snr = torch.tensor([10.0, 1.0])[:, None, None]
    per_block = torch.log2(1 + snr / 2 * lam).sum(-1)  # log det(I + snr/Nt H H^H) per use
    expect = torch.stack([2 * per_block[0].sum(), 2 * per_block[1, 0]])
    assert torch.allclose(cap, expect, rtol=1e-9)
    with pytest.raises(SemcomError, match="capacity bound"):

        class Odd(Channel):
            def forward(self, x, no, generator, num_symbols):
                raise AssertionError

        capacity_bits(Odd(), torch.tensor([1]), torch.tensor([0.0]))


# ----------------------------------------------------------------------------- accounting


def test_symbol_accounting_formula_and_table():
    # 100 bytes: k = 800 + 24 -> 832 on the ladder, n = 1664 at R = 1/2, 832 QPSK symbols
    assert payload_symbols(100, PAPER_LDPC) == 832
    assert payload_symbols(100, parse_mcs("ldpc-1/2-16qam")) == 416
    assert payload_symbols(0, PAPER_TURBO) == 0
    assert payload_symbols(20, PAPER_TURBO) < payload_symbols(40, PAPER_TURBO)
    rows = conventional_symbols_table(["image-reconstruction", "vqa"], samples=3, seed=0)
    img, vqa = rows
    assert img["scheme"] == "jpeg-ldpc" and img["streams"] == {"image": "jpeg-q50 + ldpc-1/2-qpsk"}
    data = load_dataset("shapes32", "test", n=3, seed=0)
    scheme = family_scheme("jpeg").bare_scheme("image-reconstruction")
    expect = [
        payload_symbols(len(p), PAPER_LDPC) for p in scheme.codec.encode(data.fields["image"])
    ]
    assert img["mean_symbols"] == pytest.approx(sum(expect) / 3)
    assert vqa["mean_symbols"] == pytest.approx(
        vqa["mean_symbols_image"] + vqa["mean_symbols_question"]
    )
    with pytest.raises(SemcomError, match="no conventional scheme"):
        conventional_symbols_table(["nope"], samples=1)


# ----------------------------------------------------------------------------- cliff tooling


def _rec(scheme, snr, value, extras=None):
    """A stored point; its role as the engine would store it (the figures read roles, not
    names): envelopes report ``mcs_index``, the capacity bound is a ``bound``."""
    extras = dict(extras if extras is not None else {"payload_ok": 1.0})
    role = "learned" if scheme == "learned" else "conventional"
    if "capacity" in scheme:
        role = "bound"
    if "envelope" in scheme:
        extras.setdefault("mcs_index", 0.0)
    return Record(
        scheme,
        "t",
        "awgn",
        snr,
        0,
        4,
        "d",
        {"m": value},
        10.0,
        10.0,
        extras,
        0.0,
        "",
        role=role,
    )


def test_cliff_and_crossover_closed_forms(tmp_path):
    assert cliff_snr([0, 1, 2, 3], [1, 2, 8, 10]) == pytest.approx(2.5)  # 9 between 8 and 10
    assert cliff_snr([3, 0, 2, 1], [10, 1, 9, 2]) == pytest.approx(2.0)  # order does not matter
    assert cliff_snr([0, 1], [10, 10]) is None  # never below: cliff under the grid
    assert cliff_snr([0, 1], [5, 6], reference=10) == 1  # below at the top point
    assert cliff_snr([0, 1, 2], [0, 10, 5], reference=10, fraction=0.4) == pytest.approx(0.4)
    assert crossover_snr([0, 1, 2], [5, 5, 5], [0, 1, 2], [0, 4, 8]) == pytest.approx(1.25)
    assert crossover_snr([0, 2], [5, 5], [1, 3], [4, 7]) == pytest.approx(1 + 1 / 1.5)
    assert crossover_snr([0, 1], [0, 0], [0, 1], [1, 1]) is None  # learned always below
    recs = [_rec("learned", s, 5.0 + 0.1 * s, {}) for s in (0, 4, 8)]
    recs += [_rec("sep-a", s, v) for s, v in ((0, 0.0), (4, 10.0), (8, 10.0))]
    recs += [_rec("x-envelope", s, v) for s, v in ((0, 1.0), (4, 10.0), (8, 10.0))]
    recs += [_rec("x-capacity", s, v) for s, v in ((0, 2.0), (4, 10.0), (8, 10.0))]
    assert curve(recs, "sep-a", "t") == ([0, 4, 8], [0.0, 10.0, 10.0])
    summary = {r["scheme"]: r for r in cliff_summary(recs, {"t": "m"})}
    assert summary["learned"]["role"] == "learned" and summary["x-capacity"]["role"] == "capacity"
    assert summary["sep-a"]["cliff_db"] == pytest.approx(3.6)
    assert summary["learned"]["crossover_db"]["x-envelope"] == pytest.approx(4 * 4.0 / 8.6)
    paths = plot_cliff(recs, tmp_path, {"t": "m"})
    assert [p.name for p in paths] == ["t_awgn_cliff.png"] and paths[0].stat().st_size > 1000
    assert (tmp_path / "cliff.json").is_file()


# ----------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    rc = main(
        [
            "sweep",
            "--schemes",
            "jpeg-ldpc,jpeg-capacity",
            "--tasks",
            "image-reconstruction",
            "--snr",
            "-6,0,6,12",
            "--samples",
            "4",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0
    return out


def test_cli_sweep_stores_and_draws_the_cliff_figure(cli_store):
    store = ResultStore(cli_store)
    recs = store.records()
    store.close()
    assert sorted({r.scheme for r in recs}) == ["jpeg-capacity", "jpeg-ldpc"] and len(recs) == 8
    assert (cli_store / "plots" / "image-reconstruction_awgn_cliff.png").is_file()
    ldpc = dict(zip(*curve(recs, "jpeg-ldpc", "image-reconstruction", "awgn", "psnr"), strict=True))
    cap = dict(
        zip(*curve(recs, "jpeg-capacity", "image-reconstruction", "awgn", "psnr"), strict=True)
    )
    assert all(cap[s] >= ldpc[s] - 1e-9 for s in ldpc)
    # stored symbols = the accounting formula on the same examples
    task = TASKS.create("image-reconstruction")
    data = task.load(4, point_seed(0, "data", task.name))
    scheme = SCHEMES.create("jpeg-ldpc").bare_scheme(task.name)
    mean = float(example_symbols(scheme, data)["total"].double().mean())
    assert all(r.mean_symbols == pytest.approx(mean) for r in recs if r.scheme == "jpeg-ldpc")


CLIFF_CASES = {
    # scheme, task, SNR grid [dB] that brackets its cliff, samples
    "jpeg-ldpc": ("image-reconstruction", [-2.0, 1.0, 2.0, 3.0, 6.0], 2),
    "utf8-turbo": ("text-reconstruction", [-3.0, 0.0, 1.5, 6.0], 2),
    "pcm-ldpc": ("speech-reconstruction", [-3.0, 0.0, 1.5, 3.0, 6.0], 2),
    "jpeg-ldpc-1/2-64qam": ("image-reconstruction", [6.0, 10.0, 11.0, 12.0, 16.0], 2),
}


@pytest.mark.parametrize("name", list(CLIFF_CASES))
def test_separate_scheme_is_clean_3db_above_its_cliff_and_collapses_below(name, tmp_path):
    task_name, grid, samples = CLIFF_CASES[name]
    task = speech_task() if task_name == "speech-reconstruction" else TASKS.create(task_name)
    scheme = SCHEMES.create(name)
    store = ResultStore(tmp_path)
    ref = _noiseless(task, scheme, samples)
    recs = _sweep(store, [scheme], task, grid, samples)
    snr, val = curve(recs, name, task.name, "awgn", task.primary_metric)
    cliff = cliff_snr(snr, val, 0.9, reference=ref)
    assert cliff is not None and grid[0] < cliff < grid[-1], (snr, val, ref)
    above = _sweep(store, [scheme], task, [round(cliff + 3.0, 3)], samples)
    top = [r for r in above if r.snr_db == round(cliff + 3.0, 3)][0].metrics[task.primary_metric]
    assert abs(top - ref) <= 0.01 * abs(ref), (cliff, top, ref)
    low = val[0]  # at least 1 dB below the cliff: collapsed
    assert low < 0.6 * ref, (snr, val, ref)
    store.close()


def test_envelope_never_below_its_mcs_and_capacity_never_below_envelope(tmp_path):
    task = TASKS.create("image-reconstruction")
    table = (parse_mcs("ldpc-1/3-qpsk"), parse_mcs("ldpc-2/3-qpsk"), parse_mcs("ldpc-1/2-64qam"))
    small = JPEGCodec(quality=10)  # short payloads keep the decoding quick
    env = family_scheme("jpeg", "envelope", table=table, codec=small, name="jpeg-envelope")
    cap = family_scheme("jpeg", "capacity", table=table, codec=small, name="jpeg-capacity")
    assert cap.bare_scheme(task.name).mcs == table[0]  # bandwidth of the lowest-rate MCS
    store = ResultStore(tmp_path)
    grid = [-6.0, 0.0, 3.0, 14.0]
    recs = _sweep(store, [env, cap], task, grid, 2)
    e = {r.snr_db: r for r in recs if r.scheme == "jpeg-envelope"}
    c = {r.snr_db: r for r in recs if r.scheme == "jpeg-capacity"}
    assert sorted(e) == grid and sorted(c) == grid
    winners = []
    for s in grid:
        members = [e[s].extras[f"psnr@{m.name}"] for m in table]
        # the best single MCS on the same examples and noise seed (extras are stored as float32)
        assert e[s].metrics["psnr"] == pytest.approx(max(members), rel=1e-6)
        winners.append(int(e[s].extras["mcs_index"]))
        assert c[s].metrics["psnr"] >= e[s].metrics["psnr"] - 1e-9, s
    assert winners[-1] == 2 and winners[2] < 2  # 64-QAM wins at 14 dB, a QPSK MCS at 3 dB
    assert e[0.0].metrics["psnr"] > e[-6.0].metrics["psnr"] + 5  # 1/3 QPSK works at 0 dB
    assert e[14.0].mean_symbols < e[3.0].mean_symbols  # the winner's symbols are stored
    store.close()


# ----------------------------------------------------------------------------- components


def test_decision_task_runs_a_task_model_on_the_reconstruction(tmp_path):
    task = classification_task()
    model = TinyClassifier()
    scheme = family_scheme("jpeg", components={task.name: ModelReceiver(model, ("image",))})
    recs = _sweep(ResultStore(tmp_path), [scheme], task, [20.0], 6)
    # at 20 dB every payload arrives: accuracy = the model on the codec's reconstructions
    data = task.load(6, point_seed(0, "data", task.name))
    codec = scheme.bare_scheme(task.name).codec
    x = data.fields["image"]
    pred = model(codec.decode(codec.encode(x), like=x).data).argmax(1)
    assert recs[0].metrics["accuracy"] == pytest.approx(
        float((pred == data.fields["label"]).double().mean())
    )
    assert recs[0].extras["payload_ok"] == 1.0


def test_multimodal_streams_reach_the_receiver():
    # VQA: the image (JPEG) and the question (UTF-8) both travel and arrive
    seen = {}

    def receiver(rx):
        seen.update(rx)
        return torch.zeros(len(rx["question"]), dtype=torch.int64)

    # one LDPC MCS on both streams (the paper's Turbo for the question is slow on a CPU)
    scheme = family_scheme("jpeg", "mcs", mcs=PAPER_LDPC, components={"vqa": receiver})
    scheme = scheme.scheme_for("vqa")
    assert [s.mcs for s in scheme.streams] == [PAPER_LDPC, PAPER_LDPC]
    batch = load_dataset("embedded-vqa", "test", n=2, seed=0)
    out = scheme.run(batch, AWGN(), torch.full((2,), 20.0), torch.Generator().manual_seed(0))
    assert seen["question"] == batch.fields["question"]
    assert seen["image"].shape == batch.fields["image"].shape
    sym = example_symbols(scheme, batch)
    assert torch.equal(out.num_symbols.long(), sym["image"] + sym["question"])
    with pytest.raises(SemcomError, match="does not send"):
        ModelReceiver(lambda x: x, ("audio",))({"image": 1})


def test_h264_ldpc_video_sentiment_with_a_tiny_model(tmp_path):
    # frames (H.264 + LDPC), transcript (UTF-8 + Turbo), audio (PCM + LDPC) -> a task model
    task = LocalTask(
        "video-sentiment", "embedded-video-sentiment", Accuracy, "label", "accuracy", crop=48
    )
    seen = {}

    def model(frames, text, audio):
        seen.update(frames=frames.shape, text=list(text), audio=audio.shape)
        return torch.stack([frames.mean(dim=(1, 2, 3, 4)), audio.mean(dim=1)], dim=1)

    rx = ModelReceiver(model, ("frames", "text", "audio"))
    # the catalog registers the noiseless T-DeepSC as video-sentiment's task model
    assert SCHEMES.create("h264-ldpc").supports(task) == ("video-sentiment" in TASK_RECEIVERS)
    scheme = family_scheme("h264", components={task.name: rx})  # a given model wins
    recs = _sweep(ResultStore(tmp_path), [scheme], task, [20.0], 2)
    data = task.load(2, point_seed(0, "data", task.name))
    assert seen["frames"] == data.fields["frames"].shape and seen["text"] == data.fields["text"]
    assert seen["audio"] == data.fields["audio"].shape
    assert recs[0].extras["payload_ok"] == 1.0 and 0.0 <= recs[0].metrics["accuracy"] <= 1.0
    sym = example_symbols(scheme.bare_scheme(task.name), data)
    assert recs[0].mean_symbols == pytest.approx(float(sym["total"].double().mean()))


def test_feature_scheme_with_stand_in_extractor_and_head():
    torch.manual_seed(0)
    extractor = torch.nn.Conv2d(3, 6, 4, stride=4)  # [B, 3, 32, 32] -> [B, 6, 8, 8]
    head = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6 * 64, 3))
    scheme = FeatureSeparationScheme("feat", extractor, head, PAPER_LDPC, tasks=("detseg",))
    batch = load_dataset("shapes32", "test", n=2, seed=0)
    g = torch.Generator().manual_seed(0)
    good = scheme.run(batch, AWGN(), torch.full((2,), 20.0), g)
    with torch.no_grad():
        f = extractor(batch.fields["image"])
        clean = head(f)
        expect = head(scheme.codec.decode(scheme.codec.encode(f), like=f).data)
    assert good.extras["payload_ok"].tolist() == [1.0, 1.0]
    assert torch.allclose(good.predictions, expect, atol=1e-5)  # head on decoded features
    assert torch.allclose(good.predictions, clean, atol=0.2 * float(clean.abs().max()))
    bad = scheme.run(batch, AWGN(), torch.full((2,), -10.0), g)
    assert bad.predictions.shape == clean.shape and torch.isfinite(bad.predictions).all()


def test_bad_input_through_whole_schemes():
    g = torch.Generator().manual_seed(0)

    def run(scheme, fields, snr):
        n = len(next(iter(fields.values())))
        return scheme.run(TaskData("x", "test", fields), AWGN(), torch.full((n,), snr), g)

    jpeg = SCHEMES.create("jpeg-ldpc").scheme_for("image-reconstruction")
    const = torch.cat([torch.zeros(1, 3, 32, 32), torch.ones(1, 3, 32, 32)])
    for snr in (20.0, -10.0):
        out = run(jpeg, {"image": const}, snr)
        assert out.predictions.shape == const.shape and torch.isfinite(out.predictions).all()
    assert torch.allclose(run(jpeg, {"image": const}, 20.0).predictions, const, atol=0.02)
    text = SCHEMES.create("utf8-turbo").scheme_for("text-reconstruction")
    out = run(text, {"text": ["", "ok", ""]}, 20.0)
    assert out.predictions == ["", "ok", ""] and out.num_symbols[0] == 0
    assert len(run(text, {"text": ["", "", ""]}, -10.0).predictions) == 3
    pcm = SeparationScheme("pcm", PCMCodec(), PAPER_LDPC, ("s",), "audio")
    silent = torch.zeros(2, 80)
    for snr in (20.0, -10.0):
        out = run(pcm, {"audio": silent}, snr)
        assert out.predictions.shape == silent.shape and torch.isfinite(out.predictions).all()
    assert torch.equal(run(pcm, {"audio": silent}, 20.0).predictions, silent)
    flat = FeatureSeparationScheme(
        "f",
        lambda x: torch.full((len(x), 4, 3, 5), 2.5),
        lambda f: f.mean(dim=(1, 2, 3)),
        PAPER_LDPC,
        ("t",),
    )
    out = run(flat, {"image": const}, 20.0)
    assert torch.allclose(out.predictions, torch.full((2,), 2.5))
    h264 = SeparationScheme(
        "h264",
        H264Codec(crf=30),
        PAPER_LDPC,
        ("v",),
        "frames",
        extra_streams=(Stream("text", *_utf8()),),
    )
    frames = torch.rand(1, 2, 3, 7, 9, generator=torch.Generator().manual_seed(0))
    for snr in (20.0, -10.0):
        out = run(h264, {"frames": frames, "text": ["odd"]}, snr)
        assert out.predictions.shape == frames.shape and torch.isfinite(out.predictions).all()
    with pytest.raises(SemcomError, match="sends field"):
        run(jpeg, {"text": ["no image"]}, 0.0)


def _utf8():
    from semcom_sim.baselines.codecs import UTF8Codec

    return UTF8Codec(), PAPER_TURBO
