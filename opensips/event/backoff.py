"""Pausing ``accept()`` while the process is out of file descriptors.

When ``accept()`` fails with EMFILE (or ENFILE, ENOBUFS, ENOMEM) the pending connection stays
in the backlog, so the listening socket stays readable: a select loop that simply tries again
spins a core and writes a warning per turn, on the very server the listener was meant to
spare. Instead the listening socket is left out of the selector for a while (50 ms, doubling
up to 1 s while the shortage lasts), one warning is written per shortage, and the pending
connection is accepted once descriptors are free again: nothing is lost, OpenSIPS waits in
the backlog.
"""

from __future__ import annotations

import errno
import time

RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
FIRST_PAUSE = 0.05
LONGEST_PAUSE = 1.0


class AcceptBackoff:
    """When a listening socket may be selected again after ``accept()`` ran out of resources."""

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self.failures = 0             # accept() calls that failed for lack of resources
        self._pause = 0.0             # the current pause; 0: not backing off
        self._until = 0.0

    @staticmethod
    def is_shortage(exc: OSError) -> bool:
        return exc.errno in RESOURCE_ERRNOS

    def failed(self) -> bool:
        """One more failed accept(); True when it starts a shortage (warn once per shortage)."""
        self.failures += 1
        first = self._pause == 0.0
        self._pause = FIRST_PAUSE if first else min(self._pause * 2, LONGEST_PAUSE)
        self._until = self.clock() + self._pause
        return first

    def succeeded(self) -> None:
        """An accept() worked: the shortage is over."""
        self._pause = 0.0

    @property
    def paused(self) -> bool:
        return self._pause != 0.0 and self.clock() < self._until

    def remaining(self) -> float:
        """Seconds until the listening socket may be selected again (0 when it may now)."""
        return max(0.0, self._until - self.clock()) if self._pause else 0.0
