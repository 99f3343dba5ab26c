"""Load the captured OpenSIPS wire samples kept in tests/fixtures/opensips-wire/.

They were copied from real OpenSIPS 4.0.1 and 3.6.8 captures; tests compare the
simulator and the parsers against them instead of retyping bytes.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

WIRE = Path(__file__).parent / "fixtures" / "opensips-wire"
VERSIONS = ("4.0.1", "3.6.8")


@lru_cache(maxsize=None)
def sample(version: str, kind: str, case: str) -> dict[str, Any]:
    """One capture, e.g. ``sample("4.0.1", "http", "version")``."""
    path = WIRE / version / kind / f"{case}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def cases(version: str, kind: str) -> list[str]:
    """Names of every capture of one kind (``http``, ``fifo``, ``datagram``, ``events``)."""
    return sorted(p.stem for p in (WIRE / version / kind).glob("*.json"))
