"""``semcom-sim study NAME [options]``: run a registered study (see :mod:`semcom_sim.studies`)."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    from semcom_sim.studies import STUDIES

    st = sub.add_parser(
        "study",
        help="run a study (probe or paper experiment): semcom-sim study NAME --help",
        description="Studies: " + "; ".join(f"{n}: {STUDIES.help(n)}" for n in STUDIES.names()),
    )
    st.add_argument("name", help=f"one of: {', '.join(STUDIES.names())}")
    st.add_argument("rest", nargs=argparse.REMAINDER, help="the study's own options")


def cmd_study(args: argparse.Namespace) -> int:
    from semcom_sim.studies import STUDIES

    fn = STUDIES.create(args.name)
    return int(fn(list(args.rest)) or 0)
