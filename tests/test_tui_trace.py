"""The SIP trace screen (key 4) with Pilot, fed over real UDP with the packets OpenSIPS 4.0.1's
tracer sent (tests/trace_peers.py): calls, messages, ladder, raw SIP escaped, filters, limits,
the start dialog, and when the tracer runs (only while the screen is shown; stopped at exit)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess

from textual.widgets import Input, RadioButton, Static

from opensips.hep import HepPacket, encode
from opensips.hep.calls import CallStore
from opensips.hep.jsonl import read_jsonl
from opensips_tui.screens import TraceScreen
from opensips_tui.trace_control import TraceOptions
from opensips_tui.widgets.trace_dialog import TraceDialog
from tests.hep_wire import FULL, packets
from tests.trace_peers import UdpTraceSource
from tests.tui_pilot import make_app, run, until


@contextlib.asynccontextmanager
async def _traced(sim, tmp_path, source: UdpTraceSource | None = None, start: bool = True, **screen_kwargs):
    """The monitor with a trace screen on ``source`` (a UDP receiver by default), shown and
    tracing unless ``start`` is False; yields ``(pilot, screen, source)``."""
    source = source or UdpTraceSource()
    app = make_app(sim, tmp_path, health_every=3600, utc=True)
    screen = TraceScreen(source, utc=True, export_dir=tmp_path / "exports", **screen_kwargs)
    async with app.run_test(size=(120, 40)) as pilot:
        app.install_screen(screen, name="trace")
        if start:
            await pilot.press("4")
            assert app.screen is screen
            await until(pilot, lambda: source.running and screen.state == "running", "the trace to start")
        yield pilot, screen, source


def _headline(screen: TraceScreen) -> str:
    return str(screen.query_one("#trace-headline", Static).render())


def _calls(screen: TraceScreen) -> list[str]:
    return [screen.calls_list.plain(n, 160) for n in range(len(screen.calls_list.rows))]


@run
async def test_a_captured_call_over_udp_fills_calls_messages_ladder_and_raw(sim, tmp_path):
    async with _traced(sim, tmp_path) as (pilot, screen, source):
        assert source.calls == [("start", TraceOptions())]
        source.replay(FULL)
        await until(pilot, lambda: screen.store.messages_held == 20, "20 messages filed")
        await pilot.pause(0.3)
        rows = _calls(screen)
        assert len(rows) == 3
        assert " heptest@127.0.0.1 " in rows[0] and "REGISTER" in rows[0] and rows[0].split()[5] == "4"
        assert " sipp@127.0.0.1 " in rows[2] and " hepcall@127.0.0.1 " in rows[2]
        assert "COMPLETED" in rows[2] and " 14 " in rows[2] and "0.611s" in rows[2] and "1-25280@127.0.0.1" in rows[2]
        assert "3 calls · 20 msgs" in _headline(screen)
        await pilot.press("end")                      # the call: its ladder and its first message
        await pilot.pause(0.2)
        assert screen.ladder.columns == ("127.0.0.1:5063", "127.0.0.1:5060", "127.0.0.1:5070")
        first = screen.ladder.plain(0, 100)
        assert "INVITE" in first and first.index("│") < first.index("INVITE") < first.index(">")
        assert "+106ms" in screen.ladder.plain(6, 100) and "200 OK" in screen.ladder.plain(6, 100)
        assert screen.raw.message is not None and screen.raw.message.label == "INVITE"
        await pilot.press("enter", "down", "down")    # into the ladder: the raw view follows the cursor
        await pilot.pause(0.2)
        assert screen.focused is screen.ladder and screen.raw.message.label == "INVITE"
        assert screen.raw.message.src == "127.0.0.1:5060"
        await pilot.press("v")                        # every message, newest last
        await pilot.pause(0.2)
        rows = [screen.messages_list.plain(n, 160) for n in range(len(screen.messages_list.rows))]
        assert len(rows) == 20
        assert "127.0.0.1:5081" in rows[0] and "->" in rows[0] and "UDP" in rows[0] and "REGISTER" in rows[0]
        assert "SIP/2.0" not in rows[1] and "200 OK" in rows[1] and "hep-reg-heptest@127.0.0.1" in rows[1]
        assert screen.messages_list.cursor == 19 and screen.raw.message.label == "200 OK"


def _hostile_packet() -> HepPacket:
    base = packets(FULL)[4]
    payload = ("INVITE sip:[bold red]x[/]@h SIP/2.0\r\nCall-ID: evil\x1b[2J\x1b]8;;http://x\x07@h\r\n"
               "From: \u202eevil <sip:[link=http://x]u[/link]@h>;tag=1\r\nTo: <sip:b@h>\r\n"
               "X-Forged: ok\rINVITE sip:fake SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n").encode()
    return HepPacket(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, "payload": payload,
                        "correlation_id": None})


@run
async def test_hostile_sip_is_shown_escaped_never_as_markup_or_control(sim, tmp_path):
    async with _traced(sim, tmp_path) as (pilot, screen, source):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            out.sendto(encode(_hostile_packet()), source.address)
            out.sendto(b"HEP3 garbage", source.address)
        await until(pilot, lambda: screen.store.messages_held == 1, "the hostile message")
        await pilot.pause(0.3)
        row = _calls(screen)[0]
        assert "evil\\x1b[2J\\x1b]8;;http://x\\x07@h" in row and "\x1b" not in row
        assert "\\u202eevil" not in row  # From shows the URI only...
        assert " [link=http://x]u[/link]@h " in row      # ...literally
        text = str(screen.query_one("#sip-text", Static).render())
        assert "INVITE sip:[bold red]x[/]@h SIP/2.0" in text and "\\u202eevil" in text
        assert "X-Forged: ok\\rINVITE sip:fake SIP/2.0" in text
        assert not any(c in text for c in "\x1b\x07\u202e\r")
        ladder = screen.ladder.plain(0, 100)
        assert "INVITE" in ladder and "\x1b" not in ladder
        assert source.undecodable == 1


@run
async def test_filter_box(sim, tmp_path):
    async with _traced(sim, tmp_path) as (pilot, screen, source):
        source.replay(FULL)
        await until(pilot, lambda: screen.store.messages_held == 20, "20 messages")
        await pilot.press("slash", *"method=OPTIONS")
        await pilot.pause(0.2)
        assert len(screen.calls_list.rows) == 1 and "OPTIONS" in _calls(screen)[0]
        assert "filter: 1 shown" in _headline(screen)
        box = screen.query_one("#trace-filter", Input)
        box.value = "[b]colour=red"                # the typed text is never read as markup
        await pilot.pause(0.2)
        assert "unknown filter key '[b]colour'" in str(box.border_subtitle).replace("\\[", "[")
        assert len(screen.calls_list.rows) == 1           # the last good filter stays
        box.value = "ip=127.0.0.1:5070"
        await pilot.pause(0.2)
        assert len(screen.calls_list.rows) == 1 and "COMPLETED" in _calls(screen)[0]
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert len(screen.calls_list.rows) == 3 and screen.focused is screen.calls_list


@run
async def test_limits_evict_the_oldest_calls_and_say_so(sim, tmp_path):
    async with _traced(sim, tmp_path, store=CallStore(max_calls=2)) as (pilot, screen, source):
        source.replay(FULL)
        await until(pilot, lambda: screen.store.evicted_calls == 2 and "evicted" in _headline(screen),
                    "the evictions shown")
        assert "evicted 2 calls / 4 msgs" in _headline(screen) and len(screen.calls_list.rows) == 2


@run
async def test_trace_runs_only_while_the_screen_is_shown_and_stops_at_exit(sim, tmp_path):
    async with _traced(sim, tmp_path) as (pilot, screen, source):
        await pilot.press("1")                        # back to events: the tracer stops
        await until(pilot, lambda: not source.running and screen.control.state == "stopped", "stop")
        await pilot.press("4")
        await until(pilot, lambda: source.running, "started again")
        await pilot.press("p")                        # stopped by hand...
        await until(pilot, lambda: not source.running, "paused")
        await until(pilot, lambda: "paused (p starts)" in _headline(screen), "said so")
        await pilot.press("2", "4")                   # ...stays stopped when shown again
        await pilot.pause(0.3)
        assert not source.running and source.calls.count(("start", TraceOptions())) == 2
        await pilot.press("p")
        await until(pilot, lambda: source.running, "resumed")
    # the app exited with the trace running: unmounting the screen stopped it
    assert not source.running
    assert [c[0] for c in source.calls] == ["start", "stop"] * 3


@run
async def test_start_dialog_restarts_the_tracer_with_its_filter_and_scope(sim, tmp_path):
    async with _traced(sim, tmp_path) as (pilot, screen, source):
        app = pilot.app
        await pilot.press("t")
        assert isinstance(app.screen, TraceDialog)
        dialog = app.screen
        dialog.query_one("#trace-scope").query(RadioButton)[1].value = True     # t
        await pilot.press("enter")                    # scope t with no filter: refused, said why
        await pilot.pause(0.1)
        assert app.screen is dialog
        assert "needs a filter" in str(dialog.query_one("#trace-dialog-error", Static).render())
        await pilot.press(*"alice", "enter")
        await until(pilot, lambda: source.calls[-1] == ("start", TraceOptions(caller="alice", scope="t")),
                    "restarted with the dialog's options")
        assert [c[0] for c in source.calls] == ["start", "stop", "start"]
        await until(pilot, lambda: "scope t, caller=alice" in _headline(screen), "shown")
        await pilot.press("t", "escape")              # cancel changes nothing
        await pilot.pause(0.2)
        assert app.screen is screen and len(source.calls) == 3


@run
async def test_a_failed_start_is_shown_and_nothing_runs(sim, tmp_path):
    source = UdpTraceSource(fail="tracer:start failed: 500 dynamic trace id already used")
    async with _traced(sim, tmp_path, source, start=False) as (pilot, screen, _):
        await pilot.press("4")
        await until(pilot, lambda: screen.state == "failed", "the failure")
        assert "trace failed · tracer:start failed: 500 dynamic trace id already used" in _headline(screen)
        assert not source.running
    assert [c[0] for c in source.calls] == ["start"]


@run
async def test_help_and_palette_know_the_trace_screen(sim, tmp_path):
    async with _traced(sim, tmp_path, start=False) as (pilot, screen, _):
        app = pilot.app
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert "SIP trace screen" in commands
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        text = str(app.screen.query_one(Static).render())
        assert "SIP trace screen (4)" in text and "trace.options" in text


@run
async def test_export_call_and_all_as_pcap_and_jsonl(sim, tmp_path):
    async with _traced(sim, tmp_path) as (pilot, screen, source):
        source.replay(FULL)
        await until(pilot, lambda: screen.store.messages_held == 20, "20 messages")
        await pilot.press("end", "e")                 # the call
        await until(pilot, lambda: screen.last_export, "the call exported")
        pcap, jsonl = screen.last_export
        assert pcap.parent == jsonl.parent == tmp_path / "exports" and pcap.stem == jsonl.stem
        call = screen.store.get(("", "1-25280@127.0.0.1"))
        with jsonl.open(encoding="ascii") as lines:
            assert list(read_jsonl(lines)) == [m.packet for m in call.in_time_order()]
        assert _pcap_records(pcap) == [m.packet.payload for m in call.in_time_order()]
        screen.last_export = ()
        await pilot.press("E")                        # everything held
        await until(pilot, lambda: screen.last_export, "all exported")
        assert len(_pcap_records(screen.last_export[0])) == 20
        if shutil.which("tshark"):                    # Wireshark's reader agrees (when installed)
            out = subprocess.run(["tshark", "-r", str(pcap), "-T", "fields", "-e", "ip.src", "-e", "udp.dstport",
                                  "-e", "sip.Method", "-e", "sip.Status-Code"],
                                 capture_output=True, text=True, timeout=60)
            rows = [line.split("\t") for line in out.stdout.splitlines()]
            assert rows[0] == ["127.0.0.1", "5060", "INVITE", ""] and rows[-1][3] == "200" and len(rows) == 14


def _pcap_records(path) -> list[bytes]:
    """The UDP payloads of a pcap written by opensips.hep.pcap (Ethernet + IPv4 + UDP)."""
    data = path.read_bytes()
    assert data[:4] == b"\xd4\xc3\xb2\xa1"
    out, pos = [], 24
    while pos < len(data):
        length = int.from_bytes(data[pos + 8:pos + 12], "little")
        frame = data[pos + 16:pos + 16 + length]
        out.append(frame[14 + 20 + 8:])
        pos += 16 + length
    return out
