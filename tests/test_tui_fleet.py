"""The fleet screen (key 5) on three real simulators, at 80x24 and 120x40.

One node is stopped (its row turns DOWN, the status line says why, the other two keep their
events/s) and started again on the same address (its row is up again, with a new uptime).
``enter`` opens the events of the highlighted node; 2 then acts on it. A quiet fleet draws
nothing. Snapshots are in test_tui_fleet_snapshots.py.
"""

from __future__ import annotations

import pytest

from opensips_tui.app import OpenSIPSTUI
from opensips_tui.config import Settings
from opensips_tui.nodes import NodeSpec
from opensips_tui.screens import FleetScreen, StatisticsScreen
from opensips_tui.screens.fleet import node_filter
from tests.test_tui_redraws import counting_renders, settle
from tests.tui_pilot import log_lines, run, until

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
TRAFFIC = ["E_PIKE_BLOCKED", "E_UL_CONTACT_INSERT", "E_DLG_STATE_CHANGED", "E_CORE_LOG"]
NAMES = ["edge1", "edge2", "edge3"]


def fleet_app(sims, tmp_path, **overrides) -> OpenSIPSTUI:
    specs = [NodeSpec(name, "http", {**sim.mi_kwargs("http"), "timeout": 2}) for name, sim in zip(NAMES, sims)]
    settings = Settings(conn="http", mi={"timeout": 2}, event={"listen_ip": "127.0.0.1"}, nodes=specs,
                        export_dir=tmp_path / "exports", pins_path=tmp_path / "pins.json",
                        history_path=tmp_path / "history", **overrides)
    return OpenSIPSTUI(settings)


async def fleet_screen(pilot) -> FleetScreen:
    await pilot.press("5")
    await until(pilot, lambda: isinstance(pilot.app.screen, FleetScreen), "the fleet screen")
    return pilot.app.screen


def row(screen: FleetScreen, name: str):
    return next(r for r in screen.rows if r.node == name)


def sending(screen: FleetScreen, name: str) -> bool:
    """Up, events arriving, and a second poll done (requests/s known)."""
    r = row(screen, name)
    return r.health.text in ("up", "restarted") and r.events.text not in ("-", "0.0") \
        and r.requests.text != "-"


@SIZES
@run
async def test_one_node_down_and_back_the_others_keep_sending(sim_factory, tmp_path, size) -> None:
    sims = [sim_factory(rate=40, seed=n) for n in range(3)]
    app = fleet_app(sims, tmp_path, subscribe=TRAFFIC)
    async with app.run_test(size=size) as pilot:
        screen = await fleet_screen(pilot)
        await until(pilot, lambda: all(sending(screen, n) for n in NAMES), "three nodes up and sending")
        assert [screen.table.plain(i).split()[0] for i in range(3)] == NAMES
        assert all(row(screen, n).version.text == "4.0.1" and row(screen, n).uptime.text == "<1m" for n in NAMES)
        assert all(row(screen, n).shm.text.endswith("%") and row(screen, n).load.text.endswith("%") for n in NAMES)
        started = {view.name: view.up_since for view in screen.views()}

        sims[1].stop()
        await until(pilot, lambda: row(screen, "edge2").health.text == "DOWN", "edge2 DOWN")
        assert "DOWN" in screen.table.plain(1) and row(screen, "edge2").health.tone == "down"
        assert row(screen, "edge2").events.text == "-" and row(screen, "edge2").requests.text == "-"
        await pilot.press("down")                       # the status line tells the highlighted node's story
        await until(pilot, lambda: screen.status_text.startswith("edge2: DOWN: "), "why edge2 is DOWN")
        assert "refused" in screen.status_text or "connect" in screen.status_text
        counts = {n: c for n, (c, _) in app.feed.node_summary().items()}
        await until(pilot, lambda: all(app.feed.node_summary()[n][0] >= counts[n] + 20 for n in ("edge1", "edge3")),
                    "edge1 and edge3 keep delivering")
        assert all(sending(screen, n) for n in ("edge1", "edge3"))

        sims[1].start()                                 # a new OpenSIPS on the same address
        await until(pilot, lambda: row(screen, "edge2").health.text in ("up", "restarted"), "edge2 back")
        view = next(v for v in screen.views() if v.name == "edge2")
        assert view.up_since is not None and started["edge2"] is not None and view.up_since > started["edge2"]
        assert row(screen, "edge2").uptime.text == "<1m" and "DOWN" not in screen.table.plain(1)
        await until(pilot, lambda: sending(screen, "edge2"), "edge2 resubscribed and sending")


