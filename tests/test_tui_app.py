"""Pilot tests of the monitor against the simulated OpenSIPS (real MI over http, real UDP events)."""

from __future__ import annotations

import json
import threading

import pytest
from textual.pilot import Pilot
from textual.widgets import Static, Tree

from opensips_tui.app import OpenSIPSTUI
from opensips_tui.config import Settings
from opensips_tui.widgets import DetailPane, EventLog, EventsList, FilterBar, HelpScreen
from tests.tui_pilot import SIZE, highlight, live, log_lines, make_app, run, until

async def subscribed(pilot: Pilot, app: OpenSIPSTUI, *events: str) -> None:
    await until(pilot, lambda: all(app.events.states.get(e) == "active" for e in events), "subscriptions")


@run
async def test_list_shows_events_list_and_status(sim, tmp_path) -> None:
    app = make_app(sim, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.events.names, "events_list")
        assert app.events.names == [e["name"] for e in sim.events()]
        await until(pilot, lambda: app.status.health is True, "health")
        assert "up" in app.status.content().plain and sim.http_url in app.status.content().plain


@run
async def test_toggle_subscribes_and_unsubscribes(sim, tmp_path) -> None:
    app = make_app(sim, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await highlight(pilot, app, "E_PIKE_BLOCKED")
        await pilot.press("space")
        await subscribed(pilot, app, "E_PIKE_BLOCKED")
        assert len(live(sim, "E_PIKE_BLOCKED")) == 1
        assert live(sim, "E_PIKE_BLOCKED")[0]["socket"] == app.backend.listen_address
        await pilot.press("enter")
        await until(pilot, lambda: app.events.states.get("E_PIKE_BLOCKED") is None, "unsubscribe")
        await until(pilot, lambda: not live(sim, "E_PIKE_BLOCKED"), "sim forgets the subscriber")


@run
async def test_unknown_subscribe_says_why_and_leaves_no_row(sim, tmp_path) -> None:
    app = make_app(sim, tmp_path, subscribe=["E_NO_SUCH_EVENT", "e_core_log", "E_PIKE_BLOCKED"])
    async with app.run_test(size=SIZE) as pilot:
        await subscribed(pilot, app, "E_PIKE_BLOCKED")
        text = " ".join(n.message for n in app._notifications)
        assert "E_NO_SUCH_EVENT: not an event on this OpenSIPS" in text
        assert "e_core_log: not an event on this OpenSIPS; did you mean E_CORE_LOG?" in text
        assert "E_NO_SUCH_EVENT" not in app.events.names and "e_core_log" not in app.events.names
        assert app.wanted == {"E_PIKE_BLOCKED"} and [s["event"] for s in live(sim)] == ["E_PIKE_BLOCKED"]


@run
async def test_raised_events_reach_log_and_detail_pane(sim, tmp_path) -> None:
    app = make_app(sim, tmp_path, subscribe=["E_PIKE_BLOCKED"])
    async with app.run_test(size=SIZE) as pilot:
        await subscribed(pilot, app, "E_PIKE_BLOCKED")
        await highlight(pilot, app, "E_PIKE_BLOCKED")
        for ip in ("203.0.113.7", "203.0.113.7", "198.51.100.23"):
            sim.raise_event("E_PIKE_BLOCKED", {"ip": ip})
        await until(pilot, lambda: len(log_lines(app)) == 3, "three log lines")
        assert log_lines(app)[-1].endswith("E_PIKE_BLOCKED ip=198.51.100.23")
        detail = app.query_one(DetailPane)
        await until(pilot, lambda: "3 events" in str(detail.query_one("#summary", Static).render()),
                    "detail count", tries=60)
        values = str(detail.query_one("#values", Static).render())
        assert "2 203.0.113.7" in values and "1 198.51.100.23" in values
        tree = detail.query_one("#payload", Tree)
        await until(pilot, lambda: [str(n.label) for n in tree.root.children] == ["ip: 198.51.100.23"],
                    "payload tree")


@run
async def test_hostile_payload_renders_literally(sim, tmp_path) -> None:
    hostile = {"a": "[bold red]x[/]", "b": "\x1b[2J\x1b]8;;http://evil\x07", "c": "[link=http://evil]y[/link]",
               "d": "\u202eabc", "e": "two\nlines"}
    app = make_app(sim, tmp_path, subscribe=["E_MY_CUSTOM"])
    async with app.run_test(size=SIZE) as pilot:
        await subscribed(pilot, app, "E_MY_CUSTOM")
        await highlight(pilot, app, "E_MY_CUSTOM")
        sim.raise_event("E_MY_CUSTOM", hostile)
        await until(pilot, lambda: log_lines(app), "log line")
        line = log_lines(app)[-1]
        assert "a=[bold red]x[/]" in line and "c=[link=http://evil]y[/link]" in line
        assert "b=\\x1b[2J\\x1b]8;;http://evil\\x07" in line and "\\u202eabc" in line and "two\\nlines" in line
        tree = app.query_one("#payload", Tree)
        await until(pilot, lambda: len(tree.root.children) == 5, "payload tree", tries=60)
        labels = [n.label for n in tree.root.children]
        assert labels[0].plain == "a: [bold red]x[/]" and not labels[0].spans[1:]
        assert all("\x1b" not in label.plain and "\u202e" not in label.plain for label in labels)
        screen = app.export_screenshot()
        assert "\x1b" not in screen and "[link=http://evil]y[/link]" in screen


@run
async def test_filter_live_and_from_settings(sim, tmp_path) -> None:
    app = make_app(sim, tmp_path, subscribe=["E_PIKE_BLOCKED"], filter="198.51")
    async with app.run_test(size=SIZE) as pilot:
        await subscribed(pilot, app, "E_PIKE_BLOCKED")
        for ip in ("203.0.113.7", "198.51.100.23", "192.0.2.44"):
            sim.raise_event("E_PIKE_BLOCKED", {"ip": ip})
        await until(pilot, lambda: app.feed.view("E_PIKE_BLOCKED").count == 3, "three events")
        await until(pilot, lambda: len(log_lines(app)) == 1, "filtered log")
        assert "198.51.100.23" in log_lines(app)[0]
        await pilot.press("slash")
        assert app.query_one(FilterBar).has_focus
        await pilot.press(*"\b\b\b\b\b\b")  # backspace the initial filter
        await pilot.press(*"-198")
        await until(pilot, lambda: len(log_lines(app)) == 2, "re-filtered log")
        assert not any("198.51" in line for line in log_lines(app))
        await pilot.press("escape")
        await until(pilot, lambda: len(log_lines(app)) == 3, "filter cleared")
        assert not app.query_one(FilterBar).has_class("shown")


@run
async def test_pause_counts_new_and_resume_shows_them(sim, tmp_path) -> None:
    app = make_app(sim, tmp_path, subscribe=["E_PIKE_BLOCKED"])
    async with app.run_test(size=SIZE) as pilot:
        await subscribed(pilot, app, "E_PIKE_BLOCKED")
        sim.raise_event("E_PIKE_BLOCKED", {"ip": "1.1.1.1"})
        await until(pilot, lambda: len(log_lines(app)) == 1, "first line")
        await pilot.press("p")
        for _ in range(4):
            sim.raise_event("E_PIKE_BLOCKED", {"ip": "2.2.2.2"})
        marker = app.query_one("#marker", Static)
        await until(pilot, lambda: "paused, 4 new" in str(marker.render()), "paused marker")
        assert len(log_lines(app)) == 1 and marker.has_class("shown")
        await pilot.press("p")
        await until(pilot, lambda: len(log_lines(app)) == 5, "resumed log")
        assert not marker.has_class("shown")
        await pilot.press("c")
        assert log_lines(app) == [] and app.feed.view("E_PIKE_BLOCKED").count == 5


@run
async def test_export_writes_filtered_jsonl_and_says_where(sim, tmp_path) -> None:
    app = make_app(sim, tmp_path, subscribe=["E_PIKE_BLOCKED"], filter="203.0")
    async with app.run_test(size=SIZE) as pilot:
        await subscribed(pilot, app, "E_PIKE_BLOCKED")
        for ip in ("203.0.113.7", "10.0.0.1", "203.0.113.8"):
            sim.raise_event("E_PIKE_BLOCKED", {"ip": ip, "odd": "[b]\x1b[2J"})
        await until(pilot, lambda: app.feed.view("E_PIKE_BLOCKED").count == 3, "three events")
        await pilot.press("e")
        await until(pilot, lambda: list((tmp_path / "exports").glob("*.jsonl")), "export file")
        path = next((tmp_path / "exports").glob("*.jsonl"))
        await until(pilot, lambda: any(str(path) in n.message for n in app._notifications), "notification")
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert [r["notification"]["params"]["ip"] for r in records] == ["203.0.113.7", "203.0.113.8"]
        assert records[0]["event"] == "E_PIKE_BLOCKED" and records[0]["notification"]["params"]["odd"] == "[b]\x1b[2J"


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
@run
async def test_quit_unsubscribes_everything(sim, tmp_path, key: str) -> None:
    app = make_app(sim, tmp_path, subscribe=["E_PIKE_BLOCKED", "E_CORE_LOG"])
    async with app.run_test(size=SIZE) as pilot:
        await subscribed(pilot, app, "E_PIKE_BLOCKED", "E_CORE_LOG")
        assert len(live(sim)) == 2
        await pilot.press(key)
        await until(pilot, lambda: app._exit, "exit", tries=60)
    assert not live(sim)
    for thread in threading.enumerate():
        if thread.name.startswith("opensips-event"):
            thread.join(timeout=2)
            assert not thread.is_alive(), thread.name


@run
async def test_unreachable_at_start_then_back(sim, tmp_path) -> None:
    sim.stop()
    settings_sub = ["E_PIKE_BLOCKED"]
    app = make_app(sim, tmp_path, subscribe=settings_sub, health_every=0.3)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.status.health is False, "down status", tries=200)
        assert "DOWN" in app.status.content().plain
        await until(pilot, lambda: app.events.states.get("E_PIKE_BLOCKED") is None, "failed subscribe",
                    tries=200)
        sim.start()
        await until(pilot, lambda: app.status.health is True, "up again", tries=200)
        await subscribed(pilot, app, "E_PIKE_BLOCKED")
        await until(pilot, lambda: app.events.names, "events list after recovery")
        assert len(live(sim, "E_PIKE_BLOCKED")) == 1


