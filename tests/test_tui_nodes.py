"""The monitor on a fleet of three real simulators, at 80x24 and 120x40: the log's node column
and the node: filter, one node stopped and started again (the status names it, the others keep
delivering, its subscription comes back), screens per selected node, and snapshots."""

from __future__ import annotations

import pytest

from opensips_tui.app import OpenSIPSTUI
from opensips_tui.config import Settings
from opensips_tui.nodes import NodeSpec
from opensips_tui.widgets import LogView

from tests.tui_pilot import log_lines, run, until

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
FIXED_NOW = 1_764_255_600.0  # 2025-11-27 15:00:00 UTC


def fleet_app(sims, tmp_path, **overrides) -> OpenSIPSTUI:
    specs = [NodeSpec(f"edge{i}", "http", {**sim.mi_kwargs("http"), "timeout": 2})
             for i, sim in enumerate(sims, 1)]
    overrides = {"subscribe": ["E_PIKE_BLOCKED"], **overrides}
    settings = Settings(conn="http", mi={"timeout": 2}, event={"listen_ip": "127.0.0.1"}, nodes=specs,
                        export_dir=tmp_path / "exports", **overrides)
    return OpenSIPSTUI(settings, health_every=5.0)


def nodes_of(app: OpenSIPSTUI) -> list[str]:
    return [line.split(" ")[1] for line in log_lines(app)]


async def subscribed_everywhere(pilot, app, sims) -> None:
    await until(pilot, lambda: app.events.states.get("E_PIKE_BLOCKED") == "active"
                and all(any(s.get("event") == "E_PIKE_BLOCKED" for s in sim.subscribers()) for sim in sims),
                "subscribed on every node")
    await until(pilot, lambda: app.status.health and app.status.health_detail.startswith(f"{len(sims)}/{len(sims)} up"),
                "every node up")


@SIZES
@run
async def test_three_nodes_one_down_and_back(sim_factory, tmp_path, size) -> None:
    sims = [sim_factory() for _ in range(3)]
    app = fleet_app(sims, tmp_path)
    async with app.run_test(size=size) as pilot:
        await subscribed_everywhere(pilot, app, sims)
        assert app.log_pane.log_widget.node_width == 5
        for i, sim in enumerate(sims):
            sim.raise_event("E_PIKE_BLOCKED", {"ip": f"10.0.0.{i}"})
            await until(pilot, lambda: len(log_lines(app)) == i + 1, f"line {i + 1}")
        assert nodes_of(app) == ["edge1", "edge2", "edge3"]

        sims[1].stop()
        await until(pilot, lambda: "edge2 DOWN" in app.status.health_detail, "edge2 DOWN in the status")
        assert app.status.health                      # the fleet is up: two nodes answer
        sims[0].raise_event("E_PIKE_BLOCKED", {"ip": "192.0.2.1"})
        sims[2].raise_event("E_PIKE_BLOCKED", {"ip": "192.0.2.3"})
        await until(pilot, lambda: len(log_lines(app)) == 5, "the others keep delivering")

        sims[1].start()                               # back with no subscribers
        await until(pilot, lambda: any(s.get("event") == "E_PIKE_BLOCKED" for s in sims[1].subscribers()),
                    "edge2 resubscribed")
        await until(pilot, lambda: app.status.health_detail.startswith("3/3 up"), "3/3 up again")
        app.clear_notifications()
        app.action_why()                              # d: one line per node
        await until(pilot, lambda: any("edge2: " in n.message for n in app._notifications), "the story")
        story = next(n.message for n in app._notifications if "edge2: " in n.message)
        assert "edge1: up" in story and "edge3: up" in story   # edge2 reads up, or restarted for 5 s
        assert story.count("1/1 subscriptions active") == 3, story
        sims[1].raise_event("E_PIKE_BLOCKED", {"ip": "198.51.100.2"})
        await until(pilot, lambda: len(log_lines(app)) == 6, "edge2 delivers again")
        assert nodes_of(app)[-1] == "edge2"

        await pilot.press("slash")
        await pilot.press(*"node:edge2")
        await until(pilot, lambda: nodes_of(app) == ["edge2", "edge2"], "only edge2")
        assert app.feed.node_summary()["edge1"][0] == 2


