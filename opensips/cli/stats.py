"""``opensips-stats``: OpenSIPS statistics every interval, like ``vmstat``.

    opensips-stats [MI flags] [-n SECONDS] [-c COUNT] [--json] [STAT ...]

STAT is ``group:`` (a whole group), ``group:name``, a name in any group, or a glob of those
(``tm:*_transactions``, ``*slow*``). Counters show their rate per second, gauges their value.
Up to 12 statistics print as aligned columns, one row per interval; more print as a block of
``name value rate`` lines per interval. ``--json`` prints one JSON object per interval (JSONL).
DOWN and restarts go to stderr in the column modes, so stdout stays pure data for pipes.
Exit status: 0 (Ctrl+C, SIGTERM, a closed pipe, or COUNT reached), 1 when the last of COUNT
polls failed, 2 on bad usage.
"""

from __future__ import annotations

import sys
# typing costs milliseconds at start-up, and a Ctrl+C in that window would print a
# traceback before the tools can install their quiet handler: annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

    from opensips.stats import Sample

from .interrupts import loud_interrupts, run_main, silence_stdout

PROG = "opensips-stats"
MAX_COLUMNS = 12
DEFAULT_STATS = ["rcv_requests", "rcv_replies", "fwd_requests", "drop_requests", "err_requests",
                 "slow_messages", "inuse_transactions", "active_dialogs", "registered_users",
                 "shmem:real_used_size", "waiting_udp"]


