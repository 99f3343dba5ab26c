"""Snapshots of the SIP trace screen at 80x24 and 120x40: the calls list, the ladder, the
messages list and the raw message.

Deterministic: the screen's source hands it the 20 packets of a real OpenSIPS 4.0.1 trace
(tests/fixtures/opensips-wire/4.0.1/hep/udp_scope_t_register_options_call.json) with a fixed
description, and times are shown in UTC. Update after an intended change with
``pytest tests/test_tui_trace_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from opensips_tui.screens import TraceScreen
from tests.hep_wire import FULL
from tests.test_tui_stats_snapshots import build
from tests.trace_peers import ReplaySource
from tests.tui_pilot import until

KEYS = {
    "calls": ("end",),                                        # the call highlighted: its ladder below
    "ladder": ("end", "enter", *["down"] * 6),                # the cursor on the UAS's 200 OK
    "messages": ("v",),                                       # every message, newest highlighted
    "raw": ("end", "enter", "down", "down", "enter", "z"),    # the INVITE forwarded to the UAS, zoomed
}


def trace_with(keys: tuple[str, ...]):
    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        source = ReplaySource(FULL)
        screen = TraceScreen(source, utc=True)
        app.install_screen(screen, name="trace")
        await pilot.press("4")
        try:
            await until(pilot, lambda: screen.store.messages_held == 20 and len(screen.calls_list.rows) == 3,
                        "the replayed trace", tries=600)
        except AssertionError as exc:   # say where it stood (a busy machine, or a bug)
            raise AssertionError(f"{exc}: {source.calls}, state {screen.state}, {screen.store.messages_held} "
                                 f"held, {len(screen.feed)} waiting, {len(screen.calls_list.rows)} rows") from None
        await pilot.press(*keys)
        await pilot.pause(0.3)
        app.clear_notifications()
        await pilot.pause()
    return run_before


@pytest.mark.parametrize("view", list(KEYS))
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_trace_screen(snap_compare, sim, tmp_path, size, view) -> None:
    assert snap_compare(build(sim, tmp_path), terminal_size=size, run_before=trace_with(KEYS[view]))
