"""``--replay``: a recording as the monitor's only source, with its keys, at 80x24 and 120x40.

The exactness test records a simulator run with the app's own ``--record`` path, spoils the
file as a crash and a hand edit would (a garbage line, a last line cut short), replays it at
speed 0 and compares every count with the recording's. The keys are checked against the
invariant the replay keeps: the app counts exactly the records up to the play position.
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Tree

from opensips.record import Recorder, Recording
from opensips_tui.__main__ import main as tui_main
from opensips_tui.config import Settings
from opensips_tui.feed import TOTAL
from opensips_tui.replay_app import ReplayTUI
from opensips_tui.replay_source import ReplaySource, open_recording
from opensips_tui.widgets import FilterBar, HelpScreen, LogView
from tests.test_tui_record import recorded_run, refused
from tests.tui_pilot import run, until

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
T0 = 1_764_790_000.0
SAMPLE = Path(__file__).parent / "fixtures" / "recordings" / "v1-sample.jsonl"


def replay_app(path: Path, tmp_path: Path, speed: float = 0.0, **settings) -> ReplayTUI:
    recording = open_recording(path)
    config = Settings(replay=path, speed=speed, export_dir=tmp_path / "exports", utc=True, **settings)
    return ReplayTUI(config, ReplaySource(recording, config.ring_size, speed))


def counted(app: ReplayTUI) -> dict[str, int]:
    return {name: count for name, (count, _) in app.feed.summary().items() if name != TOTAL}


def spaced(path: Path, n: int = 30) -> Path:
    """``n`` records 10 s apart, two events, three nodes."""
    with Recorder(path) as rec:
        for i in range(n):
            rec.write({"jsonrpc": "2.0", "method": "E_A" if i % 2 else "E_B", "params": {"i": i}},
                      f"edge{i % 3}", T0 + 10 * i)
    return path


@SIZES
@run
async def test_a_recorded_run_replays_with_exactly_its_counts(sim, tmp_path, size) -> None:
    path = tmp_path / "run.jsonl"
    live = await recorded_run(sim, path, size)
    with open(path, "ab") as f:      # a hand edit, then a crash in the middle of a line
        f.write(b"not a record\n")
        f.write(b'{"time":1764790000.5,"node":"edge1","event":"E_PIKE_BLOCKED","notif')
    recording = Recording(path)
    assert (recording.garbage, recording.truncated) == (1, 1)
    expected = Counter(r.event for r in recording)
    assert expected == live and sum(expected.values()) == 300

    replay = replay_app(path, tmp_path)
    async with replay.run_test(size=size) as pilot:
        await until(pilot, lambda: replay.replay.finished, "the end of the recording")
        await until(pilot, lambda: "finished" in replay.status.content().plain, "finished in the status bar")
        assert counted(replay) == dict(expected)
        assert replay.events.names == sorted(expected)
        bar = replay.status.content().plain
        assert "REPLAY run.jsonl" in bar and "max speed finished" in bar and "2 bad lines" in bar
        said = " ".join(n.message for n in replay._notifications)
        assert "300 records in 1 file" in said and "1 bad lines skipped" in said and "1 cut-short line" in said
        await until(pilot, lambda: len(replay.query_one("#log", LogView).lines) == 300, "300 log lines")


@SIZES
@run
async def test_a_fleet_recording_replays_with_its_counts_per_node(tmp_path, size) -> None:
    """The v1 sample (three files, four nodes and none, a gap line, bytes that were not UTF-8)."""
    for src in SAMPLE.parent.glob("v1-sample.jsonl*"):
        (tmp_path / src.name).write_bytes(src.read_bytes())
    path = tmp_path / "v1-sample.jsonl"
    recording = Recording(path)
    by_event = Counter(r.event for r in recording)
    by_node = Counter(r.node for r in recording if r.node is not None)
    assert len(by_node) >= 4 and any(r.node is None for r in recording)
    app = replay_app(path, tmp_path)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.replay.finished and app.feed.summary()[TOTAL][0] == len(recording), "the end")
        assert counted(app) == dict(by_event)
        assert {node: count for node, (count, _) in app.feed.node_summary().items()} == dict(by_node)
        lines = app.query_one("#log", LogView).lines
        await until(pilot, lambda: len(lines) == len(recording), "every line in the log")
        assert any(" edge2 " in line for line in lines) and any(" - " in line for line in lines)
        app.query_one(FilterBar).value = "node:edge1"
        await until(pilot, lambda: len(lines) == by_node["edge1"], "node:edge1 filtered")
        assert "3 records lost while recording" in " ".join(n.message for n in app._notifications)


def upto_position(app: ReplayTUI) -> int:
    """Records received at or before the play position: what the app must have counted."""
    now = app.replay.now()
    return sum(1 for r in app.replay.recording.records() if r.time <= now)


async def settled(pilot: Pilot, app: ReplayTUI, what: str) -> None:
    await until(pilot, lambda: not app.replay.seeking and app.feed.summary()[TOTAL][0] == upto_position(app),
                what)


@run
async def test_keys_pause_seek_speed_and_restart(tmp_path) -> None:
    """Records 10 s apart at 1/16 speed: 160 s between two, so only the keys move the position."""
    app = replay_app(spaced(tmp_path / "r.jsonl"), tmp_path, speed=1 / 16)
    async with app.run_test(size=(120, 40)) as pilot:
        source = app.replay
        await until(pilot, lambda: app.feed.summary()[TOTAL][0] == 1, "the first record")
        assert "0:00/4:50 x1/16" in app.status.content().plain
        await pilot.press("right_square_bracket")
        await settled(pilot, app, "a seek forward")
        assert source.position >= 10 and app.feed.summary()[TOTAL][0] >= 2
        await pilot.press("p")
        await until(pilot, lambda: "paused" in app.status.content().plain, "paused")
        here = source.position
        await pilot.press("right_square_bracket", "right_square_bracket")
        await settled(pilot, app, "two seeks forward while paused")
        assert source.paused and source.position == pytest.approx(here + 20, abs=0.5)
        await pilot.press("left_square_bracket")
        await settled(pilot, app, "a seek back")
        assert source.paused and source.position == pytest.approx(here + 10, abs=0.5)
        played = [r for r in source.recording.records() if r.time <= source.now()]
        assert counted(app) == dict(Counter(r.event for r in played))
        assert {n: c for n, (c, _) in app.feed.node_summary().items()} == dict(Counter(r.node for r in played))
        await pilot.press("space")                 # the events list has the focus: space resumes too
        assert not any(app.events.states.values())  # and subscribes nothing
        await until(pilot, lambda: not source.paused and "paused" not in app.status.content().plain, "resumed")
        await pilot.press("greater_than_sign", "greater_than_sign")
        await until(pilot, lambda: "x1/4" in app.status.content().plain, "x1/4")
        await pilot.press("less_than_sign")
        await until(pilot, lambda: "x1/8" in app.status.content().plain, "x1/8")
        for _ in range(10):
            await pilot.press("less_than_sign")
        assert source.speed == 1 / 16              # never slower than that
        await pilot.press("0")
        await settled(pilot, app, "a restart")
        assert app.feed.summary()[TOTAL][0] == 1 and source.position < 1
        app.replay.faster()
        for _ in range(20):
            app.replay.faster()
        assert source.speed == 0                   # past x1024: as fast as possible
        app.replay._set_speed(0)
        await until(pilot, lambda: source.finished and app.feed.summary()[TOTAL][0] == 30, "the end")
        assert counted(app) == {"E_A": 15, "E_B": 15}
        assert {n: c for n, (c, _) in app.feed.node_summary().items()} == {"edge0": 10, "edge1": 10, "edge2": 10}
        await until(pilot, lambda: "4:50/4:50" in app.status.content().plain, "the whole duration")
        await pilot.press("p")                     # at the end: play again
        await until(pilot, lambda: source.finished and "finished" in app.status.content().plain, "again")
        assert app.feed.summary()[TOTAL][0] == 30


@run
async def test_no_mi_at_all_and_the_live_screens_say_why(tmp_path) -> None:
    """A replay asks nothing over MI: an http MI target that would answer is never connected to."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/mi"
    try:
        app = replay_app(SAMPLE, tmp_path,
                         conn="http", mi={"url": url}, subscribe=["E_PIKE_BLOCKED"])
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.replay.finished, "the end")
            for key, name in (("2", "Statistics"), ("3", "MI console"), ("4", "SIP trace")):
                await pilot.press(key)
                await until(pilot, lambda: any(f"{name} screen: unavailable in a replay" in n.message
                                               for n in app._notifications), f"{name} unavailable")
                assert app.screen is app.screen_stack[0]
            await pilot.press("d")
            assert any("MI: not used (in a replay" in n.message for n in app._notifications)
            await pilot.press("question_mark")      # the help lists the replay's keys
            await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
            assert all(word in app.screen.body.plain for word in ("Back 10 s", "Forward 10 s", "Slower",
                                                                    "Faster", "Play again from the start"))
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, HelpScreen), "help closed")
            await pilot.press("enter", "w")         # the events list's toggle and save: neither
            await until(pilot, lambda: any("A replay subscribes nothing" in n.message for n in app._notifications)
                        and any("Nothing to save" in n.message for n in app._notifications), "refusals")
            assert not any(app.events.states.values()) and not app.wanted
            bar = app.status.content().plain
            assert "DOWN" not in bar and "listen" not in bar and "active" not in bar
            with pytest.raises(BlockingIOError):
                listener.accept()
    finally:
        listener.close()


