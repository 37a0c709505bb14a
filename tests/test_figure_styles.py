"""Figures a reader can read at a glance: one style per scheme in every figure, no two schemes of
one axis alike, legends and crossover labels outside the data and never overlapping (measured
with the renderer's bounding boxes), Fig. 7 without empty panels, and the per-task plot split
into the papers' schemes and the studies."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from semcom_sim.report.common import Results  # noqa: E402
from semcom_sim.report.figures import make_figures  # noqa: E402
from semcom_sim.report.udeepsc_figs import fig7_figure  # noqa: E402
from semcom_sim.sim.cliff import plot_cliff  # noqa: E402
from semcom_sim.sim.plot import plot_records  # noqa: E402
from semcom_sim.sim.store import Record, ResultStore  # noqa: E402
from semcom_sim.sim.styles import is_paper_default, scheme_style  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SNRS = (-3.0, 0.0, 3.0, 6.0, 12.0)
PRIMARY = {"image-classification": "accuracy", "vqa": "vqa_accuracy"}
MCS = ("ldpc-1/3-qpsk", "ldpc-1/2-qpsk", "ldpc-1/2-16qam")

# scheme -> (role, accuracy per SNR)
CURVES = {
    "udeepsc": ("learned", (0.50, 0.55, 0.60, 0.62, 0.62)),
    "tdeepsc": ("learned", (0.52, 0.58, 0.63, 0.66, 0.66)),
    "upper-bound": ("bound", (0.70, 0.70, 0.70, 0.70, 0.70)),
    "udeepsc-exit0.5": ("learned", (0.45, 0.50, 0.55, 0.58, 0.58)),
    "udeepsc-exit0.8": ("learned", (0.47, 0.52, 0.57, 0.60, 0.60)),
    "udeepsc-layer1": ("learned", (0.30, 0.31, 0.32, 0.33, 0.33)),
    "udeepsc-layer2": ("learned", (0.40, 0.41, 0.42, 0.43, 0.43)),
    "jpeg-ldpc": ("conventional", (0.10, 0.10, 0.70, 0.70, 0.70)),
    "jpeg-envelope": ("conventional", (0.10, 0.40, 0.70, 0.75, 0.75)),
    "jpeg-capacity": ("bound", (0.20, 0.60, 0.75, 0.75, 0.75)),
    "best-image-envelope": ("conventional", (0.10, 0.45, 0.72, 0.78, 0.78)),
    "majority-class": ("reference", (0.25,) * 5),
}


def _rec(scheme: str, task: str, i: int) -> Record:
    role, vals = CURVES[scheme]
    metric = PRIMARY[task]
    extras: dict[str, float] = {"exit_layer": 2.0, "certainty": 0.5}
    if scheme.endswith("-envelope"):
        extras = {"mcs_index": 1.0}
        for k, mcs in enumerate(MCS):  # the staircase the envelope stores
            extras[f"{metric}@{mcs}"] = vals[i] * (0.8 + 0.1 * k) if i >= k else 0.05
    if scheme.endswith("-capacity"):
        extras = {"payload_ok": 1.0}
    return Record(scheme=scheme, task=task, channel="awgn", snr_db=SNRS[i], seed=0, samples=8,
                  dataset="d", metrics={metric: vals[i], f"{metric}_stderr": 0.01},
                  mean_symbols=100.0 + i, mean_channel_uses=100.0, extras=extras, wall_s=0.0,
                  provenance="test", role=role)  # fmt: skip


def _records(tasks=("image-classification", "vqa")) -> list[Record]:
    return [_rec(s, t, i) for t in tasks for s in CURVES for i in range(len(SNRS))]


@pytest.fixture
def kept_figures(monkeypatch):
    """Figures stay open after saving, so a test can measure what was drawn."""
    plt.close("all")
    monkeypatch.setattr(plt, "close", lambda *a, **k: None)
    yield lambda: [plt.figure(n) for n in plt.get_fignums()]
    monkeypatch.undo()
    plt.close("all")


def _dashes(ls) -> tuple:
    """The dash pattern matplotlib draws for a line style (named or tuple)."""
    line = Line2D([], [], ls=ls)
    return line._unscaled_dash_pattern


def _scheme_lines(ax) -> list[tuple[str, Line2D]]:
    """(scheme name, line) of every curve of ``ax`` drawn for a scheme or an MCS member."""
    out = []
    for line in ax.get_lines():
        gid = line.get_gid() or ""
        if gid.startswith("scheme:"):
            out.append((gid[len("scheme:") :], line))
        elif gid.startswith("mcs:"):  # the member curve of <family>-envelope is <family>-<mcs>
            _, family, mcs = gid.split(":", 2)
            out.append((f"{family}-{mcs}", line))
    return out


def _check_styles(figs) -> int:
    """Every scheme curve has its registry style; no two schemes of one axis look alike."""
    n = 0
    for fig in figs:
        for ax in fig.axes:
            looks = {}
            for name, line in _scheme_lines(ax):
                want = scheme_style(name)
                assert to_hex(line.get_color()) == to_hex(want.color), (name, fig, ax.get_title())
                marker = line.get_marker()
                assert (marker if marker != "None" else "") == want.marker, name
                assert line._unscaled_dash_pattern == _dashes(want.ls), name
                looks.setdefault((to_hex(line.get_color()), repr(_dashes(want.ls))), set()).add(
                    name
                )
                n += 1
            for look, names in looks.items():
                assert len(names) == 1, f"{ax.get_title()}: {sorted(names)} share {look}"
    return n


def _check_outside(fig) -> None:
    """Legends overlap no axes; crossover labels overlap nothing (each other, axes, legends)."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    axes = [ax.get_window_extent(r) for ax in fig.axes]
    legends = [lg.get_window_extent(r) for lg in fig.legends]
    legends += [ax.get_legend().get_window_extent(r) for ax in fig.axes if ax.get_legend()]
    titles = [fig._suptitle.get_window_extent(r)] if fig._suptitle else []
    titles += [ax.title.get_window_extent(r) for ax in fig.axes if ax.get_title()]
    for lg, ab in itertools.product(legends, axes + titles):
        assert not lg.overlaps(ab), "a legend lies over a panel or a title"
    labels = [t.get_window_extent(r) for ax in fig.axes for t in ax.texts
              if t.get_gid() == "crossover-label"]  # fmt: skip
    for a, b in itertools.combinations(labels, 2):
        assert not a.overlaps(b), "two crossover labels overlap"
    for a, b in itertools.product(labels, axes + legends):
        assert not a.overlaps(b), "a crossover label lies over a panel or a legend"


