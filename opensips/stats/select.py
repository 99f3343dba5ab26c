"""Choosing statistics by name: ``group:`` for a group, names and globs (``*``, ``?``, ``[]``).

``core:`` is the core group; ``tm:*_transactions`` matches inside one group; a pattern with no
``:`` matches the statistic's name in any group (``rcv_requests``, ``*slow*``). Patterns are
plain text from the command line or a filter box, never regular expressions.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Iterable

_GLOB = set("*?[")


class Selection:
    """A set of patterns; empty means every statistic."""

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self.patterns = [p.strip() for p in patterns if p and p.strip()]
        for p in self.patterns:
            if p.startswith(":") or p.count(":") > 1:
                raise ValueError(f"bad statistic pattern {p!r}: use group:, group:name, or name")

    def rank(self, name: str) -> int | None:
        """The index of the first pattern ``name`` matches (None: no match)."""
        if not self.patterns:
            return 0
        stat = name.partition(":")[2]
        for i, p in enumerate(self.patterns):
            if p.endswith(":"):
                if name.startswith(p):
                    return i
            elif fnmatchcase(name if ":" in p else stat, p):
                return i
        return None

    def matches(self, name: str) -> bool:
        return self.rank(name) is not None

    def request(self) -> list[str]:
        """What to ask ``get_statistics`` for: whole groups when every pattern names one."""
        groups: list[str] = []
        for p in self.patterns:
            group = p.partition(":")[0]
            if ":" not in p or _GLOB & set(group):
                return ["all"]
            if group + ":" not in groups:
                groups.append(group + ":")
        return groups or ["all"]

    def filter(self, names: Iterable[str]) -> list[str]:
        """The matching names, in the order of the patterns (then the server's order)."""
        ranked = [(r, i, n) for i, n in enumerate(names) if (r := self.rank(n)) is not None]
        return [n for _r, _i, n in sorted(ranked)]
