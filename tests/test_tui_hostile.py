"""What a hostile first use of the monitor broke (issue 10), each pinned by a Pilot test."""

from __future__ import annotations

import json
import threading

import pytest
from textual.widgets import Static, Tree

from opensips_tui.app import OpenSIPSTUI
from opensips_tui.config import Settings
from opensips_tui.feed import format_time
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


def _row(widget, y: int = 0) -> str:
    return "".join(segment.text for segment in widget.render_line(y))


def _status_row(app) -> str:
    return _row(app.status)


@SIZES
@run
async def test_mi_down_status_cut_reason_a_key_away_calm_detail(sim, tmp_path, size) -> None:
    sim.stop()
    app = make_app(sim, tmp_path, health_every=0.3)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.status.health is False, "DOWN", tries=200)
        await pilot.pause()
        row = _status_row(app)
        assert len(row) == size[0] - 2 and "DOWN (d: why)" in row   # padding 0 1
        assert row.rstrip().endswith("…") and "listen -" in row      # cut, not wrapped after "listen"
        summary = app.query_one("#summary", Static)             # no "Highlight an event" over an empty list
        await until(pilot, lambda: "No events list: MI unreachable (d: why)" in _row(summary), "why")
        spark = app.query_one("#spark")                         # and a flat line, not a full-height bar
        assert "█" not in _row(spark) and set(_row(spark).strip()) <= {"▁"}
        app.clear_notifications()
        await pilot.press("d")
        told = " ".join(n.message for n in app._notifications)
        assert app.status.health_detail in told and sim.http_url in told and "DOWN" in told


@run
async def test_status_names_the_fallback_fifo_once_it_is_the_one_in_use(sim_factory, tmp_path) -> None:
    missing, fallback = str(tmp_path / "no-such-fifo"), str(tmp_path / "fallback_fifo")
    settings = Settings(conn="fifo", mi={"fifo_file": missing, "fifo_file_fallback": fallback,
                                         "fifo_reply_dir": str(tmp_path)},
                        event={"listen_ip": "127.0.0.1"}, export_dir=tmp_path / "exports")
    app = OpenSIPSTUI(settings, health_every=0.3)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.status.health is False, "DOWN: no FIFO yet", tries=200)
        assert app.status.target == f"fifo:{missing}"
        sim_factory(fifo_path=fallback, fifo_reply_dir=str(tmp_path), http=False, datagram=False,
                    datagram_unix=False)                # OpenSIPS comes up on the fallback FIFO
        await until(pilot, lambda: app.status.health is True, "up over the fallback", tries=200)
        assert app.status.target == f"fifo:{fallback}" and f"fifo:{fallback}"[-40:] in _status_row(app)


@run
async def test_palette_names_keys_as_shown_and_lists_quit_once(sim, tmp_path) -> None:
    app = make_app(sim, tmp_path, keymap={"pause": "p,f5"})
    async with app.run_test(size=(80, 24)) as pilot:
        commands = list(app.get_system_commands(app.screen))
        titles = [c.title for c in commands]
        assert titles.count("Quit") == 1
        helps = {c.title: c.help for c in commands}
        assert helps["Filter"] == "key: /" and helps["Help"] == "key: ?" and helps["Pause"] == "key: p, f5"
        assert not any("slash" in h or "question_mark" in h for h in helps.values())


@SIZES
@run
async def test_detail_summary_shows_the_last_time_at_80_columns(sim, tmp_path, size) -> None:
    app = make_app(sim, tmp_path, subscribe=["E_PIKE_BLOCKED"], utc=True)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.events.states.get("E_PIKE_BLOCKED") == "active", "subscription")
        sim.raise_event("E_PIKE_BLOCKED", {"ip": "203.0.113.7"})
        await until(pilot, lambda: app.feed.view("E_PIKE_BLOCKED").count == 1, "one event")
        view = app.feed.view("E_PIKE_BLOCKED")
        last = format_time(view.last_seen, utc=True, millis=False)
        summary = app.query_one("#summary", Static)
        await until(pilot, lambda: "1 events" in _row(summary), "summary")
        assert f"–{last}" in _row(summary) and "…" not in _row(summary)


@SIZES
@run
async def test_filter_text_is_shown_escaped_in_the_border(sim, tmp_path, size) -> None:
    app = make_app(sim, tmp_path, filter="\x1b[2J\u202e[bold]x")
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert "filter: \\x1b[2J\\u202e" in str(app.log_pane.border_subtitle)
        screen = app.export_screenshot().replace("&#160;", " ")
        assert "\x1b" not in screen and "\u202e" not in screen and "filter: \\x1b[2J" in screen
