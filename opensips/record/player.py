"""Play a recording back on a thread, with its timing, like a listener delivering live.

The callback gets each :class:`~.format.Record` at the moment it was received, relative
to the first one played, divided by ``speed`` (``speed=0``: as fast as the callback takes
them). :meth:`Player.pause`, :meth:`Player.resume`, :meth:`Player.seek` and the ``speed``
property may be called from any thread (a TUI's key handlers): the player re-anchors its
clock at each, so a seek or a speed change never makes it rush through the records it
would have delivered meanwhile.

Records out of order (listener threads of several nodes race to the writer) are
delivered in file order, at once when their time has passed. A callback that raises is
logged and playback goes on, as on a listener; one that ends the thread (``sys.exit()``)
is logged, kept in ``error``, and ends playback.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Iterator

from .format import Record
from .reader import Recording

__all__ = ["Player"]

log = logging.getLogger("opensips.record")


class Player:
    """Deliver the records of ``recording`` to ``callback`` on a daemon thread (call :meth:`start`)."""

    def __init__(self, recording: Recording, callback: Callable[[Record], None], speed: float = 1.0,
                 on_end: Callable[[], None] | None = None) -> None:
        self.recording = recording
        self.callback = callback
        self.on_end = on_end
        self._speed = _check_speed(speed)
        self.delivered = 0                 # callback calls so far (a seek does not reset it)
        self.error: BaseException | None = None
        self._cond = threading.Condition()
        self._paused = False
        self._stopping = False
        self._finished = False
        self._gen = 0                      # bumped by every seek: an older read is dropped
        self._it: Iterator[Record] = recording.records()
        self._next_index = 0               # index of the next record to deliver
        self._last: Record | None = None   # the record delivered last
        self._anchor: tuple[float, float] | None = None   # (monotonic, record time) of the clock
        self._thread: threading.Thread | None = None
        self._done = threading.Event()

    # -- control (any thread) ----------------------------------------------------
    def start(self) -> "Player":
        self._thread = threading.Thread(target=self._run_guarded, name="opensips-record-player",
                                        daemon=True)
        self._thread.start()
        return self

    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._anchor = None
            self._cond.notify_all()

    def seek(self, index: int | None = None, time: float | None = None) -> None:
        """Go on from record ``index``, or from the first received at ``time`` or later (not both).

        Seeking past the end finishes playback (``on_end``); seeking back after the end plays again.
        """
        if (index is None) == (time is None):
            raise ValueError("seek needs exactly one of index= or time=")
        if index is not None and index < 0:
            index = max(len(self.recording) + index, 0)
        it = self.recording.records(index=index or 0, time=time)
        with self._cond:
            self._it = it
            self._gen += 1
            self._anchor = None
            self._finished = False
            self._done.clear()
            self._cond.notify_all()

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        value = _check_speed(value)
        with self._cond:
            self._speed = value
            self._anchor = None
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def finished(self) -> bool:
        """Every record was delivered (until the next seek)."""
        return self._finished

    @property
    def position(self) -> int:
        """Index of the next record to deliver."""
        return self._next_index

    @property
    def last(self) -> Record | None:
        """The record delivered last (its time is "now" in the recording)."""
        return self._last

    def wait(self, timeout: float | None = None) -> bool:
        """Until playback finished or stopped; False on timeout."""
        return self._done.wait(timeout)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop delivering (idempotent; from the callback too)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- the thread ---------------------------------------------------------------
    def _run_guarded(self) -> None:
        try:
            self._run()
        except BaseException as exc:   # a callback's sys.exit(), a recording gone bad
            self.error = exc
            log.error("recording player for %s stopped", self.recording.path, exc_info=exc)
        finally:
            self._done.set()

    def _run(self) -> None:
        cond = self._cond
        pending: Record | None = None
        pending_gen = -1
        while True:
            with cond:
                while not self._stopping and (self._paused or self._finished):
                    cond.wait()
                if self._stopping:
                    return
                gen, it = self._gen, self._it
            if pending is None or pending_gen != gen:
                pending = next(it, None)   # file reads outside the lock
                pending_gen = gen
                if pending is None:
                    with cond:
                        if gen != self._gen:
                            continue
                        self._finished = True
                        self._done.set()
                    self._ended()
                    continue
            with cond:
                if gen != self._gen or self._paused or self._stopping:
                    continue
                if self._speed > 0:
                    now = time.monotonic()
                    if self._anchor is None:
                        self._anchor = (now, pending.time)
                    wall, rec_time = self._anchor
                    delay = wall + (pending.time - rec_time) / self._speed - now
                    if delay > 0:
                        cond.wait(delay)   # woken early by pause/seek/speed/stop: look again
                        continue
                rec, pending = pending, None
                self._next_index = rec.index + 1
                self._last = rec
            try:
                self.callback(rec)
            except Exception:
                log.exception("recording player callback raised; playback continues")
            self.delivered += 1

    def _ended(self) -> None:
        if self.on_end is not None:
            try:
                self.on_end()
            except Exception:
                log.exception("recording player on_end raised")


def _check_speed(speed: float) -> float:
    speed = float(speed)
    if not (speed >= 0) or speed == float("inf"):
        raise ValueError(f"speed must be a number >= 0 (0: as fast as possible), got {speed}")
    return speed
