"""The ``semcom-sim`` command. Every subcommand is reachable through :func:`main` (tests call it).

Bad input (names, ranges, files) ends with one line on stderr and exit code 2, before anything
is written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from semcom_sim.errors import SemcomError

DEFAULT_OUT = "runs/sweep"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints usage too)
        raise SemcomError(f"{self.prog}: {message}")


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
    p = _Parser(prog="semcom-sim", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("sweep", help="simulate metric vs SNR for schemes x tasks, store, plot")
    s.add_argument("--snr", default="-6:18", help="start:stop[:step] dB (inclusive) or a,b,c")
    s.add_argument(
        "--schemes",
        default="default",
        help="comma list of scheme names; default (all but single-MCS/quality variants) or all",
    )
    s.add_argument("--tasks", default="all", help="comma list of task names, or all")
    s.add_argument("--channel", default="awgn", help="awgn | rayleigh | mimo | ofdm")
    s.add_argument("--nt", type=int, default=2, help="MIMO transmit antennas")
    s.add_argument("--nr", type=int, default=2, help="MIMO receive antennas")
    s.add_argument("--detector", default="lmmse", help="MIMO detector: lmmse | zf")
    s.add_argument("--coherence", type=int, default=None, help="Rayleigh coherence (symbols)")
    # --- OFDM channel (--channel ofdm; semcom_sim.channel.ofdm, defaults there) ---
    o = s.add_argument_group("OFDM channel (--channel ofdm)")
    o.add_argument("--tdl", default=None, help="3GPP TR 38.901 TDL profile: A|B|C|D|E (default A)")
    o.add_argument("--cdl", default=None, help="3GPP TR 38.901 CDL profile: A|B|C|D|E (SISO)")
    o.add_argument("--ofdm-profile", default=None, help="tdl-x | cdl-x | rayleigh (flat) | awgn")
    o.add_argument("--delay-spread", type=float, default=None, help="RMS delay spread [s]")
    o.add_argument("--speed", type=float, default=None, help="UE speed [m/s] (default 0)")
    o.add_argument("--csi", default=None, help="perfect | ls | lmmse (default ls)")
    o.add_argument("--interpolation", default=None, help="LS: lin | nn | lin_time_avg")
    o.add_argument("--carrier-frequency", type=float, default=None, help="[Hz] (default 3.5e9)")
    o.add_argument("--fft-size", type=int, default=None, help="subcarriers (default 128)")
    o.add_argument("--subcarrier-spacing", type=float, default=None, help="[Hz] (default 30e3)")
    o.add_argument("--cp-length", type=int, default=None, help="cyclic prefix [samples] (9)")
    o.add_argument("--rx-antennas", type=int, default=None, help="receive antennas (SIMO; 1)")
    s.add_argument("--samples", type=int, default=None, help="examples per SNR point")
    s.add_argument("--batch-size", type=int, default=None, help="examples per scheme call")
    s.add_argument("--seed", type=int, default=0, help="seeds every random generator")
    s.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    s.add_argument("--decoder", default="auto", help="FEC decoders: auto | fast | sionna")
    s.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    s.add_argument("--data-dir", default=None, help="real datasets (default: embedded data)")
    s.add_argument("--out", default=DEFAULT_OUT, help="results directory")
    s.add_argument("--no-plot", action="store_true", help="skip the plots at the end")
    s.add_argument("--quiet", action="store_true", help="no progress bar")

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
        raise SemcomError(f"unknown command {args.command!r}")
    except SemcomError as e:
        print(f"semcom-sim: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `semcom-sim list | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("semcom-sim: interrupted (finished points are stored)", file=sys.stderr)
        return 130


def check_writable_dir(path: str | Path) -> Path:
    """Raise SemcomError unless ``path`` exists as a writable dir or can be created (no writes)."""
    p = Path(path).resolve()
    probe = p
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise SemcomError(f"--out {path}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise SemcomError(f"--out {path}: {probe} is not writable")
    return p


if __name__ == "__main__":
    sys.exit(main())
