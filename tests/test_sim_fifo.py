"""The simulator's mi_fifo answers the captured FIFO requests like OpenSIPS.

A reply FIFO is opened for reading with O_NONBLOCK before the request is written: Linux only
reports it readable once a writer has opened it, so "opened and closed without writing" (a
notification) is told apart from "never opened".
"""

from __future__ import annotations

import json
import os
import select
import threading
import time

import pytest

from tests.conftest import assert_same_shape
from tests.wire import VERSIONS, cases, sample

SPECIAL = {"fifo_reply_reader_late", "fifo_after_reply_fifo_missing"}


class ReplyFifo:
    def __init__(self, directory: str, name: str) -> None:
        self.path = os.path.join(directory, name)
        os.mkfifo(self.path, 0o600)
        self.fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)

    def read(self, timeout: float, min_bytes: int = 0) -> bytes | None:
        """Bytes written up to EOF, or None when no writer opened it within `timeout`."""
        deadline = time.monotonic() + timeout
        data = b""
        opened = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return data if opened else None
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                continue
            opened = True
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                continue
            data += chunk
            if not chunk and len(data) >= min_bytes:
                return data
            if not chunk:
                time.sleep(0.005)

    def close(self) -> None:
        os.close(self.fd)
        os.unlink(self.path)


def _write(sim, raw: bytes) -> None:
    fd = os.open(sim.fifo_path, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, raw)
    finally:
        os.close(fd)


def _sync(sim) -> None:
    """Once this request is answered, every earlier one has been handled (one FIFO reader)."""
    rf = ReplyFifo(sim.fifo_reply_dir, "sync_reply")
    try:
        _write(sim, b':sync_reply:{"jsonrpc":"2.0","method":"version","id":"sync"}')
        assert rf.read(3.0)
    finally:
        rf.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_every_fifo_sample(version, sim_factory):
    sim = sim_factory(version=version, demo_events=False)
    checked = 0
    for case in cases(version, "fifo"):
        if case in SPECIAL:
            continue
        s = sample(version, "fifo", case)
        name = s.get("reply_fifo_name") or "osips_probe_reply"
        rf = ReplyFifo(sim.fifo_reply_dir, name if "." not in name else "osips_probe_reply")
        before = len(sim.crashes)
        try:
            _write(sim, s["request_raw"].encode("utf-8"))
            if s["reply_received"]:
                want = s["reply_raw"]
                two = s["reply_json"] is None and bool(want)
                got = rf.read(3.0, min_bytes=len(want) - 20 if two else 0)
                assert got is not None, case
                if s["reply_json"] is not None:
                    assert_same_shape(json.loads(got), s["reply_json"])
                elif want:      # two replies back to back
                    dec = json.JSONDecoder()
                    first, end = dec.raw_decode(got.decode())
                    second, _ = dec.raw_decode(got.decode(), end)
                    w1, wend = dec.raw_decode(want)
                    w2, _ = dec.raw_decode(want, wend)
                    assert_same_shape([first, second], [w1, w2])
                else:
                    assert got == b"", case
            else:
                _sync(sim)
                assert rf.read(0.05) is None, case
        finally:
            rf.close()
        if "CRASH" in case:
            assert len(sim.crashes) == before + 1, case
        checked += 1
    assert checked >= 40
    assert len(sim.crashes) == 3


def test_reply_fifo_missing_then_next_request_answered(sim):
    _write(sim, b':no_such_reply:{"jsonrpc":"2.0","method":"version","id":1}')
    s = sample("4.0.1", "fifo", "fifo_after_reply_fifo_missing")
    rf = ReplyFifo(sim.fifo_reply_dir, s["reply_fifo_name"])
    try:
        _write(sim, s["request_raw"].encode())
        assert_same_shape(json.loads(rf.read(3.0)), s["reply_json"])
    finally:
        rf.close()


@pytest.mark.parametrize("delay,answered", [(0.1, True), (0.7, False)])
def test_late_reader(sim, delay, answered):
    """The reply FIFO is opened non-blocking with retries for ~0.3 s, then given up."""
    path = os.path.join(sim.fifo_reply_dir, "late_reply")
    os.mkfifo(path, 0o600)
    try:
        _write(sim, b':late_reply:{"jsonrpc":"2.0","method":"version","id":1}')
        time.sleep(delay)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            r, _, _ = select.select([fd], [], [], 0.3)
            data = os.read(fd, 65536) if r else b""
        finally:
            os.close(fd)
        assert bool(data) is answered
        _sync(sim)
    finally:
        os.unlink(path)


def test_pretty_reply_of_any_size(sim_factory):
    sim = sim_factory(pretty=True, demo_events=False)
    for case in ("version_pretty", "get_statistics_all_pretty"):
        s = sample("4.0.1", "variant_dgram_buf1024_pretty/fifo", case)
        rf = ReplyFifo(sim.fifo_reply_dir, s["reply_fifo_name"])
        try:
            _write(sim, s["request_raw"].encode())
            got = rf.read(3.0)
        finally:
            rf.close()
        if case == "version_pretty":
            assert got.decode() == s["reply_raw"]
        else:   # same layout; memory figures differ
            assert_same_shape(json.loads(got), s["reply_json"])
            assert got.count(b"\n") == s["reply_raw"].count("\n")
            assert b'":\t' in got


def test_many_concurrent_clients(sim):
    results: dict[int, bytes | None] = {}

    def client(i: int) -> None:
        rf = ReplyFifo(sim.fifo_reply_dir, f"r{i}")
        try:
            _write(sim, b':r%d:{"jsonrpc":"2.0","method":"version","id":%d}' % (i, i))
            results[i] = rf.read(5.0)
        finally:
            rf.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert sorted(results) == list(range(30))
    assert all(json.loads(v)["id"] == i for i, v in results.items())


def test_hang_and_stop_leave_no_fifo(sim_factory):
    sim = sim_factory()
    path = sim.fifo_path
    sim.hang = True
    rf = ReplyFifo(sim.fifo_reply_dir, "hang_reply")
    try:
        _write(sim, b':hang_reply:{"jsonrpc":"2.0","method":"version","id":1}')
        assert rf.read(0.5) is None
    finally:
        rf.close()
    sim.stop()
    assert not os.path.exists(path)


@pytest.mark.parametrize("cut", [b':split_reply:{"jsonrpc":"2.0",', b':split_reply:{"jsonrpc":"2.0","meth'])
def test_request_written_in_two_writes_is_served(sim, cut):
    # The second cut falls inside a string: the decoder reports that error at the
    # string's start, which once made the sim drop the request as garbage.
    whole = b':split_reply:{"jsonrpc":"2.0","method":"version","id":7}'
    rf = ReplyFifo(sim.fifo_reply_dir, "split_reply")
    try:
        fd = os.open(sim.fifo_path, os.O_WRONLY)
        try:
            os.write(fd, cut)
            time.sleep(0.05)
            os.write(fd, whole[len(cut):])
        finally:
            os.close(fd)
        assert json.loads(rf.read(3.0))["id"] == 7
    finally:
        rf.close()


def test_garbage_does_not_swallow_the_next_request(sim):
    rf = ReplyFifo(sim.fifo_reply_dir, "after_garbage")
    try:
        _write(sim, b':x:{"jsonrpc":"2.0",,,}\n:after_garbage:{"jsonrpc":"2.0","method":"version","id":8}')
        assert json.loads(rf.read(3.0))["id"] == 8
    finally:
        rf.close()
