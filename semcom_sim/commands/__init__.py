"""CLI subcommands (imported lazily by :mod:`semcom_sim.cli`)."""
