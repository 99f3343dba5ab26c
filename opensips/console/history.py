"""Console history: the lines typed, kept in a file, with Up/Down recall and reverse search.

One JSON string per line (a typed line may hold any character, tabs and quotes included),
appended as each line is run, so a dropped SSH session loses nothing typed before it.
The file is capped at ``limit`` lines, rewritten when it grows past twice that.
A file that cannot be read or written leaves the history working in memory; the caller
gets the reason from :attr:`History.error` to show once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["History"]


class History:
    """Typed lines, oldest first. Not thread-safe: the UI thread owns it."""

    def __init__(self, path: Path | None, limit: int = 1000) -> None:
        self.path = path
        self.limit = limit
        self.error: str | None = None
        self.lines: list[str] = self._load()

    def _load(self) -> list[str]:
        if self.path is None:
            return []
        try:
            raw = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        except OSError as exc:
            self.error = f"{self.path}: {exc.strerror or exc}"
            return []
        lines = []
        for text in raw.splitlines():
            try:
                line = json.loads(text)
            except ValueError:
                continue        # a torn last line (killed mid-write) or junk: skip it
            if isinstance(line, str) and line.strip():
                lines.append(line)
        return lines[-self.limit:]

    def add(self, line: str) -> None:
        """Remember ``line`` (not twice in a row) and append it to the file."""
        line = line.strip()
        if not line or (self.lines and self.lines[-1] == line):
            return
        self.lines.append(line)
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if len(self.lines) > 2 * self.limit:
                self.lines = self.lines[-self.limit:]
                tmp = self.path.with_name(self.path.name + ".tmp")
                tmp.write_text("".join(json.dumps(x) + "\n" for x in self.lines), encoding="utf-8")
                os.replace(tmp, self.path)
            else:
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(line) + "\n")
        except OSError as exc:
            self.error = f"{self.path}: {exc.strerror or exc}"

    def search(self, text: str, before: int | None = None) -> int | None:
        """Index of the newest line containing ``text`` (any case) before index ``before``."""
        needle = text.casefold()
        start = len(self.lines) if before is None else min(before, len(self.lines))
        for index in range(start - 1, -1, -1):
            if needle in self.lines[index].casefold():
                return index
        return None
