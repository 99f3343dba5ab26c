"""Snapshots of the events list's issue-10 looks at 80x24 and 120x40: a search line open over
an alert (red row, red status bar) and a failed box; the subscribe-by-pattern prompt.

Same fixed scene as test_tui_snapshots.py (fixed clock, UTC, the test's own events).
Update after an intended change with ``pytest tests/test_tui_events_list_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from opensips_tui.alerts import parse_rule
from opensips_tui.app import OpenSIPSTUI
from tests.test_tui_snapshots import build, prepare
from tests.tui_pilot import until

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


def alerting(sim, tmp_path) -> OpenSIPSTUI:
    app = build(sim, tmp_path)
    app.settings.alerts = [parse_rule("E_PIKE_BLOCKED > 30/min")]   # 3 events in 5 s: 0.6/s
    return app


def search_scene(sim):
    async def run_before(pilot: Pilot) -> None:
        app: OpenSIPSTUI = pilot.app  # type: ignore[assignment]
        await prepare(sim)(pilot)
        await until(pilot, lambda: app.events.alerting == {"E_PIKE_BLOCKED"}, "alert", tries=200)
        app.feed.set_state("E_CORE_LOG", "failed")   # as the handler reports a dead listener
        await until(pilot, lambda: app.events.states.get("E_CORE_LOG") == "failed", "failed")
        app.events.focus()
        await pilot.press("E", "_", "left_square_bracket", "c", "p", "right_square_bracket", "asterisk")
        app.clear_notifications()
        await pilot.pause()

    return run_before


def prompt_scene(sim):
    async def run_before(pilot: Pilot) -> None:
        await prepare(sim)(pilot)
        await pilot.press("plus", *"E_UL_*")
        await pilot.pause()

    return run_before


@SIZES
def test_search_alert_and_failed_box(snap_compare, sim, tmp_path, size) -> None:
    assert snap_compare(alerting(sim, tmp_path), terminal_size=size, run_before=search_scene(sim))


@SIZES
def test_subscribe_by_pattern_prompt(snap_compare, sim, tmp_path, size) -> None:
    assert snap_compare(build(sim, tmp_path), terminal_size=size, run_before=prompt_scene(sim))
