"""``semcom-sim train MODEL [options]``: dispatch to a model package's trainer.

A trainer is registered as a zero-argument factory returning the entry point,
``TRAINERS.register("name")(lambda: fn)``, where ``fn(argv: list[str]) -> int`` parses its own
options (with :class:`semcom_sim.cli._Parser` so bad input is a one-line error)
and uses :class:`semcom_sim.training.Trainer`. Model packages register their trainers in the
modules listed in :func:`load_trainers`.
"""

from __future__ import annotations

import argparse

from semcom_sim.registry import Registry

TRAINERS: Registry = Registry("trainer")


def load_trainers() -> Registry:
    """Import the modules that register trainers."""
    import semcom_sim.models.ffmnet.trainer  # noqa: F401
    import semcom_sim.models.udeepsc.trainers  # noqa: F401

    return TRAINERS


def cmd_train(args: argparse.Namespace) -> int:
    trainers = load_trainers()
    fn = trainers.create(args.model)
    return int(fn(list(args.rest)) or 0)
