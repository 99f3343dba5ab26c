"""`opensips-sim`: run the simulated OpenSIPS until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from . import data
from .server import SimulatedOpenSIPS


def _hostport(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host or "127.0.0.1", int(port)


def _mode(value: str) -> int:
    try:
        mode = int(value, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an octal mode such as 0660, got {value!r}") from None
    if not 0 < mode <= 0o777:
        raise argparse.ArgumentTypeError(f"expected an octal mode such as 0660, got {value!r}")
    return mode


def drop_privileges(user: str | None, group: str | None) -> None:
    """Become ``user``/``group`` the way OpenSIPS's ``-u``/``-g`` do (``do_suid``).

    Like OpenSIPS: setgid() then setuid(), and no setgroups(), so a server started by
    root keeps root's supplementary groups. It runs before any endpoint exists, so the
    FIFO and UNIX sockets belong to that user, as mi_fifo's do (it creates its FIFO in
    its own process, after do_suid). The interpreter and this package were loaded as
    the starting user, so they need not be readable by ``user``.
    """
    import grp
    import pwd

    uid = gid = None
    if user is not None:
        entry = pwd.getpwnam(user) if not user.isdigit() else pwd.getpwuid(int(user))
        uid, gid = entry.pw_uid, entry.pw_gid
    if group is not None:
        gid = grp.getgrnam(group).gr_gid if not group.isdigit() else int(group)
    if gid is not None:
        os.setgid(gid)
    if uid is not None:
        os.setuid(uid)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="opensips-sim",
                                description="A simulated OpenSIPS (MI over http/fifo/datagram, "
                                            "event delivery, demo traffic).")
    p.add_argument("--mi-http", type=_hostport, metavar="HOST:PORT",
                   help="serve MI over HTTP (POST http://HOST:PORT/mi)")
    p.add_argument("--mi-fifo", metavar="PATH", help="serve MI over a FIFO at PATH")
    p.add_argument("--fifo-reply-dir", metavar="DIR", help="directory of the reply FIFOs")
    p.add_argument("--fifo-mode", type=_mode, default=0o660, metavar="OCTAL",
                   help="mode of the MI FIFO, like mi_fifo's fifo_mode (default 0660)")
    p.add_argument("--mi-datagram", type=_hostport, metavar="HOST:PORT",
                   help="serve MI over UDP datagrams")
    p.add_argument("--mi-datagram-unix", metavar="PATH",
                   help="serve MI over a UNIX datagram socket")
    p.add_argument("--rate", type=float, default=0.0, help="generated events per second (0 = none)")
    p.add_argument("--sip-rate", type=float, default=2.0, metavar="N",
                   help="SIP items (REGISTER, OPTIONS, call) a second sent as HEP to running traces (default 2)")
    p.add_argument("--version", dest="osips_version", choices=data.VERSIONS,
                   default=data.DEFAULT_VERSION, help="OpenSIPS version to imitate")
    p.add_argument("--seed", type=int, help="seed of the traffic generator")
    p.add_argument("--hostile", action="store_true", help="mix hostile values into the traffic")
    p.add_argument("--pretty", action="store_true", help="pretty-print MI replies")
    p.add_argument("-u", "--user", metavar="USER",
                   help="run as USER once started, like opensips -u (needs root)")
    p.add_argument("-g", "--group", metavar="GROUP",
                   help="run with GROUP once started, like opensips -g (needs root)")
    p.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.user or args.group:
        try:
            drop_privileges(args.user, args.group)
        except (KeyError, OSError) as exc:
            print(f"opensips-sim: cannot run as {args.user or ''}:{args.group or ''}: {exc}", file=sys.stderr)
            return 2
    chosen = any((args.mi_http, args.mi_fifo, args.mi_datagram, args.mi_datagram_unix))
    kwargs: dict = {
        "version": args.osips_version, "rate": args.rate, "seed": args.seed,
        "hostile": args.hostile, "pretty": args.pretty, "fifo_mode": args.fifo_mode,
        # no endpoint chosen: serve all of them on ephemeral addresses
        "http": bool(args.mi_http) or not chosen,
        "fifo": bool(args.mi_fifo) or not chosen,
        "datagram": bool(args.mi_datagram) or not chosen,
        "datagram_unix": bool(args.mi_datagram_unix) or not chosen,
    }
    kwargs["sip_rate"] = max(0.0, args.sip_rate)
    if args.mi_http:
        kwargs["http_host"], kwargs["http_port"] = args.mi_http
    if args.mi_fifo:
        kwargs["fifo_path"] = os.path.abspath(args.mi_fifo)
        kwargs["fifo_reply_dir"] = os.path.abspath(args.fifo_reply_dir or
                                                   os.path.dirname(kwargs["fifo_path"]))
    elif args.fifo_reply_dir:
        kwargs["fifo_reply_dir"] = os.path.abspath(args.fifo_reply_dir)
    if args.mi_datagram:
        kwargs["datagram_host"], kwargs["datagram_port"] = args.mi_datagram
    if args.mi_datagram_unix:
        kwargs["datagram_unix_path"] = os.path.abspath(args.mi_datagram_unix)

    done = threading.Event()

    def _signal(signum, frame) -> None:  # noqa: ARG001
        done.set()

    signal.signal(signal.SIGINT, _signal)
    signal.signal(signal.SIGTERM, _signal)
    sim = SimulatedOpenSIPS(**kwargs)
    try:
        sim.start()
    except OSError as exc:
        print(f"opensips-sim: cannot start: {exc}", file=sys.stderr)
        sim.stop()
        return 1
    try:
        print(f"opensips-sim {sim.version} ready", flush=True)
        for kind, address in sim.endpoints():
            print(f"{kind} {address}", flush=True)
        while not done.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
