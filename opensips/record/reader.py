"""Read a recording: its files in order, records numbered, bad lines counted, never a traceback.

``Recording(path)`` names a recording by the file the writer wrote to; its rotated files
(``NAME.<n>``, oldest first) come before it. Iterating yields :class:`~.format.Record`\\ s.
A line that is not a record (a crash cut the last line short, a disk filled, a hand edit)
is skipped and counted: ``truncated`` for a last line without its newline, ``garbage``
for any other, with the first few reasons in ``problems`` ("file:line: why").

Seeking needs to know where records are: :meth:`Recording.scan` reads the recording once
(the counts above, ``count``, ``start``/``end`` times, ``lost`` from gap lines) and keeps
a checkpoint every ``CHECKPOINT`` records, so :meth:`records` can start at an index or a
time without holding the recording in memory.
"""

from __future__ import annotations

import bisect
import os
import re
from pathlib import Path
from typing import Iterator, NamedTuple

from .errors import RecordingError, RecordingFormatError
from .format import Gap, Header, Record, parse_line

__all__ = ["Recording", "recording_files"]

CHECKPOINT = 256
MAX_PROBLEMS = 20


def recording_files(path: str | os.PathLike[str]) -> list[Path]:
    """The files of the recording at ``path``, oldest first: ``NAME.<n>`` ... ``NAME.1``, ``NAME``."""
    base = Path(path)
    pattern = re.compile(re.escape(base.name) + r"\.([1-9][0-9]{0,5})")
    rotated: list[tuple[int, Path]] = []
    try:
        names = os.listdir(base.parent or ".")
    except OSError as exc:
        raise RecordingError(f"cannot read {base.parent}: {exc.strerror or exc}") from exc
    for name in names:
        m = pattern.fullmatch(name)
        if m:
            rotated.append((int(m.group(1)), base.with_name(name)))
    files = [p for _, p in sorted(rotated, reverse=True)]
    if base.exists():
        files.append(base)
    if not files:
        raise RecordingError(f"{base}: no such recording")
    return files


class _Checkpoint(NamedTuple):
    first: int            # the index of the record at this position
    max_before: float     # the latest time of every record before it (-inf at the start)
    file: int
    offset: int


