"""The log's own widget (LogView, a line-API view over the notifications) at 80x24 and 120x40:
a bounded buffer, the cursor across pruning, the paused count, its scrollbar, payloads as text."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from opensips_tui.app import OpenSIPSTUI
from opensips_tui.widgets import LogView

from tests.tui_pilot import log_lines, make_app, run, until

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


def push(app, first: int, count: int, event: str = "E_X") -> None:
    for i in range(first, first + count):
        app.feed.push(event, {"jsonrpc": "2.0", "method": event, "params": {"i": i}})


async def logged(pilot: Pilot, app: OpenSIPSTUI, first: int, count: int) -> None:
    """Push notifications ``first``.. and wait until the log holds ``first + count`` lines."""
    push(app, first, count)
    log = app.log_pane.log_widget
    await until(pilot, lambda: log.line_count == first + count, f"{first + count} lines")


def row(log, y: int) -> str:
    return log.render_line(y).text


@asynccontextmanager
async def started(sim, tmp_path, size, **overrides) -> AsyncIterator[tuple[OpenSIPSTUI, Pilot, LogView]]:
    app = make_app(sim, tmp_path, **overrides)
    async with app.run_test(size=size) as pilot:
        yield app, pilot, app.log_pane.log_widget


@SIZES
@run
async def test_buffer_is_bounded_and_a_held_cursor_survives_pruning(sim, tmp_path, size) -> None:
    async with started(sim, tmp_path, size, ring_size=50) as (app, pilot, log):
        await logged(pilot, app, 0, 30)
        log.focus()
        await pilot.press("home")                        # hold the oldest line
        assert log.current.params == {"i": 0} and not app.log_pane.following
        push(app, 30, 100)
        await until(pilot, lambda: app.log_pane.unseen == 100, "100 unseen")
        assert log.line_count == 50 == len(log_lines(app))
        assert log_lines(app)[0].endswith("i=80") and log_lines(app)[-1].endswith("i=129")
        assert log.current.params == {"i": 80}           # its line went: the oldest kept one
        await pilot.pause()
        assert row(log, 0).rstrip().endswith("i=80")     # and the view shows it at the top
        await pilot.press("end")
        await until(pilot, lambda: app.log_pane.following and app.log_pane.unseen == 0, "following")
        push(app, 130, 5)
        await until(pilot, lambda: log_lines(app)[-1].endswith("i=134"), "new lines")
        await pilot.pause()
        assert log.line_count == 50 and log.current.params == {"i": 134}
        assert row(log, log.scrollable_content_region.height - 1).rstrip().endswith("i=134")


@SIZES
@run
async def test_paused_log_counts_and_draws_nothing_new_then_resumes(sim, tmp_path, size) -> None:
    async with started(sim, tmp_path, size) as (app, pilot, log):
        await logged(pilot, app, 0, 3)
        await pilot.press("p")
        push(app, 3, 7)
        marker = app.query_one("#marker", Static)
        await until(pilot, lambda: "paused, 7 new" in str(marker.render()), "paused marker")
        assert log.line_count == 3
        await pilot.press("p")
        await until(pilot, lambda: log.line_count == 10, "resumed")
        await pilot.pause()
        assert app.log_pane.following and not marker.has_class("shown")
        assert row(log, 9).rstrip().endswith("i=9")


@SIZES
@run
async def test_payloads_are_drawn_as_text_never_markup(sim, tmp_path, size) -> None:
    async with started(sim, tmp_path, size) as (app, pilot, log):
        app.feed.push("E_X", {"method": "E_X", "params": {"l": "[link=http://evil]y[/link]",
                                                          "m": "[bold red]x[/]", "e": "\x1b[2Jz"}})
        await until(pilot, lambda: log.line_count == 1, "a line")
        await pilot.pause()
        strip = log.render_line(0)
        text = strip.text
        line = log_lines(app)[0]
        assert "m=[bold red]x[/]" in line and "e=\\x1b[2Jz" in line and text.strip() in line
        assert "\x1b" not in text and len({segment.style for segment in strip}) == 1
        assert "l=[link=http://evil]y" in text and "l=[link=http://evil]y" in app.export_screenshot()


@SIZES
@run
async def test_scrollbar_thumb_goes_to_the_top_on_home_and_back_on_end(sim, tmp_path, size) -> None:
    async with started(sim, tmp_path, size) as (app, pilot, log):
        await logged(pilot, app, 0, 300)
        await until(pilot, lambda: log.show_vertical_scrollbar and log.scroll_y == log.max_scroll_y > 0,
                    "at the end")
        bar = log.vertical_scrollbar
        log.focus()
        await pilot.press("home")
        await pilot.pause()
        assert (log.scroll_y, bar.position, bar.window_virtual_size) == (0, 0, 300)
        await pilot.press("end")
        await logged(pilot, app, 300, 50)               # following: the thumb stays at the bottom
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y and bar.position >= log.max_scroll_y - 50


@SIZES
@run
async def test_long_lines_scroll_sideways_and_back(sim, tmp_path, size) -> None:
    async with started(sim, tmp_path, size) as (app, pilot, log):
        ua = "a" * log.size.width + "END"                # 20-odd columns too long
        app.feed.push("E_X", {"method": "E_X", "params": {"ua": ua}})
        await until(pilot, lambda: log.line_count == 1, "a line")
        log.focus()
        await pilot.pause()
        assert not row(log, 0).rstrip().endswith("END")
        for _ in range(100):                             # as far right as it goes
            before = log.scroll_x
            await pilot.press("right")
            if log.scroll_x == before:
                break
        await pilot.pause()
        assert log.scroll_x == log.max_scroll_x > 0 and row(log, 0).rstrip().endswith("END")
        for _ in range(log.scroll_x):
            await pilot.press("left")
        await pilot.pause()
        assert log.scroll_x == 0 and "E_X ua=aaa" in row(log, 0)


@SIZES
@run
async def test_a_held_view_keeps_its_line_while_another_screen_covers_the_log(sim, tmp_path, size) -> None:
    """Behind the statistics screen nothing is written to the log; back on the events screen a
    view held on an older line keeps it, the missed lines are written below and counted as new."""
    async with started(sim, tmp_path, size, stats_interval=3600.0,
                       pins_path=tmp_path / "pins.json") as (app, pilot, log):
        await logged(pilot, app, 0, 30)
        log.focus()
        await pilot.press("home")                        # hold the oldest line
        assert log.current.params == {"i": 0} and not app.log_pane.following
        await pilot.press("2")
        await until(pilot, lambda: app.events_covered, "the statistics screen")
        push(app, 30, 20)
        await until(pilot, lambda: app.log_pane.behind == 20, "20 held back")
        assert log.line_count == 30                      # nothing written behind the statistics screen
        await pilot.press("1")
        await until(pilot, lambda: log.line_count == 50 and app.log_pane.unseen == 20, "caught up")
        assert log.current.params == {"i": 0} and log_lines(app)[-1].endswith("i=49")
        assert "20 new" in (app.log_pane._marker_text or "")
        await pilot.pause()
        assert row(log, 0).rstrip().endswith("i=0")
