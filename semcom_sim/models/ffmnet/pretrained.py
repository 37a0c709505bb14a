"""Loading FFMNet / JSCC checkpoints, including the ones shipped inside this package.

Three checkpoint kinds (see :mod:`semcom_sim.checkpoint` for the on-disk format):

- ``"ffmnet"``: FFMNet alone (training step 1); ``config["ffmnet"]`` is its
  :class:`FFMNetConfig`.
- ``"ffmnet-jscc"``: the feature JSCC alone (step 2, FFMNet frozen); ``config["jscc"]`` is its
  :class:`JSCCConfig` and ``config["base_sha256"]`` the sha256 of the frozen FFMNet's weights file,
  checked when the two are put together.
- ``"ffmnet-e2e"``: the whole split model (step 3), ``config["ffmnet"]`` and ``config["jscc"]``.

Shipped checkpoints live in ``semcom_sim/models/ffmnet/checkpoints/<name>/``: ``ffmnet-tiny``
(step 1) and ``jscc-<ratio>-<train>`` (step 2 on top of ``ffmnet-tiny``), with ``<train>`` =
``snr<k>`` (AWGN at k dB) or ``noiseless``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from semcom_sim.checkpoint import WEIGHTS, load_checkpoint, load_into, sha256_file
from semcom_sim.errors import CheckpointError, SemcomError
from semcom_sim.models.ffmnet.config import FFMNetConfig, JSCCConfig
from semcom_sim.models.ffmnet.jscc import FeatureJSCC, FFMNetJSCC
from semcom_sim.models.ffmnet.model import FFMNet

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
BASE_NAME = "ffmnet-tiny"
KIND_FFMNET, KIND_JSCC, KIND_E2E = "ffmnet", "ffmnet-jscc", "ffmnet-e2e"


def packaged(name: str) -> Path:
    """Directory of the shipped checkpoint ``name`` (it may be missing: loading says so)."""
    return CHECKPOINT_DIR / name


def weights_sha256(path: str | Path) -> str:
    """sha256 of a checkpoint's weights file (one-line CheckpointError if it is missing)."""
    f = Path(path) / WEIGHTS
    if not f.is_file():
        raise CheckpointError(f"checkpoint {path}: missing {WEIGHTS}")
    return sha256_file(f)


def _config(cls, d, path: Path, what: str):
    try:
        return cls.from_dict(d)
    except (SemcomError, TypeError, AttributeError):
        raise CheckpointError(f"checkpoint {path}: bad {what} configuration") from None


def load_ffmnet(path: str | Path, device=None) -> FFMNet:
    """An FFMNet from a ``"ffmnet"`` checkpoint, in eval mode."""
    path = Path(path)
    state, config, _ = load_checkpoint(path, kind=KIND_FFMNET)
    model = FFMNet(_config(FFMNetConfig, config.get("ffmnet"), path, "FFMNet"))
    load_into(model, state, path)
    return model.to(device).eval()


def load_jscc(path: str | Path, base_sha256: str | None = None, device=None) -> FeatureJSCC:
    """A FeatureJSCC from a ``"ffmnet-jscc"`` checkpoint, in eval mode.

    ``base_sha256``: when given, the checkpoint must have been trained on the FFMNet whose
    weights file has this sha256.
    """
    path = Path(path)
    state, config, _ = load_checkpoint(path, kind=KIND_JSCC)
    if base_sha256 is not None and config.get("base_sha256") != base_sha256:
        raise CheckpointError(
            f"checkpoint {path} was trained on another FFMNet than the one given (base sha256 "
            f"{str(config.get('base_sha256'))[:12]}..., given {base_sha256[:12]}...)"
        )
    model = FeatureJSCC(_config(JSCCConfig, config.get("jscc"), path, "JSCC"))
    load_into(model, state, path)
    return model.to(device).eval()


def load_split_model(jscc_path: str | Path, base_path: str | Path, device=None) -> FFMNetJSCC:
    """FFMNet (``base_path``, kind ``"ffmnet"``) + the JSCC trained on it (``jscc_path``), or a
    whole ``"ffmnet-e2e"`` checkpoint at ``jscc_path`` (``base_path`` unused then)."""
    jscc_path = Path(jscc_path)
    _, config, _ = _peek(jscc_path)
    if config.get("stage") == "e2e":
        state, config, _ = load_checkpoint(jscc_path, kind=KIND_E2E)
        model = FFMNetJSCC.build(
            _config(FFMNetConfig, config.get("ffmnet"), jscc_path, "FFMNet"),
            _config(JSCCConfig, config.get("jscc"), jscc_path, "JSCC"),
        )
        load_into(model, state, jscc_path)
        return model.to(device).eval()
    ffmnet = load_ffmnet(base_path, device)
    jscc = load_jscc(jscc_path, weights_sha256(base_path), device)
    return FFMNetJSCC(ffmnet, jscc).eval()


def _peek(path: Path) -> tuple[dict, dict, dict]:
    """Verified (state, config, extra) of any kind (state unused: checks come first)."""
    return load_checkpoint(path)


def set_threads(threads: int | None) -> None:
    """``torch.set_num_threads`` when given (CLI convenience)."""
    if threads is not None:
        if threads < 1:
            raise SemcomError(f"--threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)


def export_half(src: str | Path, dst: str | Path, kind: str) -> Path:
    """Copy checkpoint ``src`` to ``dst`` with its floating-point tensors stored in float16
    (``extra["stored_dtype"]``); loading casts them back to the model's float32. Used for the
    shipped step-3 checkpoints, which each hold a whole FFMNet (half the bytes; the results are
    those of the stored, rounded weights)."""
    from semcom_sim.checkpoint import save_checkpoint

    state, config, extra = load_checkpoint(src, kind=kind)
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    return save_checkpoint(dst, half, kind, config, {**extra, "stored_dtype": "float16"})
