"""Waiting for other threads in tests: a callback collector and a bounded poll."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable


class Sink:
    """A callback that collects its calls across threads."""

    def __init__(self) -> None:
        self.q: queue.Queue = queue.Queue()

    def __call__(self, msg: object) -> None:
        self.q.put(msg)

    def take(self, n: int = 1, timeout: float = 3.0) -> list:
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            out.append(self.q.get(timeout=max(0.01, deadline - time.monotonic())))
        return out

    def empty_for(self, seconds: float) -> bool:
        try:
            self.q.get(timeout=seconds)
            return False
        except queue.Empty:
            return True


def wait_until(pred: Callable[[], object], timeout: float = 5.0, step: float = 0.02) -> bool:
    """Poll ``pred`` until it is true or ``timeout`` seconds passed; its last answer as a bool."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())
