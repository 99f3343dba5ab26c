"""A quiet screen does not redraw: what the monitor draws when nothing visible changes.

Counts real renders: a widget "renders" in a frame when the compositor asks it for a content
line it does not have cached (``render_line`` called inside its ``render_lines``). That is the
work the issue measured in py-spy (``StylesCache.render`` and below), so a widget refreshed on
every tick, or re-laid out for a content-only change, shows up here as renders.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from textual.pilot import Pilot
from textual.widget import Widget

from opensips_tui.app import OpenSIPSTUI
from opensips_tui.screens import StatisticsScreen
from tests.tui_pilot import make_app, run, until

HIDDEN = "E_ZZ_HIDDEN"          # published last: below the events list's visible rows
QUIET = "E_CORE_SHM_THRESHOLD"  # highlighted: the detail pane shows it, nothing fires for it
EXTRA = 40                      # more events than 120x40 shows in the list


@contextmanager
def counting_renders(app: OpenSIPSTUI, screen_too: bool = False) -> Iterator[Counter[str]]:
    """Count, per widget, the frames in which it rendered at least one content line
    (``screen_too``: the screen's own background as well)."""
    counts: Counter[str] = Counter()
    restore = []
    for widget in [*([app.screen] if screen_too else []), *app.screen.query("*")]:
        assert isinstance(widget, Widget)
        name = f"{type(widget).__name__}#{widget.id}" if widget.id else type(widget).__name__
        lines, line = widget.render_lines, widget.render_line
        frame = {"counted": True}

        def render_lines(crop, _lines=lines, _frame=frame):
            _frame["counted"] = False
            return _lines(crop)

        def render_line(y, _line=line, _frame=frame, _name=name):
            if not _frame["counted"]:
                _frame["counted"] = True
                counts[_name] += 1
            return _line(y)

        widget.render_lines, widget.render_line = render_lines, render_line  # type: ignore[method-assign]
        restore.append(widget)
    try:
        yield counts
    finally:
        for widget in restore:
            del widget.render_lines, widget.render_line  # back to the class's methods


async def settle(pilot: Pilot, app: OpenSIPSTUI, screen_too: bool = False) -> None:
    """Wait for start-up to finish drawing: half a second with no render at all."""
    for _ in range(40):
        with counting_renders(app, screen_too) as counts:
            await pilot.pause(0.5)
        if not counts:
            return
    raise AssertionError(f"the screen never stopped redrawing: {dict(counts)}")


@pytest.mark.parametrize("size, refresh", [((80, 24), 0.5), ((120, 40), 1.0)], ids=["80x24", "120x40"])
@run
async def test_quiet_screen_does_not_redraw(sim, tmp_path, size, refresh) -> None:
    for i in range(EXTRA):
        sim.registry.publish(f"E_TEST_{i:02d}")
    sim.registry.publish(HIDDEN)
    app = make_app(sim, tmp_path, health_every=3600.0, subscribe=[HIDDEN, QUIET],
                   refresh=refresh)
    assert (app.numbers_every, app.log_every) == (refresh, refresh / 10)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: all(app.events.states.get(e) == "active" for e in (HIDDEN, QUIET))
                    and app.status.health is True, "subscriptions and health")
        app.events.highlighted = app.events.names.index(QUIET)
        await pilot.press("p")  # the log is paused
        await settle(pilot, app)
        rows = app.events.scrollable_content_region.height
        assert app.events.names.index(HIDDEN) >= int(app.events.scroll_y) + rows  # out of view

        # Nothing arrives, the log is paused: nothing is drawn at all.
        with counting_renders(app) as idle:
            await pilot.pause(2.0)
        assert not idle, f"an idle, paused screen redrew: {dict(idle)}"

        # Events arrive for the event scrolled out of view, the log is paused.
        stop = threading.Event()

        def fire() -> None:
            while not stop.is_set():
                sim.raise_event(HIDDEN, {"n": 1})
                time.sleep(0.01)

        sender = threading.Thread(target=fire, daemon=True)
        with counting_renders(app) as busy:
            start = time.monotonic()
            sender.start()
            await pilot.pause(3.0)
            stop.set()
            sender.join(5)
            elapsed = time.monotonic() - start
        arrived = app.feed.view(HIDDEN).count
        assert arrived > 10, "events kept arriving"
        # What shows them: the status bar's events/s and the log's "paused, N new" marker, each
        # redrawn at most once per refresh period (the numbers are paced, never per event or per
        # drain). Nothing else on screen changed, so nothing else renders.
        most = int(elapsed / app.numbers_every) + 1
        assert set(busy) <= {"StatusBar#status", "Static#marker"}, dict(busy)
        assert all(n <= most for n in busy.values()), (dict(busy), most, arrived)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@run
