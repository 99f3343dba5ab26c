"""Write notifications to a recording: JSON Lines, rotated by size, safe on a full disk.

Listener threads call :meth:`Recorder.write` (or a callback from :meth:`Recorder.callback`)
for every notification, so a write is cheap: one ``json.dumps`` and an append to an
in-memory buffer under a lock. The buffer goes to the file with one ``os.write`` when it
holds ``buffer_bytes``, when a file must rotate, every ``flush_interval`` seconds (a small
daemon thread, so a quiet recording is still on disk within that time), and at close.

A full disk never loses records silently: the buffer is written as far as the disk takes
it, a cut last line is truncated away (every file stays whole lines), the records that did
not make it are counted in ``lost``, ``on_error`` hears a :class:`RecordingWriteError`
once, and when writing works again the file gets a ``gap`` line with the count before the
next record. While it fails, records are counted as lost (the disk is tried again at most
every ``flush_interval``), so memory stays bounded.

Rotation: ``NAME`` is the file being written; when the next record would take it past
``max_bytes`` it is renamed ``NAME.1`` (``NAME.1`` to ``NAME.2``... and the oldest, ``NAME.<backups>``,
removed) and a new ``NAME`` starts with its own header line. At most ``backups + 1``
files exist, each readable alone.
"""

from __future__ import annotations

import atexit
import errno
import logging
import os
import threading
import time
import weakref
from pathlib import Path
from typing import Callable

from opensips.version import __version__

from .errors import RecordingError, RecordingExistsError, RecordingWriteError
from .format import header_fields
from .lossless import dumps, encode

__all__ = ["Recorder", "rotated_paths"]

log = logging.getLogger("opensips.record")

DEFAULT_MAX_BYTES = 64 << 20
DEFAULT_BACKUPS = 4
BUFFER_BYTES = 64 << 10


_open_recorders: "weakref.WeakSet[Recorder]" = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    """A program that forgot close() still gets its last records (the flusher is a daemon thread)."""
    for recorder in list(_open_recorders):
        try:
            recorder.close()
        except RecordingError as exc:
            log.error("%s", exc)


def rotated_paths(path: str | os.PathLike[str], backups: int) -> list[Path]:
    """``[NAME, NAME.1, ... NAME.<backups>]``: the files a recording at ``path`` may use, newest first."""
    base = Path(path)
    return [base] + [base.with_name(f"{base.name}.{n}") for n in range(1, backups + 1)]


