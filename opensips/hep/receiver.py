"""HEP receivers: the sockets OpenSIPS's tracer sends to, each read by one daemon thread.

They are ``opensips.event`` listeners with another decoder: the same thread
life (stop flag, wake-up, a death that is logged and reported through
``on_death``), the same ``allowed_sources`` check and the same ``stats``
(``received``, ``delivered``, ``garbage``, ``refused``). Each decoded
``HepPacket`` goes to ``callback`` on the listener thread.

- UDP (``transport=udp``): one packet per datagram.
- TCP (``transport=tcp``): OpenSIPS connects and writes packets back to back;
  ``HepStreamFramer`` cuts them by the HEP3 length field. Bytes that are not
  HEP3 are skipped up to the next ``HEP3`` magic, so memory per connection
  stays below two maximal packets whatever a peer sends.
"""

from __future__ import annotations

import logging
import socket
import struct
from typing import Any, Callable, Iterable

from opensips.event.listener import MAX_DATAGRAM, POLL_TIMEOUT_MS, TCPStreamListener, UDPListener

from .packet import HEP3_MAGIC, HepDecodeError, HepPacket, decode

log = logging.getLogger("opensips.hep")

PacketCallback = Callable[[HepPacket], None]

__all__ = ["HepStreamFramer", "HepUdpReceiver", "HepTcpReceiver", "PacketCallback"]



def _deliver(receiver: Any, packet: HepPacket) -> None:
    """Hand one packet to the receiver's callback; a callback that raises never stops the receiver."""
    receiver.stats["delivered"] += 1
    try:
        receiver.callback(packet)
    except Exception:
        log.exception("HEP packet callback raised; receiver continues")

class HepStreamFramer:
    """Cut a TCP byte stream into HEP packets; never raises, never holds more than one frame.

    ``garbage`` counts skipped runs of non-HEP bytes and frames that did not
    decode; ``pending`` is the bytes waiting for the rest of their frame.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.garbage = 0

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[HepPacket]:
        buf = self._buf
        buf += data
        out: list[HepPacket] = []
        while buf:
            if buf[:4] != HEP3_MAGIC:
                if len(buf) < 4 and HEP3_MAGIC.startswith(buf):
                    break  # the start of a magic: wait for more
                start = buf.find(HEP3_MAGIC, 1)
                if start < 0:  # keep a tail that may begin the next magic
                    keep = next((n for n in (3, 2, 1) if buf.endswith(HEP3_MAGIC[:n])), 0)
                    start = len(buf) - keep
                self.garbage += 1
                del buf[:start]
                continue
            if len(buf) < 6:
                break
            total = int.from_bytes(buf[4:6], "big")
            if total < 6:  # a lying header: skip its magic and look for the next one
                self.garbage += 1
                del buf[:4]
                continue
            if len(buf) < total:
                break
            frame = bytes(buf[:total])
            del buf[:total]
            try:
                out.append(decode(frame))
            except HepDecodeError:
                self.garbage += 1
        return out


class HepUdpReceiver(UDPListener):
    """``transport=udp``: one HEP packet per datagram, from ``allowed_sources`` only.

    ``allowed_ports`` (optional) also pins the source port: OpenSIPS sends
    UDP HEP from its ``hep_udp`` socket, whose port is fixed.
    """

    kind = "hep-udp"

    def __init__(self, ip: str, port: int, callback: PacketCallback,
                 allowed_sources: Iterable[str] | None = None,
                 allowed_ports: Iterable[int] | None = None, **kwargs: Any) -> None:
        super().__init__(ip, port, allowed_sources=allowed_sources, **kwargs)
        self.callback = callback
        self.allowed_ports = frozenset(allowed_ports) if allowed_ports else None

    def describe(self) -> str:
        return f"hep udp:{self.address[0]}:{self.address[1]}"

    def deliver(self, packet: Any) -> None:  # type: ignore[override]  # a HepPacket, not a notification
        _deliver(self, packet)

    def _run(self) -> None:
        sock = self.sock
        assert sock is not None
        sock.setblocking(True)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, POLL_TIMEOUT_MS * 1000))
        allowed, ports, stats = self.allowed_sources, self.allowed_ports, self.stats
        recvfrom = sock.recvfrom
        while not self._stopping:
            try:
                data, addr = recvfrom(MAX_DATAGRAM)
            except BlockingIOError:  # SO_RCVTIMEO: idle, look at the stop flag
                continue
            except OSError as exc:
                if self._recv_failed(exc):
                    break
                continue
            if not data or self._stopping:  # an empty datagram is stop()'s wake-up
                continue
            if (allowed is not None and addr[0] not in allowed) or (ports is not None and addr[1] not in ports):
                stats["refused"] += 1
                continue
            stats["received"] += 1
            try:
                packet = decode(data)
            except HepDecodeError:
                stats["garbage"] += 1
                continue
            self.deliver(packet)


class HepTcpReceiver(TCPStreamListener):
    """``transport=tcp``: connections from ``allowed_sources`` only, each cut by ``HepStreamFramer``.

    A connection that closes (or half-closes) in the middle of a frame counts
    the partial frame in ``stats["truncated"]``.
    """

    kind = "hep-tcp"

    def __init__(self, ip: str, port: int, callback: PacketCallback,
                 allowed_sources: Iterable[str] | None = None, **kwargs: Any) -> None:
        super().__init__(ip, port, allowed_sources=allowed_sources, **kwargs)
        self.callback = callback
        self.stats["truncated"] = 0

    def describe(self) -> str:
        return f"hep tcp:{self.address[0]}:{self.address[1]}"

    def _decoder(self) -> HepStreamFramer:
        return HepStreamFramer()

    def _handle(self, conn: socket.socket, msg: Any, peer: str) -> None:
        self.deliver(msg)

    def deliver(self, packet: Any) -> None:  # type: ignore[override]  # a HepPacket, not a notification
        _deliver(self, packet)

    def _drop(self, sel: Any, conn: socket.socket) -> None:
        entry = self._conns.get(conn)
        if entry is not None and entry[0].pending:
            self.stats["truncated"] += 1
        super()._drop(sel, conn)
