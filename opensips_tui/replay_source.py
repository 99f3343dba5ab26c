"""``--replay FILE``: a recording as the app's only source. No Textual here.

:class:`ReplaySource` owns a :class:`~opensips.record.Player` that pushes each record into the
app's :class:`~opensips_tui.feed.Feed` as a listener would (event, notification, node), and
the feed's clock: the *recording's* time, not the wall clock. So the log shows each record's
receive time, and rates, sparklines and alerts read the recording's own pace, whatever the
speed: a burst of 50/s recorded reads 50/s at ``--speed 10`` too.

The app shows the recording as it was at the play position: the counters are those of every
record up to there. So a seek forward plays the records it passes over as fast as possible
(the player at speed 0 up to the last record before the target), and a seek back or a
restart forgets everything (:meth:`Feed.reset`) and plays again from the first record, fast
up to the target. From there the player goes on as it does after any seek of its own: the
first record at or past the target at once (an idle stretch is not waited out), the next
ones at their pace. A replay from the start therefore reproduces the recording's counts
exactly, per event and per node, at any speed and after any seek.

Controls (:meth:`toggle_pause`, :meth:`seek`, :meth:`faster`, :meth:`slower`,
:meth:`restart`) come from the UI thread; deliveries from the player's thread. One lock
keeps them apart, and a record the player read before a seek (its index is not the one
expected next) is dropped, so nothing is counted twice.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Callable

from opensips.record import Player, Record, Recording, RecordingError, recording_files

from .feed import Feed
from .sources import OK, WARN, SourceStatus

__all__ = ["ReplayError", "ReplaySource", "open_recording", "SEEK_STEP", "SPEED_MIN", "SPEED_MAX"]

SEEK_STEP = 10.0         # seconds of the recording per [ or ]
SPEED_MIN = 1 / 16       # < stops halving here
SPEED_MAX = 1024.0       # > past this is "as fast as possible" (speed 0)
BIG = 32 << 20           # a recording this large takes seconds to read: say so first


class ReplayError(Exception):
    """The file cannot be replayed (missing, unreadable, not a recording): one line."""


def open_recording(path: str | os.PathLike[str], on_big: Callable[[int], None] | None = None,
                   big: int = BIG) -> Recording:
    """The recording at ``path``, read once (counts, times, seek checkpoints), or ReplayError.

    A file where no line is a record or a header is not a recording. Bad lines in a real
    one (garbage, a last line cut short) are counted and replayed around, never fatal.
    ``on_big(bytes)`` is told first when the files hold more than ``big`` bytes (reading them
    takes seconds: about 17 µs a record).
    """
    try:
        size = sum(p.stat().st_size for p in recording_files(path))
    except (RecordingError, OSError):
        size = 0            # the scan below says what is wrong
    if size > big and on_big is not None:
        on_big(size)
    try:
        recording = Recording(path)
        recording.scan()
    except RecordingError as exc:   # missing, unreadable, a newer format version
        raise ReplayError(str(exc)) from None
    except OSError as exc:
        raise ReplayError(f"cannot read {path}: {exc.strerror or exc}") from None
    if recording.count == 0 and not recording.headers:
        first = recording.problems[0] if recording.problems else "it is empty"
        raise ReplayError(f"{path}: not a recording ({first})")
    return recording


def clock_text(seconds: float) -> str:
    """``83.4`` -> ``1:23``; ``3723`` -> ``1:02:03``."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def speed_text(speed: float) -> str:
    if speed == 0:
        return "max speed"
    return f"x{speed:g}" if speed >= 1 else f"x1/{1 / speed:g}"


