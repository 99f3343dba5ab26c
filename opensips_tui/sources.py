"""What the app's other sources and sinks of notifications have in common. No Textual here.

Besides the MI nodes (:mod:`opensips_tui.backend`), notifications reach the app's
:class:`~opensips_tui.feed.Feed` from a RabbitMQ broker (:mod:`opensips_tui.amqp_source`)
or a recording played back (:mod:`opensips_tui.replay_source`), and may be written to a
recording as they arrive (:mod:`opensips_tui.recording`). Each of these is an object with:

- ``status() -> SourceStatus``: one short piece of the status bar, read on the UI thread at
  every numbers refresh;
- ``on_change``: set by the app to a thread-safe callable, called from any thread when the
  status changed by itself (a broker went down, the disk filled), so the bar is redrawn
  even when no notification arrives;
- ``names``: the event names it knows before they arrive (a recording's), or None;
- ``start()`` and ``close()`` (idempotent; ``close`` returns a last word for stderr, or None).
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Protocol

__all__ = ["SourceStatus", "Source", "OK", "WARN", "ERROR", "human_bytes"]

OK, WARN, ERROR = "ok", "warn", "error"


class SourceStatus(NamedTuple):
    """A piece of the status bar: its text (may hold names from outside: cleaned where shown),
    how it looks (``ok``, ``warn``, ``error``), and the whole story for the connection
    details (``d``) when the bar has no room for it."""

    text: str
    level: str = OK
    detail: str = ""


class Source(Protocol):
    on_change: Callable[[], None] | None
    names: list[str] | None     # event names known up front (a recording's), else None

    def status(self) -> SourceStatus: ...

    def start(self) -> None: ...

    def close(self) -> str | None: ...


def human_bytes(size: float) -> str:
    """``1536`` -> ``1.5 KiB``: sizes in the status bar."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover - the loop returns
