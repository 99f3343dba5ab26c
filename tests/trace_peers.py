"""A trace source for screen tests: a real UDP HEP receiver on loopback, and a sender replaying
the packets OpenSIPS 4.0.1's tracer sent (tests/fixtures/opensips-wire/4.0.1/hep/).

``start`` binds 127.0.0.1:0 and reads datagrams on its own thread, decoding them with
``opensips.hep.decode`` like a receiver does; ``replay`` sends captured packets to it over UDP.
It records every start and stop so tests can check when the screen traces.
"""

from __future__ import annotations

import socket
import threading
from typing import Callable

from opensips.hep import HepDecodeError, HepPacket, decode
from opensips_tui.trace_control import TraceOptions
from tests.hep_wire import captured


class UdpTraceSource:
    def __init__(self, fail: str = "") -> None:
        self.fail = fail
        self.calls: list[tuple[str, TraceOptions | None]] = []
        self.address: tuple[str, int] | None = None
        self.undecodable = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._sock is not None

    def start(self, options: TraceOptions, on_packet: Callable[[HepPacket], None]) -> str:
        self.calls.append(("start", options))
        if self.fail:
            raise ConnectionError(self.fail)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.05)           # a blocked recv does not notice close(): look now and then
        self._sock, self.address = sock, sock.getsockname()
        self._thread = threading.Thread(target=self._read, args=(sock, on_packet), daemon=True)
        self._thread.start()
        return f"hep udp:{self.address[0]}:{self.address[1]} · {options.describe()}"

    def _read(self, sock: socket.socket, on_packet: Callable[[HepPacket], None]) -> None:
        while self._sock is sock:
            try:
                data = sock.recv(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                on_packet(decode(data))
            except HepDecodeError:
                self.undecodable += 1

    def stop(self) -> str:
        self.calls.append(("stop", None))
        sock, self._sock = self._sock, None
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None
        if sock is not None:
            sock.close()
        return ""

    def replay(self, case: str, count: int | None = None) -> int:
        """Send ``case``'s captured packets (the first ``count``) to the receiver; returns how many."""
        assert self.address is not None, "not started"
        packets = captured(case)[:count]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            for packet in packets:
                out.sendto(bytes.fromhex(packet["hex"]), self.address)
        return len(packets)


class ReplaySource:
    """For snapshots: each start hands ``case``'s captured packets to the screen at once, from
    the control worker's thread (as a receiver thread would), with a fixed description."""

    def __init__(self, case: str) -> None:
        self.case = case
        self.calls: list[str] = []

    def start(self, options: TraceOptions, on_packet: Callable[[HepPacket], None]) -> str:
        self.calls.append("start")
        for packet in captured(self.case):
            on_packet(decode(bytes.fromhex(packet["hex"])))
        return f"hep:127.0.0.1:9071 · {options.describe()}"

    def stop(self) -> str:
        self.calls.append("stop")
        return ""
