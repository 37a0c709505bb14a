"""``semcom-sim train MODEL [options]``: dispatch to a model package's trainer.

Trainers live in the model packages and are registered in
:data:`semcom_sim.training.TRAINERS` (see :func:`semcom_sim.training.load_trainers`).
"""

from __future__ import annotations

import argparse

from semcom_sim.training import TRAINERS, load_trainers

__all__ = ["TRAINERS", "cmd_train", "load_trainers"]


def cmd_train(args: argparse.Namespace) -> int:
    trainers = load_trainers()
    fn = trainers.create(args.model)
    return int(fn(list(args.rest)) or 0)
