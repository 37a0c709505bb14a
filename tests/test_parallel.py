"""Parallel sweeps store exactly the numbers of a serial one, and resume like it.

- ``--workers 2`` (a real 2-process Dask ``LocalCluster``) gives every stored metric, symbol
  count and diagnostic bit-identical to ``--workers 1`` (in process, no Dask), with learned,
  conventional (MCS envelope) and reference schemes on two tasks;
- a sweep resumed on 2 workers after a serial partial run does only the missing points;
- the driver writes the store: the units a worker runs come back as records;
- the payload cache returns exactly what the codec returns, and never mixes codecs.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from semcom_sim.cli import main
from semcom_sim.sim.store import ResultStore

GRID = ["--snr", "0,9", "--samples", "4", "--batch-size", "4", "--threads", "1"]
SCHEMES = "jpeg-ldpc,jpeg-envelope,udeepsc,utf8-turbo,mean-colour"
TASKS = "image-reconstruction,text-reconstruction"
BASE = ["sweep", *GRID, "--schemes", SCHEMES, "--tasks", TASKS, "--quiet", "--no-plot"]


def _stored(out: Path) -> dict[str, tuple]:
    """Key -> everything stored about the point except its wall time and write time."""
    store = ResultStore.open_read(out)
    try:
        return {
            r.key: (
                r.scheme,
                r.task,
                r.snr_db,
                r.metrics,
                r.mean_symbols,
                r.mean_channel_uses,
                r.extras,
                r.role,
                r.curve,
                r.scheme_config,
            )  # fmt: skip
            for r in store.records()
        }
    finally:
        store.close()


def _bits(x) -> object:
    """Floats as their exact bit pattern (so NaN == NaN and 0.1 != 0.1 + 1e-17)."""
    if isinstance(x, float):
        return math.nan if math.isnan(x) else x.hex()
    if isinstance(x, dict):
        return {k: _bits(v) for k, v in x.items()}
    if isinstance(x, tuple | list):
        return type(x)(_bits(v) for v in x)
    return x


def test_two_workers_store_bit_identical_numbers_and_resume(tmp_path, capsys):
    threads = torch.get_num_threads()
    serial, parallel = tmp_path / "w1", tmp_path / "w2"
    try:
        assert main([*BASE, "--workers", "1", "--out", str(serial)]) == 0
        # half the grid serially, then the whole grid on a real 2-worker LocalCluster
        assert main([*BASE[:2], "0", *BASE[3:], "--workers", "1", "--out", str(parallel)]) == 0
        capsys.readouterr()
        assert main([*BASE, "--workers", "2", "--out", str(parallel)]) == 0
    finally:
        torch.set_num_threads(threads)
    text = capsys.readouterr().out
    a, b = _stored(serial), _stored(parallel)
    assert len(a) == 12 and a.keys() == b.keys()
    assert _bits(a) == _bits(b)
    done, skipped = text.splitlines()[0].split(" points simulated, ")
    assert (int(done), int(skipped.split()[0])) == (6, 6)
    assert "local Dask cluster of 2 worker processes" in text


def test_units_run_on_a_worker_equal_in_process_units():
    """``run_unit_on_worker`` (what a Dask worker runs) builds its own objects from the
    builder and returns the records the driver's own objects give."""
    import argparse

    from semcom_sim.commands.sweep import SweepBuilder, _builder_args, build_channel
    from semcom_sim.sim import engine

    args = argparse.Namespace(
        channel="awgn", nt=None, nr=None, detector=None, coherence=None, tdl=None, cdl=None,
        ofdm_profile=None, delay_spread=None, speed=None, csi=None, interpolation=None,
        carrier_frequency=None, fft_size=None, subcarrier_spacing=None, cp_length=None,
        rx_antennas=None, device="cpu", decoder="auto", threads=1,
    )  # fmt: skip
    builder = SweepBuilder(("jpeg-envelope",), _builder_args(args))
    channel = build_channel(args)
    config = engine.SweepConfig(["jpeg-envelope"], ["image-reconstruction"],
                                channel.config() | {"key": channel.key}, [0.0, 6.0], 4,
                                batch_size=4)  # fmt: skip
    scheme, task = builder.scheme("jpeg-envelope"), builder.task("image-reconstruction")

    class NoStore:
        def put_config(self, kind, cfg):
            return "h"

        def has(self, key):
            return False

        def mark_current(self, group, curve):
            pass

    units, skipped, data = engine.plan_sweep(config, [scheme], [task], channel, NoStore())
    assert skipped == 0 and len(units) == 2
    local = dict(engine.InProcessExecutor(config, [scheme], [task], channel, data).run(units))
    for u in units:
        remote = engine.run_unit_on_worker(builder, config, u)
        assert [r.metrics for r in remote] == [r.metrics for r in local[u]]
        assert [r.extras for r in remote] == [r.extras for r in local[u]]
        assert [r.key for r in remote] == [r.key for r in local[u]]


