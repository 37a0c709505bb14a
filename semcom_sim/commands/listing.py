"""``semcom-sim list``."""

from __future__ import annotations

import argparse


def cmd_list(args: argparse.Namespace) -> int:
    from semcom_sim.catalog import load_catalog
    from semcom_sim.channel import CHANNELS
    from semcom_sim.commands.train import TRAINERS

    schemes, tasks = load_catalog()
    sections = {"schemes": schemes, "tasks": tasks, "channels": CHANNELS, "trainers": TRAINERS}
    for title, reg in sections.items():
        if args.what not in ("all", title):
            continue
        print(f"{title}:")
        width = max((len(n) for n in reg.names()), default=0)
        for name in reg.names():
            print(f"  {name.ljust(width)}  {reg.help(name)}")
    return 0
