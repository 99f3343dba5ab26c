"""The small typed messages the UI reacts to.

MI calls run in worker threads (they block on sockets); each one reports back with one of
these via ``post_message``, which is thread-safe and never waits for the UI. Listener threads
post :class:`FeedReady`, only when the feed they push into goes from empty to non-empty.
"""

from __future__ import annotations

from pathlib import Path

from textual.message import Message


class EventsListed(Message):
    """The answer to ``events_list``: names, or why it failed."""

    def __init__(self, names: list[str] | None, error: str | None = None) -> None:
        super().__init__()
        self.names = names
        self.error = error


class SubscriptionChanged(Message):
    """A subscribe/unsubscribe finished: the state it left, or why it failed."""

    def __init__(self, event: str, state: str, error: str | None = None) -> None:
        super().__init__()
        self.event = event
        self.state = state
        self.error = error


class HealthChecked(Message):
    """A periodic MI probe: reachable or not (and why); ``restarted``: since the last probe;
    ``target``: where the calls went (e.g. the fallback FIFO once that is the one in use)."""

    def __init__(self, ok: bool, detail: str, restarted: bool = False, target: str | None = None) -> None:
        super().__init__()
        self.ok = ok
        self.detail = detail
        self.restarted = restarted
        self.target = target


class ToggleRequested(Message):
    """The events list asks the app to (un)subscribe one event."""

    def __init__(self, event: str, subscribe: bool) -> None:
        super().__init__()
        self.event = event
        self.subscribe = subscribe


class EventHighlighted(Message):
    """The events list cursor moved: the detail pane follows it."""

    def __init__(self, event: str | None) -> None:
        super().__init__()
        self.event = event


class FilterChanged(Message):
    """The filter input changed (live) or was closed."""

    def __init__(self, text: str, done: bool = False) -> None:
        super().__init__()
        self.text = text
        self.done = done


class Exported(Message):
    """The log was written to ``path`` (``count`` lines), or ``error`` says why not."""

    def __init__(self, path: Path | None, count: int, error: str | None = None) -> None:
        super().__init__()
        self.path = path
        self.count = count
        self.error = error


class LineSaved(Message):
    """One notification was written to ``path`` as ``text`` (to copy), or ``error`` says why not."""

    def __init__(self, path: Path | None, text: str = "", error: str | None = None) -> None:
        super().__init__()
        self.path = path
        self.text = text
        self.error = error


class FeedReady(Message):
    """The feed went from drained to holding something (posted by the listener thread that
    pushed first; at most one is outstanding until the UI drains)."""


class SubscriptionsSaved(Message):
    """The subscribed events were written as ``subscribe`` in ``table`` of ``path``, or
    ``error`` says why not."""

    def __init__(self, path: Path | None, table: str, names: list[str], error: str | None = None) -> None:
        super().__init__()
        self.path = path
        self.table = table
        self.names = names
        self.error = error


class SourceChanged(Message):
    """A source other than MI (a recording, a broker, a replay) changed by itself: its status
    bar piece, or the event names it knows. Posted from its thread; rare (state changes)."""


class NodesChanged(Message):
    """A node of the fleet changed health (posted from its health thread)."""

    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node
