"""The statistics screen (key 2) with Pilot, against the simulator over real MI.

Switching screens, a live table with non-negative rates, the filter, pins kept per profile,
DOWN while the simulator is stopped and no negative rate after it restarts, polling only while
the screen is shown.
"""

from __future__ import annotations

import json

import pytest
from textual.widgets import Input, Sparkline

from opensips_tui.config import ConfigError, resolve

from opensips_tui.pins import PinStore
from opensips_tui.screens import StatisticsScreen
from opensips_tui.widgets import EventsList
from opensips_tui.widgets.stats_headline import StatsHeadline
from opensips_tui.widgets.stats_table import StatsTable
from tests.tui_pilot import make_app, run, until


def _stats(app) -> StatisticsScreen:
    assert isinstance(app.screen, StatisticsScreen)
    return app.screen


def _live(sim_factory, tmp_path, rate: float, **settings):
    """A simulator with traffic and the monitor on it, polling statistics every 0.2 s."""
    sim = sim_factory(rate=rate, seed=4)
    settings.setdefault("pins_path", tmp_path / "pins.json")
    return sim, make_app(sim, tmp_path, stats_interval=0.2, **settings)


async def _open(pilot) -> StatisticsScreen:
    await pilot.press("2")
    return _stats(pilot.app)


class Quiet:
    """An OpenSIPS with no statistics at all."""

    def execute(self, cmd, params=None):
        return {}


def _rated(screen: StatisticsScreen) -> bool:
    s = screen.sample
    return s is not None and s.rates.get("core:rcv_requests") is not None


def _headline(app) -> str:
    return app.screen.query_one(StatsHeadline).render_sample(
        app.screen.down or app.screen.sample, app.screen.pins, "").plain


@run
async def test_keys_switch_screens_and_the_table_fills(sim_factory, tmp_path):
    sim, app = _live(sim_factory, tmp_path, 60)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        await until(pilot, lambda: _rated(screen), "two polls", tries=200)
        table = screen.query_one(StatsTable)
        assert "core:rcv_requests" in table.names and "shmem:used_size" in table.names
        assert table.current == "core:rcv_requests"
        assert all(r is None or r >= 0 for r in screen.sample.rates.values())
        await until(pilot, lambda: len(screen.query_one(Sparkline).data or []) >= 2, "sparkline", tries=200)
        text = _headline(app)
        for part in ("SIP", "req", "CALLS", "dialogs", "USERS", "contacts", "MEM", "shm", "LOAD", "SIP receiver"):
            assert part in text, text
        await pilot.press("1")
        await pilot.pause()
        assert not isinstance(app.screen, StatisticsScreen) and app.screen.query_one(EventsList)
        assert not screen.poller.running          # a hidden screen does not poll
        await pilot.press("2")
        assert app.screen is screen and screen.poller.running
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert "Statistics screen" in commands and "Events screen" in commands


@run
async def test_filter_and_pins_kept_per_profile(sim_factory, tmp_path):
    pins = tmp_path / "pins.json"
    sim, app = _live(sim_factory, tmp_path, 20, profile="edge1")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        await until(pilot, lambda: screen.sample is not None, "a poll", tries=200)
        await pilot.press("space")              # pin core:rcv_requests
        await pilot.press("slash")
        await pilot.press(*"slow")
        table = screen.query_one(StatsTable)
        await until(pilot, lambda: table.names and all("slow" in n for n in table.names), "filtered")
        assert set(table.names) == {"core:slow_messages", "dns:dns_slow_queries", "sql:sql_slow_queries",
                                    "cdb:cdb_slow_queries"}
        await pilot.press("enter")             # back to the table
        await pilot.press("space")             # pin the first slow one
        await pilot.press("escape")            # clear the filter
        await until(pilot, lambda: "core:rcv_requests" in table.names, "unfiltered")
        assert screen.query_one(Input).value == ""
        assert screen.pins == ["core:rcv_requests", "core:slow_messages"]
        assert "PINS" in _headline(app)
    assert json.loads(pins.read_text())["edge1"] == ["core:rcv_requests", "core:slow_messages"]
    assert PinStore(pins, "edge1").load() == ["core:rcv_requests", "core:slow_messages"]
    assert PinStore(pins, None).load() == []


