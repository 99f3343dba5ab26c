"""``--record FILE``: every notification the app receives, written as a recording. No Textual here.

The :class:`RecordTap` is the feed's tap (:attr:`opensips_tui.feed.Feed.tap`): the one
funnel every notification goes through (every node, every source), so nothing reaches the
screen without reaching the file. It hands each one to :class:`opensips.record.Recorder`
with the node and the receive time the feed gives it (the time the log shows), which
costs a listener thread one ``json.dumps`` and a list append; the recorder's own thread
writes to the disk. A full disk is a status (``REC … disk full, N lost``), never a
traceback; the recorder keeps whole lines and writes a gap line once the disk has room.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import Any, Callable

from opensips.record import Recorder, RecordingError, RecordingWriteError, rotated_paths

from .sources import ERROR, OK, WARN, SourceStatus, human_bytes

__all__ = ["RecordTap", "expand_path"]


def expand_path(path: str | os.PathLike[str], now: float | None = None) -> Path:
    """``~`` and strftime fields (``rec-%Y%m%d-%H%M%S.jsonl``) expanded: a config file can name
    a new recording for every start (recordings are never overwritten). ``%%`` is a ``%``."""
    text = os.path.expanduser(os.fspath(path))
    if "%" in text:
        text = time.strftime(text, time.localtime(now))
    return Path(text)


def why(error: RecordingWriteError) -> str:
    """A few words for the status bar: ``disk full`` or the system's reason."""
    cause = error.cause
    if cause is not None and cause.errno in (errno.ENOSPC, errno.EDQUOT):
        return "disk full"
    return (cause.strerror if cause is not None and cause.strerror else str(error)) or "write failed"


class RecordTap:
    """A recording at ``path`` fed by the app's feed; raises RecordingExistsError when it exists
    (a recording never overwrites one) and RecordingError when it cannot be created."""

    def __init__(self, path: str | os.PathLike[str], max_bytes: int, backups: int,
                 flush_interval: float = 0.5) -> None:
        self.on_change: Callable[[], None] | None = None
        self.names: list[str] | None = None
        self.recorder = Recorder(path, max_bytes=max_bytes, backups=backups,
                                 flush_interval=flush_interval, on_error=self._failed)
        self.path = self.recorder.path
        self._files = rotated_paths(self.path, backups)
        self.closed_error: str | None = None

    def __call__(self, notification: dict[str, Any] | None, node: str | None, ts: float) -> None:
        """The feed's tap, on the pushing thread: record a notification (a listener's ``None``
        notice is not one)."""
        if notification is not None:
            try:
                self.recorder.write(notification, node, ts)
            except RecordingError:   # closed: the app is quitting and a listener was late
                pass

    def _failed(self, error: RecordingWriteError) -> None:
        """The recorder's thread, once per failure episode: the status bar says it at once."""
        callback = self.on_change
        if callback is not None:
            callback()

    def size(self) -> int:
        """Bytes on disk, every file of the recording together."""
        total = 0
        for path in self._files:
            try:
                total += path.stat().st_size
            except OSError:
                pass
        return total

    def status(self) -> SourceStatus:
        rec = self.recorder
        name = self.path.name
        error = rec.error
        detail = f"recording {self.path}: {rec.written} notifications"
        if self.closed_error:
            return SourceStatus(f"REC {name}: {self.closed_error}", ERROR, detail)
        if error is not None:
            return SourceStatus(f"REC {name}: {why(error)}, {rec.lost} lost", ERROR, str(error))
        text = f"REC {name} {human_bytes(self.size())}"
        if rec.lost:
            return SourceStatus(f"{text}, {rec.lost} lost", WARN, f"{detail}, {rec.lost} lost")
        return SourceStatus(text, OK, detail)

    def start(self) -> None:
        """Nothing to start: the recorder was opened by the constructor (so a name that exists
        is refused before the screen is taken)."""

    def close(self) -> str | None:
        """Flush and close (idempotent); one line for stderr: what was recorded, or what was lost."""
        rec = self.recorder
        if not rec.closed:
            try:
                rec.close()
            except RecordingWriteError as exc:
                self.closed_error = why(exc)
        files = sum(1 for p in self._files if p.exists())
        line = (f"recorded {rec.written} notifications in {self.path}"
                + (f" ({files} files)" if files > 1 else ""))
        if rec.lost:
            line += f"; {rec.lost} lost ({self.closed_error or 'write errors'})"
        return line
