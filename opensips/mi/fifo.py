"""MI over mi_fifo: one request line into OpenSIPS's FIFO, the reply from a FIFO we create.

The wire rules come from the captures in tests/fixtures/opensips-wire/*/fifo/:

* the request is ``:<reply_name>:<json>``; OpenSIPS writes the reply into
  ``<reply_dir>/<reply_name>`` and rejects names holding ``.``, ``/`` or ``\\``;
* OpenSIPS opens the reply FIFO non-blocking and gives up after ~0.3 s without
  a reader, so we open our end before the request is written;
* a request of 4096 bytes or more is never answered, so it is refused here;
* a request without a string ``method`` crashes OpenSIPS (``jsonrpc`` never
  builds one).

Every call has its own reply FIFO (unique, unpredictable name), so calls from
many threads never read each other's replies.

OpenSIPS usually runs as its own user, and it opens the reply FIFO for writing
as that user, so the reply FIFO is made as private as that allows: given to the
owner of OpenSIPS's FIFO when we are root, else shared through its group, else
writable (never readable) by others. ``transport.access_for`` says why these
are enough, and the least opening that works. The owner and mode are set on
the open descriptor (``fchown``/``fchmod``), so they cannot land on another
file swapped in under the same name.

Requests under PIPE_BUF (4096 on Linux) are written atomically, so they never
interleave. Calls to one FIFO from this process still take turns: mi_fifo
serves one request at a time anyway, and reads its pipe in 4096-byte chunks,
so many requests queued at once can be split across two reads (the simulator
then drops the split one). One outstanding request per FIFO avoids that.
"""

from __future__ import annotations

import errno
import os
import secrets
import select
import stat
import threading

from .errors import OpenSIPSMIConnectionError, OpenSIPSMIRequestError, OpenSIPSMITimeoutError
from .options import as_str
from .transport import Deadline, Transport, access_for

DEFAULT_FIFO_FILE = "/var/run/opensips/opensips_fifo"
DEFAULT_FIFO_FALLBACK = "/tmp/opensips_fifo"
DEFAULT_REPLY_DIR = "/tmp"

#: mi_fifo's MAX_MI_FIFO_BUFFER: requests this long or longer are never answered.
MAX_REQUEST = 4096
#: Replies larger than this are refused (FIFO replies have no size limit of their own).
MAX_REPLY = 64 * 1024 * 1024
REPLY_PREFIX = "opensips_mi_reply_"

_turns: dict[str, threading.Lock] = {}
_turns_lock = threading.Lock()


def _turn(fifo: str) -> threading.Lock:
    """The lock that gives calls to ``fifo`` (from any connector in this process) their turn."""
    key = os.path.realpath(fifo)
    with _turns_lock:
        return _turns.setdefault(key, threading.Lock())


