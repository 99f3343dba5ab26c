"""``--record``: every notification the monitor receives is written to a recording, and says so.

Pilot tests on the simulator (real MI over http, real UDP events) at 80x24 and 120x40: the
recording holds exactly what the app counted; a full disk (a real 64 KiB tmpfs) is a red
status and a toast, never a traceback; a file that exists is refused in one line.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from opensips.record import Recording
from opensips_tui.__main__ import close_sources, main as tui_main, open_sources
from opensips_tui.config import Settings
from opensips_tui.feed import TOTAL
from opensips_tui.recording import RecordTap, expand_path
from tests.tui_pilot import make_app, run, until

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
TRAFFIC = ["E_PIKE_BLOCKED", "E_UL_CONTACT_INSERT", "E_CORE_LOG"]


def raise_events(sim, n: int, pad: int = 0) -> None:
    """``n`` notifications over the three events, each payload different."""
    for i in range(n):
        name = TRAFFIC[i % 3]
        sim.raise_event(name, {"ip": f"10.0.{i // 250}.{i % 250}", "i": i, "pad": "x" * pad})


def recording_app(sim, tmp_path: Path, path: Path, **settings):
    """The monitor on ``sim`` recording to ``path`` as ``--record`` sets it up."""
    app = make_app(sim, tmp_path, subscribe=TRAFFIC, record=str(path), **settings)
    app.sources = open_sources(app.settings, app.feed)
    return app


async def record(pilot, app, sim, n: int) -> dict[str, int]:
    """Once subscribed, ``n`` notifications raised and counted by the app: its counts per event."""
    await until(pilot, lambda: all(app.events.states.get(e) == "active" for e in TRAFFIC), "subscribed")
    raise_events(sim, n)
    await until(pilot, lambda: app.feed.summary()[TOTAL][0] == n, f"{n} notifications")
    return {name: count for name, (count, _) in app.feed.summary().items() if name != TOTAL}


def counts(recording: Recording) -> Counter:
    return Counter(r.event for r in recording)


async def recorded_run(sim, path: Path, size: tuple[int, int], n: int = 300) -> dict[str, int]:
    """The monitor recording ``n`` notifications of ``sim`` to ``path`` (closed): its counts per event."""
    app = recording_app(sim, path.parent, path)
    async with app.run_test(size=size) as pilot:
        shown = await record(pilot, app, sim, n)
        await until(pilot, lambda: f"REC {path.name}" in app.status.content().plain, "REC in the status bar")
    close_sources(app.sources, app.backend)
    return shown


@SIZES
@run
async def test_the_recording_holds_exactly_what_the_app_counted(sim, tmp_path, size) -> None:
    shown = await recorded_run(sim, tmp_path / "rec.jsonl", size)
    recording = Recording(tmp_path / "rec.jsonl")
    assert counts(recording) == shown and len(recording) == 300
    assert (recording.garbage, recording.truncated, recording.lost) == (0, 0, 0)
    assert {r.node for r in recording} == {None}          # one server watched: node null
    first = next(iter(recording))
    assert first.notification["jsonrpc"] == "2.0" and first.notification["method"] == first.event


@run
async def test_the_status_bar_shows_the_size_and_a_full_disk_in_red(sim, tmp_path, small_tmpfs) -> None:
    """A real full disk: a 64 KiB tmpfs (needs root and mount; skipped in one line otherwise)."""
    path = small_tmpfs / "rec.jsonl"
    app = recording_app(sim, tmp_path, path)
    async with app.run_test(size=(80, 24)) as pilot:
        await record(pilot, app, sim, 50)
        await until(pilot, lambda: " KiB" in app.status.content().plain, "the recording's size")
        raise_events(sim, 300, pad=1000)     # ~ 1.1 KiB each: far past 64 KiB
        await until(pilot, lambda: "disk full" in app.status.content().plain, "disk full in the status bar")
        text = app.status.content()
        assert "REC rec.jsonl: disk full" in text.plain and " lost" in text.plain
        assert any("red" in str(span.style) for span in text.spans
                   if "disk full" in text.plain[span.start:span.end])
        assert any("disk full" in n.message and n.severity == "error" for n in app._notifications)
        await until(pilot, lambda: app.feed.summary()[TOTAL][0] == 350, "350 notifications")
    tap = app.sources[0]
    close_sources(app.sources, app.backend)
    recording = Recording(path)
    assert len(recording) + tap.recorder.lost == 350   # every one written or counted lost
    assert recording.truncated == 0 and recording.garbage == 0  # whole lines only


def refused(tmp_path: Path, capsys, argv: list[str]) -> str:
    """``opensips-tui ARGV`` (an empty config) exits 2 with one line on stderr, nothing on stdout: that line."""
    config = tmp_path / "config.toml"
    config.write_text("")
    code = tui_main(["--config", str(config), *argv])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1, err
    return err


def test_an_existing_recording_is_never_overwritten(tmp_path, capsys) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_text("precious\n")
    err = refused(tmp_path, capsys, ["--record", str(path)])
    assert err.startswith("opensips-tui: --record: ") and "exists" in err
    assert path.read_text() == "precious\n"
    rotated = tmp_path / "new.jsonl.2"      # a rotated file of that name counts too
    rotated.write_text("older\n")
    assert "new.jsonl.2 exists" in refused(tmp_path, capsys, ["--record", str(tmp_path / "new.jsonl")])
    assert not (tmp_path / "new.jsonl").exists()


@pytest.mark.parametrize("argv, needle", [
    (["--record-max-bytes", "12x"], "--record-max-bytes: must be a size such as 65536, 512K, 64M or 1G"),
    (["--record-max-bytes", "100"], "--record-max-bytes: must be an integer from 1024"),
    (["--record-backups", "-1"], "--record-backups: must be an integer from 0 to 1000"),
    (["--record", "/nonexistent-dir/x/rec.jsonl"], "--record: cannot create recording"),
], ids=["size-unit", "size-small", "backups", "no-dir"])
def test_bad_record_flags_exit_2_with_one_line(tmp_path, capsys, argv, needle) -> None:
    assert needle in refused(tmp_path, capsys, argv)


def test_config_keys_and_strftime_names(tmp_path) -> None:
    from opensips_tui.config import resolve

    config = tmp_path / "config.toml"
    config.write_text('[tui]\nrecord = "~/rec-%Y.jsonl"\nrecord_max_bytes = "2M"\nrecord_backups = 0\n')
    settings = resolve({}, config)
    assert (settings.record, settings.record_max_bytes, settings.record_backups) == ("~/rec-%Y.jsonl", 2 << 20, 0)
    expanded = expand_path(settings.record, now=1_764_255_600.0)
    assert expanded == Path.home() / "rec-2025.jsonl"
    assert expand_path("a%%b.jsonl") == Path("a%b.jsonl")


def test_rotation_by_size_from_the_settings(tmp_path) -> None:
    """--record-max-bytes and --record-backups reach the recorder: files rotate, at most backups + 1."""
    settings = Settings(record=str(tmp_path / "r.jsonl"), record_max_bytes=4096, record_backups=2)
    from opensips_tui.feed import Feed

    feed = Feed()
    [tap] = open_sources(settings, feed)
    assert isinstance(tap, RecordTap) and feed.tap is tap
    for i in range(200):
        feed.push("E_X", {"jsonrpc": "2.0", "method": "E_X", "params": {"i": i, "pad": "x" * 100}}, "edge1")
    close_sources([tap])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.jsonl", "r.jsonl.1", "r.jsonl.2"]
    assert all(p.stat().st_size <= 4096 for p in tmp_path.iterdir())
    kept = [r.notification["params"]["i"] for r in Recording(tmp_path / "r.jsonl")]
    assert kept == list(range(200 - len(kept), 200)) and {r.node for r in Recording(tmp_path / "r.jsonl")} == {"edge1"}
