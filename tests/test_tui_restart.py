"""The monitor when OpenSIPS goes away or restarts: DOWN is shown, and subscriptions never read
"active" while it is, even for a restart quicker than the health check."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

import opensips_tui.app
from opensips.sim import SimulatedOpenSIPS
from opensips_tui.app import OpenSIPSTUI
from opensips_tui.messages import HealthChecked
from tests.tui_pilot import SIZE, live, make_app, run, until

EVENTS = ["E_PIKE_BLOCKED", "E_MY_CUSTOM"]


def shown_active(app: OpenSIPSTUI) -> list[str]:
    """What the list and the status bar show as active."""
    listed = [n for n, s in app.events.states.items() if s == "active"]
    counted = [n for n, s in app._states().items() if s == "active"]
    return listed + counted


async def subscribed(pilot: Pilot, app: OpenSIPSTUI, sim: SimulatedOpenSIPS) -> None:
    await until(pilot, lambda: all(app.events.states.get(n) == "active" for n in EVENTS), "subscribed", 200)
    await until(pilot, lambda: app.status.health is True, "up", 200)
    assert len(live(sim)) == len(EVENTS)


@run
async def test_down_never_shows_subscriptions_active(sim: SimulatedOpenSIPS, tmp_path: Path) -> None:
    app = make_app(sim, tmp_path, health_every=0.3, subscribe=EVENTS)  # refreshes: once a minute
    async with app.run_test(size=SIZE) as pilot:
        await subscribed(pilot, app, sim)
        sim.stop()
        await until(pilot, lambda: app.status.health is False, "DOWN", 200)
        assert shown_active(app) == []
        sim.start()
        await until(pilot, lambda: app.status.health is True, "up again", 200)
        await until(pilot, lambda: all(app.events.states.get(n) == "active" for n in EVENTS), "active again", 200)
        await until(pilot, lambda: len(live(sim)) == len(EVENTS), "resubscribed", 200)


class Recording(OpenSIPSTUI):
    """The monitor, noting each health check's outcome and what it then shows as active."""

    CSS_PATH = Path(opensips_tui.app.__file__).with_name("app.tcss")  # not next to this file

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[bool, str, list[str]]] = []

    def on_health_checked(self, message: HealthChecked) -> None:
        super().on_health_checked(message)
        self.seen.append((message.ok, message.detail, shown_active(self)))


@run
async def test_restart_quicker_than_the_health_check_shows_down(sim: SimulatedOpenSIPS, tmp_path: Path) -> None:
    app = make_app(sim, tmp_path, health_every=3.0, subscribe=EVENTS, app_class=Recording)
    assert isinstance(app, Recording)
    async with app.run_test(size=SIZE) as pilot:
        await subscribed(pilot, app, sim)
        sim.restart()  # between two health checks, with a new "Up since"
        await until(pilot, lambda: any(not ok for ok, _, _ in app.seen), "DOWN after a quick restart", 300)
        down = [(detail, active) for ok, detail, active in app.seen if not ok]
        assert "restarted" in down[0][0] and down[0][1] == [], down
        await until(pilot, lambda: app.seen[-1][0], "up again", 300)
        await until(pilot, lambda: all(app.events.states.get(n) == "active" for n in EVENTS), "active again", 200)
        await until(pilot, lambda: len(live(sim)) == len(EVENTS), "resubscribed", 200)