def test_payload_cache_returns_the_codecs_payloads():
    from semcom_sim.baselines.codecs import JPEGCodec
    from semcom_sim.baselines.separation import PayloadCache, Stream
    from semcom_sim.link.mcs import parse_mcs

    mcs = parse_mcs("ldpc-1/2-qpsk")
    cache = PayloadCache(max_entries=2)
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    q50, q90 = (
        Stream("image", JPEGCodec(quality=50), mcs),
        Stream("image", JPEGCodec(quality=90), mcs),
    )
    p50, _ = cache.encode(q50, x)
    assert p50 == JPEGCodec(quality=50).encode(x)
    assert cache.encode(q50, x.clone())[0] == p50 and cache.hits == 1  # same content: a hit
    p90, _ = cache.encode(q90, x)
    assert p90 == JPEGCodec(quality=90).encode(x) and p90 != p50  # another codec: no mix-up
    y = x.clone()
    y[0, 0, 0, 0] = 1.0 - y[0, 0, 0, 0]
    assert cache.encode(q50, y)[0] == JPEGCodec(quality=50).encode(y)  # changed content: recoded
    texts = Stream("text", JPEGCodec(), mcs)
    from semcom_sim.baselines.separation import content_digest

    assert content_digest(["a", "b"]) != content_digest(["ab"])
    assert content_digest(["a"]) == content_digest(["a"])
    assert content_digest(object()) is None and texts.field == "text"


def test_heavy_units_run_one_at_a_time_largest_first():
    from semcom_sim.sim.engine import HEAVY_COST, WorkUnit, next_unit

    def unit(cost):
        return WorkUnit("s", "t", (0.0,), "d", {}, cost)

    heavy, heavy2, light = unit(HEAVY_COST * 2), unit(HEAVY_COST), unit(1.0)
    assert next_unit([heavy, heavy2, light], []) == 0
    assert next_unit([heavy2, light], [heavy]) == 1  # a heavy one runs: the light one starts
    assert next_unit([heavy2], [heavy]) is None  # wait for it
    assert next_unit([heavy2], [light]) == 0
    assert next_unit([], []) is None
    assert next_unit([heavy2, light], [heavy], None) == 0  # no limit (the CPU's fast demapper)


def test_bad_parallel_options_are_one_line_errors_before_writing(tmp_path, capsys):
    out = tmp_path / "bad"
    base = ["sweep", "--schemes", "jpeg-ldpc", "--tasks", "image-reconstruction", "--snr", "0",
            "--samples", "2", "--quiet", "--no-plot", "--out", str(out)]  # fmt: skip
    for extra in (["--workers", "0"], ["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
                  ["--scheduler", "nowhere"]):  # fmt: skip
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("semcom-sim: "), err
        assert not out.exists() or not any(out.iterdir())


def _via(receiver, values):
    """OutputCache.run's arguments as ModelReceiver.__call__ passes them."""
    owners, extra = (receiver.model, receiver.postprocess), (receiver.inputs, str(receiver.device))
    return owners, extra, values, lambda: receiver.compute(values)


def test_output_cache_returns_the_models_output_and_keys_by_model_and_content():
    from semcom_sim.baselines.separation import ModelReceiver, OutputCache, PayloadCache, Stream

    calls = []

    class Net(torch.nn.Module):
        def __init__(self, scale):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor(float(scale)))

        def forward(self, x):
            calls.append(1)
            return {"y": torch.as_tensor(x, dtype=torch.float32) * self.w, "n": [len(x)]}

    cache = OutputCache(max_entries=4)
    a, b = ModelReceiver(Net(2.0), inputs=("x",)), ModelReceiver(Net(3.0), inputs=("x",))
    x = torch.arange(6.0).reshape(2, 3)
    out = cache.run(*_via(a, [x]))
    assert torch.equal(out["y"], 2 * x) and len(calls) == 1
    out["y"].zero_()  # the caller may modify its copy
    again = cache.run(*_via(ModelReceiver(a.model, inputs=("x",)), [x.clone()]))  # same content
    assert torch.equal(again["y"], 2 * x) and len(calls) == 1 and cache.hits == 1
    assert torch.equal(cache.run(*_via(b, [x]))["y"], 3 * x) and len(calls) == 2  # another model
    y = x.clone()
    y[0, 0] = 7.0
    assert torch.equal(cache.run(*_via(a, [y]))["y"], 2 * y) and len(calls) == 3  # changed content
    import numpy as np

    cache.run(*_via(a, [np.ones(3)]))
    cache.run(*_via(a, [np.ones(3)]))
    assert len(calls) == 5  # content of an array is not hashed: not cached

    # every member of an envelope wraps the one extractor in its own transform: one encode
    from semcom_sim.baselines.codecs import JPEGCodec
    from semcom_sim.baselines.separation import ModelTransform
    from semcom_sim.link.mcs import parse_mcs

    payloads = PayloadCache()
    ext = torch.nn.Identity()
    img = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    for mcs in ("ldpc-1/2-qpsk", "ldpc-3/4-16qam"):
        payloads.encode(Stream("image", JPEGCodec(), parse_mcs(mcs), ModelTransform(ext)), img)
    assert payloads.misses == 1 and payloads.hits == 1


