"""Playing a recording back: timing kept or scaled, pause, resume, seek, counts exact."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest

from opensips.record import Player, Record, Recorder, Recording
from tests.waiting import Sink, wait_until

SAMPLE = Path(__file__).parent / "fixtures" / "recordings" / "v1-sample.jsonl"


def _recording(tmp_path, times: list[float]) -> Recording:
    path = tmp_path / "r.jsonl"
    with Recorder(path) as rec:
        for i, t in enumerate(times):
            rec.write({"method": f"E_{i % 3}", "params": {"i": i}}, node=f"n{i % 2}", when=t)
    return Recording(path)


def test_replay_reproduces_the_counts_exactly() -> None:
    recording = Recording(SAMPLE)
    got: list[Record] = []
    ended = threading.Event()
    player = Player(recording, got.append, speed=0, on_end=ended.set).start()
    assert player.wait(10) and ended.is_set() and player.finished
    assert got == list(recording)
    assert Counter((r.node, r.event) for r in got) == Counter((r.node, r.event) for r in recording)
    assert player.delivered == 17 and player.position == 17
    player.stop()


def test_original_timing_is_kept(tmp_path) -> None:
    """An hour between two records at speed 1: the second waits; speed 0 lets it go at once."""
    recording = _recording(tmp_path, [100.0, 3700.0])
    sink = Sink()
    player = Player(recording, sink, speed=1).start()
    assert sink.take(1)[0].index == 0
    assert sink.empty_for(0.3)
    player.speed = 0
    assert sink.take(1, timeout=10)[0].index == 1
    assert player.wait(10)
    player.stop()


def test_speed_scales_the_timing(tmp_path) -> None:
    recording = _recording(tmp_path, [100.0, 100.5, 3700.0])
    sink = Sink()
    player = Player(recording, sink, speed=1000).start()    # 0.5 s -> 0.5 ms; 1 h -> 3.6 s
    assert [r.index for r in sink.take(2, timeout=10)] == [0, 1]
    assert sink.empty_for(0.3)
    player.stop()


def test_pause_resume_and_seek(tmp_path) -> None:
    recording = _recording(tmp_path, [1000.0 + i for i in range(600)])
    sink = Sink()
    player = Player(recording, sink, speed=1).start()
    assert sink.take(1)[0].index == 0
    player.pause()
    assert player.paused
    player.seek(index=300)
    player.speed = 0
    assert sink.empty_for(0.3)                  # paused: a seek does not play
    player.resume()
    first = sink.take(1, timeout=10)[0]
    assert first.index in (1, 300)              # record 1 may have been in flight at pause()
    if first.index == 1:
        first = sink.take(1, timeout=10)[0]
    assert first.index == 300 and first.notification["params"]["i"] == 300
    assert player.wait(10)
    assert wait_until(lambda: sink.q.qsize() == 299)
    player.seek(time=1590.5)                    # after the end: plays again from there
    assert [r.index for r in sink.take(299, timeout=10)][-9:] == list(range(591, 600))
    assert player.wait(10)
    player.seek(index=-2)                       # from the end, like a list
    assert player.wait(10)
    player.stop()


def test_seek_needs_one_target(tmp_path) -> None:
    player = Player(_recording(tmp_path, [1.0]), lambda r: None)
    with pytest.raises(ValueError):
        player.seek()
    with pytest.raises(ValueError):
        player.seek(index=1, time=2.0)
    with pytest.raises(ValueError):
        player.speed = -1


def test_a_raising_callback_does_not_stop_playback(tmp_path) -> None:
    recording = _recording(tmp_path, [1.0, 2.0, 3.0])
    seen: list[int] = []

    def callback(rec: Record) -> None:
        seen.append(rec.index)
        if rec.index == 1:
            raise RuntimeError("boom")

    player = Player(recording, callback, speed=0).start()
    assert player.wait(10)
    assert seen == [0, 1, 2] and player.error is None
    player.stop()


def test_a_callback_ending_the_thread_is_reported(tmp_path) -> None:
    recording = _recording(tmp_path, [1.0, 2.0])

    def callback(rec: Record) -> None:
        raise SystemExit(3)

    player = Player(recording, callback, speed=0).start()
    assert player.wait(10)
    assert isinstance(player.error, SystemExit) and not player.finished
    player.stop()


def test_stop_from_the_callback(tmp_path) -> None:
    recording = _recording(tmp_path, [1.0, 2.0, 3.0])
    seen: list[int] = []
    holder: list[Player] = []

    def callback(rec: Record) -> None:
        seen.append(rec.index)
        holder[0].stop()

    holder.append(Player(recording, callback, speed=0))
    holder[0].start()
    assert holder[0].wait(10)
    assert seen == [0]
