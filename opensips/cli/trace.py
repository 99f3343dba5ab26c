"""``opensips-trace``: live SIP through OpenSIPS's tracer, one line per message.

    opensips-trace [MI flags] [--filter caller=U|callee=U|ip=A ...] [--scope d|t|m] [--trace-type T]
                   [--transport udp|tcp] [--listen-ip IP] [--listen-port N] [--id ID]
                   [-v | --json] [-w FILE.pcap] [--count N] [--duration S]

Starts a dynamic trace towards a HEP receiver of its own (``opensips.hep.session``),
prints each message until Ctrl-C, SIGTERM, SIGHUP, ``--count`` or ``--duration``,
then stops the trace and checks that OpenSIPS dropped it. SIP comes from strangers:
every character a terminal would act on is escaped before it is printed. Exit
status 0 on a normal end, 1 on an error or a trace OpenSIPS kept (the command
to remove it is printed), 2 on bad usage.
"""

from __future__ import annotations

# Only modules already loaded at interpreter start up here (see .interrupts).
import signal
import sys
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

from .interrupts import loud_interrupts, run_main, silence_stdout

PROG = "opensips-trace"


def build_parser() -> Any:
    from .args import Parser, add_mi_arguments

    parser = Parser(prog=PROG, description="Mirror the SIP OpenSIPS handles (TLS included, after decryption) "
                                           "to this terminal through its tracer module; no root needed.")
    add_mi_arguments(parser)
    g = parser.add_argument_group("trace")
    g.add_argument("-F", "--filter", dest="filters", action="append", default=[], metavar="KEY=VALUE",
                   help="tracer filter: caller=USER, callee=USER or ip=ADDRESS (repeat: all must match)")
    g.add_argument("-s", "--scope", metavar="SCOPE",
                   help="d (dialog: calls only, OpenSIPS's default), t (transactions: REGISTER and OPTIONS "
                        "too) or m (received requests only); needs --filter (use --filter ip=... for all)")
    g.add_argument("--trace-type", dest="trace_type", metavar="TYPE",
                   help="what to trace: sip (default), xlog; needs --filter")
    g.add_argument("-T", "--transport", choices=("udp", "tcp"), default="udp", type=str.lower,
                   help="HEP transport (default udp; tcp needs a hep_tcp socket in OpenSIPS)")
    g.add_argument("-li", "--listen-ip", metavar="IP",
                   help="address to receive on (default: loopback when MI is local, else the address "
                        "routing to the MI host)")
    g.add_argument("-lp", "--listen-port", type=_number(int, 0, 65535), default=0, metavar="N", help="port to receive on (default: any)")
    g.add_argument("--id", dest="trace_id", metavar="ID", help="trace id in OpenSIPS (default otrace_HOST_PID_N)")
    out = parser.add_argument_group("output")
    mode = out.add_mutually_exclusive_group()
    mode.add_argument("-v", "--verbose", action="store_true", help="print each whole message after its line")
    mode.add_argument("--json", action="store_true", help="JSON Lines: one packet per line, payload bytes in base64")
    out.add_argument("-w", "--write", metavar="FILE", help="also write the packets to FILE as pcap (Wireshark, sngrep)")
    out.add_argument("-c", "--count", type=_number(int, 1, 2**63), metavar="N", help="exit after N messages")
    out.add_argument("-d", "--duration", type=_number(float, 1e-3, 1e9), metavar="S", help="exit after S seconds")
    return parser


def _number(kind: Any, low: float, high: float) -> Any:
    """An argparse ``type``: ``kind(text)`` within [low, high], else a one-line usage error."""
    import argparse

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number from {low:g} to {high:g}")
        return value

    return convert


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    return run_main(_main, argv)


def line(packet: Any) -> str:
    """``12:00:01.123 UDP 10.0.0.1:5060 -> 127.0.0.1:5060 INVITE sip:bob@x.org  call-id``, escaped."""
    import time

    from opensips.hep.sip import summarize

    from .output import safe_text

    sip = summarize(packet.payload)
    what = f"{sip.method} {sip.uri}" if sip.method else (
        f"{sip.label} ({sip.cseq_method})" if sip.status and sip.cseq_method else sip.label)
    stamp = time.strftime("%H:%M:%S", time.localtime(packet.time)) + f".{int(packet.time * 1000) % 1000:03d}"
    src = f"[{packet.src_ip}]" if ":" in packet.src_ip else packet.src_ip
    dst = f"[{packet.dst_ip}]" if ":" in packet.dst_ip else packet.dst_ip
    call_id = sip.call_id or (packet.correlation_id or b"").decode("utf-8", "replace")
    return safe_text(f"{stamp} {packet.transport:<4} {src}:{packet.src_port} -> {dst}:{packet.dst_port} "
                     f"{what}  {call_id}")


