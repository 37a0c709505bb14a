import pytest

from semcom_sim.errors import SemcomError
from semcom_sim.sim.snr import parse_snr


def test_ranges_and_lists():
    assert parse_snr("-6:18") == [-6, -3, 0, 3, 6, 9, 12, 15, 18]
    assert parse_snr("0:10:5") == [0, 5, 10]
    assert parse_snr("0:1:0.5") == [0, 0.5, 1]
    assert parse_snr("0:10:4") == [0, 4, 8]
    assert parse_snr("5:5") == [5]
    assert parse_snr("-6,0,6") == [-6, 0, 6]
    assert parse_snr("3") == [3]


@pytest.mark.parametrize(
    "bad", ["18:-6", "-6:18:0", "-6:18:-3", "abc", "", "1:2:3:4", "1,,a", "0,0", "nan", "0:inf"]
)
def test_malformed(bad):
    with pytest.raises(SemcomError):
        parse_snr(bad)
