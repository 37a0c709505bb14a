"""U-DeepSC, T-DeepSC and the noiseless upper bound as sweep schemes; the four U-DeepSC tasks.

Schemes (registered in :data:`semcom_sim.sim.scheme.SCHEMES`):

- ``udeepsc``: one model (checkpoint ``udeepsc-tiny``) for all six tasks;
- ``tdeepsc``: per task, that task's T-DeepSC (``tdeepsc-tiny-<task>``);
- ``upper-bound``: the T-DeepSC weights with the features delivered noiselessly (the sweep's SNR
  still sets the keep ratio and the certainty modules' sigma^2; the channel only counts uses).

Checkpoints ship in ``semcom_sim/models/udeepsc/checkpoints/`` (the environment variable
``SEMCOM_SIM_UDEEPSC_CHECKPOINTS`` points elsewhere). A missing, corrupt or incompatible checkpoint
is a one-line :class:`~semcom_sim.errors.CheckpointError`.

Evaluation is vectorised over SNR: :meth:`DeepSCScheme.run_grid` sends a batch at several SNRs in
one forward pass (rows ``r * B + i``), and the SNR-independent part of the transmitters (input
embedding and the encoder layers before the first selection module) runs once per example, not
once per SNR. Everything after the first selection module depends on the SNR (masks, codewords,
noise, decoder, certainty) and runs per row. Per-example extras: ``exit_layer`` (1-based decoder
layer of the output), ``keep_ratio`` (transmitted / existing features) and ``certainty`` (the
certainty module's value at the exit layer).
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from semcom_sim.baselines.separation import content_digest
from semcom_sim.channel.base import Channel
from semcom_sim.checkpoint import MANIFEST, load_checkpoint, load_into
from semcom_sim.errors import CheckpointError, SemcomError
from semcom_sim.models.udeepsc.adapters import MODEL_TASK, Adapter
from semcom_sim.models.udeepsc.config import UDeepSCConfig
from semcom_sim.models.udeepsc.model import UDeepSC, count_parameters
from semcom_sim.sim.scheme import SCHEMES, Scheme, SchemeOutput, Task

KIND = "udeepsc"
CHECKPOINT_ENV = "SEMCOM_SIM_UDEEPSC_CHECKPOINTS"
PACKAGED = Path(__file__).resolve().parent / "checkpoints"
ROW_BUDGET_BYTES = 1 << 28  # largest activation of one forward pass, roughly
SHARED_PASS_BYTES = 1 << 27  # what the shared-pass cache of a process may hold
_SHARED: OrderedDict[tuple, dict] = OrderedDict()  # see DeepSCScheme._shared_pass


def checkpoint_dir() -> Path:
    """Where the schemes look for checkpoints (``$SEMCOM_SIM_UDEEPSC_CHECKPOINTS`` or packaged)."""
    return Path(os.environ.get(CHECKPOINT_ENV) or PACKAGED)


def checkpoint_name(variant: str, task: str) -> str:
    """``udeepsc-tiny`` or ``tdeepsc-tiny-<task>`` (the upper bound uses the T-DeepSC)."""
    return "udeepsc-tiny" if variant == "udeepsc" else f"tdeepsc-tiny-{task}"


def load_model(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[UDeepSC, Adapter, dict]:
    """A trained U-DeepSC / T-DeepSC in eval mode with its adapter and checkpoint extra.

    Raises:
        CheckpointError: missing files, checksum mismatch, wrong kind, a config this code cannot
            build, weights that do not fit, or no adapter.
    """
    state, config, extra = load_checkpoint(path, kind=KIND, device=device)
    try:
        cfg = UDeepSCConfig.from_dict(config)
    except (SemcomError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path}: incompatible config ({e})") from None
    if not isinstance(extra.get("adapter"), dict):
        raise CheckpointError(f"checkpoint {path}: no adapter (vocabulary) in config.json")
    adapter = Adapter.from_dict(extra["adapter"], path)
    model = UDeepSC(cfg, device=device)
    load_into(model, state, path)
    return model.eval(), adapter, extra


def rows_per_pass(cfg: UDeepSCConfig, task: str) -> int:
    """Rows (examples x SNRs) one forward pass may hold within :data:`ROW_BUDGET_BYTES`.

    The estimate is the larger of the attention maps over all features and, for text
    reconstruction, the vocabulary logits of every exit (``[rows, L, V]`` per decoder layer),
    which dominate there: measured on the tiny preset, larger passes bring no speed-up for text
    reconstruction (memory-bound) but 1.5-2.5x for the classification tasks.
    """
    heads = max(cfg.image_heads, cfg.text_heads, cfg.speech_heads, cfg.decoder_heads)
    n = cfg.num_patches * (cfg.video_max_frames if task == "msa" else 1) + 2 * cfg.text_max_len
    logits = cfg.decoder_depth * cfg.text_max_len * cfg.vocab_size if task == "textr" else 0
    per_row = 4 * max(heads * n * n, logits)
    return max(1, ROW_BUDGET_BYTES // (3 * per_row))


def parameter_counts() -> dict:
    """Stored parameters of the committed U-DeepSC and T-DeepSCs, and checkpoint sizes."""
    root = checkpoint_dir()
    u, _, _ = load_model(root / "udeepsc-tiny")
    out = {"udeepsc": count_parameters(u)["total"], "tdeepsc": {}, "bytes": {}}
    for t in MODEL_TASK.values():
        m, _, _ = load_model(root / f"tdeepsc-tiny-{t}")
        out["tdeepsc"][t] = count_parameters(m)["total"]
    for d in sorted(root.iterdir()):
        if d.is_dir():
            out["bytes"][d.name] = sum(f.stat().st_size for f in d.iterdir())
    out["tdeepsc_sum"] = sum(out["tdeepsc"].values())
    out["ratio"] = out["udeepsc"] / out["tdeepsc_sum"]
    out["udeepsc_components"] = {
        k: v for k, v in count_parameters(u).items() if not k.startswith("task/")
    }
    return out


# Bumped when the scheme's numbers change for the same checkpoint (part of every point's key):
# 2 = the kept-position side information is counted in num_symbols; 3 = the issue-12 models
# (per-task selection, unit-energy index symbols, reconstruction from the received features).
IMPLEMENTATION = 3
# Bumped only when the predictions change for the same checkpoint and inputs (the identity of
# the noiseless task models that conventional schemes use as receivers).
PREDICTIONS = 2


class DeepSCScheme(Scheme):
    """A U-DeepSC-family scheme (``variant``: ``udeepsc``, ``tdeepsc`` or ``upper-bound``).

    Args:
        variant: which weights and whether the channel is used (see the module docstring).
        device: torch device of the models.
        exit_threshold: ``delta_e`` (default: the checkpoint's ``exit_threshold``).
        checkpoints: folder of checkpoints (default :func:`checkpoint_dir`).
        fixed_layer: every example exits at this (1-based) decoder layer, whatever its
            certainty ("Fixed Layer" of Fig. 10); the stored ``certainty`` is that layer's.
        name: the registered name (default: ``variant``).
    """

    snr_chunk = 32  # a whole default grid (-6:18 in 3 dB steps: 9 points) per call
    role = "learned"

    def __init__(
        self,
        variant: str,
        device: str | torch.device = "cpu",
        exit_threshold: float | None = None,
        checkpoints: str | Path | None = None,
        fixed_layer: int | None = None,
        name: str | None = None,
    ) -> None:
        if variant not in ("udeepsc", "tdeepsc", "upper-bound"):
            raise SemcomError(f"unknown U-DeepSC variant {variant!r}")
        if fixed_layer is not None and fixed_layer < 1:
            raise SemcomError(f"fixed_layer must be >= 1 (got {fixed_layer})")
        self.name = name or variant
        # the exit studies (fixed layer / threshold) draw the noise of their base scheme: every
        # variant sees the same realisations (a paired comparison), and one decoder pass with
        # every exit serves them all (:meth:`_shared_pass`)
        study = fixed_layer is not None or exit_threshold is not None
        self.noise_key = variant if study else None
        self.variant = variant
        self.role = "bound" if variant == "upper-bound" else "learned"
        self.device = torch.device(device)
        self.exit_threshold = exit_threshold
        self.fixed_layer = fixed_layer
        self.checkpoints = Path(checkpoints) if checkpoints else None
        self._loaded: dict[Path, tuple[UDeepSC, Adapter, dict]] = {}
        self._digests: dict[Path, str] = {}
        self._task: str | None = None

    # ------------------------------------------------------------------ models
    def supports(self, task: Task) -> bool:
        return task.name in MODEL_TASK

    def _path(self, task: str) -> Path:
        return (self.checkpoints or checkpoint_dir()) / checkpoint_name(self.variant, task)

    def model_for(self, task: str) -> tuple[UDeepSC, Adapter]:
        """The model and adapter serving model task ``task`` (loaded once)."""
        path = self._path(task)
        if path not in self._loaded:
            self._loaded[path] = load_model(path, self.device)
        model, adapter, _ = self._loaded[path]
        if task not in model.tasks:
            raise CheckpointError(f"checkpoint {path} was trained for {model.tasks}, not {task!r}")
        return model, adapter

    def prepare(self, task: Task, device: torch.device) -> None:
        if torch.device(device) != self.device:
            self.device, self._loaded = torch.device(device), {}
        self._task = MODEL_TASK[task.name]
        self.model_for(self._task)

    # ------------------------------------------------------------------ evaluation
    def forward(
        self,
        fields: dict[str, Any],
        channel: Channel,
        snr_db: Tensor,
        generator: torch.Generator,
        repeats: int = 1,
        early_exit: bool = True,
    ) -> tuple[Any, dict[str, Tensor]]:
        """Predictions and the raw per-row outputs of the current task for ``fields``.

        ``snr_db`` has ``repeats * B`` entries (SNR-major); returns ``(predictions, out)`` with
        ``out`` the model's output dict plus ``exit_certainty`` ``[repeats * B]``.
        """
        if self._task is None:
            raise SemcomError(f"scheme {self.name}: prepare(task) was not called")
        task = self._task
        model, adapter = self.model_for(task)
        inputs = adapter.inputs(task, fields, self.device)
        noiseless = self.variant == "upper-bound"
        fixed = self.fixed_layer
        if fixed is not None and fixed > model.config.decoder_depth:
            raise SemcomError(
                f"scheme {self.name}: fixed_layer {fixed} > decoder depth "
                f"{model.config.decoder_depth}"
            )
        out = model(
            task,
            snr_db.to(self.device),
            None if noiseless else channel,
            generator,
            exit_threshold=2.0 if fixed else self.exit_threshold,  # 2.0: never exits early
            early_exit=early_exit and not fixed,
            repeats=repeats,
            **inputs,
        )
        if fixed:
            out["output"] = out["exit_outputs"][fixed - 1]
            out["exit_layer"] = torch.full_like(out["exit_layer"], fixed)
        rows = torch.arange(out["exit_layer"].shape[0], device=out["exit_layer"].device)
        out["exit_certainty"] = out["certainty"][rows, out["exit_layer"] - 1]
        if noiseless:
            out["channel_uses"] = channel.channel_uses(out["num_symbols"])
        return adapter.predictions(task, out["output"]), out

    @staticmethod
    def _output(pred: Any, out: dict, start: int, stop: int) -> SchemeOutput:
        return SchemeOutput(
            predictions=pred[start:stop],
            num_symbols=out["num_symbols"][start:stop].float(),
            channel_uses=out["channel_uses"][start:stop].float(),
            extras={
                "exit_layer": out["exit_layer"][start:stop].float(),
                "keep_ratio": out["keep_ratio"][start:stop].float(),
                "certainty": out["exit_certainty"][start:stop].float(),
                "side_info_bits": out["side_info_bits"][start:stop].float(),
            },
        )

    def run(
        self, batch, channel: Channel, snr_db: Tensor, generator: torch.Generator
    ) -> SchemeOutput:
        pred, out = self.forward(batch.fields, channel, snr_db, generator)
        return self._output(pred, out, 0, len(batch))

    def run_grid(
        self,
        batch,
        channel: Channel,
        snr_grid_db: list[float],
        generators: Sequence[torch.Generator],
    ) -> list[SchemeOutput]:
        """All SNR points of ``snr_grid_db`` in as few forward passes as the memory budget
        allows (each pass: ``B`` examples x several SNRs, shared encoding computed once).

        The channel draws SNR point ``i``'s noise from ``generators[i]`` alone (the rows of a
        pass are SNR-major blocks, see :meth:`Channel.__call__`), so a point's value does not
        depend on which other points share its pass."""
        n = len(batch)
        model, _ = self.model_for(self._task) if self._task else (None, None)
        per_pass = max(1, rows_per_pass(model.config, self._task) // max(1, n)) if model else 1
        results: list[SchemeOutput] = []
        for c0 in range(0, len(snr_grid_db), per_pass):
            grid = snr_grid_db[c0 : c0 + per_pass]
            gens = list(generators[c0 : c0 + per_pass])
            snr = torch.tensor(grid, dtype=torch.float32).repeat_interleave(n)
            pred, out = self._select(self._shared_pass(batch.fields, channel, snr, gens, len(grid)))
            results += [self._output(pred, out, r * n, (r + 1) * n) for r in range(len(grid))]
        return results

    def _shared_pass(
        self, fields: dict[str, Any], channel: Channel, snr_db: Tensor, generators, repeats: int
    ) -> dict[str, Tensor]:
        """One eval pass with every decoder layer run, reduced per layer (:meth:`Adapter.reduce`),
        for ``snr_db`` ``[repeats * B]`` rows; cached per process by (checkpoint manifest, task,
        variant, channel, SNRs, the generators' states, the inputs' content), so the exit
        variants of one model that share a noise key reuse one pass. Returns ``layers``
        ``[n_layers, rows, ...]``, ``certainty`` ``[rows, n_layers]`` and the per-row counts."""
        task = self._task
        model, adapter = self.model_for(task)
        gens = generators if isinstance(generators, (list, tuple)) else [generators]
        key = (
            self.identity_digest(task),
            task,
            self.variant,
            channel.key,
            repr(sorted(channel.config().items())),
            tuple(float(v) for v in snr_db.tolist()),
            tuple(hashlib.sha256(g.get_state().numpy().tobytes()).hexdigest() for g in gens),
            tuple(sorted((k, content_digest(v) or repr(v)) for k, v in fields.items())),
            repeats,
        )
        hit = _SHARED.get(key)
        if hit is not None:
            _SHARED.move_to_end(key)
            for g, state in zip(gens, hit["after"], strict=True):
                g.set_state(state)
            return hit
        inputs = adapter.inputs(task, fields, self.device)
        noiseless = self.variant == "upper-bound"
        out = model(
            task,
            snr_db.to(self.device),
            None if noiseless else channel,
            generators,
            exit_threshold=2.0,  # no certainty exceeds it: every layer runs, no row exits
            early_exit=False,
            repeats=repeats,
            **inputs,
        )
        if noiseless:
            out["channel_uses"] = channel.channel_uses(out["num_symbols"])
        entry = {
            "layers": torch.stack([adapter.reduce(task, o) for o in out["exit_outputs"]]),
            "certainty": out["certainty"],
            **{k: out[k] for k in ("num_symbols", "channel_uses", "keep_ratio", "side_info_bits")},
            "after": [g.get_state() for g in gens],
        }
        entry["bytes"] = sum(
            v.numel() * v.element_size() for v in entry.values() if isinstance(v, Tensor)
        )
        _SHARED[key] = entry
        while len(_SHARED) > 1 and sum(e["bytes"] for e in _SHARED.values()) > SHARED_PASS_BYTES:
            _SHARED.popitem(last=False)
        return entry

    def identity_digest(self, task: str) -> str:
        """sha256 of the manifest of the checkpoint serving model task ``task`` (read once)."""
        path = self._path(task)
        if path not in self._digests:
            self._digests[path] = hashlib.sha256((path / MANIFEST).read_bytes()).hexdigest()
        return self._digests[path]

    def _select(self, entry: dict[str, Tensor]) -> tuple[Any, dict[str, Tensor]]:
        """This scheme's exits from a :meth:`_shared_pass`: the first layer whose certainty
        exceeds the threshold (else the last), or the fixed layer; the same decisions as the
        decoder's own eval-mode exit (:meth:`Receiver.forward`)."""
        model, adapter = self.model_for(self._task)
        cert = entry["certainty"]
        rows, n = cert.shape
        if self.fixed_layer is not None:
            exit_layer = torch.full((rows,), self.fixed_layer, dtype=torch.int64)
        else:
            thr = self.exit_threshold
            thr = model.config.exit_threshold if thr is None else thr
            above = cert > thr
            first = above.to(torch.int64).argmax(dim=1) + 1
            exit_layer = torch.where(above.any(dim=1), first, torch.full_like(first, n))
        exit_layer = exit_layer.to(cert.device)
        idx = torch.arange(rows, device=cert.device)
        out = {k: entry[k] for k in ("num_symbols", "channel_uses", "keep_ratio", "side_info_bits")}
        out["exit_layer"] = exit_layer
        out["exit_certainty"] = cert[idx, exit_layer - 1]
        return adapter.render(self._task, entry["layers"][exit_layer - 1, idx]), out

    def identity(self, task: Task) -> dict:
        """:meth:`config` plus the manifest hash of the checkpoint that serves ``task``."""
        path = self._path(MODEL_TASK[task.name])
        try:
            digest = hashlib.sha256((path / MANIFEST).read_bytes()).hexdigest()
        except OSError:
            digest = "missing"
        cfg = self.config()
        cfg.pop("checkpoints", None)
        if self.noise_key not in (None, self.name):
            cfg["noise_key"] = self.noise_key  # its noise is the base scheme's (a new key)
        return cfg | {"role": self.role, "checkpoint": path.name, "manifest_sha256": digest}

    def config(self) -> dict:
        files = {}
        for path, (model, _, extra) in self._loaded.items():
            try:
                digest = (path / MANIFEST).read_text()
            except OSError:
                digest = ""
            files[path.name] = {
                "tasks": list(model.tasks),
                "step": extra.get("step"),
                "manifest_sha256": hashlib.sha256(digest.encode()).hexdigest(),
            }
        return {
            "name": self.name,
            "implementation": IMPLEMENTATION,
            "kind": "learned",
            "variant": self.variant,
            "noiseless": self.variant == "upper-bound",
            "exit_threshold": self.exit_threshold,
            "fixed_layer": self.fixed_layer,
            "checkpoints": files,
        }


