"""What every MI transport offers to ``OpenSIPSMI``.

A transport moves one encoded request to OpenSIPS and returns the raw reply
bytes; JSON-RPC framing and error decoding stay in ``jsonrpc`` so the three
transports cannot drift apart on what counts as a valid answer.
"""

from __future__ import annotations

import math
import os
import select
import socket
import time
from abc import ABC, abstractmethod


class Transport(ABC):
    """One way of reaching the MI interface (fifo, http, datagram)."""

    #: short name used in messages ("fifo", "http", "datagram")
    kind: str = ""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    @property
    @abstractmethod
    def target(self) -> str:
        """Human description of the endpoint, e.g. ``udp:127.0.0.1:8080``."""

    @property
    def remote_host(self) -> str | None:
        """Host the MI interface lives on; ``None`` for local-only transports."""
        return None

    @abstractmethod
    def exchange(self, request: bytes, req_id: int | str) -> bytes:
        """Send ``request`` and return the raw reply within ``self.timeout``.

        ``req_id`` lets transports that can see stray replies (a shared
        datagram socket) skip answers meant for an earlier, timed-out call.
        """

    @abstractmethod
    def valid(self) -> tuple[bool, list[str] | None]:
        """Cheap local checks: does this endpoint look usable?"""

    def close(self) -> None:
        """Release sockets and clients; the transport is unusable afterwards."""


class Deadline:
    """An absolute point in time a call must not outlive."""

    __slots__ = ("end",)

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self.end - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.end


if hasattr(select, "poll"):

    def wait_socket(sock: socket.socket, readable: bool, timeout: float | None) -> bool:
        """Wait up to ``timeout`` s (None: no limit) until ``sock`` is readable or writable.

        Errors and hang-ups count as ready (the next send/recv reports them).
        Used with non-blocking sockets: one poll per wait, instead of the poll
        Python adds before every send/recv of a socket with a timeout.
        """
        poller = select.poll()
        poller.register(sock, select.POLLIN if readable else select.POLLOUT)
        return bool(poller.poll(None if timeout is None else max(1, math.ceil(timeout * 1000))))

else:  # pragma: no cover - platforms without poll()

    def wait_socket(sock: socket.socket, readable: bool, timeout: float | None) -> bool:
        """Wait up to ``timeout`` s (None: no limit) until ``sock`` is readable or writable."""
        rlist, wlist, xlist = select.select([sock] if readable else [], [] if readable else [sock], [sock],
                                            None if timeout is None else max(timeout, 0.001))
        return bool(rlist or wlist or xlist)


def access_for(server: os.stat_result) -> tuple[int, int, int | None] | None:
    """How to change a reply file we just made so that OpenSIPS can write it: ``(uid, gid, mode)``.

    ``server`` is the stat of OpenSIPS's own FIFO or socket; -1 and None leave the owner,
    group or mode alone; None means nothing to change. OpenSIPS writes our reply FIFO or
    reply socket as its own user, and it creates its FIFO and sockets after dropping
    privileges, so their owner is its user, and their group one of its groups
    (``fifo_group`` and the like can only name one of them), unless it runs as root,
    which can write anything. Hence, as privately as our own rights allow:

    * we own ``server``: nothing to do, the reply is already OpenSIPS's (mode 0600);
    * we are root: give the reply to ``server``'s owner, mode still 0600;
    * we are in ``server``'s group: that group, mode 0620. OpenSIPS writes through the
      group, and no one but us can read;
    * otherwise we could reach ``server`` only because everyone may write it (say
      ``fifo_mode=0666``): mode 0622. Others could write a reply, no more than they can
      do already (send OpenSIPS commands), and no one but us can read one.
    """
    me = os.geteuid()
    if me == server.st_uid:
        return None
    if me == 0:
        return server.st_uid, -1, None
    if server.st_gid == os.getegid() or server.st_gid in os.getgroups():
        return -1, server.st_gid, 0o620
    return -1, -1, 0o622
