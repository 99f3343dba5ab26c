"""What every operational table of the simulator has: a wall clock, a random stream, a lock.

The clock is wall time because MI replies carry unix times and dates; tests pass their own to
move it. Each table draws from its own seeded stream, so looking at one table never changes
another's numbers. The lock is taken by the traffic thread and the MI threads alike.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Callable


class Table:
    """Base of the dialog, location, destination and connection tables."""

    def __init__(self, clock: Callable[[], float] = time.time, seed: int | None = None) -> None:
        self._clock = clock
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
