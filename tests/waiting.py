"""Waiting for other threads in tests: a callback collector, a bounded poll, thread fan-out, Ctrl+C."""

from __future__ import annotations

import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


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


def run_threads(worker: Callable[[int], object], count: int, timeout: float) -> None:
    """Run ``worker(0..count-1)`` on ``count`` daemon threads at once; fail if any outlives ``timeout``."""
    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "worker threads still running"


@contextmanager
def keyboard_interrupt_after(seconds: float) -> Iterator[None]:
    """Raise KeyboardInterrupt in the main thread after ``seconds`` (as Ctrl+C would)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def sigint_default() -> None:
    """``preexec_fn`` for children the tests send Ctrl+C (SIGINT) to.

    A shell starts background jobs with SIGINT ignored and children inherit that; Python then
    keeps ignoring it, and a Ctrl+C test would wait for an exit that never comes.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
