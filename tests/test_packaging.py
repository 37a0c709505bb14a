"""The distribution ships `baselines/` as `semcom_sim.baselines` and lists every package."""

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _declared() -> list[str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["setuptools"]["packages"]


def test_every_package_directory_is_declared():
    found = set()
    for top, prefix in (("semcom_sim", "semcom_sim"), ("baselines", "semcom_sim.baselines")):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top).parts
            found.add(".".join((prefix, *rel)))
    assert found == set(_declared())


def test_wheel_has_no_top_level_baselines(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("semcom_sim-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"semcom_sim", next(t for t in tops if t.endswith(".dist-info"))}
    assert "semcom_sim/baselines/separation.py" in names
    assert "semcom_sim/baselines/codecs/jpeg.py" in names
    assert "semcom_sim/data/embedded_text.txt" in names  # embedded-text's corpus
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "semcom-sim = semcom_sim.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