class Recording:
    """A recording on disk (a file and its rotated files); see the module doc."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.files = recording_files(self.path)
        self._headers: list[Header] = []
        self._count = 0
        self._garbage = 0
        self._truncated = 0
        self._lost = 0
        self._problems: list[str] = []
        self._start: float | None = None
        self._end: float | None = None
        self._checkpoints: list[_Checkpoint] = []
        self._scanned = False

    def __repr__(self) -> str:
        return f"<Recording {self.path} files={len(self.files)}>"

    # -- what the scan found (each reads the recording once, on first use) ------
    @property
    def count(self) -> int:
        """Records (gap, header and bad lines not counted)."""
        return self.scan()._count

    @property
    def garbage(self) -> int:
        """Lines skipped because they were not a record, a header or a gap (the last line aside)."""
        return self.scan()._garbage

    @property
    def truncated(self) -> int:
        """Last lines of a file cut short (no newline) and unreadable: a crash or a full disk."""
        return self.scan()._truncated

    @property
    def lost(self) -> int:
        """Records the writer said it lost (gap lines)."""
        return self.scan()._lost

    @property
    def problems(self) -> list[str]:
        """The first few skipped lines, as "file:line: why"."""
        return self.scan()._problems

    @property
    def headers(self) -> list[Header]:
        return self.scan()._headers

    @property
    def start(self) -> float | None:
        """The earliest receive time (None without records)."""
        return self.scan()._start

    @property
    def end(self) -> float | None:
        """The latest receive time (None without records)."""
        return self.scan()._end

    # -- reading ---------------------------------------------------------------
    def __iter__(self) -> Iterator[Record]:
        return self.records()

    def __len__(self) -> int:
        return self.scan()._count

    def records(self, index: int = 0, time: float | None = None) -> Iterator[Record]:
        """Records from position ``index``, or from the first one received at ``time`` or later."""
        if time is None and index <= 0:
            return self._read(_Checkpoint(0, float("-inf"), 0, 0), lambda rec: True)
        self.scan()
        if not self._checkpoints:   # no record at all
            return iter(())
        if time is not None:
            keys = [c.max_before for c in self._checkpoints]
            at = max(bisect.bisect_left(keys, time) - 1, 0)
            return self._read(self._checkpoints[at], lambda rec: rec.time >= time)
        if index >= self._count:
            return iter(())
        at = index // CHECKPOINT
        return self._read(self._checkpoints[at], lambda rec: rec.index >= index)

    def scan(self) -> "Recording":
        """Read the whole recording once: counts, times, problems, checkpoints. Idempotent."""
        if self._scanned:
            return self
        latest = float("-inf")
        index = 0
        for item, file_no, offset, where in self._lines(_Checkpoint(0, latest, 0, 0), count=True):
            if isinstance(item, Record):
                if index % CHECKPOINT == 0:
                    self._checkpoints.append(_Checkpoint(index, latest, file_no, offset))
                index += 1
                if item.time > latest:
                    latest = item.time
                if self._start is None or item.time < self._start:
                    self._start = item.time
            elif isinstance(item, Header):
                self._headers.append(item)
            elif isinstance(item, Gap):
                self._lost += item.lost
        self._count = index
        self._end = latest if index else None
        self._scanned = True
        return self

    @property
    def duration(self) -> float:
        """Seconds from the first to the last record (0 when fewer than two)."""
        start, end = self.start, self.end
        return (end - start) if start is not None and end is not None else 0.0

    def _read(self, start: _Checkpoint, wanted) -> Iterator[Record]:
        index = start.first
        for item, _, _, _ in self._lines(start, count=False):
            if isinstance(item, Record):
                item.index = index
                index += 1
                if wanted(item):
                    yield item
                    wanted = _always

    def _lines(self, start: _Checkpoint, count: bool) -> Iterator[tuple[object, int, int, str]]:
        """(parsed line, file number, offset of the line, "file:line") from ``start`` on.

        ``count``: add bad lines to the counters (the scan does; later reads do not count twice).
        """
        for file_no in range(start.file, len(self.files)):
            path = self.files[file_no]
            try:
                f = open(path, "rb")
            except FileNotFoundError:   # rotated away while we read: the writer moved on
                continue
            except OSError as exc:
                raise RecordingError(f"cannot read {path}: {exc.strerror or exc}") from exc
            with f:
                offset = start.offset if file_no == start.file else 0
                if offset:
                    f.seek(offset)
                line_no = 0
                while True:
                    try:
                        line = f.readline()
                    except OSError as exc:
                        raise RecordingError(f"cannot read {path}: {exc.strerror or exc}") from exc
                    if not line:
                        break
                    line_no += 1
                    here = offset
                    offset += len(line)
                    if not line.strip():
                        continue
                    try:
                        item = parse_line(line)
                    except RecordingFormatError as exc:
                        raise RecordingFormatError(f"{path}: {exc}") from None
                    if isinstance(item, str):
                        if count:
                            self._bad(path, line_no, item, last=not line.endswith(b"\n"))
                        continue
                    yield item, file_no, here, path.name

    def _bad(self, path: Path, line_no: int, why: str, last: bool) -> None:
        if last:
            self._truncated += 1
            why = "cut short (no newline at the end)"
        else:
            self._garbage += 1
        if len(self._problems) < MAX_PROBLEMS:
            where = f"{path.name}:{line_no}" if not last else f"{path.name}: last line"
            self._problems.append(f"{where}: {why}")

    def summary(self) -> str:
        """One line for people: records, span, and what was skipped."""
        self.scan()
        parts = [f"{self.count} records in {len(self.files)} file{'s' if len(self.files) != 1 else ''}",
                 f"{self.duration:.1f} s"]
        if self.garbage:
            parts.append(f"{self.garbage} bad lines skipped")
        if self.truncated:
            parts.append(f"{self.truncated} cut-short line{'s' if self.truncated != 1 else ''} skipped")
        if self.lost:
            parts.append(f"{self.lost} records lost while recording")
        return ", ".join(parts)


def _always(rec: Record) -> bool:
    return True
