"""Layers import only downwards: channel <- link <- schemes <- sim <- report <- commands <- cli.

Every ``import`` in every module (function-level imports included) is read with ``ast`` and its
target's layer compared with the importer's.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# (module prefix, layer); the longest matching prefix wins.
LAYERS = {
    "semcom_sim": 0,  # the package itself (version, docstring)
    "semcom_sim.errors": 0,
    "semcom_sim.registry": 0,
    "semcom_sim.options": 0,
    "semcom_sim.fileio": 0,
    "semcom_sim.checkpoint": 0,
    "semcom_sim.data": 0,
    "semcom_sim.metrics": 0,
    "semcom_sim.channel": 1,
    "semcom_sim.link": 2,
    "semcom_sim.sim.scheme": 3,
    "semcom_sim.tasks": 3,
    "semcom_sim.training": 3,
    "semcom_sim.catalog": 3,
    "semcom_sim.baselines": 3,
    "semcom_sim.models": 3,
    "semcom_sim.sim": 4,
    "semcom_sim.report": 5,
    "semcom_sim.commands": 6,
    "semcom_sim.studies": 6,
    "semcom_sim.cli": 7,
}
NAMES = {0: "foundation", 1: "channel", 2: "link", 3: "schemes", 4: "sim", 5: "report",
         6: "commands", 7: "cli"}  # fmt: skip


def layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted((ROOT / "semcom_sim").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        out.append((".".join(p for p in rel.parts if p != "__init__"), path))
    for path in sorted((ROOT / "baselines").rglob("*.py")):
        rel = path.relative_to(ROOT / "baselines").with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        out.append((".".join(["semcom_sim.baselines", *parts]), path))
    return out


def imported(path: Path, module: str) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    pkg = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append(target)
            # ``from semcom_sim import cli`` imports the submodule
            out += [f"{target}.{a.name}" for a in node.names if target == "semcom_sim"]
    return [m for m in out if m == "semcom_sim" or m.startswith("semcom_sim.")]


def test_every_module_has_a_layer():
    for module, _ in modules():
        assert layer(module) in NAMES, module


@pytest.mark.parametrize("module,path", modules(), ids=lambda x: str(x))
def test_imports_point_downwards(module, path):
    mine = layer(module)
    bad = [m for m in imported(path, module) if layer(m) > mine]
    assert not bad, (
        f"{module} ({NAMES[mine]}) imports from higher layers: "
        + ", ".join(f"{m} ({NAMES[layer(m)]})" for m in bad)
    )


def test_the_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from semcom_sim.cli import main\n")
    assert layer("semcom_sim.channel.bad") < max(layer(m) for m in imported(bad, "x.bad"))


def test_every_registered_scheme_applies_to_a_registered_task():
    from semcom_sim.catalog import load_catalog

    schemes, tasks = load_catalog()
    built = [tasks.create(n) for n in tasks.names()]
    idle = []
    for name in schemes.names():
        scheme = schemes.create(name)
        if not any(scheme.supports(t) for t in built):
            idle.append(name)
    assert not idle, f"registered schemes that apply to no registered task: {idle}"


def test_every_scheme_has_a_known_role():
    from semcom_sim.catalog import load_catalog

    schemes, _ = load_catalog()
    for name in schemes.names():
        assert schemes.create(name).role in ("learned", "conventional", "bound", "reference")