def test_every_catalog_scheme_has_its_own_style():
    from semcom_sim.catalog import load_catalog

    schemes, _ = load_catalog()
    names = schemes.names()
    looks = {}
    for n in names:
        st = scheme_style(n)
        assert st == scheme_style(n), "the style is a function of the name"
        looks.setdefault((st.color, repr(_dashes(st.ls))), []).append(n)
        channels = {st.color[1:3], st.color[3:5], st.color[5:7]}
        grey = len(channels) == 1 and 0x20 < int(st.color[1:3], 16) < 0xE0  # black is not grey
        is_ref = schemes.create(n).role == "reference"
        assert grey == is_ref, f"{n}: grey is for the trivial references only"
        if is_ref:
            assert _dashes(st.ls) != _dashes("-"), f"{n}: a reference is dashed or dotted"
    assert not [v for v in looks.values() if len(v) > 1], "two schemes look alike"
    # the colours of the papers' schemes, as the issue asks: U-DeepSC one blue everywhere
    assert scheme_style("udeepsc").color == "#1f77b4"
    assert scheme_style("an-unknown-probe", "reference").color in ("#444444", "#777777", "#9a9a9a")


def test_same_style_in_every_figure(tmp_path, kept_figures):
    recs = _records()
    plot_records(recs, tmp_path / "plots", PRIMARY)
    res = Results(tmp_path, recs, {"runs": []}, {})
    make_figures(res, tmp_path / "figures")
    figs = kept_figures()
    assert len(figs) >= 8  # 2 tasks x (paper, studies, cliff) + Fig. 7, 8, 10, 12
    assert _check_styles(figs) > 100
    for fig in figs:
        _check_outside(fig)


