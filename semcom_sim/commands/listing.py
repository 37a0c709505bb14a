"""``semcom-sim list``."""

from __future__ import annotations

import argparse


def cmd_list(args: argparse.Namespace) -> int:
    from semcom_sim.catalog import load_catalog
    from semcom_sim.channel import CHANNELS
    from semcom_sim.commands.train import load_trainers

    schemes, tasks = load_catalog()
    sections = {
        "schemes": schemes,
        "tasks": tasks,
        "channels": CHANNELS,
        "trainers": load_trainers(),
    }
    for title, reg in sections.items():
        if args.what not in ("all", title):
            continue
        print(f"{title}:")
        width = max((len(n) for n in reg.names()), default=0)
        for name in reg.names():
            mark = " [variant]" if "variant" in reg.tags(name) else ""
            print(f"  {name.ljust(width)}  {reg.help(name)}{mark}")
    return 0


def cmd_data_info(args: argparse.Namespace) -> int:
    from semcom_sim.data import dataset_info

    rows = dataset_info()
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        sizes = ", ".join(f"{k} {v}" for k, v in r["sizes"].items())
        print(f"{r['name'].ljust(width)}  {r['kind']:<8}  {r['task']:<22}  {sizes}")
        print(f"{'':{width}}  {r['provenance']}")
    return 0
