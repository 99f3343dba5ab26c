"""TUI under faults: hostile payloads in every pane and in exports, OpenSIPS restarting, quitting.

Event payloads are chosen by strangers (SIP headers, log lines, event names
from a script); the screen must show them literally (no markup, no links, no
terminal escapes, no bidi reordering) and an export must be safe to ``cat``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from pathlib import Path
from typing import Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import Tree

from opensips.sim import SimulatedOpenSIPS
from opensips_tui.app import OpenSIPSTUI
from tests.tui_pilot import SIZE, highlight, live, log_lines, make_app, run

# what must never reach the terminal raw: C0 (bar none), DEL, C1 (CSI \x9b, OSC \x9d, ...), bidi controls
DANGEROUS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

HOSTILE = {
    "markup": "[bold red]RED[/]",
    "link": "[link=https://evil.example]click[/link]",
    "csi": "\x1b[2J\x1b[31mred",
    "osc8": "\x1b]8;;https://evil.example\x07x\x1b]8;;\x07",
    "c1": "\x9b31m\x9d0;title\x9c",
    "bidi": "\u202etxt.exe\u202c \u2066iso\u2069",
    "nl": "forged\n12:00:00 E_FAKE line",
    "[key]": "value with [dim]markup[/dim] key",
    "long": "L" * 20_000,
}


async def until(pilot: Pilot, cond: Callable[[], object], what: str, seconds: float = 10.0) -> None:
    """Poll ``cond`` for at most ``seconds`` of wall time (some waits here bound an exit)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def tree_labels(app: OpenSIPSTUI) -> list[str]:
    out: list[str] = []

    def walk(node) -> None:  # noqa: ANN001
        out.append(node.label.plain)
        for child in node.children:
            walk(child)

    walk(app.query_one("#payload", Tree).root)
    return out


def event_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("opensips-event")]


def assert_safe(where: str, text: str, multiline: bool = False) -> None:
    """No dangerous character in ``text`` (``multiline``: a widget's own line breaks are layout)."""
    bad = DANGEROUS.search(text.replace("\n", "") if multiline else text)
    assert bad is None, f"{where}: raw {bad.group()!r} at {bad.start()}: {text[max(0, bad.start() - 40):bad.start() + 40]!r}"


@run
async def test_hostile_payload_is_literal_in_every_pane_and_in_the_export(sim: SimulatedOpenSIPS,
                                                                          tmp_path: Path) -> None:
    evil_name = "E_[bold]EVIL[/bold]\x1b[5m\u202eX"
    sim.raise_event(evil_name)  # an event published with a hostile name (nobody subscribed yet)
    app = make_app(sim, tmp_path, subscribe=["E_MY_CUSTOM", evil_name])
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.events.states.get("E_MY_CUSTOM") == "active"
                    and app.events.states.get(evil_name) == "active", "subscriptions")
        await highlight(pilot, app, "E_MY_CUSTOM")
        # a datagram that is not valid UTF-8, straight to the listener; first, so that the
        # hostile payloads below are the last ones (the tree shows the last payload)
        _, host, port = app.backend.listen_address.split(":")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b'{"jsonrpc":"2.0","method":"E_MY_CUSTOM","params":{"bytes":"\xff\xfe\x1b[31m\xc0\xaf"}}',
                     (host, int(port)))
        await until(pilot, lambda: len(log_lines(app)) >= 1, "the non-UTF-8 event")
        for _ in range(3):  # several times: the distinct-values column fills too
            sim.raise_event("E_MY_CUSTOM", HOSTILE)
        sim.raise_event(evil_name, {"x": "[red]y[/red]"})
        await until(pilot, lambda: len(log_lines(app)) >= 5, "log lines")
        await until(pilot, lambda: any("markup" in label for label in tree_labels(app)), "payload tree")
        await pilot.pause(0.6)  # one slow tick: counts, values seen, status bar

        lines = log_lines(app)
        for line in lines:
            assert_safe("log line", line)
        joined = "\n".join(lines)
        assert "[bold red]RED[/]" in joined and "[link=https://evil.example]click[/link]" in joined
        assert "\\x1b[2J" in joined and "\\u202e" in joined and "\\x9b" in joined
        assert not any(line.lstrip().startswith("12:00:00 E_FAKE") for line in lines), "a payload forged a log line"
        assert "[red]y[/red]" in joined

        for label in tree_labels(app):
            assert_safe("payload tree", label)
        assert any("[bold red]RED[/]" in label for label in tree_labels(app))

        for widget in app.screen.query("*"):
            render = getattr(widget, "render", None)
            if widget.display and callable(render):
                try:
                    rendered = render()
                except Exception:  # noqa: BLE001 - some widgets render only via lines
                    continue
                plain = getattr(rendered, "plain", None)
                if isinstance(plain, str):
                    assert_safe(f"{type(widget).__name__}#{widget.id}", plain, multiline=True)

        screen = app.export_screenshot()
        assert_safe("screen", re.sub(r"&#\d+;", "", screen), multiline=True)
        assert "EVIL" in screen

        await pilot.press("e")
        export_dir = tmp_path / "exports"
        await until(pilot, lambda: export_dir.exists() and any(export_dir.iterdir()), "export file")
        path = next(export_dir.iterdir())
        await until(pilot, lambda: path.read_bytes().count(b"\n") >= 5, "export written")
        raw = path.read_bytes()
    text = raw.decode("utf-8")
    assert_safe("export file", text, multiline=True)
    rows = [json.loads(line) for line in text.splitlines()]
    # literal: the export keeps the payload exactly, only escaped as JSON
    params = [r.get("params") or r.get("notification", {}).get("params") for r in rows]
    assert HOSTILE in params, rows[:1]


