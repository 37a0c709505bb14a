"""Checkpoints: safetensors weights + a JSON config + a sha256 manifest.

A checkpoint is a directory::

    model.safetensors   the tensors (no pickle)
    config.json         {"kind": ..., "config": {...}, "extra": {...}}  (vocabulary etc. in extra)
    manifest.json       {"format": 1, "files": {"model.safetensors": sha256, "config.json": sha256}}

Loading verifies both checksums and the ``kind`` before touching the weights; any problem is a
one-line :class:`~semcom_sim.errors.CheckpointError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from semcom_sim.errors import CheckpointError

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
MANIFEST = "manifest.json"
FORMAT = 1


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_checkpoint(
    path: str | Path,
    state: dict[str, torch.Tensor],
    kind: str,
    config: dict,
    extra: dict | None = None,
) -> Path:
    """Write a checkpoint directory atomically (a temporary directory renamed into place).

    Args:
        path: target directory (replaced if it exists).
        state: name -> tensor (e.g. ``model.state_dict()``); shared storage is copied.
        kind: what the weights are (e.g. ``"udeepsc"``, ``"ffmnet"``), checked at load time.
        config: the JSON-serialisable model configuration.
        extra: other JSON-serialisable data (vocabulary, training step, metrics).
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}
        save_file(tensors, str(tmp / WEIGHTS))
        with open(tmp / CONFIG, "w") as f:
            json.dump(
                {"kind": kind, "config": config, "extra": extra or {}}, f, indent=2, sort_keys=True
            )
            f.write("\n")
        manifest = {"format": FORMAT, "files": {n: sha256_file(tmp / n) for n in (WEIGHTS, CONFIG)}}
        with open(tmp / MANIFEST, "w") as f:
            json.dump(manifest, f, indent=2, sort_keys=True)
            f.write("\n")
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _read_json(path: Path, name: str) -> dict:
    """The JSON object in ``path / name``; anything else is a one-line CheckpointError."""
    try:
        obj = json.loads((path / name).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        obj = None
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint {path}: {name} is not a JSON object")
    return obj


def load_checkpoint(
    path: str | Path, kind: str | None = None, device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], dict, dict]:
    """Verify and load a checkpoint; returns ``(state, config, extra)``.

    Raises:
        CheckpointError: missing files, a malformed manifest or config (wrong JSON types,
            missing keys), checksum mismatch, wrong kind or weights that are not safetensors.
    """
    from safetensors.torch import load_file

    path = Path(path)
    for name in (WEIGHTS, CONFIG, MANIFEST):
        if not (path / name).is_file():
            raise CheckpointError(
                f"checkpoint {path}: missing {name} (expected {WEIGHTS}, {CONFIG}, {MANIFEST})"
            )
    manifest = _read_json(path, MANIFEST)
    files = manifest.get("files")
    if manifest.get("format") != FORMAT or not isinstance(files, dict):
        raise CheckpointError(
            f"checkpoint {path}: {MANIFEST} is not a valid manifest (expected "
            f'{{"format": {FORMAT}, "files": {{name: sha256}}}})'
        )
    for name in (WEIGHTS, CONFIG):
        digest = files.get(name)
        if not isinstance(digest, str):
            raise CheckpointError(f"checkpoint {path}: {MANIFEST} lists no sha256 for {name}")
        if digest != sha256_file(path / name):
            raise CheckpointError(f"checkpoint {path}: {name} does not match its sha256 (corrupt)")
    meta = _read_json(path, CONFIG)
    got_kind, config, extra = meta.get("kind"), meta.get("config"), meta.get("extra", {})
    if not isinstance(got_kind, str) or not isinstance(config, dict) or not isinstance(extra, dict):
        raise CheckpointError(
            f"checkpoint {path}: {CONFIG} is not a valid config (expected "
            '{"kind": str, "config": {...}, "extra": {...}})'
        )
    if kind is not None and got_kind != kind:
        raise CheckpointError(f"checkpoint {path} holds a {got_kind!r} model, expected {kind!r}")
    try:
        state = load_file(str(path / WEIGHTS), device=str(device))
    except Exception as e:  # safetensors raises SafetensorError, OSError, ValueError, ...
        reason = " ".join(str(e).split())[:200] or type(e).__name__
        raise CheckpointError(
            f"checkpoint {path}: unreadable weights, not a safetensors file ({reason})"
        ) from None
    return state, config, extra


def load_into(model: torch.nn.Module, state: dict[str, torch.Tensor], path: Any = "") -> None:
    """``model.load_state_dict(state)`` with a one-line error on any mismatch."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    bad = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or bad:
        parts = [
            f"{len(x)} {w} (e.g. {x[0]})"
            for x, w in ((missing, "missing"), (unexpected, "unexpected"), (bad, "mis-shaped"))
            if x
        ]
        raise CheckpointError(f"checkpoint {path} does not fit the model: " + ", ".join(parts))
    model.load_state_dict(state)
