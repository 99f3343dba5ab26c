"""The monitor's screens and how the app switches between them.

``events`` is the app's base screen (what ``OpenSIPSTUI.compose`` builds); every other screen
(``statistics``: :class:`StatisticsScreen`, ``console``: :class:`ConsoleScreen`, ``trace``:
:class:`TraceScreen`) is made once on first use by its factory and kept (with its history)
afterwards, at most one of them above the base at a time. Number keys and palette entries call
:func:`show`.
"""

from __future__ import annotations

from typing import Any

from ..widgets.stats_table import StatsTable
from .console import ConsoleScreen
from .statistics import StatisticsScreen
from .trace import TraceScreen

__all__ = ["StatisticsScreen", "StatsTable", "ConsoleScreen", "TraceScreen", "SCREENS", "show", "make_statistics",
           "make_console", "make_trace"]

# name -> (key, palette description)
SCREENS = {"events": ("1", "Events"), "statistics": ("2", "Statistics"), "console": ("3", "MI console"),
           "trace": ("4", "SIP trace")}


def make_statistics(app: Any) -> StatisticsScreen:
    """The statistics screen on its own MI client (the events' client stays free for them)."""
    from opensips.mi import OpenSIPSMI

    from ..pins import PinStore

    settings = app.settings
    return StatisticsScreen(OpenSIPSMI(settings.conn, **settings.mi), interval=settings.stats_interval,
                            pins=PinStore(settings.pins_path, settings.profile),
                            export_dir=settings.export_dir)


def make_console(app: Any) -> ConsoleScreen:
    """The MI console on its own MI client, history in the user data directory."""
    from opensips.console import History, MIConsole
    from opensips.mi import OpenSIPSMI

    from ..event_watch import EventWatch

    settings = app.settings
    mi = OpenSIPSMI(settings.conn, **settings.mi)

    def watch(on_event: Any) -> EventWatch:
        return EventWatch("E_DISPATCHER_STATUS", on_event, conn=settings.conn, mi=settings.mi,
                          listen=settings.event)

    return ConsoleScreen(MIConsole(mi, read_only=settings.read_only), history=History(settings.history_path),
                         target=mi.target, export_dir=settings.export_dir, watch=watch)


def make_trace(app: Any) -> TraceScreen:
    """The trace screen on its own MI client, tracing through opensips.hep's TraceSession."""
    from opensips.mi import OpenSIPSMI

    from ..trace_source import SessionSource

    settings = app.settings
    return TraceScreen(SessionSource(OpenSIPSMI(settings.conn, **settings.mi)), export_dir=settings.export_dir,
                       utc=settings.utc)


FACTORIES = {"statistics": make_statistics, "console": make_console, "trace": make_trace}
_NAMED = (StatisticsScreen, ConsoleScreen, TraceScreen)


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
    if not app.is_screen_installed(name):
        app.install_screen(FACTORIES[name](app), name=name)
    if app.screen is app.get_screen(name):
        return
    if len(app.screen_stack) > 1:
        app.switch_screen(name)              # one named screen above the base at a time
    else:
        app.push_screen(name)