@run
async def test_sim_restart_shows_outage_and_recovery(sim: SimulatedOpenSIPS, tmp_path: Path) -> None:
    app = make_app(sim, tmp_path, health_every=0.3, subscribe=["E_PIKE_BLOCKED"], event={"refresh_interval": 0.3})
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.events.states.get("E_PIKE_BLOCKED") == "active", "subscribed")
        sim.raise_event("E_PIKE_BLOCKED", {"ip": "10.5.0.1"})
        await until(pilot, lambda: any("10.5.0.1" in line for line in log_lines(app)), "first event")

        sim.stop()
        await until(pilot, lambda: app.status.health is False, "status bar shows the outage")
        await until(pilot, lambda: app.events.states.get("E_PIKE_BLOCKED") == "retrying", "retrying state")
        assert "retrying" in app.events.states.values()

        sim.start()
        await until(pilot, lambda: app.status.health is True, "status bar shows recovery", 15)
        await until(pilot, lambda: app.events.states.get("E_PIKE_BLOCKED") == "active", "active again", 15)
        await until(pilot, lambda: live(sim), "resubscribed on the simulator", 5)
        n = 0

        def raised_and_seen() -> bool:
            nonlocal n
            n += 1
            sim.raise_event("E_PIKE_BLOCKED", {"ip": f"10.5.1.{n}"})
            return any("10.5.1." in line for line in log_lines(app))

        await until(pilot, raised_and_seen, "events after the restart")
        await pilot.press("q")
        await until(pilot, lambda: app._exit, "exit")
    assert not live(sim)


@pytest.mark.parametrize("conn", ["http", "fifo"])
@run
async def test_ctrl_c_during_a_flood_leaves_nothing(conn: str, sim: SimulatedOpenSIPS, tmp_path: Path) -> None:
    sock = tmp_path / "tui.sock"
    reply_dir_before = sorted(os.listdir(sim.fifo_reply_dir))
    app = make_app(sim, tmp_path, subscribe=["E_PIKE_BLOCKED", "E_CORE_LOG"], event={"socket_path": str(sock)},
                   conn=conn)
    stop = threading.Event()

    def flood() -> None:
        i = 0
        while not stop.is_set():
            sim.raise_event("E_PIKE_BLOCKED", {"ip": f"10.6.{i >> 8 & 255}.{i & 255}"})
            i += 1
            time.sleep(0.0005)

    flooder = threading.Thread(target=flood, daemon=True)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.events.states.get("E_PIKE_BLOCKED") == "active"
                        and app.events.states.get("E_CORE_LOG") == "active", "subscribed")
            assert sock.exists()
            flooder.start()
            await until(pilot, lambda: len(log_lines(app)) > 100, "flood reaching the log")
            started = time.monotonic()
            await pilot.press("ctrl+c")
            await until(pilot, lambda: app._exit, "exit after ctrl+c", 5)
            took = time.monotonic() - started
    finally:
        stop.set()
        flooder.join(2)
    assert took < 5, took  # the app promises 2 s; generous hang bound
    deadline = time.monotonic() + 3
    while (live(sim) or event_threads() or sock.exists()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not live(sim), live(sim)
    assert not sock.exists()
    assert not event_threads(), event_threads()
    assert sorted(os.listdir(sim.fifo_reply_dir)) == reply_dir_before  # no reply FIFO left


@run
async def test_quit_while_opensips_hangs_is_bounded(sim: SimulatedOpenSIPS, tmp_path: Path) -> None:
    app = make_app(sim, tmp_path, subscribe=["E_PIKE_BLOCKED"])
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.events.states.get("E_PIKE_BLOCKED") == "active", "subscribed")
        sim.hang = True  # the unsubscribe will never be answered
        started = time.monotonic()
        await pilot.press("q")
        await until(pilot, lambda: app._exit, "exit while MI hangs", 8)
        took = time.monotonic() - started
    sim.hang = False
    assert took < 8
    deadline = time.monotonic() + 8  # the MI timeout (5 s) of the background unsubscribe
    while event_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not event_threads(), event_threads()
