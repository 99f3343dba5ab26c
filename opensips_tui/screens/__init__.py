"""The monitor's screens and how the app switches between them.

``events`` is the app's base screen (what ``OpenSIPSTUI.compose`` builds); every other screen
(``statistics``: :class:`StatisticsScreen`, ``console``: :class:`ConsoleScreen`, ``trace``:
:class:`TraceScreen`) is made once on first use by its factory and kept (with its history)
afterwards, at most one of them above the base at a time. Number keys and palette entries call
:func:`show`.

Screens act on the fleet's selected node (``app.fleet.current``): its factory gets that
:class:`~opensips_tui.nodes.Node` (its settings carry its MI target), and with more than one
node each node's screen is installed under its own name (``console@edge1``), so selecting
another node and pressing ``3`` gives that node's console, with its own history, and the
screen names its node in its title.
"""

from __future__ import annotations

from typing import Any

from ..widgets.fleet_table import FleetTable
from ..widgets.stats_table import StatsTable
from .console import ConsoleScreen
from .fleet import FleetScreen
from .statistics import StatisticsScreen
from .trace import TraceScreen

__all__ = ["StatisticsScreen", "StatsTable", "ConsoleScreen", "TraceScreen", "FleetScreen", "FleetTable", "SCREENS", "show", "make_statistics",
           "make_console", "make_trace", "screen_name"]

# name -> (key, palette description)
SCREENS = {"events": ("1", "Events"), "statistics": ("2", "Statistics"), "console": ("3", "MI console"),
           "trace": ("4", "SIP trace"), "fleet": ("5", "Fleet")}


def _node_name(app: Any, node: Any) -> str:
    """The node's name for a screen's title: only in a fleet (one OpenSIPS needs no name)."""
    return node.name if app.fleet.multi else ""


def make_statistics(app: Any, node: Any) -> StatisticsScreen:
    """The statistics screen on its own MI client (the events' client stays free for them)."""
    from opensips.mi import OpenSIPSMI

    from ..pins import PinStore

    settings = node.settings
    return StatisticsScreen(OpenSIPSMI(settings.conn, **settings.mi), interval=settings.stats_interval,
                            pins=PinStore(settings.pins_path, settings.profile),
                            export_dir=settings.export_dir, node=_node_name(app, node))


def make_console(app: Any, node: Any) -> ConsoleScreen:
    """The MI console on its own MI client, history in the user data directory."""
    from opensips.console import History, MIConsole
    from opensips.mi import OpenSIPSMI

    from ..event_watch import EventWatch

    settings = node.settings
    mi = OpenSIPSMI(settings.conn, **settings.mi)

    def watch(on_event: Any) -> EventWatch:
        return EventWatch("E_DISPATCHER_STATUS", on_event, conn=settings.conn, mi=settings.mi,
                          listen=settings.event)

    return ConsoleScreen(MIConsole(mi, read_only=settings.read_only), history=History(settings.history_path),
                         target=mi.target, export_dir=settings.export_dir, watch=watch,
                         node=_node_name(app, node))


def make_trace(app: Any, node: Any) -> TraceScreen:
    """The trace screen on its own MI client, tracing through opensips.hep's TraceSession."""
    from opensips.mi import OpenSIPSMI

    from ..trace_source import SessionSource

    settings = node.settings
    return TraceScreen(SessionSource(OpenSIPSMI(settings.conn, **settings.mi)), export_dir=settings.export_dir,
                       utc=settings.utc, node=_node_name(app, node))


def make_fleet(app: Any, node: Any) -> FleetScreen:
    """The fleet screen: every node's row (one screen for the whole fleet)."""
    return FleetScreen(app.fleet, app.feed, alerts=app.node_alerts)


FACTORIES = {"statistics": make_statistics, "console": make_console, "trace": make_trace, "fleet": make_fleet}
FLEET_WIDE: set[str] = {"fleet"}   # screens of the whole fleet (one copy, not one per node)
_NAMED = (StatisticsScreen, ConsoleScreen, TraceScreen, FleetScreen)


def show(app: Any, name: str) -> None:
    """Bring screen ``name`` to the front (closing any dialog above the current one)."""
    if name not in SCREENS:
        raise ValueError(f"no screen {name!r}")
    while len(app.screen_stack) > 1 and not isinstance(app.screen, _NAMED):
        app.pop_screen()                     # dialogs (help, ...) over whichever screen
    if name == "events":
        if len(app.screen_stack) > 1:
            app.pop_screen()
        return
    node = app.fleet.current
    key = screen_name(app, name, node.name)
    if not app.is_screen_installed(key):
        app.install_screen(FACTORIES[name](app, node), name=key)
    if app.screen is app.get_screen(key):
        return
    if len(app.screen_stack) > 1:
        app.switch_screen(key)               # one named screen above the base at a time
    else:
        app.push_screen(key)


def screen_name(app: Any, name: str, node: str) -> str:
    """The installed name of screen ``name`` of ``node``: ``console@edge1`` in a fleet, the
    bare name with one OpenSIPS or for a screen of the whole fleet (FLEET_WIDE)."""
    return f"{name}@{node}" if app.fleet.multi and name not in FLEET_WIDE else name