def test_envelope_is_the_same_with_and_without_the_shared_caches(tmp_path, capsys):
    """Envelope members share task-model outputs; a second sweep in the same process also hits
    the payload and decode caches; the stored numbers equal those of a run with cleared
    caches."""
    from semcom_sim.baselines import separation

    caches = (separation.PAYLOADS, separation.DECODES, separation.OUTPUTS)
    base = ["sweep", "--schemes", "jpeg-envelope", "--tasks", "vqa", "--snr", "-3,12",
            "--samples", "4", "--batch-size", "4", "--workers", "1", "--threads", "1",
            "--quiet", "--no-plot"]  # fmt: skip
    for c in caches:
        c.clear()
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    hits = [c.hits for c in caches]
    assert hits[2] > 0  # members of the envelope handed the task model the same inputs
    assert main([*base, "--out", str(tmp_path / "b")]) == 0
    assert caches[0].hits > hits[0] and caches[1].hits > hits[1]  # (a new run: new models)
    for c in caches:
        c.clear()
    assert main([*base, "--out", str(tmp_path / "c")]) == 0
    capsys.readouterr()
    a = _stored(tmp_path / "a")
    assert a and a == _stored(tmp_path / "b") == _stored(tmp_path / "c")


def test_envelope_score_cache_changes_no_number(tmp_path, capsys, monkeypatch):
    """Members whose predictions equal ones already scored on the same batch reuse the score:
    the stored numbers equal those of a run that scores every member; the digest behind the
    key tells content, type and structure apart."""
    from semcom_sim.baselines import envelope
    from semcom_sim.baselines.separation import tree_digest

    a = {"boxes": torch.zeros(2, 4), "labels": [1, 2], "name": "x"}
    assert tree_digest(a) == tree_digest({"boxes": torch.zeros(2, 4), "labels": [1, 2],
                                          "name": "x"})  # fmt: skip
    for b in (
        {**a, "labels": [1, 3]},
        {**a, "boxes": torch.zeros(4, 2)},
        {**a, "boxes": torch.zeros(2, 4, dtype=torch.float64)},
        {**a, "labels": (1, 2)},
    ):
        assert tree_digest(b) != tree_digest(a)
    assert tree_digest([object()]) is None
    hits = []
    real_run = envelope.EnvelopeScheme.run

    def run(self, *args, **kw):
        out = real_run(self, *args, **kw)
        hits.append(self.score_hits)
        return out

    monkeypatch.setattr(envelope.EnvelopeScheme, "run", run)
    base = ["sweep", "--schemes", "jpeg-envelope", "--tasks", "image-reconstruction",
            "--snr", "-6,15,18", "--samples", "4", "--batch-size", "4", "--workers", "1",
            "--threads", "1", "--quiet", "--no-plot"]  # fmt: skip
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    assert hits and hits[-1] > 0  # error-free members at high SNR share one score
    monkeypatch.setattr(envelope, "SCORE_CACHE_ENTRIES", 0)  # every score computed
    hits.clear()
    assert main([*base, "--out", str(tmp_path / "b")]) == 0
    assert hits[-1] == 0
    capsys.readouterr()
    assert _stored(tmp_path / "a") == _stored(tmp_path / "b")


def test_local_cluster_workers_get_the_malloc_settings():
    """Each worker process starts with :data:`MALLOC_ENV` in its environment (glibc reads it
    at start-up only), one arena included: a Dask task runs in a worker thread, whose own
    arena would mmap every array above 64 MB whatever the threshold."""
    import os

    from semcom_sim.commands.sweep import MALLOC_ENV, Runner

    assert MALLOC_ENV["MALLOC_ARENA_MAX"] == "1"
    assert int(MALLOC_ENV["MALLOC_MMAP_THRESHOLD_"]) >= 256 << 20
    runner = Runner(1, None, None, None)
    try:
        client = runner.connect(1)
        seen = list(client.run(lambda: {k: os.environ.get(k) for k in MALLOC_ENV}).values())
    finally:
        runner.close()
    assert seen == [MALLOC_ENV]