class Recorder:
    """Append notifications to a new recording at ``path`` (never overwrites one).

    ``max_bytes`` bounds each file (a single record larger than that gets a file of its
    own); ``backups`` is how many rotated files are kept, so at most
    ``(backups + 1) * max_bytes`` bytes are used. ``backups=0`` keeps one file and starts
    it again when full.
    """

    def __init__(self, path: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES,
                 backups: int = DEFAULT_BACKUPS, flush_interval: float = 0.5,
                 buffer_bytes: int = BUFFER_BYTES,
                 on_error: Callable[[RecordingWriteError], None] | None = None) -> None:
        if max_bytes < 1024:
            raise ValueError(f"max_bytes must be at least 1024 (got {max_bytes})")
        if backups < 0:
            raise ValueError(f"backups must be 0 or more (got {backups})")
        if not flush_interval > 0:
            raise ValueError(f"flush_interval must be positive (got {flush_interval})")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self.flush_interval = flush_interval
        self.buffer_bytes = buffer_bytes
        self.on_error = on_error
        self.written = 0            # records in the files (or in the buffer, on their way)
        self.lost = 0               # records that could not be written (see the module doc)
        self.rotations = 0
        self.error: RecordingWriteError | None = None   # set while writing fails
        self._lock = threading.Lock()
        self._buf: list[str] = []
        self._buf_bytes = 0
        self._size = 0              # bytes in the current file
        self._gap = 0               # lost records not yet reported in the file
        self._gap_error = ""
        self._retry_at = 0.0
        self._closed = False
        self._fd = -1
        for existing in rotated_paths(self.path, max(backups, 1)):
            if existing.exists():
                raise RecordingExistsError(f"{existing} exists: a recording never overwrites one; "
                                           "choose another name or move it away")
        try:
            self._open(exclusive=True)
        except FileExistsError as exc:
            raise RecordingExistsError(f"{self.path} exists: choose another name") from exc
        except OSError as exc:
            raise RecordingError(f"cannot create recording {self.path}: {exc.strerror or exc}") from exc
        self._wake = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="opensips-record-flush",
                                         daemon=True)
        self._flusher.start()
        _open_recorders.add(self)

    # -- writing -------------------------------------------------------------
    def write(self, notification: dict, node: str | None = None, when: float | None = None) -> None:
        """Record one notification received from ``node`` at ``when`` (default: now).

        Never raises for a disk problem (listener threads call this): see ``error``,
        ``lost`` and ``on_error``. Raises RecordingError after :meth:`close`.
        """
        method = notification.get("method")
        fields = {"time": time.time() if when is None else when, "node": node,
                  "event": method if type(method) is str else str(method),
                  "notification": notification}
        if type(notification) is not dict:   # a RawNotification: keep its bytes (raw_b64)
            encode(notification, fields)
        line = dumps(fields) + "\n"
        size = len(line)           # ASCII: characters are bytes
        failed: RecordingWriteError | None = None
        with self._lock:
            if self._closed:
                raise RecordingError(f"recording {self.path} is closed")
            if self.error is not None:
                if time.monotonic() < self._retry_at:
                    self._lose(1)
                    return
                failed = self._flush_locked()   # try the disk again (also writes the gap line)
                if failed is not None:
                    self._lose(1)
                    return
            if self._size + self._buf_bytes + size > self.max_bytes and self._size + self._buf_bytes > self._header_size:
                failed = self._flush_locked() or self._rotate_locked()
                if failed is not None:
                    self._lose(1)
                    self._report(failed)
                    return
            self._buf.append(line)
            self._buf_bytes += size
            self.written += 1
            if self._buf_bytes >= self.buffer_bytes:
                failed = self._flush_locked()
        if failed is not None:
            self._report(failed)

    def callback(self, node: str | None = None) -> Callable[[dict | None], None]:
        """A listener callback recording every notification it gets as coming from ``node``.

        ``None`` (the listeners' word for "garbage keeps arriving") is not a notification
        and is not recorded.
        """
        write = self.write

        def record(notification: dict | None) -> None:
            if notification is not None:
                write(notification, node)
        return record

    def flush(self) -> None:
        """Write what is buffered now; raises RecordingWriteError when the disk refused some."""
        with self._lock:
            failed = self._flush_locked(force=True)
        if failed is not None:
            self._report(failed)
            raise failed

    def close(self) -> None:
        """Flush and close (idempotent); raises RecordingWriteError when records were lost at the end."""
        with self._lock:
            if self._closed:
                return
            failed = self._flush_locked(force=True)
            self._closed = True
            self._close_fd()
        self._wake.set()
        if self._flusher is not threading.current_thread():
            self._flusher.join(2.0)
        if failed is not None:
            self._report(failed)
            raise failed

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- internals (called with the lock held) --------------------------------
    def _lose(self, n: int) -> None:
        self.lost += n
        self._gap += n

    def _flush_locked(self, force: bool = False) -> RecordingWriteError | None:
        """Buffer (and a pending gap line) to the file. None when all went, else the error."""
        if self.error is not None and not force and time.monotonic() < self._retry_at:
            return self.error
        if self._fd < 0:
            try:
                self._open(exclusive=False)
            except OSError as exc:
                return self._failed(exc, 0)
        lines = self._buf
        if self._gap:
            gap = dumps({"gap": self._gap, "time": time.time(), "error": self._gap_error}) + "\n"
            lines = [gap] + lines
        if not lines:
            return None
        data = "".join(lines).encode("ascii")
        done = 0
        view = memoryview(data)
        try:
            while done < len(data):
                done += os.write(self._fd, view[done:])
        except OSError as exc:
            whole = data.rfind(b"\n", 0, done) + 1   # keep whole lines only
            if whole < done:
                try:
                    os.ftruncate(self._fd, self._size + whole)
                except OSError:
                    pass
            kept = data.count(b"\n", 0, whole)
            self._size += whole
            if self._gap:
                if kept:     # the gap line went out: what it reported is no longer pending
                    kept -= 1
                    self._gap = 0
            lost = len(self._buf) - kept
            self.written -= lost
            self._buf = []
            self._buf_bytes = 0
            return self._failed(exc, lost)
        self._size += done
        self._buf = []
        self._buf_bytes = 0
        self._gap = 0
        if self.error is not None:
            log.warning("recording %s: writing again after losing %d records", self.path, self.lost)
            self.error = None
        return None

    def _failed(self, exc: OSError, lost: int) -> RecordingWriteError:
        self._lose(lost)
        self._gap_error = str(exc)
        self._retry_at = time.monotonic() + self.flush_interval
        first = self.error is None
        what = "disk full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else (exc.strerror or str(exc))
        error = RecordingWriteError(f"recording {self.path}: {what}; {self.lost} records lost so far",
                                    self.lost, exc)
        error.__cause__ = exc
        self.error = error
        error.first = first  # type: ignore[attr-defined]
        return error

    def _report(self, error: RecordingWriteError) -> None:
        """Tell on_error once per failure episode (outside the lock)."""
        if not getattr(error, "first", False):
            return
        error.first = False  # type: ignore[attr-defined]
        log.error("%s", error)
        if self.on_error is not None:
            try:
                self.on_error(error)
            except Exception:
                log.exception("recording on_error callback raised")

    def _rotate_locked(self) -> RecordingWriteError | None:
        self._close_fd()
        paths = rotated_paths(self.path, self.backups)
        try:
            if self.backups == 0:
                os.unlink(self.path)
            else:
                paths[-1].unlink(missing_ok=True)
                for newer, older in zip(paths[-2::-1], paths[:0:-1]):
                    if newer.exists():
                        os.replace(newer, older)
            self.rotations += 1
            self._open(exclusive=False)
        except OSError as exc:
            return self._failed(exc, 0)
        return None

    def _open(self, exclusive: bool) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        if exclusive:
            flags |= os.O_EXCL
        fd = os.open(self.path, flags, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                header = (dumps(header_fields(time.time(), f"opensips {__version__}")) + "\n").encode("ascii")
                written = os.write(fd, header)
                if written != len(header):
                    os.ftruncate(fd, 0)
                    raise OSError(errno.ENOSPC, "short write of the header")
                size = written
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._size = size
        self._header_size = size

    def _close_fd(self) -> None:
        if self._fd >= 0:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = -1

    def _flush_loop(self) -> None:
        while not self._wake.wait(self.flush_interval):
            with self._lock:
                if self._closed:
                    return
                failed = self._flush_locked() if (self._buf or self._gap) else None
            if failed is not None:
                self._report(failed)