def _scheme(variant: str, name: str | None = None, fixed_layer: int | None = None,
            threshold: float | None = None):  # fmt: skip
    def factory(device: str = "cpu", exit_threshold: float | None = None, **_: Any):
        return DeepSCScheme(
            variant,
            device=device,
            exit_threshold=threshold if exit_threshold is None else exit_threshold,
            fixed_layer=fixed_layer,
            name=name,
        )

    return factory


SCHEMES.register("udeepsc", "U-DeepSC tiny: one model for six tasks (committed checkpoint)")(
    _scheme("udeepsc")
)
SCHEMES.register("tdeepsc", "T-DeepSC tiny: one model per task (committed checkpoints)")(
    _scheme("tdeepsc")
)
SCHEMES.register("upper-bound", "T-DeepSC tiny with features delivered noiselessly")(
    _scheme("upper-bound")
)

# The multi-exit studies of Figs. 8 and 10 (cheap: in the default sweep, tagged "study").
STUDY_LAYERS = (1, 2, 3, 4)  # the tiny decoder's depth
STUDY_THRESHOLDS = (0.3, 0.5, 0.7, 0.8, 0.95)
for _layer in STUDY_LAYERS:
    SCHEMES.register(
        f"udeepsc-layer{_layer}",
        f"U-DeepSC tiny, every example exits at decoder layer {_layer} (Figs. 8, 10)",
        tags=("study",),
    )(_scheme("udeepsc", f"udeepsc-layer{_layer}", fixed_layer=_layer))
for _d in STUDY_THRESHOLDS:
    SCHEMES.register(
        f"udeepsc-exit{_d:g}",
        f"U-DeepSC tiny with exit threshold delta_e = {_d:g} (Fig. 10)",
        tags=("study",),
    )(_scheme("udeepsc", f"udeepsc-exit{_d:g}", threshold=_d))