@pytest.mark.parametrize("content, needle", [
    (None, "no such recording"),
    (b"", "not a recording (it is empty)"),
    (b"\x00\xff garbage\nmore\n", "not a recording (r.jsonl:1: not JSON)"),
    (b'{"format":"opensips-recording","version":9}\n', "recording format version 9 is newer"),
    ("dir", "cannot read"),
], ids=["missing", "empty", "binary", "newer", "directory"])
def test_a_file_that_cannot_be_replayed_is_one_line_and_exit_2(tmp_path, capsys, content, needle) -> None:
    path = tmp_path / "r.jsonl"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    err = refused(tmp_path, capsys, ["--replay", str(path)])
    assert err.startswith("opensips-tui: --replay: ") and needle in err, err


def test_a_big_recording_is_announced_before_it_is_read() -> None:
    sizes: list[int] = []
    recording = open_recording(SAMPLE, on_big=sizes.append, big=1000)
    assert sizes == [sum(p.stat().st_size for p in SAMPLE.parent.glob("v1-sample.jsonl*"))]
    assert len(recording) == 17
    assert open_recording(SAMPLE, on_big=sizes.append).count == 17 and len(sizes) == 1   # 32 MiB by default


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_recording_is_one_line(tmp_path, capsys) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text("{}\n")
    path.chmod(0)
    assert tui_main(["--replay", str(path)]) == 2
    assert "Permission denied" in capsys.readouterr().err