class ReplaySource:
    """Plays ``recording`` into :attr:`feed` (made here, on the recording's clock); see the module doc."""

    def __init__(self, recording: Recording, ring_size: int = 10_000, speed: float = 1.0) -> None:
        self.recording = recording
        self.name = recording.path.name
        self.start_time = recording.start if recording.start is not None else 0.0
        self.duration = recording.duration
        self.speed = speed
        self.on_change: Callable[[], None] | None = None
        self.names: list[str] | None = None     # every event name in the recording, once read
        self.feed = Feed(ring_size, clock=self.now)
        self._lock = threading.Lock()
        self._expect = 0                 # index of the record to deliver next
        self._until: int | None = None   # a seek is playing every record before this index at once
        self._target = self.start_time   # the recording time that seek goes to
        self._hold = False               # pause once the seek is done
        self._paused = False
        # The clock: (recording time, monotonic time, pace): now = time + (monotonic - at) * pace
        self._anchor = (self.start_time, time.monotonic(), 0.0)
        self.player = Player(recording, self._deliver, speed=speed, on_end=self._ended)
        self._started = False

    # -- the clock (any thread) ------------------------------------------------------
    def now(self) -> float:
        """The recording's time at the play position: the feed's clock."""
        at, wall, pace = self._anchor
        return at + (time.monotonic() - wall) * pace if pace else at

    def _pace(self) -> float:
        if self._paused or self._until is not None or self.player.finished:
            return 0.0
        return self.speed

    def _anchor_here(self, at: float | None = None) -> None:
        self._anchor = (self.now() if at is None else at, time.monotonic(), self._pace())

    @property
    def position(self) -> float:
        """Seconds from the recording's first record to the play position."""
        return min(max(self.now() - self.start_time, 0.0), self.duration)

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def finished(self) -> bool:
        return self.player.finished

    @property
    def seeking(self) -> bool:
        return self._until is not None

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        if self._started:
            return
        self._started = True
        threading.Thread(target=self._read_names, name="opensips-tui-replay-names", daemon=True).start()
        self._anchor_here(self.start_time)
        self.player.start()

    def close(self) -> str | None:
        self.player.stop()
        return None

    def _read_names(self) -> None:
        """Every event name of the recording, for the events list (a pass of its own: the
        player starts at once, and the list fills in when this is done)."""
        names: set[str] = set()
        try:
            for record in self.recording.records():
                names.add(record.event)
        except RecordingError:   # the file changed under us: the list grows as records play
            return
        self.names = sorted(names)
        self._changed()

    def _changed(self) -> None:
        callback = self.on_change
        if callback is not None:
            callback()

    # -- the player's thread ---------------------------------------------------------
    def _deliver(self, record: Record) -> None:
        with self._lock:
            if record.index != self._expect:
                return   # read before a seek moved the position: not this play's record
            self._expect = record.index + 1
            self._anchor = (record.time, 0.0, 0.0)   # exactly the record's time while it is pushed
            self.feed.push(record.event, record.notification, record.node)
            self._anchor_here(record.time)
            if self._until is not None and self._expect >= self._until:
                self._arrive()

    def _arrive(self) -> None:
        """The records before the seek's target are played (lock held): the player goes on at
        the chosen speed from the first record at or past the target (at once, as the player
        does after every seek), or holds there when paused."""
        self._until = None
        self.player.speed = self.speed
        if self._hold:
            self._hold = False
            self._paused = True
            self.player.pause()
        self._anchor_here(self._target)
        self._changed()

    def _ended(self) -> None:
        with self._lock:
            self._anchor_here()
        self._changed()

    # -- controls (the UI thread) ---------------------------------------------------
    def toggle_pause(self) -> None:
        """Pause or resume; at the end, play again from the start."""
        with self._lock:
            if self._until is not None:          # pausing while a seek runs: pause at its target
                self._hold = not self._hold
                return
            if self.player.finished and not self._paused:
                self._restart_locked()
                return
            self._anchor_here()
            self._paused = not self._paused
            (self.player.pause if self._paused else self.player.resume)()
            self._anchor_here()

    def seek(self, delta: float) -> None:
        """Move the play position by ``delta`` seconds of the recording (see the module doc)."""
        with self._lock:
            here = self._target if self._until is not None else self.now()
            target = min(max(here + delta, self.start_time), self.start_time + self.duration)
            stop = self._first_at(target)
            hold = self._hold if self._until is not None else self._paused
            if stop < self._expect:              # back: play again from the start, fast up to there
                self._restart_locked()
            self._fast_forward(stop, target, hold)

    def _first_at(self, target: float) -> int:
        """The index of the first record received at ``target`` or later (the count if none)."""
        record = next(self.recording.records(time=target), None)
        return record.index if record is not None else len(self.recording)

    def restart(self) -> None:
        """Forget everything and play from the first record."""
        with self._lock:
            self._restart_locked()

    def _restart_locked(self) -> None:
        self.feed.reset()
        self._expect = 0
        self._paused = self._hold = False
        self._until = None
        self.player.seek(index=0)
        self.player.speed = self.speed
        self.player.resume()
        self._anchor_here(self.start_time)

    def _fast_forward(self, stop: int, target: float, hold: bool) -> None:
        """Play every record before index ``stop`` at once, then go on from ``target`` (lock held)."""
        self._target = target
        self._hold = hold
        self._paused = False
        if self._expect >= stop:
            self._arrive()
            if not self._paused:
                self.player.resume()
            return
        self._until = stop
        self.player.speed = 0
        self.player.resume()
        self._anchor_here(target)

    def faster(self) -> None:
        """Double the speed; past SPEED_MAX it is "as fast as possible" (0)."""
        self._set_speed(0.0 if self.speed == 0 or self.speed * 2 > SPEED_MAX else self.speed * 2)

    def slower(self) -> None:
        """Halve the speed (not below SPEED_MIN); from "as fast as possible", SPEED_MAX."""
        self._set_speed(SPEED_MAX if self.speed == 0 else max(self.speed / 2, SPEED_MIN))

    def _set_speed(self, speed: float) -> None:
        with self._lock:
            self._anchor_here()
            self.speed = speed
            if self._until is None:
                self.player.speed = speed
            self._anchor_here()

    # -- the status bar ----------------------------------------------------------------
    def status(self) -> SourceStatus:
        if self.seeking:
            state = "seeking"
        elif self.finished:
            state = "finished"
        elif self._paused:
            state = "paused"
        else:
            state = ""
        text = (f"REPLAY {self.name} {clock_text(self.position)}/{clock_text(self.duration)} "
                f"{speed_text(self.speed)}" + (f" {state}" if state else ""))
        skipped = self.recording.garbage + self.recording.truncated
        if skipped:
            text += f", {skipped} bad line{'s' if skipped != 1 else ''}"
        return SourceStatus(text, WARN if self._paused else OK,
                            f"replaying {self.recording.path}: {self.recording.summary()}")
