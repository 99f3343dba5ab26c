"""Snapshots of the statistics screen at 80x24 and 120x40.

Deterministic: the screen polls a peer answering with the two captured 4.0.1 polls taken 1 s
apart under traffic (tests/fixtures/opensips-wire/4.0.1/ops/), on a clock the test moves.
Update after an intended change with ``pytest tests/test_tui_stats_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from opensips_tui.app import OpenSIPSTUI
from opensips_tui.config import Settings
from opensips_tui.screens import StatisticsScreen
from tests.test_stats_poller import Replay, _ops
from tests.tui_pilot import until

FIXED_NOW = 1_764_255_600.0  # 2025-11-27 15:00:00 UTC


def build(sim, tmp_path) -> OpenSIPSTUI:
    settings = Settings(conn="http", mi=sim.mi_kwargs("http"), event={"listen_ip": "127.0.0.1"},
                        utc=True, export_dir=tmp_path, pins_path=tmp_path / "pins.json")
    return OpenSIPSTUI(settings, clock=lambda: FIXED_NOW, health_every=3600)


async def two_captured_polls(pilot: Pilot) -> None:
    app: OpenSIPSTUI = pilot.app  # type: ignore[assignment]
    now = [0.0]
    screen = StatisticsScreen(Replay([_ops("statistics_get_all_1"), _ops("statistics_get_all_2")]),
                              interval=3600, clock=lambda: now[0], wall=lambda: FIXED_NOW)
    screen.pins = ["tm:inuse_transactions"]
    app.install_screen(screen, name="statistics")
    await pilot.press("2")
    await until(pilot, lambda: screen.sample is not None, "the first poll", tries=200)
    now[0] = 1.0
    screen.poller.poll()          # the second capture, 1 s later on the screen's clock
    await until(pilot, lambda: screen.sample.rates.get("core:rcv_requests") == 3.0, "rates", tries=200)
    app.clear_notifications()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_statistics_screen(snap_compare, sim, tmp_path, size) -> None:
    assert snap_compare(build(sim, tmp_path), terminal_size=size, run_before=two_captured_polls)