def full(packet: Any) -> str:
    """The whole message, each line escaped (CR LF become line ends), then a blank line."""
    from .output import safe_text

    text = packet.payload.decode("utf-8", "replace")
    return "".join("    " + safe_text(part) + "\n" for part in text.replace("\r\n", "\n").split("\n")) + "\n"


def _main(argv: list[str] | None, previous: Any) -> int:
    import logging

    from opensips.hep.session import TraceArgumentError, TraceSession
    from opensips.mi import OpenSIPSMIException

    from .args import fail, mi_from_args

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s")
    try:
        mi = mi_from_args(args)
    except (ValueError, OpenSIPSMIException) as exc:
        return fail(PROG, f"bad MI settings: {exc}", 2)
    try:
        session = TraceSession(mi, filters=args.filters, scope=args.scope, trace_type=args.trace_type,
                               transport=args.transport, listen_ip=args.listen_ip,
                               listen_port=args.listen_port, trace_id=args.trace_id)
    except TraceArgumentError as exc:
        mi.close()
        return fail(PROG, str(exc), 2)
    pcap_file = None
    if args.write:
        try:
            pcap_file = open(args.write, "wb")
        except OSError as exc:
            mi.close()
            return fail(PROG, f"cannot write {args.write}: {exc.strerror or exc}", 2)
    old = {}
    for name in ("SIGTERM", "SIGHUP"):
        try:
            old[name] = signal.signal(getattr(signal, name), _raise_interrupt)
        except (ValueError, OSError, AttributeError):  # pragma: no cover - not the main thread
            pass
    loud_interrupts(previous)  # a trace runs from here on: clean up on Ctrl+C
    try:
        status = _trace(args, session, mi, pcap_file)
    except KeyboardInterrupt:
        status = 0
    except BrokenPipeError:
        silence_stdout()
        status = 0
    finally:
        _shutdown(session, mi, pcap_file, old)
    if session.left_running and status == 0:
        status = 1  # OpenSIPS kept the trace: the warning above says how to remove it
    return status


def _trace(args: Any, session: Any, mi: Any, pcap_file: Any) -> int:
    """Start the trace and print until the end condition; the exit status."""
    import time

    from opensips.hep.session import TraceArgumentError, TraceError

    from .args import fail
    from .output import write_stdout

    writer = None
    if pcap_file is not None:
        from opensips.hep.pcap import PcapWriter

        writer = PcapWriter(pcap_file)
    try:
        session.start()
    except TraceError as exc:
        return fail(PROG, str(exc), 2 if isinstance(exc, TraceArgumentError) else 1)
    sys.stderr.write(f"{PROG}: tracing {session.trace_id} to {session.uri} via {mi.target}"
                     f"{' (filter ' + ', '.join(args.filters) + ')' if args.filters else ''}\n")
    sys.stderr.flush()
    render: Callable[[Any], str]
    if args.json:
        from opensips.hep.jsonl import dumps as render
    elif args.verbose:
        def render(p: Any) -> str:
            return line(p) + "\n" + full(p).rstrip("\n") + "\n"
    else:
        render = line
    shown = 0
    end = time.monotonic() + args.duration if args.duration else None
    while True:
        wait = 0.25 if end is None else max(0.0, min(0.25, end - time.monotonic()))
        packet = session.get(timeout=wait)
        if packet is None:
            if session.state != "running":
                return fail(PROG, f"the HEP receiver stopped: {session.error!r}")
            if end is not None and time.monotonic() >= end:
                return 0
            continue
        batch = [packet]
        while len(batch) < 256:  # what queued meanwhile goes out in one write
            more = session.get(timeout=0)
            if more is None:
                break
            batch.append(more)
        if args.count is not None:
            batch = batch[:args.count - shown]
        shown += len(batch)
        if writer is not None:
            for p in batch:
                writer.write(p)
            pcap_file.flush()
        problem = write_stdout("".join(render(p) + "\n" for p in batch))
        if problem:
            return fail(PROG, problem)
        if args.count is not None and shown >= args.count:
            return 0


def _shutdown(session: Any, mi: Any, pcap_file: Any, old: dict) -> None:
    """Stop the trace (a second Ctrl+C / SIGTERM / SIGHUP is ignored meanwhile), close the rest."""
    try:
        old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        for name in old:
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    except (ValueError, OSError):  # pragma: no cover - not the main thread
        old_int = None
    try:
        session.close()
        mi.close()
        if pcap_file is not None:
            pcap_file.close()
    finally:
        try:
            if old_int is not None:
                signal.signal(signal.SIGINT, old_int)
            for name, handler in old.items():
                signal.signal(getattr(signal, name), handler)
        except (ValueError, OSError):  # pragma: no cover
            pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
