"""The ladder (sequence) diagram of one call, as plain data: columns and arrows.

One column per address (``ip:port``) in the order the call first uses them, so the first
INVITE runs left to right; one arrow per message in capture-time order with the time since the
previous one. A widget (``opensips_tui.widgets.ladder``) or a text printer draws it; nothing
here knows about terminals. No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .calls import TraceMessage

__all__ = ["Arrow", "Ladder", "layout"]


@dataclass(frozen=True, slots=True)
class Arrow:
    """One message between two columns (``src == dst`` when a node sends to itself)."""

    message: TraceMessage
    src: int
    dst: int
    label: str           # INVITE, 180 Ringing, ...
    delta: float         # seconds since the previous arrow (0.0 for the first)

    @property
    def rightwards(self) -> bool:
        return self.dst >= self.src


@dataclass(frozen=True, slots=True)
class Ladder:
    columns: tuple[str, ...]
    arrows: tuple[Arrow, ...]

    @property
    def span(self) -> float:
        """Seconds from the first arrow to the last."""
        return self.arrows[-1].message.time - self.arrows[0].message.time if self.arrows else 0.0


def layout(messages: Iterable[TraceMessage]) -> Ladder:
    """The ladder of ``messages`` (any order: they are sorted by capture time, then arrival)."""
    ordered = sorted(messages, key=lambda m: (m.time, m.seq))
    columns: dict[str, int] = {}
    arrows: list[Arrow] = []
    previous: float | None = None
    for message in ordered:
        src = columns.setdefault(message.src, len(columns))
        dst = columns.setdefault(message.dst, len(columns))
        delta = 0.0 if previous is None else max(0.0, message.time - previous)
        previous = message.time
        arrows.append(Arrow(message, src, dst, message.label, delta))
    return Ladder(tuple(columns), tuple(arrows))
