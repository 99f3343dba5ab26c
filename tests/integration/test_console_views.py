"""The MI console's views against a real OpenSIPS 4.0.1, with sipp calls and REGISTERs.

Each view is built from what the real server answers while the traffic it shows exists:
dialogs of sipp calls through the proxy, contacts of REGISTERs sent from here, the kit's
dispatcher set and load_balancer group (the sipp UAS plus a dead destination), a pike block
of 127.0.0.2 flooding, a TCP connection held open, and ps joined with the load statistics.
The console screen is then driven by Pilot against the same server, one key per view.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from opensips.console import VIEWS, MIConsole, set_state_request
from opensips_tui.app import OpenSIPSTUI
from opensips_tui.config import Settings
from opensips_tui.screens import ConsoleScreen
from tests.integration.conftest import connector
from tests.tui_pilot import until

KIT = Path(os.environ.get("OPENSIPS_KIT", "/work/shared/real-opensips"))


def sip_addr(real: dict[str, str]) -> tuple[str, int]:
    host, _, port = real["OPENSIPS_SIP"].rpartition(":")
    return host, int(port)


def exempt_ports(real: dict[str, str]) -> list[int]:
    """Source ports pike lets through (the kit's OPENSIPS_SIP_PIKE_EXEMPT_PORTS, e.g. 5061-5099)."""
    low, _, high = real["OPENSIPS_SIP_PIKE_EXEMPT_PORTS"].partition("-")
    return list(range(int(low), int(high) + 1))


def free_udp_port(ports: list[int]) -> int:
    """The first of ``ports`` nobody holds on UDP and TCP (the kit's exempt range is ours)."""
    for port in ports:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
                    socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                u.bind(("127.0.0.1", port))
                t.bind(("127.0.0.1", port))
                return port
        except OSError:
            continue
    pytest.skip("no free pike-exempt source port")


def register(real: dict[str, str], user: str, expires: int, port: int) -> str:
    """One REGISTER for ``user``@the proxy from ``port``; returns the status line of the answer."""
    host, sip_port = sip_addr(real)
    call_id = f"{uuid.uuid4().hex}@127.0.0.1"
    message = (f"REGISTER sip:{host} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{uuid.uuid4().hex[:16]}\r\n"
               f"From: <sip:{user}@{host}>;tag={uuid.uuid4().hex[:8]}\r\n"
               f"To: <sip:{user}@{host}>\r\nCall-ID: {call_id}\r\nCSeq: 1 REGISTER\r\n"
               f"Contact: <sip:{user}@127.0.0.1:{port}>\r\nExpires: {expires}\r\nMax-Forwards: 70\r\n"
               f"User-Agent: opensips-tui-it/1.0\r\nContent-Length: 0\r\n\r\n")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", port))
        sock.settimeout(5)
        sock.sendto(message.encode(), (host, sip_port))
        return sock.recv(65535).decode(errors="replace").split("\r\n", 1)[0]


@pytest.fixture
def console(real) -> Iterator[MIConsole]:
    mi = connector(real, "http")
    console = MIConsole(mi)
    console.load_catalog()
    yield console
    mi.close()


def view_rows(console: MIConsole, name: str) -> list[dict]:
    view = VIEWS[name]
    outcomes = console.view(view)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    return view.build([o.result for o in outcomes], time.time()).as_dicts()


def wait_rows(console: MIConsole, name: str, cond, what: str, seconds: float = 15.0) -> list[dict]:
    deadline = time.monotonic() + seconds
    rows: list[dict] = []
    while time.monotonic() < deadline:
        rows = view_rows(console, name)
        if cond(rows):
            return rows
        time.sleep(0.3)
    raise AssertionError(f"{what}: last rows {rows}")


@pytest.fixture
def calls(real) -> Iterator[str]:
    """Two 10 s sipp calls through the proxy to a service of its own; the teardown lets them
    end with their BYE (a killed UAC would leave its dialogs confirmed for hours)."""
    if shutil.which("sipp") is None:
        pytest.skip("sipp is not installed")
    host, port = sip_addr(real)
    local = free_udp_port(exempt_ports(real)[10:])
    service = f"console{uuid.uuid4().hex[:8]}"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        media = probe.getsockname()[1]
    proc = subprocess.Popen(
        ["sipp", "-sf", str(KIT / "sipp" / "uac.xml"), "-s", service, "-i", "127.0.0.1",
         "-p", str(local), "-mp", str(media), "-m", "2", "-l", "2", "-d", "10000", "-nostdin",
         f"{host}:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/tmp")
    try:
        yield f"sip:{service}@{host}"
    finally:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_dialogs_view_shows_the_sipp_calls(console, calls) -> None:
    rows = wait_rows(console, "dialogs", lambda rs: sum(r["Callee"] == calls and r["State"] == "confirmed"
                                                        for r in rs) >= 2, "two confirmed calls")
    ours = [r for r in rows if r["Callee"] == calls]
    assert all(r["Caller"] == "sip:sipp@127.0.0.1" and r["Call-ID"] and r["Dialog ID"] for r in ours)
    assert all(isinstance(r["Age s"], int) and 0 <= r["Age s"] < 60 for r in ours)


def test_registrations_view_shows_the_registers(real, console) -> None:
    port = free_udp_port(exempt_ports(real)[20:])
    user = f"it{uuid.uuid4().hex[:6]}"
    assert register(real, user, 60, port).startswith("SIP/2.0 200")
    try:
        rows = wait_rows(console, "registrations", lambda rs: any(r["AOR"] == f"{user}@127.0.0.1" for r in rs),
                         "the contact")
        row = next(r for r in rows if r["AOR"] == f"{user}@127.0.0.1")
        assert row["Contact"] == f"sip:{user}@127.0.0.1:{port}" and row["User agent"] == "opensips-tui-it/1.0"
        assert 0 < row["Expires s"] <= 60 and row["Table"] == "location"
    finally:
        assert register(real, user, 0, port).startswith("SIP/2.0 200")
    wait_rows(console, "registrations", lambda rs: all(r["AOR"] != f"{user}@127.0.0.1" for r in rs),
              "the contact removed")


def test_dispatcher_view_and_set_state(real, console) -> None:
    uas = "sip:" + real["OPENSIPS_UAS"]
    host, _, port = real["OPENSIPS_UAS"].rpartition(":")
    dead = f"sip:{host}:{int(port) + 1}"
    rows = view_rows(console, "dispatcher")
    by_uri = {r["URI"]: r for r in rows}
    assert by_uri[uas]["State"] == "Active" and by_uri[dead]["State"] in ("Probing", "Inactive")
    assert by_uri[uas]["Partition"] == "default" and by_uri[uas]["Set"] == 1
    command, params = set_state_request(console.catalog, "default", 1, dead, "inactive")
    assert console.call(command, params, confirmed=True).ok
    try:
        wait_rows(console, "dispatcher", lambda rs: {r["URI"]: r["State"] for r in rs}[dead] == "Inactive",
                  "inactive")
    finally:
        command, params = set_state_request(console.catalog, "default", 1, dead, "probing")
        assert console.call(command, params, confirmed=True).ok


def test_load_balancer_pike_tcp_and_processes_views(real, console) -> None:
    lb = {r["URI"]: r for r in view_rows(console, "load_balancer")}
    assert "sip:" + real["OPENSIPS_UAS"] in lb
    assert all(r["Resources"].startswith("calls ") for r in lb.values())
    host, sip_port = sip_addr(real)
    # pike: more than 5 requests in 2 s from one IP blocks it (127.0.0.2: not the exempt ports)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flood:
        flood.bind(("127.0.0.2", 0))
        for n in range(12):
            flood.sendto((f"OPTIONS sip:{host} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:{flood.getsockname()[1]};"
                          f"branch=z9hG4bKpike{n}\r\nFrom: <sip:p@127.0.0.2>;tag={n}\r\nTo: <sip:{host}>\r\n"
                          f"Call-ID: pike{n}-{uuid.uuid4().hex}\r\nCSeq: 1 OPTIONS\r\n"
                          "Content-Length: 0\r\n\r\n").encode(), (host, sip_port))
        wait_rows(console, "pike", lambda rs: {"IPs": "127.0.0.2"} in rs, "127.0.0.2 blocked", seconds=3)
    # tcp: one SIP connection held open from a pike-exempt port
    port = free_udp_port(exempt_ports(real)[30:])
    with socket.create_connection((host, sip_port), source_address=("127.0.0.1", port), timeout=5) as conn:
        conn.sendall((f"OPTIONS sip:{host} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:{port};branch=z9hG4bKtcp\r\n"
                      f"From: <sip:t@127.0.0.1>;tag=t\r\nTo: <sip:{host}>\r\nCall-ID: tcp-{uuid.uuid4().hex}\r\n"
                      "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode())
        conn.recv(65535)
        rows = wait_rows(console, "tcp", lambda rs: any(r["Remote"] == f"127.0.0.1:{port}" for r in rs),
                         "our connection")
        assert next(r for r in rows if r["Remote"] == f"127.0.0.1:{port}")["Local"] == f"{host}:{sip_port}"
    procs = view_rows(console, "processes")
    ps = console.call("ps").result["Processes"]
    assert [p["PID"] for p in procs] == [p["PID"] for p in ps]
    assert any(isinstance(p["Load"], int) for p in procs) and any(p["Type"] == "MI FIFO" for p in procs)


def test_console_screen_views_on_the_real_server(real, calls, tmp_path) -> None:
    """Pilot: key 3, then every view key; each shows a table from the real server, no error."""
    settings = Settings(conn="http", mi={"url": real["OPENSIPS_MI_URL"], "timeout": 5},
                        event={"listen_ip": "127.0.0.1"}, export_dir=tmp_path,
                        history_path=tmp_path / "history.jsonl")

    async def drive() -> None:
        app = OpenSIPSTUI(settings, health_every=3600)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("3")
            screen = app.screen
            assert isinstance(screen, ConsoleScreen)
            await until(pilot, lambda: screen.catalog is not None, "which", tries=200)
            assert screen.console.catalog.namespaced
            from opensips_tui.screens.console import VIEW_KEYS
            for name, key in VIEW_KEYS.items():
                await pilot.press(key)
                await until(pilot, lambda: screen.table is not None and screen.table.key == name,
                            f"the {name} view", tries=200)
                assert not screen.summary.has_class("-error"), str(screen.summary.render())
                if name == "dialogs":
                    await until(pilot, lambda: any(r["Callee"] == calls for r in screen.table.as_dicts()),
                                "the sipp calls", tries=300)
            assert screen.refreshing

    asyncio.run(drive())


def test_dispatcher_view_refreshes_on_e_dispatcher_status(real, console, tmp_path) -> None:
    """A one-hour refresh: only the real E_DISPATCHER_STATUS (reason "MI command") can show
    the new state; leaving the view unsubscribes."""
    host, _, port = real["OPENSIPS_UAS"].rpartition(":")
    dead = f"sip:{host}:{int(port) + 1}"
    settings = Settings(conn="http", mi={"url": real["OPENSIPS_MI_URL"], "timeout": 5},
                        event={"listen_ip": "127.0.0.1"}, export_dir=tmp_path,
                        history_path=tmp_path / "history.jsonl")

    def subscribed() -> bool:
        reply = console.call("evi:subscribers", {"event": "E_DISPATCHER_STATUS"}).result
        return any(s.get("expire") != "expired" and s.get("ttl") != "expired"
                   for s in reply["Event"].get("Subscribers", []))

    async def drive() -> None:
        app = OpenSIPSTUI(settings, health_every=3600)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("3")
            screen = app.screen
            await until(pilot, lambda: screen.catalog is not None, "which", tries=200)
            screen.view_interval = 3600
            await pilot.press("f4")
            await until(pilot, lambda: screen.watch_note.startswith("live"), "subscribed", tries=200)
            assert subscribed()
            await until(pilot, lambda: screen.table is not None and screen.table.key == "dispatcher", "view")
            command, params = set_state_request(console.catalog, "default", 1, dead, "inactive")
            assert console.call(command, params, confirmed=True).ok
            await until(pilot, lambda: {r["URI"]: r["State"] for r in screen.table.as_dicts()}[dead] == "Inactive",
                        "the event-driven refresh", tries=200)
            await pilot.press("f2")
            await until(pilot, lambda: not screen.watch_note, "unsubscribed", tries=200)

    try:
        asyncio.run(drive())
    finally:
        command, params = set_state_request(console.catalog, "default", 1, dead, "probing")
        console.call(command, params, confirmed=True)
    deadline = time.monotonic() + 5
    while subscribed() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not subscribed()