class FifoTransport(Transport):
    """Talks to mi_fifo through the filesystem."""

    kind = "fifo"

    def __init__(self, timeout: float, **kwargs: object) -> None:
        super().__init__(timeout)
        self.fifo_file = as_str("fifo_file", kwargs.get("fifo_file"), DEFAULT_FIFO_FILE) or DEFAULT_FIFO_FILE
        self.fifo_file_fallback = as_str("fifo_file_fallback", kwargs.get("fifo_file_fallback"), DEFAULT_FIFO_FALLBACK)
        self.reply_dir = as_str("fifo_reply_dir", kwargs.get("fifo_reply_dir"), DEFAULT_REPLY_DIR) or DEFAULT_REPLY_DIR

    # -- description -------------------------------------------------------

    def _resolve(self) -> str | None:
        """The FIFO to write to: ``fifo_file``, else the fallback, else None."""
        if os.path.exists(self.fifo_file):
            return self.fifo_file
        if self.fifo_file_fallback and os.path.exists(self.fifo_file_fallback):
            return self.fifo_file_fallback
        return None

    @property
    def target(self) -> str:
        return f"fifo:{self._resolve() or self.fifo_file}"

    def _missing_message(self) -> str:
        where = self.fifo_file
        if self.fifo_file_fallback and self.fifo_file_fallback != self.fifo_file:
            where += f" (nor at the fallback {self.fifo_file_fallback})"
        return f"no FIFO at {where}: is OpenSIPS running with mi_fifo loaded, and is fifo_file its fifo_name?"

    def valid(self) -> tuple[bool, list[str] | None]:
        reasons: list[str] = []
        path = self._resolve()
        if path is None:
            reasons.append(self._missing_message())
        else:
            try:
                if not stat.S_ISFIFO(os.stat(path).st_mode):
                    reasons.append(f"{path} exists but is not a FIFO")
                elif not os.access(path, os.W_OK):
                    reasons.append(f"no permission to write to {path}")
                else:
                    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
                    os.close(fd)
            except OSError as exc:
                reasons.append(self._open_error_message(path, exc))
        if not os.path.isdir(self.reply_dir):
            reasons.append(f"fifo_reply_dir {self.reply_dir} is not a directory")
        elif not os.access(self.reply_dir, os.W_OK | os.X_OK):
            reasons.append(f"no permission to create reply FIFOs in {self.reply_dir}")
        return (not reasons, reasons or None)

    # -- one call ----------------------------------------------------------

    def exchange(self, request: bytes, req_id: int | str) -> bytes:
        deadline = Deadline(self.timeout)
        reply_name = REPLY_PREFIX + secrets.token_hex(10)
        line = b":" + reply_name.encode() + b":" + request + b"\n"
        if len(line) >= MAX_REQUEST:
            raise OpenSIPSMIRequestError(
                f"request is {len(line)} bytes; mi_fifo never answers requests of {MAX_REQUEST} bytes or more "
                "(use http or datagram for large parameters)"
            )
        fifo = self._resolve()
        if fifo is None:
            raise OpenSIPSMIConnectionError(self._missing_message())
        reply_path = os.path.join(self.reply_dir, reply_name)
        reader = -1
        not_ours = False  # only when the random name was taken: never unlink someone else's file
        turn = _turn(fifo)
        try:
            try:
                os.mkfifo(reply_path, 0o600)
            except OSError as exc:
                not_ours = isinstance(exc, FileExistsError)
                raise OpenSIPSMIConnectionError(
                    f"cannot create the reply FIFO in {self.reply_dir} ({exc.strerror}): "
                    "check fifo_reply_dir exists, is writable and is mi_fifo's reply_dir"
                ) from None
            # The reader must exist before OpenSIPS tries to answer (it waits ~0.3 s).
            reader = os.open(reply_path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
            self._open_to_opensips(reader, fifo)
            if not turn.acquire(timeout=max(deadline.remaining(), 0.001)):
                raise OpenSIPSMITimeoutError(
                    f"other calls kept {self.target} busy for {self.timeout:g}s: is OpenSIPS slow to answer?"
                )
            try:
                self._write_request(fifo, line, deadline)
                return self._read_reply(reader, fifo, deadline)
            finally:
                turn.release()
        finally:
            # Runs on every path, KeyboardInterrupt included.
            if reader >= 0:
                os.close(reader)
            if not not_ours:
                try:
                    os.unlink(reply_path)
                except OSError:
                    pass

    def _open_to_opensips(self, reader: int, fifo: str) -> None:
        """Let OpenSIPS (the owner of ``fifo``) write the reply FIFO, and no one else if we can."""
        try:
            change = access_for(os.stat(fifo))
            if change is None:
                return
            mine = os.fstat(reader)
            if not stat.S_ISFIFO(mine.st_mode) or mine.st_uid != os.geteuid():
                raise OpenSIPSMIConnectionError(f"the reply FIFO in {self.reply_dir} was replaced under us")
            uid, gid, mode = change
            os.fchown(reader, uid, gid)
            if mode is not None:
                os.fchmod(reader, mode)
        except OSError as exc:
            raise OpenSIPSMIConnectionError(
                f"cannot let OpenSIPS write the reply FIFO in {self.reply_dir} ({exc.strerror})"
            ) from None

    def _open_error_message(self, fifo: str, exc: OSError) -> str:
        if exc.errno == errno.ENXIO:
            return f"nobody reads the FIFO {fifo}: OpenSIPS is not running (stale FIFO left behind?)"
        if exc.errno == errno.ENOENT:
            return self._missing_message()
        if exc.errno in (errno.EACCES, errno.EPERM):
            return f"no permission to write to {fifo}: run as the OpenSIPS user or fix the FIFO's mode"
        return f"cannot open {fifo} ({exc.strerror}): is OpenSIPS running with mi_fifo loaded?"

    def _write_request(self, fifo: str, line: bytes, deadline: Deadline) -> None:
        try:
            # Non-blocking: with no reader this fails (ENXIO) instead of hanging.
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            raise OpenSIPSMIConnectionError(self._open_error_message(fifo, exc)) from None
        try:
            if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                raise OpenSIPSMIConnectionError(f"{fifo} is not a FIFO: check fifo_file")
            poller = select.poll()
            poller.register(fd, select.POLLOUT)
            while True:
                try:
                    # len(line) < PIPE_BUF, so the write is all-or-nothing (atomic).
                    os.write(fd, line)
                    return
                except BlockingIOError:
                    remaining = deadline.remaining()
                    if remaining <= 0:
                        raise OpenSIPSMITimeoutError(
                            f"the FIFO {fifo} stayed full for {self.timeout:g}s: OpenSIPS is not reading it"
                        ) from None
                    poller.poll(remaining * 1000)
                except BrokenPipeError:
                    raise OpenSIPSMIConnectionError(
                        f"OpenSIPS closed the FIFO {fifo} while we wrote: is it shutting down?"
                    ) from None
        finally:
            os.close(fd)

    def _read_reply(self, reader: int, fifo: str, deadline: Deadline) -> bytes:
        poller = select.poll()
        poller.register(reader, select.POLLIN)
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline.remaining()
            if remaining <= 0:
                raise OpenSIPSMITimeoutError(
                    f"no reply on {self.target} within {self.timeout:g}s: is OpenSIPS busy, "
                    f"and is fifo_reply_dir ({self.reply_dir}) the reply_dir of mi_fifo?"
                )
            # Until a writer has opened the reply FIFO, poll() stays quiet on
            # Linux; after it closed, POLLHUP and read() == b"" mean EOF.
            if not poller.poll(max(1, int(remaining * 1000 + 0.999))):
                continue
            try:
                data = os.read(reader, 65536)
            except BlockingIOError:
                continue
            if not data:
                if not chunks:
                    raise OpenSIPSMIConnectionError(
                        f"OpenSIPS closed the reply FIFO without answering ({self.target})"
                    )
                return b"".join(chunks)
            chunks.append(data)
            size += len(data)
            if size > MAX_REPLY:
                raise OpenSIPSMIConnectionError(f"reply from {self.target} is larger than {MAX_REPLY} bytes")


def __getattr__(name: str) -> object:
    """``FIFO``, 0.1.11's connection class, importable from here as it was (see ``connection``)."""
    if name == "FIFO":
        from .connection import FIFO

        return FIFO
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