@run
async def test_down_while_stopped_and_no_negative_rate_after_a_restart(sim_factory, tmp_path):
    sim, app = _live(sim_factory, tmp_path, 100)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(pilot)
        await until(pilot, lambda: _rated(screen) and screen.sample.values["core:rcv_requests"] > 300,
                    "traffic counted", tries=300)
        before = screen.sample.values["core:rcv_requests"]
        sim.set_rate(5)
        sim.stop()
        await until(pilot, lambda: screen.down is not None, "DOWN", tries=300)
        assert _headline(app).startswith("DOWN")
        sim.start()
        await until(pilot, lambda: screen.down is None and screen.restarts == 1, "back", tries=300)
        assert screen.sample.values["core:rcv_requests"] < before
        assert all(r is None or r >= 0 for r in screen.sample.rates.values())
        assert "restarted" in str(screen.query_one(StatsHeadline).border_subtitle)
        await until(pilot, lambda: not _headline(app).startswith("DOWN"), "headline up")


@run
async def test_wire_names_are_shown_literally(tmp_path, sim):
    class Hostile:
        def execute(self, cmd, params=None):
            if cmd == "get_statistics":
                return {"core:rcv_requests": 1, "[bold]x[/bold]:\x1b[2Jevil": 5, "load:load-proc-1": 70}
            if cmd == "ps":
                return {"Processes": [{"ID": 1, "PID": 1, "Type": "[red]SIP\x1b]8;;x\x07"}]}
            return {}

    app = make_app(sim, tmp_path, pins_path=tmp_path / "pins.json")
    async with app.run_test(size=(120, 40)) as pilot:
        app.install_screen(StatisticsScreen(Hostile(), interval=3600), name="statistics")
        screen = await _open(pilot)
        await until(pilot, lambda: screen.sample is not None, "a poll")
        text = _headline(app)
        assert "[red]SIP\\x1b]8;;x\\x07" in text and "CRITICAL" in text
        table = screen.query_one(StatsTable)
        assert "[bold]x[/bold]:\x1b[2Jevil" in table.names
        rows = [table.row_text(i) for i in range(len(table.names) + 2)]
        assert any(r.startswith("[bold]x[/bold]") for r in rows)
        assert any(r.startswith("  \\x1b[2Jevil") for r in rows), rows


def test_interval_from_flags_and_config(tmp_path):
    assert resolve({}, tmp_path / "none.toml").stats_interval == 1.0
    assert resolve({"stats_interval": 0.5}, tmp_path / "none.toml").stats_interval == 0.5
    conf = tmp_path / "config.toml"
    conf.write_text('[tui]\nstats_interval = 2\n[profiles.a]\nstats_interval = 5\n')
    assert resolve({}, conf).stats_interval == 2.0
    assert resolve({"profile": "a"}, conf).stats_interval == 5.0
    for bad in (0, -1, float("nan"), 1e9):
        with pytest.raises(ConfigError, match="--interval|stats_interval"):
            resolve({"stats_interval": bad}, tmp_path / "none.toml")
    conf.write_text('[tui]\nstats_interval = "fast"\n')
    with pytest.raises(ConfigError, match="stats_interval"):
        resolve({}, conf)


@run
async def test_cursor_keys_skip_group_rows_and_the_sparkline_follows(tmp_path, sim):
    from tests.test_stats_poller import Replay, _ops

    polls = [_ops("statistics_get_all_1"), _ops("statistics_get_all_2")]
    app = make_app(sim, tmp_path, pins_path=tmp_path / "pins.json")
    async with app.run_test(size=(80, 24)) as pilot:
        app.install_screen(StatisticsScreen(Replay(polls), interval=3600), name="statistics")
        screen = await _open(pilot)
        await until(pilot, lambda: screen.sample is not None, "a poll")
        table = screen.query_one(StatsTable)
        assert table.current == "core:rcv_requests"
        await pilot.press("down")
        assert table.current == "core:rcv_replies"
        await pilot.press("up", "up")
        assert table.current == "rpmem:rpm_free_size"      # the "core" group row is skipped
        await pilot.press("home")
        assert table.current == "shmem:total_size"
        await pilot.press("end")
        assert table.current == table.names[-1]
        await pilot.press("pageup")
        assert table.current is not None and table.current != table.names[-1]
        await pilot.pause()
        assert screen._spark_name == table.current


@run
async def test_help_lists_the_statistics_keys(tmp_path, sim):
    from opensips_tui.widgets import HelpScreen

    app = make_app(sim, tmp_path, pins_path=tmp_path / "pins.json")
    async with app.run_test(size=(120, 40)) as pilot:
        app.install_screen(StatisticsScreen(Quiet(), interval=3600), name="statistics")
        await _open(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        for words in ("Statistics screen (2)", "stats.pin", "Next statistic", "stats.filter", "screen.statistics"):
            assert words in text, words
        await pilot.press("escape")
        assert isinstance(app.screen, StatisticsScreen)