@run
async def test_enter_opens_the_node_and_the_cursor_stays_on_it(sim_factory, tmp_path) -> None:
    sims = [sim_factory(rate=30, seed=n) for n in range(3)]
    app = fleet_app(sims, tmp_path, subscribe=TRAFFIC)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await fleet_screen(pilot)
        await until(pilot, lambda: all(sending(screen, n) for n in NAMES), "three nodes sending")
        await pilot.press("s", "s", "s")               # sorted by events/s: the order may change
        assert screen.sort_key == "events" and "EV/S▼" in screen.table.title_text(120).plain
        await pilot.press("end")
        last = screen.table.current
        for _ in range(3):                              # refreshes keep the cursor on its node
            await pilot.pause(1.1)
            assert screen.table.current == last
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is app.screen_stack[0], "the events screen")
        assert app.fleet.selected == last and app.feed.filter.text == f"node:{last}"
        await until(pilot, lambda: len(log_lines(app)) >= 5, "its events")
        assert all(f" {last} " in line for line in log_lines(app))
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, StatisticsScreen), "its statistics")
        assert app.screen is app.get_screen(f"statistics@{last}")
        await pilot.press("5")
        await until(pilot, lambda: app.screen is screen, "back to the fleet")
        assert screen.table.current == last


@run
async def test_a_quiet_fleet_draws_nothing(sim_factory, tmp_path) -> None:
    """Nodes polled every second, rows recomputed every second: nothing shown changed, so
    nothing is drawn (issue 11: the console runs on the server it watches)."""
    sims = [sim_factory() for _ in range(3)]
    app = fleet_app(sims, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await fleet_screen(pilot)
        await until(pilot, lambda: all(row(screen, n).requests.text == "0.0" for n in NAMES), "second polls")
        await settle(pilot, app)
        polls = [node.stats.at for node in app.fleet]
        with counting_renders(app) as drawn:
            await pilot.pause(2.5)
        assert [node.stats.at for node in app.fleet] != polls     # it kept polling meanwhile
        assert not drawn, dict(drawn)


def test_the_node_filter_matches_only_that_name() -> None:
    from opensips_tui.filters import LogFilter

    for name in ("edge1", "a*b", "gw[1]", "odd name?"):
        term = LogFilter(node_filter(name))
        assert term.matches("", None, name)
        assert not term.matches("", None, name + "x") and not term.matches("", None, "edge2")


@run
async def test_rate_alerts_are_judged_per_node(sim_factory, tmp_path) -> None:
    from opensips_tui.alerts import parse_rule

    sims = [sim_factory() for _ in range(3)]
    app = fleet_app(sims, tmp_path, subscribe=["E_PIKE_BLOCKED"], alerts=[parse_rule("E_PIKE_BLOCKED > 2/s")])
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: all(any(s.get("event") == "E_PIKE_BLOCKED" for s in sim.subscribers())
                                       for sim in sims), "subscribed on every node")
        for n in range(30):            # 6/s over the 5 s window on edge2; 1 on edge1
            sims[1].raise_event("E_PIKE_BLOCKED", {"ip": f"10.0.0.{n}"})
        sims[0].raise_event("E_PIKE_BLOCKED", {"ip": "192.0.2.1"})
        await until(pilot, lambda: app.feed.node_summary().get("edge2", (0, 0))[0] == 30, "edge2's events")
        screen = await fleet_screen(pilot)
        await until(pilot, lambda: row(screen, "edge2").alerts.text == "E_PIKE_BLOCKED", "edge2's alert")
        assert row(screen, "edge2").alerts.tone == "critical"
        assert row(screen, "edge1").alerts.text == "" and row(screen, "edge3").alerts.text == ""
        assert "E_PIKE_BLOCKED" in screen.table.plain(1)
        assert app.status.alert.startswith("ALERT edge2: E_PIKE_BLOCKED")


@run
async def test_one_opensips_is_a_fleet_of_one(sim_factory, tmp_path) -> None:
    """Without --node the screen shows the one OpenSIPS, its events/s from the feed's total."""
    from tests.tui_pilot import make_app

    sim = sim_factory(rate=30)
    app = make_app(sim, tmp_path, subscribe=TRAFFIC)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await fleet_screen(pilot)
        await until(pilot, lambda: len(screen.rows) == 1 and sending(screen, screen.rows[0].node), "the one node")
        assert screen.rows[0].version.text == "4.0.1"
