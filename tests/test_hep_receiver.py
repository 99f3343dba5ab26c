"""HEP receivers on real sockets: the captured packets replayed over UDP and TCP, strangers refused.

Every packet comes from a real OpenSIPS 4.0.1 capture (tests/fixtures/.../hep/);
the TCP stream is the one OpenSIPS wrote, cut at other places and mixed with garbage.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensips.hep import decode
from opensips.hep.receiver import HepStreamFramer, HepTcpReceiver, HepUdpReceiver
from tests.test_hep_decode import PACKETS
from tests.wire import sample

STREAM = bytes.fromhex(sample("4.0.1", "hep", "tcp_scope_t_register_options_call")["hep_tcp_received"][0]["stream_hex"])
UDP_RAW = [bytes.fromhex(p["hex"]) for c, p in PACKETS if c == "udp_scope_t_register_options_call"]
WANT = [decode(r) for r in UDP_RAW]


class Sink:
    def __init__(self) -> None:
        self.packets: list = []
        self.cond = threading.Condition()

    def __call__(self, packet) -> None:
        with self.cond:
            self.packets.append(packet)
            self.cond.notify_all()

    def wait(self, n: int, timeout: float = 10.0) -> list:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.packets) >= n, timeout), self.packets
            return list(self.packets)


def wait_for(predicate, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.01)


@pytest.fixture
def udp_receiver():
    made = []

    def make(**kwargs):
        sink = Sink()
        rx = HepUdpReceiver("127.0.0.1", 0, sink, **kwargs)
        rx.start()
        made.append(rx)
        return rx, sink

    yield make
    for rx in made:
        rx.stop()


def send_udp(address, datagrams, source: str = "127.0.0.1") -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        for d in datagrams:
            s.sendto(d, address)


def test_udp_replays_every_captured_packet_and_counts_garbage(udp_receiver) -> None:
    rx, sink = udp_receiver(allowed_sources=["127.0.0.1"])
    garbage = [b"hello", b"HEP3\x00\x07x", UDP_RAW[0][:-3]]
    for raw in UDP_RAW:  # one at a time: the order is the capture's, never a lost datagram
        send_udp(rx.address, [raw])
        sink.wait(UDP_RAW.index(raw) + 1)
    send_udp(rx.address, garbage + [UDP_RAW[0]])
    got = sink.wait(len(UDP_RAW) + 1)
    assert got == WANT + WANT[:1]
    wait_for(lambda: rx.stats["garbage"] == 3)
    assert rx.stats["received"] == len(UDP_RAW) + 4 and rx.stats["delivered"] == len(UDP_RAW) + 1
    assert rx.stats["refused"] == 0


def test_udp_refuses_strangers_and_ports(udp_receiver) -> None:
    rx, sink = udp_receiver(allowed_sources=["127.0.0.2"])
    send_udp(rx.address, UDP_RAW[:3], source="127.0.0.1")
    send_udp(rx.address, UDP_RAW[3:4], source="127.0.0.2")
    assert sink.wait(1) == WANT[3:4]
    wait_for(lambda: rx.stats["refused"] == 3)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as opensips:
        opensips.bind(("127.0.0.1", 0))
        rx2, sink2 = udp_receiver(allowed_sources=["127.0.0.1"], allowed_ports=[opensips.getsockname()[1]])
        send_udp(rx2.address, UDP_RAW[:2])  # right address, wrong port: another local process
        opensips.sendto(UDP_RAW[5], rx2.address)
        assert sink2.wait(1) == WANT[5:6]
        wait_for(lambda: rx2.stats["refused"] == 2)
    assert sink.packets == WANT[3:4] and sink2.packets == WANT[5:6]


def test_udp_callback_errors_do_not_stop_it_and_death_is_reported(udp_receiver) -> None:
    died = []
    calls = []

    def callback(packet):
        calls.append(packet)
        if len(calls) == 1:
            raise RuntimeError("bad consumer")
        if len(calls) == 3:
            raise SystemExit(3)

    rx = HepUdpReceiver("127.0.0.1", 0, callback, allowed_sources=["127.0.0.1"])
    rx.on_death = died.append
    rx.start()
    try:
        for raw in UDP_RAW[:3]:
            send_udp(rx.address, [raw])
            wait_for(lambda: len(calls) >= UDP_RAW.index(raw) + 1)
        wait_for(lambda: bool(died))
        assert isinstance(died[0], SystemExit) and rx.error is died[0] and not rx.running
    finally:
        rx.stop()


@pytest.fixture
def tcp_receiver():
    sink = Sink()
    rx = HepTcpReceiver("127.0.0.1", 0, sink, allowed_sources=["127.0.0.1"])
    rx.start()
    yield rx, sink
    rx.stop()


def test_tcp_stream_in_small_pieces_with_garbage_and_half_close(tcp_receiver) -> None:
    rx, sink = tcp_receiver
    with socket.create_connection(rx.address) as c:
        data = b"GET / HTTP/1.0\r\n\r\n" + STREAM[:1000] + b"\x00junk HE" + STREAM[1000:]
        for i in range(0, len(data), 97):
            c.sendall(data[i:i + 97])
        got = sink.wait(len(WANT) - 1)  # the packet cut by the junk is lost, the rest arrive
        c.sendall(STREAM[:50])
        c.shutdown(socket.SHUT_WR)  # half-close in the middle of a frame
        wait_for(lambda: rx.stats["truncated"] == 1 and rx.connections == 0)
    frames = [decode(bytes.fromhex(p["hex"])) for p in
              sample("4.0.1", "hep", "tcp_scope_t_register_options_call")["hep_tcp_received"][0]["packets"]]
    ends = [sum(len(bytes.fromhex(p["hex"])) for p in
                sample("4.0.1", "hep", "tcp_scope_t_register_options_call")["hep_tcp_received"][0]["packets"][:i + 1])
            for i in range(len(frames))]
    hit = next(i for i, end in enumerate(ends) if end > 1000)  # the frame the junk landed in
    assert got == frames[:hit] + frames[hit + 1:]
    assert rx.stats["garbage"] >= 2 and rx.stats["delivered"] == len(frames) - 1


def test_tcp_whole_stream_gives_the_capture(tcp_receiver) -> None:
    rx, sink = tcp_receiver
    with socket.create_connection(rx.address) as c:
        c.sendall(STREAM)
        assert sink.wait(20) == [decode(bytes.fromhex(p["hex"])) for p in
                                 sample("4.0.1", "hep", "tcp_scope_t_register_options_call")
                                 ["hep_tcp_received"][0]["packets"]]
    assert rx.stats["garbage"] == 0


def test_tcp_refuses_strangers() -> None:
    sink = Sink()
    rx = HepTcpReceiver("127.0.0.1", 0, sink, allowed_sources=["127.0.0.2"])
    rx.start()
    try:
        with socket.create_connection(rx.address) as c:  # from 127.0.0.1: closed at once
            c.sendall(STREAM)
            c.settimeout(5)
            try:
                assert c.recv(10) == b""
            except ConnectionResetError:
                pass
        wait_for(lambda: rx.stats["refused"] == 1)
        with socket.create_connection(rx.address, source_address=("127.0.0.2", 0)) as c:
            c.sendall(STREAM[:500])  # the first packet
            assert sink.wait(1)[0].correlation_id == b"hep-reg-heptest@127.0.0.1"
    finally:
        rx.stop()
    assert len(sink.packets) == 1


# -- the framer alone ------------------------------------------------------------

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
junk = st.binary(max_size=300).filter(lambda b: b"HEP3" not in b)


@FAST
@given(st.lists(st.integers(1, len(STREAM) - 1), max_size=30), st.lists(junk, min_size=21, max_size=21))
def test_framer_any_cut_and_garbage_between_packets(cuts, junks) -> None:
    frames = [bytes.fromhex(p["hex"]) for p in
              sample("4.0.1", "hep", "tcp_scope_t_register_options_call")["hep_tcp_received"][0]["packets"]]
    data = b"".join(j + f for j, f in zip(junks, frames)) + junks[-1]
    framer = HepStreamFramer()
    got = []
    last = 0
    for cut in sorted({c * len(data) // len(STREAM) for c in cuts}) + [len(data)]:
        got += framer.feed(data[last:cut])
        last = cut
        assert framer.pending <= 65535 + len(data)
    assert got == [decode(f) for f in frames]
    assert framer.pending <= 3


@FAST
@given(st.lists(st.binary(max_size=5000), max_size=40))
def test_framer_arbitrary_bytes_never_raise_and_stay_bounded(chunks) -> None:
    framer = HepStreamFramer()
    for chunk in chunks:
        framer.feed(b"HEP3\xff\xff" + chunk if len(chunk) % 3 == 0 else chunk)
        assert framer.pending <= 65535 + 6