@pytest.mark.parametrize("flag", [["--record", "x.jsonl"], ["--amqp", "amqp://h/"], ["--demo"]])
def test_replay_takes_no_other_source(tmp_path, capsys, flag) -> None:
    assert f"it does not take {flag[0]}" in refused(tmp_path, capsys, ["--replay", str(tmp_path / "r.jsonl"), *flag])


def paused_at_20(tmp_path: Path):
    async def run_before(pilot: Pilot) -> None:
        app: ReplayTUI = pilot.app  # type: ignore[assignment]
        await until(pilot, lambda: app.feed.summary()[TOTAL][0] == 1, "the first record")
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: app.feed.summary()[TOTAL][0] == 3 and not app.replay.seeking, "0:20")
        await pilot.press("p")
        await until(pilot, lambda: "paused" in app.status.content().plain, "paused")
        await until(pilot, lambda: len(app.query_one("#log", LogView).lines) == 3, "3 log lines")
        app.events.highlighted = app.events.names.index("E_B")
        tree = app.query_one("#payload", Tree)   # the payload tree is redrawn at most once a second
        await until(pilot, lambda: [str(n.label) for n in tree.root.children] == ["i: 2"], "E_B's last payload")
        app.clear_notifications()
        await pilot.pause()

    return run_before


@SIZES
def test_replay_status_snapshot(snap_compare, tmp_path, size) -> None:
    app = replay_app(spaced(tmp_path / "fleet.jsonl"), tmp_path, speed=1 / 16)
    assert snap_compare(app, terminal_size=size, run_before=paused_at_20(tmp_path))
