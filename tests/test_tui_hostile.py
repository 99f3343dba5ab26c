"""What a hostile first use of the monitor broke (issue 10), each pinned by a Pilot test."""

from __future__ import annotations

import json
import threading

import pytest
from textual.widgets import Static, Tree

from tests.tui_pilot import log_lines, make_app, run, until

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


def _pump(app, stop: threading.Event) -> None:
    """Notifications into the feed for as long as the test runs, as a busy server sends them."""
    i = 0
    while not stop.wait(0.005):
        i += 1
        app.feed.push("E_X", {"jsonrpc": "2.0", "method": "E_X", "params": {"i": i, "pad": "x" * 90}})


@SIZES
@run
async def test_end_follows_again_while_lines_keep_arriving(sim, tmp_path, size) -> None:
    app = make_app(sim, tmp_path)
    stop = threading.Event()
    async with app.run_test(size=size) as pilot:
        pump = threading.Thread(target=_pump, args=(app, stop))
        pump.start()
        try:
            await until(pilot, lambda: len(log_lines(app)) > 120, "a screenful of lines")
            app.log_pane.log_widget.focus()
            await pilot.press("pageup", "pageup", "pageup")
            marker = app.query_one("#marker", Static)
            await until(pilot, lambda: marker.has_class("shown"), "scrolled-up marker")
            await pilot.press("end")
            await until(pilot, lambda: app.log_pane.following and not marker.has_class("shown"), "following")
            seen = len(log_lines(app))
            await until(pilot, lambda: len(log_lines(app)) > seen + 20, "more lines")
            assert app.log_pane.following and app.log_pane.unseen == 0 and not marker.has_class("shown")
        finally:
            stop.set()
            pump.join()


@run
async def test_export_clear_export_keeps_both_files(sim, tmp_path) -> None:
    app = make_app(sim, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        for i in range(3):
            app.feed.push("E_X", {"jsonrpc": "2.0", "method": "E_X", "params": {"i": i}})
        await until(pilot, lambda: len(log_lines(app)) == 3, "three lines")
        await pilot.press("e", "c", "e")
        exports = tmp_path / "exports"
        await until(pilot, lambda: len(list(exports.glob("*.jsonl"))) == 2, "two export files")
        sizes = sorted(len(p.read_text().splitlines()) for p in exports.glob("*.jsonl"))
        assert sizes == [0, 3]


@SIZES
@run
async def test_inspect_any_line_then_save_and_copy_it(sim, tmp_path, size) -> None:
    app = make_app(sim, tmp_path, subscribe=["E_PIKE_BLOCKED"])
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.events.states.get("E_PIKE_BLOCKED") == "active", "subscription")
        long_ua = "Linphone/5.2.5 " + "x" * 300 + " END"
        sim.raise_event("E_PIKE_BLOCKED", {"ip": "203.0.113.7", "ua": long_ua, "nested": {"k": [1, 2]}})
        for i in range(40):
            sim.raise_event("E_PIKE_BLOCKED", {"ip": f"198.51.100.{i}"})
        await until(pilot, lambda: len(log_lines(app)) == 41, "41 lines")
        log = app.log_pane.log_widget
        log.focus()
        await pilot.press("home")                       # the first line, long scrolled by
        assert log.current.params["ua"] == long_ua and not app.log_pane.following
        await pilot.press("enter")
        detail = app.detail
        tree = app.query_one("#payload", Tree)
        assert detail.inspected is log.current
        assert [str(n.label) for n in tree.root.children][:2] == ["ip: 203.0.113.7", f"ua: {long_ua}"]
        assert "raw JSON" in str(app.query_one("#values", Static).render())
        summary = str(app.query_one("#summary", Static).render())
        assert "E_PIKE_BLOCKED" in summary and "via udp:127.0.0.1:" in summary
        sim.raise_event("E_PIKE_BLOCKED", {"ip": "192.0.2.99"})   # the slow refresh leaves it alone
        await until(pilot, lambda: len(log_lines(app)) == 42, "one more line")
        await pilot.pause(0.6)
        assert detail.inspected is log.current and tree.root.children[1].label.plain.endswith("END")
        await pilot.press("right", "right", "right")    # long lines scroll sideways
        assert log.scroll_x > 0
        await pilot.press("y")
        exports = tmp_path / "exports"
        await until(pilot, lambda: list(exports.glob("event-*.json")), "saved line")
        saved = json.loads(next(exports.glob("event-*.json")).read_text())
        assert saved["event"] == "E_PIKE_BLOCKED" and saved["notification"]["params"]["ua"] == long_ua
        await until(pilot, lambda: app.clipboard and json.loads(app.clipboard) == saved, "clipboard")
        await pilot.press("escape")
        assert detail.inspected is None
        await until(pilot, lambda: "43 events" in str(app.query_one("#summary", Static).render())
                    or "42 events" in str(app.query_one("#summary", Static).render()), "stats again")
        await pilot.press("end")                        # the tail: following as before
        assert app.log_pane.following and log.cursor is None


@SIZES
@run
async def test_cursor_at_the_tail_keeps_following(sim, tmp_path, size) -> None:
    app = make_app(sim, tmp_path)
    async with app.run_test(size=size) as pilot:
        for i in range(60):
            app.feed.push("E_X", {"jsonrpc": "2.0", "method": "E_X", "params": {"i": i}})
        await until(pilot, lambda: len(log_lines(app)) == 60, "60 lines")
        log = app.log_pane.log_widget
        log.focus()
        await pilot.press("up", "down")                 # up and back down: the tail again
        assert log.cursor is None and app.log_pane.following
        app.feed.push("E_X", {"jsonrpc": "2.0", "method": "E_X", "params": {"i": 60}})
        await until(pilot, lambda: len(log_lines(app)) == 61, "new line")
        await pilot.pause()
        assert log.current.params == {"i": 60} and log.scroll_y == log.max_scroll_y
        await pilot.press("up")                         # off the tail: the view holds that line
        held = log.current
        app.feed.push("E_X", {"jsonrpc": "2.0", "method": "E_X", "params": {"i": 61}})
        await until(pilot, lambda: app.log_pane.unseen == 1, "counted as unseen")
        assert log.current is held and held.params == {"i": 59}