@run
async def test_screens_act_on_the_selected_node(sim_factory, tmp_path) -> None:
    sims = [sim_factory() for _ in range(2)]
    app = fleet_app(sims, tmp_path, subscribe=[])
    async with app.run_test(size=(120, 40)) as pilot:
        with pytest.raises(KeyError):
            app.select_node("nope")
        app.select_node("edge2")
        await pilot.press("3")
        await until(pilot, lambda: app.is_screen_installed("console@edge2")
                    and app.screen is app.get_screen("console@edge2"), "edge2's console")
        console2 = app.screen
        status = str(console2.query_one("#console-status").render())
        assert "edge2" in status and str(sims[1].http_url) in status
        app.action_show_screen("events")         # (keys go to the console's input there)
        await pilot.pause()
        app.select_node("edge1")
        await pilot.press("3")
        await until(pilot, lambda: app.is_screen_installed("console@edge1")
                    and app.screen is app.get_screen("console@edge1"), "edge1's console")
        assert app.screen is not console2 and str(sims[0].http_url) in str(app.screen.query_one("#console-status").render())
        app.action_show_screen("statistics")
        await until(pilot, lambda: app.is_screen_installed("statistics@edge1")
                    and app.screen is app.get_screen("statistics@edge1"), "edge1's statistics")
        await until(pilot, lambda: "edge1" in str(getattr(getattr(app.screen, "headline", None), "border_title", "")), "the node in the title")
        app.action_show_screen("trace")
        await until(pilot, lambda: app.is_screen_installed("trace@edge1")
                    and app.screen is app.get_screen("trace@edge1"), "edge1's trace")
        await until(pilot, lambda: hasattr(app.screen, "headline") and "edge1 · trace" in str(app.screen.headline.render()), "the node in the headline")
        app.select_node("edge2")
        app.action_show_screen("console")
        await until(pilot, lambda: app.screen is console2, "edge2's console again, the same screen")


def build(sims, tmp_path) -> OpenSIPSTUI:
    specs = [NodeSpec(name, "http", sim.mi_kwargs("http")) for name, sim in zip(("edge1", "core-east", "reg"), sims)]
    settings = Settings(conn="http", mi={}, event={"listen_ip": "127.0.0.1"}, nodes=specs, utc=True,
                        subscribe=["E_PIKE_BLOCKED"], export_dir=tmp_path)
    return OpenSIPSTUI(settings, clock=lambda: FIXED_NOW, health_every=3600)


def prepare(sims):
    async def run_before(pilot) -> None:
        app: OpenSIPSTUI = pilot.app  # type: ignore[assignment]
        await subscribed_everywhere(pilot, app, sims)
        for i, sim in enumerate(sims):
            sim.raise_event("E_PIKE_BLOCKED", {"ip": f"203.0.113.{i + 1}"})
            await until(pilot, lambda: len(app.query_one("#log", LogView).lines) == i + 1, "log line", tries=200)
        app.events.highlighted = app.events.names.index("E_PIKE_BLOCKED")
        await until(pilot, lambda: app.events.counts.get("E_PIKE_BLOCKED", (0,))[0] == 3, "counts", tries=200)
        app.status.set(listen="udp:127.0.0.1:9901")
        app.clear_notifications()
        await pilot.pause()

    return run_before


@SIZES
def test_fleet_main_screen(snap_compare, sim_factory, tmp_path, size) -> None:
    sims = [sim_factory() for _ in range(3)]
    assert snap_compare(build(sims, tmp_path), terminal_size=size, run_before=prepare(sims))
