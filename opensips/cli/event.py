"""``opensips-event``: subscribe to events and print each notification as one JSON line.

    opensips-event [MI flags] [--transport datagram|stream] [--listen-ip IP]
                   [--listen-port N] [--socket-path PATH] [--count N] [--expires S]
                   EVENT [EVENT...]

Runs until Ctrl-C (or SIGTERM), ``--count`` notifications, or the end of
``--expires``; then unsubscribes. Exit status 0 on a normal end, 1 on an
error (one line on stderr), 2 on bad usage.
"""

from __future__ import annotations

# Only modules already loaded at interpreter start up here: a Ctrl+C during
# start-up must end the program quietly (see .interrupts), and the
# heavy imports happen inside main().
import signal
import sys
# typing costs milliseconds at start-up, and a Ctrl+C in that window would print a
# traceback before the tools can install their quiet handler: annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from .interrupts import loud_interrupts, run_main, silence_stdout

PROG = "opensips-event"


# OpenSIPS reads a subscription's expire as a C int: anything larger is not a longer subscription.
MAX_EXPIRES = 2**31 - 1


def build_parser() -> Any:
    from .args import Parser, add_mi_arguments

    parser = Parser(prog=PROG, description="Subscribe to OpenSIPS events and print every notification "
                                           "as one JSON line.")
    add_mi_arguments(parser)
    g = parser.add_argument_group("listener")
    g.add_argument("-T", "--transport", choices=("datagram", "stream"), default="datagram", type=str.lower,
                   help="datagram (event_datagram: UDP, or UNIX with --socket-path) or stream "
                        "(event_stream: TCP); default datagram")
    g.add_argument("-li", "--listen-ip", default="0.0.0.0", metavar="IP",
                   help="address to listen on (default 0.0.0.0; OpenSIPS is told the local address "
                        "that routes to the MI host)")
    g.add_argument("-lp", "--listen-port", type=int, default=0, metavar="N", help="port to listen on (default: any)")
    g.add_argument("--socket-path", metavar="PATH", help="UNIX datagram socket to listen on (datagram only)")
    g.add_argument("--count", type=int, metavar="N", help="exit after N notifications")
    g.add_argument("-e", "--expires", "--expire", dest="expires", type=int, metavar="S",
                   help="subscribe for S seconds only, then exit")
    parser.add_argument("-bc", "--bash-complete", nargs="?", const="events", metavar="WHAT",
                        help="bash completion: event names, 'params' (the options), or an option's choices")
    parser.add_argument("events", metavar="EVENT", nargs="*", help="event names, e.g. E_PIKE_BLOCKED")
    return parser


def _line(msg: Any) -> str:
    from .output import safe_json

    try:
        return safe_json(msg, separators=(", ", ": "))
    except (TypeError, ValueError):  # pragma: no cover - decoded JSON always re-encodes
        return safe_json(repr(msg))


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    return run_main(_main, argv)


def _main(argv: list[str] | None, previous: Any) -> int:
    import logging
    import queue
    import time

    from opensips.event import OpenSIPSEventException, OpenSIPSEventHandler
    from opensips.mi import OpenSIPSMIException

    from .args import complete, fail, mi_from_args
    from .output import write_stdout

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.bash_complete is not None:
        def events() -> list:
            with mi_from_args(args) as mi:
                return [e.get("name") for e in mi.execute("events_list")["Events"]]

        try:
            write_stdout(complete(parser, args.bash_complete, {"events": events}) + "\n")
        except BrokenPipeError:
            pass
        return 0
    if not args.events:
        return fail(PROG, "give at least one EVENT (e.g. E_PIKE_BLOCKED)", 2)
    if args.count is not None and args.count < 1:
        return fail(PROG, "--count must be at least 1", 2)
    if args.expires is not None and not 1 <= args.expires <= MAX_EXPIRES:
        return fail(PROG, f"--expires must be from 1 to {MAX_EXPIRES} seconds", 2)
    if args.socket_path and args.transport == "stream":
        return fail(PROG, "--socket-path is for --transport datagram (stream is TCP)", 2)
    if not 0 <= args.listen_port <= 65535:
        return fail(PROG, "--listen-port must be between 0 and 65535", 2)
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(levelname)s: %(message)s")
    try:
        mi = mi_from_args(args)
    except (ValueError, OpenSIPSMIException) as exc:
        return fail(PROG, f"bad MI settings: {exc}", 2)
    old_term = None
    try:
        old_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    except (ValueError, OSError):  # pragma: no cover - not the main thread
        pass
    loud_interrupts(previous)  # sockets and subscriptions from here on: clean up on Ctrl+C

    # SimpleQueue: put/get in C, no Python-level condition per event (the listener's hot path).
    notes: queue.SimpleQueue = queue.SimpleQueue()
    handler = None
    try:
        try:
            handler = OpenSIPSEventHandler(mi, args.transport, ip=args.listen_ip, port=args.listen_port,
                                           socket_path=args.socket_path)
            subs = []
            for name in dict.fromkeys(args.events):  # each once, in order
                def enqueue(msg: Any, _n: str = name) -> None:  # _n: this loop turn's name
                    notes.put((_n, msg))

                subs.append(handler.subscribe(name, enqueue, expires=args.expires))
        except OpenSIPSEventException as exc:
            return fail(PROG, str(exc))
        sys.stderr.write(f"{PROG}: listening on {handler.listen_address} for {', '.join(s.event for s in subs)}"
                         f" via {mi.target}\n")
        sys.stderr.flush()
        printed = 0
        warned = 0.0
        while True:
            try:
                batch = [notes.get(timeout=0.2)]
            except queue.Empty:
                if all(s.state == "expired" for s in subs):
                    return 0
                dead = [s for s in subs if s.state == "failed"]
                if dead and all(s.state in ("expired", "failed") for s in subs):
                    # nothing can arrive any more: say why and stop, instead of waiting deaf forever
                    return fail(PROG, "; ".join(f"listening for {s.event} failed: {s.last_error}" for s in dead))
                continue
            while len(batch) < 256:  # what queued meanwhile goes out in one write and one flush
                try:
                    batch.append(notes.get_nowait())
                except queue.Empty:
                    break
            lines: list[str] = []
            done = False
            for name, msg in batch:
                if msg is None:
                    if all(s.state == "expired" for s in subs):
                        done = True
                        break
                    sub = next((s for s in subs if s.event == name), None)
                    if sub is not None and sub.state != "expired" and time.monotonic() - warned > 1:
                        warned = time.monotonic()
                        sys.stderr.write(f"{PROG}: warning: 10 unparsable notifications in a row\n")
                    continue
                lines.append(_line(msg) + "\n")
                printed += 1
                if args.count is not None and printed >= args.count:
                    done = True
                    break
            if lines:
                problem = write_stdout("".join(lines))
                if problem:
                    return fail(PROG, problem)
            if done:
                return 0
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        silence_stdout()
        return 0
    finally:
        try:  # let the unsubscribe finish: a second Ctrl+C / SIGTERM is ignored meanwhile
            old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        except (ValueError, OSError):  # pragma: no cover - not the main thread
            old_int = None
        try:
            if handler is not None:
                handler.close()
            mi.close()
        except Exception:  # pragma: no cover - best effort
            pass
        finally:
            try:
                if old_int is not None:
                    signal.signal(signal.SIGINT, old_int)
                if old_term is not None:
                    signal.signal(signal.SIGTERM, old_term)
            except (ValueError, OSError):  # pragma: no cover
                pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
