"""The log filter: words matched case-insensitively against the event name and its params.

``pike 127.0.0.2`` keeps lines containing both words; ``-threshold`` drops lines containing
that word. Pure, so it is tested without Textual and applied on listener threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class LogFilter:
    text: str = ""

    @cached_property
    def active(self) -> bool:
        """Any words at all (asked once per notification by the feed, so computed once)."""
        return bool(self.text.strip())

    @cached_property
    def _terms(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        words = self.text.lower().split()
        keep = tuple(w for w in words if not (w.startswith("-") and len(w) > 1))
        drop = tuple(w[1:] for w in words if w.startswith("-") and len(w) > 1)
        return keep, drop

    def matches(self, haystack: str) -> bool:
        """``haystack`` is an entry's search text (event name + compact params)."""
        if not self.active:
            return True
        haystack = haystack.lower()
        keep, drop = self._terms
        return all(w in haystack for w in keep) and not any(w in haystack for w in drop)