@run
async def test_help_lists_every_binding_and_palette_every_action(sim, tmp_path) -> None:
    app = make_app(sim, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help screen")
        body = app.screen.body.plain
        for binding in [*OpenSIPSTUI.BINDINGS, *EventsList.BINDINGS, *FilterBar.BINDINGS]:
            assert binding.description in body and f"({binding.id})" in body
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen), "help closed")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for binding in [*OpenSIPSTUI.BINDINGS, *EventsList.BINDINGS]:
            assert binding.id == "quit_ctrl_c" or binding.description in titles


@run
async def test_keymap_from_config_rebinds(sim, tmp_path) -> None:
    app = make_app(sim, tmp_path, keymap={"pause": "f5"})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        assert app.query_one(EventLog).paused
        await pilot.press("p")
        assert app.query_one(EventLog).paused


@run
async def test_burst_through_the_feed_keeps_counts_exact(sim, tmp_path) -> None:
    app = make_app(sim, tmp_path, ring_size=2000)
    async with app.run_test(size=SIZE) as pilot:
        def burst() -> None:
            for i in range(30_000):
                app.feed.push("E_X", {"jsonrpc": "2.0", "method": "E_X", "params": {"i": i}})

        sender = threading.Thread(target=burst)
        sender.start()
        await pilot.press("p")          # the UI answers keys during the burst
        await pilot.press("p")
        sender.join(timeout=30)
        await until(pilot, lambda: app.feed.summary()["E_X"][0] == 30_000, "all counted")
        await until(pilot, lambda: log_lines(app) and log_lines(app)[-1].endswith("i=29999"), "tail")
        assert len(log_lines(app)) <= 2000

        def rate_shown() -> bool:  # the rate is of the last 5 s: a slow machine may be past the burst's
            app.feed.push("E_X", {"jsonrpc": "2.0", "method": "E_X", "params": {"i": "more"}})
            return app.status.rate > 0

        await until(pilot, rate_shown, "events/s in the status bar")


