"""Snapshots of the fleet screen at 80x24 and 120x40: three simulators, the second one stopped
(its row DOWN in red), then started again on the same address (up again).

Deterministic: the simulators make no traffic (0 events/s, no calls or registrations, idle
workers), their shared memory stays at 6 % of 64 MiB, the uptimes are under a minute, and the
highlighted node (the first) is up, so the status line names no port. Update after an intended
change with ``pytest tests/test_tui_fleet_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from opensips_tui.screens import FleetScreen
from tests.test_tui_fleet import NAMES, fleet_app, fleet_screen, row
from tests.tui_pilot import until

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


async def all_polled(pilot: Pilot, sims, names: list[str]) -> None:
    screen = pilot.app.screen
    await until(pilot, lambda: all(row(screen, n).health.text == "up" and row(screen, n).requests.text == "0.0"
                                   for n in names), "every node up and polled twice", tries=200)


async def calm(pilot: Pilot) -> None:
    pilot.app.clear_notifications()     # "subscribing again" toasts and the like
    await pilot.pause()


async def edge2_stopped(pilot: Pilot, sims) -> FleetScreen:
    screen = await fleet_screen(pilot)
    await all_polled(pilot, sims, NAMES)
    sims[1].stop()
    await until(pilot, lambda: row(screen, "edge2").health.text == "DOWN", "edge2 DOWN")
    return screen


@SIZES
def test_one_node_down(snap_compare, sim_factory, tmp_path, size) -> None:
    sims = [sim_factory() for _ in range(3)]

    async def down(pilot: Pilot) -> None:
        await edge2_stopped(pilot, sims)
        await calm(pilot)

    assert snap_compare(fleet_app(sims, tmp_path), terminal_size=size, run_before=down)


@SIZES
def test_the_node_back(snap_compare, sim_factory, tmp_path, size) -> None:
    sims = [sim_factory() for _ in range(3)]

    async def back(pilot: Pilot) -> None:
        await edge2_stopped(pilot, sims)
        node = pilot.app.fleet.node("edge2")
        restarts = node.restarts
        sims[1].start()
        # its health check sees the restart ("restarted" for a few seconds), then up: the
        # lasting state, whatever the poll showed meanwhile
        await until(pilot, lambda: node.restarts > restarts and node.health == "up", "edge2 up again", tries=300)
        await all_polled(pilot, sims, NAMES)
        await calm(pilot)

    assert snap_compare(fleet_app(sims, tmp_path), terminal_size=size, run_before=back)
