"""Snapshots of the MI console at 80x24 and 120x40, against the simulator over real MI.

Deterministic: the console's clocks are fixed (every call "takes" 0 ms at 15:00:00 UTC) and
the target shown is a fixed string instead of the simulator's port. Update after an
intended change with ``pytest tests/test_tui_console_snapshots.py --snapshot-update`` and
look at the SVGs.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from opensips.console import History, MIConsole
from opensips.mi import OpenSIPSMI
from opensips_tui.app import OpenSIPSTUI
from opensips_tui.config import Settings
from opensips_tui.screens import ConsoleScreen
from opensips_tui.widgets.confirm import ConfirmRequest
from tests.tui_pilot import until

FIXED_NOW = 1_764_255_600.0  # 2025-11-27 15:00:00 UTC
SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


def build(sim, tmp_path, read_only: bool = False) -> OpenSIPSTUI:
    settings = Settings(conn="http", mi=sim.mi_kwargs("http"), event={"listen_ip": "127.0.0.1"},
                        utc=True, export_dir=tmp_path, history_path=tmp_path / "history.jsonl")
    app = OpenSIPSTUI(settings, clock=lambda: FIXED_NOW, health_every=3600)
    console = MIConsole(OpenSIPSMI("http", **sim.mi_kwargs("http")), read_only=read_only,
                        clock=lambda: 0.0, wall=lambda: FIXED_NOW)
    app.console_screen = ConsoleScreen(console, history=History(tmp_path / "history.jsonl"),
                                       target="http://127.0.0.1:8888/mi", wall=lambda: FIXED_NOW)
    return app


async def open_console(pilot: Pilot) -> ConsoleScreen:
    app = pilot.app
    screen = app.console_screen          # type: ignore[attr-defined]
    app.install_screen(screen, name="console")
    await pilot.press("3")
    await until(pilot, lambda: screen.catalog is not None, "which", tries=200)
    return screen


async def run_line(pilot: Pilot, screen: ConsoleScreen, line: str) -> None:
    screen.input.value = line
    await pilot.press("enter")


async def answered(pilot: Pilot, line: str, done, what: str) -> ConsoleScreen:
    """Open the console, run ``line``, wait for ``done(screen)``, clear the toasts."""
    screen = await open_console(pilot)
    await run_line(pilot, screen, line)
    await until(pilot, lambda: done(screen), what, tries=200)
    pilot.app.clear_notifications()
    await pilot.pause()
    return screen


async def table_and_completion(pilot: Pilot) -> None:
    screen = await answered(pilot, "events_list", lambda s: s.table is not None, "the table")
    screen.input.value = "statistics:"
    await pilot.press("tab")
    await until(pilot, lambda: "commands:" in str(screen.hint.render()), "candidates", tries=200)


async def error(pilot: Pilot) -> None:
    await answered(pilot, "which command=no_such_cmd", lambda s: "error" in str(s.summary.render()), "the error")


async def confirmation(pilot: Pilot) -> None:
    await answered(pilot, "log_level level:=1", lambda s: isinstance(pilot.app.screen, ConfirmRequest),
                   "the prompt")


async def refused(pilot: Pilot) -> None:
    await answered(pilot, "dispatcher:set_state state=i group=1 address=sip:127.0.0.1:5071",
                   lambda s: "refused" in str(s.summary.render()), "the refusal")


@SIZES
def test_console_table_and_completion(snap_compare, sim, tmp_path, size) -> None:
    assert snap_compare(build(sim, tmp_path), terminal_size=size, run_before=table_and_completion)


@SIZES
def test_console_error(snap_compare, sim, tmp_path, size) -> None:
    assert snap_compare(build(sim, tmp_path), terminal_size=size, run_before=error)


@SIZES
def test_console_confirmation(snap_compare, sim, tmp_path, size) -> None:
    assert snap_compare(build(sim, tmp_path), terminal_size=size, run_before=confirmation)


@SIZES
def test_console_read_only_refusal(snap_compare, sim, tmp_path, size) -> None:
    assert snap_compare(build(sim, tmp_path, read_only=True), terminal_size=size, run_before=refused)
