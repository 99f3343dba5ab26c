"""MI over mi_datagram: one request datagram, one reply datagram (UDP or UNIX).

Quirks from tests/fixtures/opensips-wire/*/datagram/: a request OpenSIPS cannot
parse (not JSON, or truncated at its socket_buf_size) is answered with the
plain text ``400 Parse_error``; a reply too large for that buffer becomes the
plain text ``500 Internal error``; a request with no string ``method`` crashes
4.0.1 (``jsonrpc`` never builds one).

UDP replies are accepted from any source address and matched by their JSON-RPC
id. mi_datagram bound to 0.0.0.0 (or ::) answers from whichever local address
the kernel picks for the way back: a request sent to 127.0.0.2, or to the
host's public address, is answered from 127.0.0.1, or from another address
of the host. A socket *connected* to the target drops that reply, and the
call times out. So UDP sockets are not connected: a JSON reply must carry our
id, and a reply without one (mi_datagram's plain-text ``400``/``500``) counts
only from the server's port, which a wildcard bind keeps. ``IP_RECVERR`` (on
Linux) still turns an ICMP "port unreachable" into ECONNREFUSED at once, as a
connected socket would. UNIX sockets stay connected: the server has only its
path to answer from. Their own path, where OpenSIPS sends the reply, is
opened to the user OpenSIPS runs as, as privately as for a reply FIFO
(``transport.access_for``).

Calls take a socket from a
small pool (at most POOL_SLOTS calls in flight, sockets created on demand and
reused) and give it back only after a clean exchange: a socket that saw a
timeout or an error is closed, so a late reply can never be read by the next
call. Replies whose id is not ours are skipped all the same. The pool is one
``queue.SimpleQueue`` of slots (a socket, or ``None`` for a slot whose socket
is not made yet): a single C-level blocking get with a timeout replaces a
semaphore, a lock and an idle list on every call.

``bench/mi_calls.py --datagram-modes`` compares this with one socket per call
("percall": slowest, a UNIX client must bind and unlink a file every call) and
one shared socket behind a lock ("shared": no parallelism); the pool was the
fastest or tied in every column measured.
"""

from __future__ import annotations

import errno
import json
import os
import queue
import secrets
import socket
import stat
import sys
import tempfile

from .errors import (
    OpenSIPSMIConfigError,
    OpenSIPSMIConnectionError,
    OpenSIPSMIRequestError,
    OpenSIPSMITimeoutError,
)
from .options import as_float, as_int, as_str
from .transport import Deadline, Transport, access_for, wait_socket

DEFAULT_IP = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_BUFFER = 65535
#: Calls in flight at once per connector in "pool" mode (the others wait their
#: turn). A UNIX datagram server queues only net.unix.max_dgram_qlen (10)
#: datagrams; beyond that senders sleep in EAGAIN and throughput collapses.
POOL_SLOTS = 8
#: socket strategy -> calls in flight at once (None: unbounded)
SOCKET_MODES: dict[str, int | None] = {"pool": POOL_SLOTS, "shared": 1, "percall": None}


