"""The sweep's one-screen summary: best learned vs best conventional at low / mid / high SNR."""

from __future__ import annotations

from semcom_sim.sim.store import Record
from semcom_sim.sim.summary import snr_picks, summary_lines


def _rec(scheme: str, task: str, snr: float, value: float, role: str) -> Record:
    return Record(scheme, task, "awgn", snr, 0, 4, "d", {"psnr": value}, 1.0, 1.0, {}, 0.0, "",
                  role=role)  # fmt: skip


def test_picks_low_mid_high_without_repeats():
    assert snr_picks([-6.0, 0.0, 6.0, 12.0, 18.0]) == [-6.0, 6.0, 18.0]
    assert snr_picks([0.0, 12.0]) == [0.0, 12.0]
    assert snr_picks([3.0]) == [3.0]


def test_best_of_each_role_per_snr_and_grids_that_differ_by_task():
    recs = [
        _rec("learned-a", "t1", 0, 10, "learned"), _rec("learned-b", "t1", 0, 12, "learned"),
        _rec("conv-a", "t1", 0, 5, "conventional"), _rec("learned-a", "t1", 6, 11, "learned"),
        _rec("conv-a", "t1", 6, 30, "conventional"), _rec("conv-b", "t1", 6, 31, "conventional"),
        _rec("learned-a", "t2", 0, 1, "learned"), _rec("conv-a", "t2", 0, 2, "conventional"),
    ]  # fmt: skip
    lines = summary_lines(recs, {"t1": "psnr", "t2": "psnr"})
    head, t1, t2 = lines[0], lines[2], lines[3]
    assert "low SNR" in head and "high SNR" in head
    assert "@0 dB 12 (learned-b) / 5 (conv-a)" in t1 and "@6 dB 11 (learned-a) / 31 (conv-b)" in t1
    assert "@0 dB 1 (learned-a) / 2 (conv-a)" in t2 and t2.count("| - |") >= 2
    one = summary_lines([r for r in recs if r.task == "t1"], {"t1": "psnr"})
    assert "0 dB: learned / conventional" in one[0] and "6 dB: learned" in one[0]
