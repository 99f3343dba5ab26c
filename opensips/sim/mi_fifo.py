"""MI over a FIFO like mi_fifo: requests `:<reply_name>:<json>`, replies into a reply FIFO.

Faithful details: the request buffer is 4096 bytes (a longer request is never answered), two
requests in one write give two replies, `::<json>` wants no reply, a reply name with `.`, `/`
or `\\` is refused, and the reply FIFO is opened non-blocking with 4 retries 80 ms apart, so a
reader late by more than ~0.3 s gets nothing. Requests are served one at a time, as the single
MI FIFO process does. The FIFO gets mi_fifo's default ``fifo_mode`` (0660, set with chmod so the
umask does not narrow it), and whoever runs the simulator owns it, as OpenSIPS's user owns its
own: the reply FIFO is opened as that user, so a client must let that user write it.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import select
import stat
import threading
import time
from typing import Callable

from .commands import Outcome
from .jsontext import skip_space

log = logging.getLogger("opensips.sim.mi_fifo")

_NEXT_REQUEST = re.compile(r':[^:\s"{}\[\]]*:\s*[{\[]')

MAX_MI_FIFO_BUFFER = 4096
OPEN_RETRIES = 4
OPEN_RETRY_SLEEP = 0.08
WRITE_TIMEOUT = 5.0
CARRY_WAIT = 1.0      # how long an incomplete request waits for its remaining bytes (a slow writer under load)


class FifoEndpoint:
    def __init__(self, handle: Callable[[bytes], Outcome], path: str, reply_dir: str,
                 on_crash: Callable[[str, bytes], None] = lambda where, raw: None,
                 hang: Callable[[], bool] = lambda: False, mode: int = 0o660) -> None:
        self.handle = handle
        self.path = path
        self.reply_dir = reply_dir
        self.on_crash = on_crash
        self.hang = hang
        self.mode = mode
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fd = -1
        self._keep_fd = -1
        self._wake_r = self._wake_w = -1

    def start(self) -> None:
        self._stop.clear()
        if os.path.exists(self.path):
            if not stat.S_ISFIFO(os.stat(self.path).st_mode):
                raise FileExistsError(f"{self.path} exists and is not a FIFO")
            os.unlink(self.path)
        os.mkfifo(self.path, self.mode)
        os.chmod(self.path, self.mode)
        self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        # our own writer keeps the FIFO from reporting EOF between clients
        self._keep_fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="opensips-sim-fifo", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._wake_w >= 0:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=3)
            self._thread = None
        for fd in (self._fd, self._keep_fd, self._wake_r, self._wake_w):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._fd = self._keep_fd = self._wake_r = self._wake_w = -1
        try:
            os.unlink(self.path)
        except OSError:
            pass

    # -- reading ---------------------------------------------------------------------------
    def _run(self) -> None:
        carry = b""          # an incomplete request waiting for the rest of its bytes
        carry_at = 0.0
        while not self._stop.is_set():
            try:
                r, _, _ = select.select([self._fd, self._wake_r], [], [],
                                        CARRY_WAIT if carry else 0.5)
            except OSError:
                return
            if self._stop.is_set():
                return
            if self._fd not in r:
                if carry and time.monotonic() - carry_at >= CARRY_WAIT:
                    log.error("mi_fifo: cannot parse the JSON request, dropped")
                    carry = b""
                continue
            try:
                data = os.read(self._fd, MAX_MI_FIFO_BUFFER)
            except BlockingIOError:
                continue
            except OSError:
                return
            if not data:
                continue
            if not carry:
                carry_at = time.monotonic()
            try:
                carry = self._process(carry + data)
            except Exception:  # noqa: BLE001
                log.exception("mi_fifo request failed")
                carry = b""

    def _process(self, buf: bytes) -> bytes:
        """Serve every complete `:name:json` request in `buf`; return an incomplete tail."""
        text = buf.decode("utf-8", "surrogateescape")
        dec = json.JSONDecoder()
        pos = 0
        while True:
            pos = skip_space(text, pos)
            if pos >= len(text):
                return b""
            start = pos
            if text[pos] != ":":
                log.error("mi_fifo: command must begin with ':'")
                pos = self._resync(text, pos)
                if pos < 0:
                    return b""
                continue
            end = text.find(":", pos + 1)
            if end < 0:
                return self._tail(text[start:])
            name = text[pos + 1:end]
            pos = end + 1
            try:
                _obj, stop_at = dec.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                # Ran out of bytes, more may come. An unterminated string reports
                # the position where the string starts, not the end of the text.
                if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
                    return self._tail(text[start:])
                log.error("mi_fifo: cannot parse the JSON request")
                pos = self._resync(text, exc.pos)
                if pos < 0:
                    return b""
                continue
            raw = text[pos:stop_at].encode("utf-8", "surrogateescape")
            pos = stop_at
            if len(raw) + len(name) + 2 >= MAX_MI_FIFO_BUFFER:
                log.error("mi_fifo: request too long, dropped")
                continue
            if any(c in name for c in "./\\"):
                log.error("mi_fifo: forbidden characters in reply fifo name %r", name)
                continue
            self._serve_one(name, raw)

    @staticmethod
    def _resync(text: str, pos: int) -> int:
        """Start of the next request after garbage, or -1 (the garbage itself is dropped)."""
        m = _NEXT_REQUEST.search(text, pos)
        return m.start() if m else -1

    @staticmethod
    def _tail(rest: str) -> bytes:
        data = rest.encode("utf-8", "surrogateescape")
        if len(data) >= MAX_MI_FIFO_BUFFER:
            log.error("mi_fifo: request too long, dropped")
            return b""
        return data

    def _serve_one(self, name: str, raw: bytes) -> None:
        if self.hang():
            return
        out = self.handle(raw)
        if out.kind == "crash":
            self.on_crash("fifo", raw)
            return
        if out.kind == "parse_error":
            return
        if not name:
            return
        text = b"" if out.kind == "notification" else (out.text or "").encode("utf-8")
        self._reply(os.path.join(self.reply_dir, name), text)

    def _reply(self, path: str, data: bytes) -> None:
        fd = -1
        for attempt in range(OPEN_RETRIES + 1):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as exc:
                if attempt == OPEN_RETRIES or self._stop.is_set():
                    log.error("mi_fifo: cannot open reply pipe %s: %s", path, exc)
                    return
                if exc.errno not in (errno.ENXIO, errno.ENOENT, errno.EINTR):
                    log.error("mi_fifo: cannot open reply pipe %s: %s", path, exc)
                    return
                if self._stop.wait(OPEN_RETRY_SLEEP):
                    return
        try:
            if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                log.error("mi_fifo: reply file %s is not a FIFO", path)
                return
            deadline = time.monotonic() + WRITE_TIMEOUT
            view = memoryview(data)
            while view and not self._stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    log.error("mi_fifo: reader of %s too slow, reply cut", path)
                    return
                _, w, _ = select.select([], [fd], [], min(left, 0.2))
                if not w:
                    continue
                try:
                    n = os.write(fd, view)
                except BlockingIOError:
                    continue
                view = view[n:]
        except OSError as exc:
            log.error("mi_fifo: writing the reply to %s failed: %s", path, exc)
        finally:
            os.close(fd)
