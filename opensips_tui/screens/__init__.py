"""The monitor's screens and how the app switches between them.

``events`` is the app's base screen (what ``OpenSIPSTUI.compose`` builds); ``statistics`` is
:class:`StatisticsScreen`, made once on first use and kept (with its history) afterwards.
Number keys and palette entries call :func:`show`.
"""

from __future__ import annotations

from typing import Any

from ..widgets.stats_table import StatsTable
from .statistics import StatisticsScreen

__all__ = ["StatisticsScreen", "StatsTable", "SCREENS", "show", "make_statistics"]

# name -> (key, palette description)
SCREENS = {"events": ("1", "Events"), "statistics": ("2", "Statistics")}


def make_statistics(app: Any) -> StatisticsScreen:
    """The statistics screen on its own MI client (the events' client stays free for them)."""
    from opensips.mi import OpenSIPSMI

    from ..pins import PinStore

    settings = app.settings
    return StatisticsScreen(OpenSIPSMI(settings.conn, **settings.mi), interval=settings.stats_interval,
                            pins=PinStore(settings.pins_path, settings.profile),
                            export_dir=settings.export_dir)


def show(app: Any, name: str) -> None:
    """Bring screen ``name`` to the front (closing any dialog above the current one)."""
    if name not in SCREENS:
        raise ValueError(f"no screen {name!r}")
    while len(app.screen_stack) > 1 and not isinstance(app.screen, StatisticsScreen):
        app.pop_screen()                     # dialogs (help, ...) over whichever screen
    on_stats = isinstance(app.screen, StatisticsScreen)
    if name == "events" and on_stats:
        app.pop_screen()
    elif name == "statistics" and not on_stats:
        if not app.is_screen_installed("statistics"):
            app.install_screen(make_statistics(app), name="statistics")
        app.push_screen("statistics")