@run
async def test_opensips_going_away_shows_retrying_then_recovers(sim, tmp_path) -> None:
    settings = Settings(conn="http", mi=sim.mi_kwargs("http"), subscribe=["E_PIKE_BLOCKED"],
                        event={"listen_ip": "127.0.0.1", "refresh_interval": 0.3}, export_dir=tmp_path)
    app = OpenSIPSTUI(settings, health_every=0.3)
    async with app.run_test(size=SIZE) as pilot:
        await subscribed(pilot, app, "E_PIKE_BLOCKED")
        sim.stop()
        await until(pilot, lambda: app.status.health is False
                    and app.events.states.get("E_PIKE_BLOCKED") == "retrying", "retrying", tries=200)
        assert "1 retrying" in app.status.content().plain and "DOWN" in app.status.content().plain
        sim.start()
        await until(pilot, lambda: app.status.health is True, "up again", tries=200)
        await subscribed(pilot, app, "E_PIKE_BLOCKED")
        await until(pilot, lambda: live(sim, "E_PIKE_BLOCKED"), "resubscribed on the simulator", tries=200)
        sim.raise_event("E_PIKE_BLOCKED", {"ip": "192.0.2.1"})
        await until(pilot, lambda: any("192.0.2.1" in line for line in log_lines(app)), "events flow again")


@run
async def test_detail_pane_never_shows_another_events_payload(sim, tmp_path) -> None:
    app = make_app(sim, tmp_path, subscribe=["E_PIKE_BLOCKED"])
    async with app.run_test(size=SIZE) as pilot:
        await subscribed(pilot, app, "E_PIKE_BLOCKED")
        await highlight(pilot, app, "E_PIKE_BLOCKED")
        sim.raise_event("E_PIKE_BLOCKED", {"ip": "203.0.113.7"})
        tree = app.query_one("#payload", Tree)
        await until(pilot, lambda: len(tree.root.children) == 1, "payload tree")
        await highlight(pilot, app, "E_MY_CUSTOM")  # nothing received for this one
        await until(pilot, lambda: app.query_one(DetailPane).event == "E_MY_CUSTOM", "detail switch")
        assert not tree.root.children


@run
async def test_filter_input_shows_what_is_typed_at_80x24(sim, tmp_path) -> None:
    app = make_app(sim, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash")
        await pilot.press(*"PIKE")
        bar = app.query_one(FilterBar)
        assert bar.has_focus and bar.value == "PIKE"
        assert bar.region.height == 1  # the text row, not a border squeezed around it
        assert "PIKE" in app.export_screenshot()