def test_a_shared_colour_is_caught(tmp_path, kept_figures):
    """The style check can fail: a curve drawn in another scheme's colour is reported."""
    plot_records(_records(("vqa",)), tmp_path, PRIMARY)
    figs = kept_figures()
    line = next(ln for f in figs for ax in f.axes for n, ln in _scheme_lines(ax) if n == "tdeepsc")
    line.set_color(scheme_style("udeepsc").color)
    with pytest.raises(AssertionError):
        _check_styles(figs)


def test_per_task_plot_splits_papers_schemes_from_studies(tmp_path, kept_figures):
    paths = plot_records(_records(("vqa",)), tmp_path, PRIMARY)
    assert {p.name for p in paths} == {"vqa_awgn.png", "vqa_awgn_studies.png", "vqa_awgn_cliff.png"}
    figs = kept_figures()
    drawn = [{n for ax in f.axes for n, _ in _scheme_lines(ax)} for f in figs]
    paper = next(d for d in drawn if "udeepsc" in d and "udeepsc-exit0.5" not in d
                 and "jpeg-envelope" not in d)  # fmt: skip
    assert paper == {s for s, (role, _) in CURVES.items() if is_paper_default(s, role)}
    studies = [d for d in drawn if "udeepsc-exit0.5" in d and "jpeg-capacity" in d]
    assert len(studies) == 1
    assert {"udeepsc-layer1", "udeepsc-layer2", "jpeg-envelope", "jpeg-capacity"} <= studies[0]
    for ax in (ax for f in figs for ax in f.axes if not ax.get_title().startswith("cliff")):
        assert len(_scheme_lines(ax)) <= 12, ax.get_title()  # no axis with 20 curves


@pytest.mark.parametrize("tasks", [("vqa",), ("image-classification", "vqa")])
def test_fig7_draws_only_the_tasks_that_were_run(tmp_path, tasks):
    from semcom_sim.report.common import primary_metrics

    res = Results(tmp_path, _records(tasks), {"runs": []}, {})
    fig, rows, used, drawn = fig7_figure(res, "awgn", primary_metrics() | PRIMARY)
    assert drawn == sorted(tasks, key=["image-classification", "vqa"].index)
    assert [ax.get_title() for ax in fig.axes] == list(drawn)  # no empty panels
    assert all(_scheme_lines(ax) for ax in fig.axes)
    _check_outside(fig)
    plt.close(fig)


def test_crossover_labels_never_overlap_on_the_committed_vqa_store(tmp_path):
    store = ResultStore.open_read(ROOT / "results" / "awgn")
    try:
        recs = [r for r in store.records() if r.task == "vqa" and r.channel == "awgn"]
    finally:
        store.close()
    if not recs:
        pytest.skip("no committed VQA results")
    counts = []

    def save(fig, out_dir, stem, **_):
        _check_outside(fig)
        counts.append(sum(t.get_gid() == "crossover-label" for ax in fig.axes for t in ax.texts))
        return []

    plot_cliff(recs, tmp_path, {"vqa": "vqa_accuracy"}, save=save)  # all 13 learned schemes
    assert counts and counts[0] >= 8  # the crowded case of the issue (about 10 labels at -3..0 dB)


def test_crossover_labels_never_overlap_when_all_cross_at_one_snr(tmp_path):
    recs = []
    names = [f"udeepsc-exit0.{k}" for k in range(1, 10)] + ["udeepsc", "tdeepsc"]
    for s in SNRS:
        for k, n in enumerate(names):  # every learned curve crosses the envelope at 9 dB
            recs.append(Record(n, "vqa", "awgn", s, 0, 8, "d", {"vqa_accuracy": 0.5 + 0.001 * k},
                               10.0, 10.0, {}, 0.0, "t", role="learned"))  # fmt: skip
        env = 0.2 if s < 12 else 0.9
        recs.append(Record("jpeg-envelope", "vqa", "awgn", s, 0, 8, "d", {"vqa_accuracy": env},
                           10.0, 10.0, {"mcs_index": 1.0}, 0.0, "t"))  # fmt: skip
    counts = []

    def save(fig, out_dir, stem, **_):
        _check_outside(fig)
        counts.append(sum(t.get_gid() == "crossover-label" for ax in fig.axes for t in ax.texts))
        return []

    plot_cliff(recs, tmp_path, {"vqa": "vqa_accuracy"}, save=save)
    assert counts == [len(names)]