class DatagramTransport(Transport):
    """Talks to mi_datagram over UDP (``datagram_ip``/``datagram_port``) or a UNIX socket."""

    kind = "datagram"

    def __init__(self, timeout: float, **kwargs: object) -> None:
        super().__init__(as_float("datagram_timeout", kwargs.get("datagram_timeout"), timeout))
        self.unix_path = as_str("datagram_unix_socket", kwargs.get("datagram_unix_socket"), None)
        self.ip = as_str("datagram_ip", kwargs.get("datagram_ip"), DEFAULT_IP) or DEFAULT_IP
        self.port = as_int("datagram_port", kwargs.get("datagram_port"), DEFAULT_PORT, 1, 65535)
        self.buffer_size = as_int(
            "datagram_buffer_size", kwargs.get("datagram_buffer_size"), DEFAULT_BUFFER, 256, 1 << 24
        )
        mode = as_str("datagram_socket_mode", kwargs.get("datagram_socket_mode"), "pool")
        if mode not in SOCKET_MODES:
            raise OpenSIPSMIConfigError(f"datagram_socket_mode must be one of {', '.join(SOCKET_MODES)}")
        self.socket_mode = mode
        self._closed = False
        slots = SOCKET_MODES[mode]
        # Free slots: an idle socket, or None (make one on first use). None
        # for the whole pool means "percall": no limit, no reuse.
        self._free: queue.SimpleQueue[socket.socket | None] | None = None
        if slots:
            self._free = queue.SimpleQueue()
            for _ in range(slots):
                self._free.put(None)
        # Temp paths of the UNIX client sockets we bound (removed when closed).
        self._bound: dict[int, str] = {}
        # The server's address for each (unconnected) UDP socket.
        self._peer: dict[int, tuple] = {}

    # -- description -------------------------------------------------------

    @property
    def target(self) -> str:
        if self.unix_path:
            return f"unix:{self.unix_path}"
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"udp:{host}:{self.port}"

    @property
    def remote_host(self) -> str | None:
        return None if self.unix_path else self.ip

    def valid(self) -> tuple[bool, list[str] | None]:
        reasons: list[str] = []
        if self._closed:
            reasons.append("the connector is closed")
        if self.unix_path:
            try:
                if not stat.S_ISSOCK(os.stat(self.unix_path).st_mode):
                    reasons.append(f"{self.unix_path} is not a socket")
            except OSError:
                reasons.append(f"no socket at {self.unix_path}: is OpenSIPS running with mi_datagram on it?")
        else:
            try:
                socket.getaddrinfo(self.ip, self.port, type=socket.SOCK_DGRAM)
            except (OSError, UnicodeError) as exc:
                reasons.append(f"cannot resolve {self.ip}: {exc}")
        return (not reasons, reasons or None)

    # -- sockets -----------------------------------------------------------

    def _new_socket(self) -> socket.socket:
        """A socket connected to the server (for UNIX, bound to a temp path it can answer to)."""
        if self.unix_path:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            path = os.path.join(tempfile.gettempdir(), f"opensips_mi_{secrets.token_hex(8)}.sock")
            try:
                sock.bind(path)
                self._bound[id(sock)] = path
                sock.connect(self.unix_path)
                change = access_for(os.stat(self.unix_path))
                if change is not None:  # OpenSIPS runs as another user: let it answer
                    uid, gid, mode = change
                    os.chown(path, uid, gid)
                    if mode is not None:
                        os.chmod(path, mode)
            except OSError as exc:
                self._discard(sock)
                raise OpenSIPSMIConnectionError(self._connect_message(exc)) from None
        else:
            try:
                family, kind, proto, _, addr = socket.getaddrinfo(self.ip, self.port, type=socket.SOCK_DGRAM)[0]
            except (OSError, UnicodeError) as exc:
                raise OpenSIPSMIConnectionError(f"cannot resolve {self.ip}: {exc}") from None
            sock = socket.socket(family, kind, proto)
            recverr = _RECVERR.get(family)
            if recverr is not None:
                try:
                    sock.setsockopt(recverr[0], recverr[1], 1)
                except OSError:
                    pass  # no ICMP errors then: a dead port becomes a timeout
            self._peer[id(sock)] = addr
        sock.setblocking(False)  # waits are bounded by wait_socket(), see _roundtrip()
        return sock

    def _discard(self, sock: socket.socket) -> None:
        self._peer.pop(id(sock), None)
        path = self._bound.pop(id(sock), None)
        sock.close()
        if path:
            try:
                os.unlink(path)
            except OSError:
                pass

    def _drain(self) -> None:
        """Close every idle socket in the pool, keeping the slots (waiters wake and see ``_closed``)."""
        free = self._free
        if free is None:
            return
        taken = 0
        while True:
            try:
                sock = free.get_nowait()
            except queue.Empty:
                break
            taken += 1
            if sock is not None:
                self._discard(sock)
        for _ in range(taken):
            free.put(None)

    def close(self) -> None:
        self._closed = True
        self._drain()

    # -- one call ----------------------------------------------------------

    def exchange(self, request: bytes, req_id: int | str) -> bytes:
        deadline = Deadline(self.timeout)
        free = self._free
        if free is None:  # "percall": a fresh socket, closed afterwards
            if self._closed:
                raise OpenSIPSMIConnectionError("the MI connector is closed")
            sock = self._new_socket()
            try:
                return self._roundtrip(sock, request, req_id, deadline)
            finally:
                self._discard(sock)
        try:
            slot = free.get(timeout=self.timeout)
        except queue.Empty:
            raise OpenSIPSMITimeoutError(
                f"{self.target}: other calls held every socket for {self.timeout:g}s"
            ) from None
        clean = False
        try:
            if self._closed:
                raise OpenSIPSMIConnectionError("the MI connector is closed")
            if slot is None:
                slot = self._new_socket()
            reply = self._roundtrip(slot, request, req_id, deadline)
            clean = True
            return reply
        finally:
            if slot is not None and not clean:
                self._discard(slot)  # a late reply must never reach the next call
                slot = None
            free.put(slot)
            if self._closed:  # close() may have drained the pool before this put
                self._drain()

    def _roundtrip(self, sock: socket.socket, request: bytes, req_id: int | str, deadline: Deadline) -> bytes:
        # The socket is non-blocking: send() and recv() are one syscall each, and
        # only the waits (one poll each, bounded by what is left of the call) block.
        # A socket timeout would poll before every send and recv, and every
        # settimeout() is an ioctl. send() can wait too: a UNIX datagram server
        # queues only a few datagrams (net.unix.max_dgram_qlen) and refuses more
        # (EAGAIN) while it is full.
        peer = self._peer.get(id(sock))  # None: a connected UNIX socket
        while True:
            try:
                if peer is None:
                    sock.send(request)
                else:
                    sock.sendto(request, peer)
                break
            except BlockingIOError:
                remaining = deadline.remaining()
                if remaining <= 0 or not wait_socket(sock, False, remaining):
                    raise OpenSIPSMITimeoutError(
                        f"{self.target} did not take the request within {self.timeout:g}s: "
                        "OpenSIPS is not reading its mi_datagram socket"
                    ) from None
            except OSError as exc:
                if exc.errno == errno.EMSGSIZE:
                    raise OpenSIPSMIRequestError(
                        f"request of {len(request)} bytes is too large for one datagram to {self.target}"
                    ) from None
                raise OpenSIPSMIConnectionError(self._connect_message(exc)) from None
        while True:
            remaining = deadline.remaining()
            if remaining <= 0:
                raise OpenSIPSMITimeoutError(
                    f"no reply from {self.target} within {self.timeout:g}s: is OpenSIPS running with "
                    "mi_datagram on this address, and not too busy?"
                )
            if not wait_socket(sock, True, remaining):
                continue
            try:
                data, source = sock.recvfrom(self.buffer_size + 1)
            except BlockingIOError:
                continue  # woken without a datagram after all
            except OSError as exc:
                raise OpenSIPSMIConnectionError(self._connect_message(exc)) from None
            ours = _reply_id(data, req_id)
            if ours is False:
                continue  # another request's answer (a late one)
            if ours is None and peer is not None and source[1] != peer[1]:
                continue  # no id, and not from the server's port: a stranger's datagram
            if len(data) > self.buffer_size:
                raise OpenSIPSMIConnectionError(
                    f"reply from {self.target} is larger than datagram_buffer_size ({self.buffer_size} bytes)"
                )
            return self._check_plain_text(data)

    def _check_plain_text(self, data: bytes) -> bytes:
        head = data[:32].strip()
        if head.startswith(b"400"):
            raise OpenSIPSMIConnectionError(
                f"{self.target} answered {head.decode(errors='replace')!r}: OpenSIPS could not parse the request "
                "(larger than mi_datagram's socket_buf_size?)"
            )
        if head.startswith(b"500"):
            raise OpenSIPSMIConnectionError(
                f"{self.target} answered {head.decode(errors='replace')!r}: the reply did not fit mi_datagram's "
                "socket_buf_size (raise it, or use http or fifo for this command)"
            )
        return data

    def _connect_message(self, exc: OSError) -> str:
        reason = exc.strerror or str(exc)
        if isinstance(exc, ConnectionRefusedError):
            if self.unix_path:
                return f"nobody listens on {self.target} ({reason}): is OpenSIPS running with mi_datagram on it?"
            return f"nothing listening on {self.target} ({reason}): is OpenSIPS running with mi_datagram on it?"
        if isinstance(exc, FileNotFoundError):
            return f"no socket at {self.unix_path}: is OpenSIPS running with mi_datagram on it?"
        if isinstance(exc, PermissionError):
            return f"no permission to use {self.target} ({reason})"
        return f"cannot reach {self.target} ({reason}): is OpenSIPS running with mi_datagram on it?"


#: family -> the socket option that reports ICMP errors on an unconnected socket (Linux)
_RECVERR: dict[int, tuple[int, int]] = (
    {socket.AF_INET: (socket.IPPROTO_IP, 11), socket.AF_INET6: (socket.IPPROTO_IPV6, 25)}
    if sys.platform.startswith("linux") else {}
)


def _reply_id(data: bytes, req_id: int | str) -> bool | None:
    """True: a JSON-RPC reply to ``req_id``; False: to another request; None: no id to tell."""
    if not data.startswith(b"{"):
        return None
    if data.endswith(_id_tail(req_id)):
        return True  # the usual compact reply, id last: no need to parse it
    try:
        reply = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(reply, dict) or reply.get("id") is None:
        return None
    return bool(reply["id"] == req_id)


def _id_tail(req_id: int | str) -> bytes:
    """How a compact reply to ``req_id`` ends: ``"id":7}``."""
    if type(req_id) is int:
        return b'"id":%d}' % req_id
    return b'"id":' + json.dumps(req_id).encode() + b"}"


def __getattr__(name: str) -> object:
    """``Datagram``, 0.1.11's connection class, importable from here as it was (see ``connection``)."""
    if name == "Datagram":
        from .connection import Datagram

        return Datagram
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
