"""Statistics pinned to the headline, kept per profile in a small JSON file.

The file (``pins.json`` under the user data path) maps a profile name (``""`` when none is
used) to its pinned statistics, so each OpenSIPS keeps its own pins. A missing or unreadable
file means no pins; a failed save is reported, never raised.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


class PinStore:
    def __init__(self, path: Path, profile: str | None) -> None:
        self.path = path
        self.profile = profile or ""

    def _all(self) -> dict[str, list[str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): [str(n) for n in v if isinstance(n, str)]
                for k, v in data.items() if isinstance(v, list)}

    def load(self) -> list[str]:
        return list(dict.fromkeys(self._all().get(self.profile, [])))

    def save(self, pins: list[str]) -> str | None:
        """Write ``pins`` for this profile (atomically); the error text when it failed."""
        data = self._all()
        data[self.profile] = list(pins)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".pins-", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1)
            os.replace(tmp, self.path)
        except OSError as exc:
            return f"{self.path}: {exc.strerror or exc}"
        return None
