"""Studies: reproducible probes and paper experiments, run as ``semcom-sim study NAME ...``.

Each study is a module with ``main(argv) -> int`` that parses its options with
:class:`semcom_sim.options.ArgParser`, so bad input is one line on stderr and exit code 2, like
every other command. Studies sit at the commands layer: they may use the sweep engine, the
store, the report and the ``sweep`` command, never the top-level CLI.
"""

from __future__ import annotations

from semcom_sim.registry import Registry

STUDIES: Registry = Registry("study")


def _lazy(module: str):
    def factory():
        import importlib

        return importlib.import_module(module).main

    return factory


STUDIES.register("udeepsc-eval", "U-DeepSC vs T-DeepSC report on the committed checkpoints")(
    _lazy("semcom_sim.studies.udeepsc_eval")
)
STUDIES.register("codebook", "codebook-sharing study (U-DeepSC Fig. 11)")(
    _lazy("semcom_sim.studies.codebook")
)
STUDIES.register("ffmnet-train", "train every shipped tiny FFMNet checkpoint (steps 1-3)")(
    _lazy("semcom_sim.studies.ffmnet_train")
)
STUDIES.register("ffmnet-report", "FFMNet Table III, Fig. 5, parameters, separate ratio")(
    _lazy("semcom_sim.report.ffmnet")
)
