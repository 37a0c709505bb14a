"""Imports every module that registers schemes and tasks (kept out of ``import semcom_sim``)."""

from __future__ import annotations

from semcom_sim.registry import Registry


def load_catalog() -> tuple[Registry, Registry]:
    """Populate and return the scheme and task registries."""
    import semcom_sim.baselines.references  # noqa: F401
    import semcom_sim.baselines.registry  # noqa: F401
    import semcom_sim.models.ffmnet.schemes  # noqa: F401
    import semcom_sim.models.udeepsc.local  # noqa: F401
    import semcom_sim.models.udeepsc.receivers  # noqa: F401
    import semcom_sim.models.udeepsc.schemes  # noqa: F401
    import semcom_sim.tasks  # noqa: F401

    # Learned schemes and their tasks register themselves here (one import per model package).
    from semcom_sim.sim.scheme import SCHEMES, TASKS

    return SCHEMES, TASKS