async def test_covered_events_screen_draws_nothing_then_catches_up(sim, tmp_path, size) -> None:
    """Behind the statistics screen the events screen is not drawn, and the screen on top is not
    repainted for it: Textual repaints the top screen whenever the screen just below it changes,
    visible or not, so each log batch written behind the statistics screen cost that screen a
    full repaint (most of the monitor's CPU with the statistics shown). Back on the events
    screen, the log shows the newest line and the count is exact."""
    event = "E_PIKE_BLOCKED"
    app = make_app(sim, tmp_path, health_every=3600.0, subscribe=[event], stats_interval=3600.0,
                   pins_path=tmp_path / "pins.json")
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.events.states.get(event) == "active" and app.status.health is True,
                    "subscription and health")
        await pilot.press("2")
        screen = app.screen
        assert isinstance(screen, StatisticsScreen)
        await until(pilot, lambda: screen.sample is not None, "the one statistics poll")
        await settle(pilot, app, screen_too=True)
        sent = 0
        with counting_renders(app, screen_too=True) as busy:
            for _ in range(20):  # in steps, so that the log would have had many batches to draw
                for _ in range(10):
                    sent += 1
                    sim.raise_event(event, {"n": sent})
                await pilot.pause(0.1)
            await until(pilot, lambda: app.feed.view(event).count == sent, "every event counted")
            await pilot.pause(1.5)  # a numbers refresh is due: it must not draw either
        assert not busy, f"the statistics screen redrew for the covered events screen: {dict(busy)}"
        await pilot.press("1")
        await until(pilot, lambda: app.screen is app.screen_stack[0], "events screen")
        log = app.log_pane.log_widget
        await until(pilot, lambda: len(log.lines) == sent and f"n={sent}" in log.lines[-1], "log caught up")
        assert app.events.counts.get(event, (0,))[0] == sent
        await pilot.pause(0.2)
        assert f"n={sent}" in log.render_line(log.scrollable_content_region.height - 1).text


@run
async def test_growing_log_follows_and_shows_its_scrollbar(sim, tmp_path) -> None:
    """The log's virtual size changes without a layout of the screen (LogView): it must still
    grow a scrollbar when the lines overflow it and keep the newest line in view."""
    app = make_app(sim, tmp_path, subscribe=["E_PIKE_BLOCKED"])
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.events.states.get("E_PIKE_BLOCKED") == "active", "subscription")
        log = app.log_pane.log_widget
        assert not log.show_vertical_scrollbar
        for i in range(60):
            sim.raise_event("E_PIKE_BLOCKED", {"n": i})
        await until(pilot, lambda: len(log.lines) == 60, "60 lines")
        await pilot.pause(0.2)
        assert log.show_vertical_scrollbar and log.scroll_y == log.max_scroll_y > 0
        assert log.vertical_scrollbar.window_virtual_size == 60
        assert app.log_pane.following and "n=59" in log.lines[-1]
        last_row = log.render_line(log.scrollable_content_region.height - 1).text
        assert "n=59" in last_row


@run
async def test_a_log_batch_draws_only_the_log_and_its_surroundings(sim, tmp_path) -> None:
    """Textual asks every widget whose parent's area meets a changed region for its lines, in
    every frame, even when they are cached: with the log changing ten times a second, that
    is the cost of a frame beyond the log's own lines. The layout keeps that set small: the
    screen, the grid, the boxes around the list and around the status bar and footer, the two
    panes on the right, the log and its scrollbar; never the status bar, footer or list."""
    event = "E_PIKE_BLOCKED"
    app = make_app(sim, tmp_path, health_every=3600.0, subscribe=[event], refresh=10.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.events.states.get(event) == "active" and app.status.health is True,
                    "subscription and health")
        for i in range(60):  # the log overflows: its scrollbar shows
            sim.raise_event(event, {"n": i})
        await until(pilot, lambda: len(app.log_pane.log_widget.lines) == 60, "60 lines")
        await pilot.pause(1.5)
        asked: Counter[str] = Counter()
        widgets = [app.screen, *app.screen.query("*")]
        for widget in widgets:
            name = f"{type(widget).__name__}#{widget.id}" if widget.id and widget is not app.screen \
                else type(widget).__name__

            def render_lines(crop, _lines=widget.render_lines, _name=name):
                asked[_name] += 1
                return _lines(crop)

            widget.render_lines = render_lines  # type: ignore[method-assign]
        try:
            for i in range(60, 63):  # three log batches, nothing else changes (numbers: every 10 s)
                sim.raise_event(event, {"n": i})
                await until(pilot, lambda: f"n={i}" in app.log_pane.log_widget.lines[-1], f"line {i}")
                await pilot.pause(1.1)
        finally:
            for widget in widgets:
                del widget.render_lines
        assert asked["LogView#log"] >= 3
        assert set(asked) <= {"Screen", "Grid#main", "Vertical#events-box", "EventLog#log-pane",
                              "DetailPane#detail", "Vertical#bottom", "LogView#log", "ScrollBar"}, dict(asked)
