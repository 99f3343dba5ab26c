"""Ctrl+C and a closed stdout in the command-line tools.

Until a tool holds something to clean up (a socket, a subscription, a reply
FIFO), Ctrl+C ends it at once with status 130 and no traceback; from then on
it raises KeyboardInterrupt so ``finally`` blocks run. Only modules loaded at
interpreter start are imported here, so importing this is instant.
"""

from __future__ import annotations

import signal
import sys
# typing costs milliseconds at start-up, and a Ctrl+C in that window would print a
# traceback before the tools can install their quiet handler: annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


def quiet_interrupts() -> Any:
    """Until something needs cleaning up, Ctrl+C just exits (status 130), without a traceback.

    Returns the previous SIGINT handler (None when not changed: not the main
    thread, or a caller with its own handler) for ``loud_interrupts``.
    """
    try:
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return None
        return signal.signal(signal.SIGINT, _exit_quietly)
    except (ValueError, OSError):  # not the main thread
        return None


def loud_interrupts(previous: Any) -> None:
    """From here on Ctrl+C raises KeyboardInterrupt, so ``finally`` blocks clean up."""
    if previous is not None:
        try:
            signal.signal(signal.SIGINT, previous)
        except (ValueError, OSError):  # pragma: no cover
            pass


def _exit_quietly(signum: int, frame: Any) -> None:
    import os

    os._exit(130)


def run_main(body: Callable[[list[str] | None, Any], int], argv: list[str] | None) -> int:
    """Run a tool's ``body(argv, previous_handler)`` with quiet Ctrl+C until it calls ``loud_interrupts``."""
    previous = quiet_interrupts()
    try:
        try:
            return body(argv, previous)
        finally:
            loud_interrupts(previous)
    except KeyboardInterrupt:  # also one landing while the handler is restored: no traceback
        return 130


def silence_stdout() -> None:
    """After EPIPE (e.g. piped into head), stop Python complaining at exit."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
