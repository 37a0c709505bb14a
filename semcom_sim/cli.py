"""The ``semcom-sim`` command. Every subcommand is reachable through :func:`main` (tests call it).

Bad input (names, ranges, files) ends with one line on stderr and exit code 2, before anything
is written.
"""

from __future__ import annotations

import argparse
import os
import sys

from semcom_sim.errors import SemcomError
from semcom_sim.options import ArgParser
from semcom_sim.options import check_writable_dir as _check_writable_dir

_Parser = ArgParser  # the subcommand parsers' class

DESCRIPTION = """\
Link-level simulation of semantic communication: learned transceivers (U-DeepSC, T-DeepSC,
FFMNet + deep JSCC) against conventional separate source-channel coding (JPEG/H.264/UTF-8/PCM +
5G LDPC / LTE Turbo), every scheme through one channel layer with one SNR convention.

  semcom-sim sweep --snr -6:18        the main job: every scheme and task vs SNR
  semcom-sim figures --results DIR    the papers' figures from a sweep's store
"""


def _fix_snr_argv(argv: list[str]) -> list[str]:
    """``--snr -6:18`` -> ``--snr=-6:18`` (argparse reads a leading '-' as an option)."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] == "--snr" and i + 1 < len(argv):
            out.append(f"--snr={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def build_parser() -> argparse.ArgumentParser:
    from semcom_sim import __version__

    p = ArgParser(prog="semcom-sim", description=DESCRIPTION)
    p.add_argument("--version", action="version", version=f"semcom-sim {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=ArgParser)

    from semcom_sim.commands.sweep import add_sweep_parser

    add_sweep_parser(sub)

    ls = sub.add_parser("list", help="registered schemes, tasks and channels")
    ls.add_argument(
        "what",
        nargs="?",
        default="all",
        choices=["all", "schemes", "tasks", "channels", "trainers"],
    )

    da = sub.add_parser("data", help="datasets: semcom-sim data info")
    da.add_argument("action", choices=["info"], help="info: sizes and provenance of each dataset")

    tr = sub.add_parser("train", help="train a learned model (semcom-sim train MODEL --help)")
    tr.add_argument("model", help="a registered trainer (see semcom-sim list trainers)")
    tr.add_argument("rest", nargs=argparse.REMAINDER, help="the trainer's own options")

    pl = sub.add_parser("plot", help="draw metric-vs-SNR figures from a results directory")
    pl.add_argument("--results", required=True, help="a directory written by sweep")
    pl.add_argument("--out", default=None, help="figure directory (default: RESULTS/plots)")

    from semcom_sim.commands.study import add_parser as add_study

    add_study(sub)

    from semcom_sim.commands.report import add_parsers

    add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 2 bad input)."""
    argv = _fix_snr_argv(list(sys.argv[1:] if argv is None else argv))
    try:
        args = build_parser().parse_args(argv)
        args.command_line = "semcom-sim " + " ".join(argv)
        if args.command == "sweep":
            from semcom_sim.commands.sweep import cmd_sweep

            return cmd_sweep(args)
        if args.command == "list":
            from semcom_sim.commands.listing import cmd_list

            return cmd_list(args)
        if args.command == "data":
            from semcom_sim.commands.listing import cmd_data_info

            return cmd_data_info(args)
        if args.command == "train":
            from semcom_sim.commands.train import cmd_train

            return cmd_train(args)
        if args.command == "plot":
            from semcom_sim.commands.sweep import cmd_plot

            return cmd_plot(args)
        if args.command in ("figures", "tables"):
            from semcom_sim.commands import report

            return getattr(report, f"cmd_{args.command}")(args)
        if args.command == "study":
            from semcom_sim.commands.study import cmd_study

            return cmd_study(args)
        raise SemcomError(f"unknown command {args.command!r}")
    except SemcomError as e:
        print(f"semcom-sim: error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # --help, --version
        return int(e.code or 0) if not isinstance(e.code, str) else 2
    except BrokenPipeError:  # e.g. `semcom-sim list | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("semcom-sim: interrupted (finished points are stored)", file=sys.stderr)
        return 130


check_writable_dir = _check_writable_dir  # kept for callers of the old location


if __name__ == "__main__":
    sys.exit(main())
