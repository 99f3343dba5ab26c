"""``opensips-tui``: command line -> settings (config file + flags) -> the app.

``--demo`` starts the embedded simulated OpenSIPS with its traffic generator and connects
to it, so the monitor shows live events on a machine without OpenSIPS. ``--record`` writes
every notification to a recording, ``--replay`` plays one instead of watching OpenSIPS, and
``--amqp`` consumes what ``event_rabbitmq`` publishes (:mod:`opensips_tui.sources`).
``--demo-nodes N`` starts N simulators, named edge1..edgeN, as a fleet; ``--node NAME=MI_TARGET``
(repeatable) watches many OpenSIPS at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from opensips.cli.args import ENV, Parser, add_mi_arguments, mi_settings

from .config import ConfigError, Settings, config_path, resolve

DEMO_SUBSCRIBE = ["E_PIKE_BLOCKED", "E_UL_CONTACT_INSERT", "E_DLG_STATE_CHANGED", "E_CORE_LOG"]
AMQP_FLAGS = [   # flag, settings key, metavar, help
    ("--amqp", "amqp_url", "URL", "consume notifications from this broker, e.g. amqp://guest:guest@broker:5672/"),
    ("--amqp-exchange", "amqp_exchange", "NAME", "the exchange OpenSIPS publishes to (its exchange=NAME)"),
    ("--amqp-binding", "amqp_bindings", "KEY", "binding key of our queue on the exchange (repeatable; default #)"),
    ("--amqp-node-pattern", "amqp_node_pattern", "REGEX", "names the node from the routing key: its node group, "
     "else its first group, else the match (default ^(?P<node>[^.]+))"),
    ("--amqp-queue", "amqp_queue", "NAME", "consume this existing queue instead (OpenSIPS's rabbitmq:host/QUEUE form)"),
]


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="opensips-tui", description="Watch OpenSIPS events live in the terminal.",
        epilog="Try it without OpenSIPS: opensips-tui --demo")
    add_mi_arguments(p)
    fleet = p.add_argument_group("fleet (many OpenSIPS at once)")
    fleet.add_argument("--node", dest="nodes", action="append", metavar="NAME=MI_TARGET",
                       help="watch this OpenSIPS too (repeatable); TARGET: http(s)://HOST:PORT/mi, "
                            "udp:HOST:PORT, unix:PATH or a FIFO path")
    ev = p.add_argument_group("event listener")
    ev.add_argument("--transport", choices=("datagram", "stream"), help="event_datagram or event_stream")
    ev.add_argument("--listen-ip", dest="listen_ip", help="address OpenSIPS sends events to")
    ev.add_argument("--listen-port", dest="listen_port", type=int, help="port (default: any free)")
    ev.add_argument("--socket-path", dest="socket_path", help="listen on a UNIX datagram socket")
    ui = p.add_argument_group("monitor")
    ui.add_argument("--subscribe", metavar="E1,E2", help="events to subscribe at start")
    ui.add_argument("--filter", metavar="TEXT", help="initial log filter")
    ui.add_argument("--alert", dest="alerts", action="append", metavar="RULE",
                    help="rate alert, e.g. 'E_PIKE_BLOCKED > 5/s' (repeatable; replaces the config's)")
    ui.add_argument("--ring-size", dest="ring_size", type=int, metavar="N",
                    help="events kept for scroll-back and export (default 10000)")
    ui.add_argument("--utc", action="store_const", const=True, help="show times in UTC")
    ui.add_argument("--refresh", type=float, metavar="SECONDS",
                    help="redraw counters and rates every SECONDS, the log 10x as often "
                         "(default 1; larger is lighter, like top -d)")
    ui.add_argument("--interval", dest="stats_interval", type=float, metavar="SECONDS",
                    help="seconds between statistics polls on the statistics screen (default 1)")
    ui.add_argument("--read-only", dest="read_only", action="store_const", const=True,
                    help="the MI console refuses commands that change OpenSIPS's state")
    ui.add_argument("--profile", help="connection profile from the config file")
    ui.add_argument("--config", type=Path, metavar="PATH", help=f"config file (default {config_path()})")
    ui.add_argument("--print-config-path", action="store_true", help="print the config path and exit")
    ui.add_argument("--demo", action="store_const", const=True,
                    help="start a simulated OpenSIPS with live traffic and watch it")
    ui.add_argument("--demo-rate", dest="demo_rate", type=float, metavar="N",
                    help="demo events per second (default 20)")
    ui.add_argument("--demo-nodes", dest="demo_nodes", type=int, metavar="N",
                    help="demo simulators, as a fleet named edge1..edgeN (default 1)")
    rec = p.add_argument_group("recordings")
    rec.add_argument("--record", metavar="FILE",
                     help="write every notification to a new recording FILE (never overwritten; "
                          "strftime fields such as %%Y%%m%%d-%%H%%M%%S are expanded)")
    rec.add_argument("--record-max-bytes", dest="record_max_bytes", metavar="SIZE",
                     help="rotate the recording past SIZE (e.g. 64M, the default)")
    rec.add_argument("--record-backups", dest="record_backups", type=int, metavar="N",
                     help="rotated files kept (default 4)")
    rec.add_argument("--replay", metavar="FILE", help="play a recording as the only source: no OpenSIPS, no MI")
    rec.add_argument("--speed", type=float, metavar="X",
                     help="replay speed (default 1: the original timing; 0: as fast as possible)")
    mq = p.add_argument_group("RabbitMQ (event_rabbitmq)")
    for flag, dest, metavar, text in AMQP_FLAGS:
        mq.add_argument(flag, dest=dest, metavar=metavar, help=text,
                        action="append" if dest == "amqp_bindings" else "store")
    return p


def start_demo(settings: Settings) -> list[Any]:
    """Start ``settings.demo_nodes`` simulators with traffic and point ``settings`` at them (one:
    its MI; more: a fleet edge1..edgeN); returns them (to stop)."""
    from opensips.sim import SimulatedOpenSIPS

    from .node_spec import NodeSpec

    sims: list[Any] = []
    try:
        for _ in range(settings.demo_nodes):
            sims.append(SimulatedOpenSIPS(rate=settings.demo_rate, fifo=False, datagram_unix=False).start())
    except OSError:
        for sim in sims:
            sim.stop()
        raise
    settings.conn = "http"
    settings.mi = sims[0].mi_kwargs("http")
    # the demo watches its simulators only (any --node or profile nodes are left out)
    settings.nodes = [NodeSpec(f"edge{i}", "http", sim.mi_kwargs("http"), str(sim.http_url))
                      for i, sim in enumerate(sims, 1)] if len(sims) > 1 else []
    settings.event.setdefault("listen_ip", "127.0.0.1")
    settings.subscribe = settings.subscribe or list(DEMO_SUBSCRIBE)
    settings.mi_named = True
    return sims


def settings_from(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Settings:
    """Settings from parsed flags and the config file; ConfigError says what is wrong."""
    env = dict(os.environ if environ is None else environ)
    cli = {k: v for k, v in vars(args).items()
           if k not in ("config", "print_config_path") and not k.startswith("mi_")}
    if any(getattr(args, dest, None) for dest in ENV) or args.mi_insecure \
            or any(env.get(var) for var in ENV.values()):
        try:  # MI flags (or OPENSIPS_MI_* variables) given: they beat the config file
            cli["conn"], mi_kwargs = mi_settings(args, env)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        cli.update(mi_kwargs)
    return resolve(cli, args.config, required=args.config is not None)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.print_config_path:
        print(args.config or config_path())
        return 0
    try:
        settings = settings_from(args)
        check_modes(settings)
    except ConfigError as exc:
        print(f"opensips-tui: {exc}", file=sys.stderr)
        return 2
    if settings.replay is not None:
        return replay(settings, settings.replay)
    from .app import OpenSIPSTUI
    from .feed import Feed
    from .nodes import Fleet

    feed = Feed(settings.ring_size)
    try:
        sources = open_sources(settings, feed)
    except SourceError as exc:
        print(f"opensips-tui: {exc}", file=sys.stderr)
        return 2
    owned = []
    if settings.demo:
        try:
            owned.extend(start_demo(settings))
        except OSError as exc:
            print(f"opensips-tui: cannot start the demo simulator: {exc}", file=sys.stderr)
            close_sources(sources)
            return 1
    fleet = Fleet.from_settings(settings, feed, owned)
    try:
        OpenSIPSTUI(settings, fleet=fleet, sources=sources).run()
    finally:
        close_sources(sources, fleet)
    return 0


class SourceError(Exception):
    """A recording or a broker that cannot be used: one line, exit status 2."""


def check_modes(settings: Settings) -> None:
    """Flags that do not go together."""
    if settings.replay is not None:
        for given, flag in ((settings.record, "--record"), (settings.amqp.get("url"), "--amqp"),
                            (settings.demo, "--demo")):
            if given:
                raise ConfigError(f"--replay plays a recording as the only source: it does not take {flag}")


def open_sources(settings: Settings, feed: Any) -> list[Any]:
    """The recording (the feed's tap) and the broker the settings ask for, before the screen is taken."""
    sources: list[Any] = []
    if settings.record:
        from opensips.record import RecordingError

        from .recording import RecordTap, expand_path

        try:
            tap = RecordTap(expand_path(settings.record), settings.record_max_bytes, settings.record_backups)
        except (RecordingError, OSError) as exc:
            raise SourceError(f"--record: {exc}") from None
        feed.tap = tap
        sources.append(tap)
    if settings.amqp.get("url"):
        from .amqp_source import AmqpConfigError, AmqpFeed

        try:
            sources.append(AmqpFeed(settings.amqp, feed))
        except AmqpConfigError as exc:
            close_sources(sources)
            raise SourceError(str(exc)) from None
    return sources


def close_sources(sources: list[Any], backend: Any = None) -> None:
    """Stop the broker and the MI listeners first, then close the recording (so it gets every
    last notification), and say in one line what was recorded."""
    from .recording import RecordTap

    taps = [s for s in sources if isinstance(s, RecordTap)]
    for source in sources:
        if source not in taps:
            source.close()
    if backend is not None:
        backend.close()
    for tap in taps:
        line = tap.close()
        if line:
            print(f"opensips-tui: {line}", file=sys.stderr)


def replay(settings: Settings, path: Path) -> int:
    """``--replay FILE``: the recording at ``path`` is the app's only source."""
    from .replay_app import ReplayTUI
    from .replay_source import ReplayError, ReplaySource, open_recording
    from .sources import human_bytes

    def reading(size: int) -> None:
        print(f"opensips-tui: reading {path} ({human_bytes(size)})…", file=sys.stderr, flush=True)

    try:
        recording = open_recording(path, on_big=reading)
    except ReplayError as exc:
        print(f"opensips-tui: --replay: {exc}", file=sys.stderr)
        return 2
    source = ReplaySource(recording, settings.ring_size, settings.speed)
    try:
        ReplayTUI(settings, source).run()
    finally:
        source.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