def build_parser() -> Any:
    import argparse

    from .args import Parser, add_mi_arguments

    parser = Parser(prog=PROG, description="Print OpenSIPS statistics every interval, with rates for counters.",
                    epilog="examples:  opensips-stats --url http://127.0.0.1:8888/mi\n"
                           "           opensips-stats -n 5 core: tm:inuse_transactions\n"
                           "           opensips-stats --json '*slow*' | jq .\n"
                           f"default STATs: {' '.join(DEFAULT_STATS)}",
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    add_mi_arguments(parser)
    parser.add_argument("-n", "--interval", type=float, default=1.0, metavar="SECONDS",
                        help="seconds between polls (default 1)")
    parser.add_argument("-c", "--count", type=int, metavar="N", help="stop after N polls")
    parser.add_argument("--json", action="store_true", help="one JSON object per poll (JSONL)")
    parser.add_argument("stats", metavar="STAT", nargs="*",
                        help="group:, group:name, name, or a glob of those")
    return parser


def printable(text: str) -> str:
    """Names come from the wire: no terminal control sequences reach the terminal."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _clock(wall: float) -> str:
    import time

    return time.strftime("%H:%M:%S", time.localtime(wall))


class Printer:
    """Writes samples to ``out`` in one of the three layouts."""

    def __init__(self, selection: Any, json_lines: bool, out: TextIO, err: TextIO) -> None:
        from opensips.stats.numbers import rate_text, short_number

        self._rate_text, self._short = rate_text, short_number
        self.selection, self.json_lines, self.out, self.err = selection, json_lines, out, err
        self.names: list[str] | None = None
        self.rows = 0
        self.height = 0
        if out.isatty():
            import shutil

            self.height = shutil.get_terminal_size().lines

    def write(self, sample: Sample) -> None:
        if self.json_lines:
            self.out.write(self._json(sample) + "\n")
        elif not sample.up:
            self.err.write(f"{PROG}: {_clock(sample.wall)} DOWN: {printable(' '.join(str(sample.error).split()))}\n")
            self.err.flush()
        else:
            if sample.restarted:
                self.err.write(f"{PROG}: {_clock(sample.wall)} OpenSIPS restarted: counters start again\n")
                self.err.flush()
            names = self.selection.filter(sample.values)
            if names != self.names:
                self.names, self.rows = names, 0
            if not names:
                self.err.write(f"{PROG}: no statistic matches {' '.join(self.selection.patterns)}\n")
            elif len(names) > MAX_COLUMNS:
                self._block(sample, names)
            else:
                self._row(sample, names)
        self.out.flush()

    def _cell(self, sample: Sample, name: str) -> str:
        if name in sample.rates:
            return self._rate_text(sample.rates[name])
        return self._short(sample.values.get(name, 0))

    def _labels(self, sample: Sample, names: list[str]) -> list[str]:
        short = [n.partition(":")[2] for n in names]
        labels = [n if short.count(s) > 1 else s for n, s in zip(names, short)]
        return [printable(label) + ("/s" if n in sample.rates else "") for label, n in zip(labels, names)]

    def _row(self, sample: Sample, names: list[str]) -> None:
        labels = self._labels(sample, names)
        widths = [max(7, len(label)) for label in labels]
        if self.rows == 0 or (self.height > 3 and self.rows % (self.height - 2) == 0):
            self.out.write("time     " + " ".join(l.rjust(w) for l, w in zip(labels, widths)) + "\n")
        cells = [self._cell(sample, n).rjust(w) for n, w in zip(names, widths)]
        self.out.write(_clock(sample.wall) + " " + " ".join(cells) + "\n")
        self.rows += 1

    def _block(self, sample: Sample, names: list[str]) -> None:
        labels = [printable(n) for n in names]
        width = max(len(label) for label in labels)
        self.out.write(f"-- {_clock(sample.wall)}\n")
        for name, label in zip(names, labels):
            rate = f"{self._cell(sample, name)}/s" if name in sample.rates else ""
            self.out.write(f"{label.ljust(width)} {self._short(sample.values[name]):>8} {rate:>10}\n".rstrip() + "\n")

    def _json(self, sample: Sample) -> str:
        import json
        from datetime import datetime

        when = datetime.fromtimestamp(sample.wall).astimezone().isoformat(timespec="milliseconds")
        if not sample.up:
            return json.dumps({"time": when, "up": False, "error": sample.error})
        stats: dict[str, Any] = {}
        for name in self.selection.filter(sample.values):
            entry: dict[str, Any] = {"value": sample.values[name], "kind": sample.kind(name)}
            if name in sample.rates:
                entry["rate"] = sample.rates[name]
            stats[name] = entry
        findings = [{"check": f.check, "subject": f.subject, "level": f.level, "value": f.value,
                     "advice": f.advice} for f in sample.findings]
        return json.dumps({"time": when, "up": True, "restarted": sample.restarted, "stats": stats,
                           "findings": findings})   # ASCII only: no control bytes reach a terminal


def main(argv: list[str] | None = None) -> int:
    return run_main(_main, argv)  # Ctrl+C while starting: exit quietly


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _main(argv: list[str] | None, previous: Any) -> int:
    import signal

    from opensips.mi import OpenSIPSMIException
    from opensips.stats import Selection, StatsPoller

    from .args import fail, mi_from_args

    args = build_parser().parse_args(argv)
    if not args.interval > 0 or args.interval != args.interval:
        return fail(PROG, f"--interval must be a positive number of seconds, not {args.interval}", 2)
    if args.count is not None and args.count < 1:
        return fail(PROG, f"--count must be at least 1, not {args.count}", 2)
    try:
        selection = Selection(args.stats or DEFAULT_STATS)
        mi = mi_from_args(args)
    except (ValueError, OpenSIPSMIException) as exc:
        return fail(PROG, str(exc), 2)
    term = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, _raise_interrupt)
    except (ValueError, OSError):  # pragma: no cover - not the main thread
        term = None
    loud_interrupts(previous)  # a reply FIFO may exist during a call: let finally clean up
    printer = Printer(selection, args.json, sys.stdout, sys.stderr)
    poller = StatsPoller(mi, interval=args.interval, statistics=selection.request())
    with mi:
        try:
            return _loop(poller, printer, args.count)
        except KeyboardInterrupt:
            return 0
        except BrokenPipeError:  # e.g. piped into head
            silence_stdout()
            return 0
        except OSError as exc:   # a full disk, /dev/full (MI errors never get here: DOWN samples)
            silence_stdout()
            return fail(PROG, f"cannot write the output: {exc.strerror or exc}")
        finally:
            if term is not None:   # main() called from Python: leave the caller's SIGTERM as it was
                signal.signal(signal.SIGTERM, term)


def _loop(poller: Any, printer: Printer, count: int | None) -> int:
    """Poll and print on the interval's cadence until ``count`` polls (forever when None)."""
    import time

    polls = 0
    next_at = time.monotonic()
    while True:
        sample = poller.poll()
        printer.write(sample)
        polls += 1
        if count is not None and polls >= count:
            return 0 if sample.up else 1   # the DOWN line said why
        next_at += poller.interval
        now = time.monotonic()
        next_at = max(next_at, now)
        time.sleep(next_at - now)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
