"""Snapshot tests of the main screen (pytest-textual-snapshot) at 80x24 and 120x40.

Deterministic: a fixed clock (times, rates, sparkline), UTC times, events raised by the test
on the simulator, and the status bar's port-bearing addresses replaced by fixed text.
Update after an intended change with ``pytest tests/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.widgets import Tree

from opensips_tui.app import OpenSIPSTUI
from opensips_tui.config import Settings
from opensips_tui.widgets import LogView
from tests.tui_pilot import run, until

FIXED_NOW = 1_764_255_600.0  # 2025-11-27 15:00:00 UTC
SUBSCRIBE = ["E_PIKE_BLOCKED", "E_UL_CONTACT_INSERT", "E_CORE_LOG"]
EVENTS = [
    ("E_PIKE_BLOCKED", {"ip": "203.0.113.7"}),
    ("E_UL_CONTACT_INSERT", {"aor": "alice@sip.example.com", "uri": "sip:alice@198.51.100.4:5060",
                             "expires": 3600, "user_agent": "Linphone/5.2.5"}),
    ("E_PIKE_BLOCKED", {"ip": "198.51.100.23"}),
    ("E_CORE_LOG", {"level": "ERROR", "module": "tm", "message": "[bold]not markup[/bold] \x1b[2J"}),
    ("E_PIKE_BLOCKED", {"ip": "203.0.113.7"}),
]


def build(sim, tmp_path) -> OpenSIPSTUI:
    settings = Settings(conn="http", mi=sim.mi_kwargs("http"), event={"listen_ip": "127.0.0.1"},
                        subscribe=SUBSCRIBE, utc=True, export_dir=tmp_path)
    return OpenSIPSTUI(settings, clock=lambda: FIXED_NOW, health_every=3600)


def prepare(sim):
    async def run_before(pilot: Pilot) -> None:
        app: OpenSIPSTUI = pilot.app  # type: ignore[assignment]
        await until(pilot, lambda: all(app.events.states.get(e) == "active" for e in SUBSCRIBE)
                    and app.status.health, "subscriptions", tries=200)
        for name, params in EVENTS:
            sim.raise_event(name, params)
        await until(pilot, lambda: len(app.query_one("#log", LogView).lines) == len(EVENTS), "log lines", tries=200)
        app.events.highlighted = app.events.names.index("E_PIKE_BLOCKED")
        tree = app.query_one("#payload", Tree)
        await until(pilot, lambda: [str(n.label) for n in tree.root.children] == ["ip: 203.0.113.7"]
                    and "3 events" in str(app.query_one("#summary").render()), "detail pane", tries=200)
        await until(pilot, lambda: app.events.counts.get("E_PIKE_BLOCKED", (0,))[0] == 3
                    and app.status.rate == 1.0, "counts and rate", tries=200)
        app.status.set(target="http://127.0.0.1:8888/mi", listen="udp:127.0.0.1:9901")
        app.clear_notifications()
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_main_screen(snap_compare, sim, tmp_path, size) -> None:
    assert snap_compare(build(sim, tmp_path), terminal_size=size, run_before=prepare(sim))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@run
async def test_detail_pane_draws_each_payload_even_with_the_same_timestamp(sim, tmp_path, size) -> None:
    """The payload tree follows every new notification of the highlighted event, also when two
    carry the same time (a fixed clock here; a coarse one in life). It once keyed on the time alone."""
    app = build(sim, tmp_path)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: all(app.events.states.get(e) == "active" for e in SUBSCRIBE), "subscriptions",
                    tries=200)
        app.events.highlighted = app.events.names.index("E_PIKE_BLOCKED")
        tree = app.query_one("#payload", Tree)
        for ip in ("203.0.113.7", "198.51.100.23", "192.0.2.9"):
            sim.raise_event("E_PIKE_BLOCKED", {"ip": ip})
            await until(pilot, lambda: [str(n.label) for n in tree.root.children] == [f"ip: {ip}"], ip, tries=200)
