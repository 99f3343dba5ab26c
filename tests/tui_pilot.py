"""Helpers for Pilot tests of the monitor against the simulator (real MI over http, real UDP events)."""

from __future__ import annotations

import asyncio
import functools
import time
from pathlib import Path
from typing import Awaitable, Callable

from textual.pilot import Pilot
from opensips_tui.widgets import LogView

from opensips.sim import SimulatedOpenSIPS
from opensips_tui.app import OpenSIPSTUI
from opensips_tui.config import Settings

SIZE = (120, 40)


def run(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async Pilot test on a fresh event loop (no asyncio pytest plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


def make_app(sim: SimulatedOpenSIPS, tmp_path: Path, health_every: float = 5.0, event: dict | None = None,
             conn: str = "http", app_class: type[OpenSIPSTUI] = OpenSIPSTUI, **overrides) -> OpenSIPSTUI:
    """The monitor on ``sim``'s ``conn`` MI, listening on loopback, exporting under ``tmp_path``."""
    settings = Settings(conn=conn, mi=sim.mi_kwargs(conn), event={"listen_ip": "127.0.0.1", **(event or {})},
                        export_dir=tmp_path / "exports", **overrides)
    return app_class(settings, health_every=health_every)


async def until(pilot: Pilot, cond: Callable[[], object], what: str, tries: int = 100) -> None:
    """Poll ``cond`` between UI pauses, for at least ``tries`` pauses of 50 ms and at least 20 s.

    The wall-clock floor is for busy machines, where a starved UI loop needs longer than
    ``tries`` pauses to draw what a quiet one draws in one; a met condition returns at once.
    """
    deadline = time.monotonic() + 20
    n = 0
    while True:
        if cond():
            return
        n += 1
        if n >= tries and time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def live(sim: SimulatedOpenSIPS, event: str | None = None) -> list[dict]:
    """The simulator's unexpired subscribers (of ``event``, or of any event)."""
    return [s for s in sim.subscribers() if event in (None, s.get("event")) and s.get("ttl") != "expired"]


def log_lines(app: OpenSIPSTUI) -> list[str]:
    return list(app.query_one("#log", LogView).lines)


async def highlight(pilot: Pilot, app: OpenSIPSTUI, event: str) -> None:
    """Wait for ``event`` in the events list, then highlight it (the detail pane follows)."""
    await until(pilot, lambda: event in app.events.names, f"{event} in the events list")
    app.events.highlighted = app.events.names.index(event)
    await pilot.pause()
