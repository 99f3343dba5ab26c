"""Exports of the MI console: every answer (or view) as one JSON file. No Textual here.

Same promises as :mod:`opensips_tui.export`: a new file per export (microseconds in the
name, exclusive create), strictly valid ASCII JSON (NaN/Infinity written as strings).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Sequence

from opensips.console import Outcome, Table
from opensips.mi import OpenSIPSMICommandError

from .export import create, finite

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def outcome_record(outcome: Outcome) -> dict[str, Any]:
    """What was sent, when, how long it took, and the result or the error."""
    out: dict[str, Any] = {"time": outcome.at, "command": outcome.command, "params": outcome.params,
                           "request": outcome.request, "elapsed_s": round(outcome.elapsed, 6)}
    error = outcome.error
    if error is None:
        out["result"] = outcome.result
    elif isinstance(error, OpenSIPSMICommandError):
        out["error"] = {"code": error.code, "message": error.message, "data": error.data}
    else:
        out["error"] = {"transport": type(error).__name__, "message": str(error)}
    return out


def write_outcomes(outcomes: Sequence[Outcome], directory: Path, name: str,
                   table: Table | None = None) -> Path:
    """One file ``mi-<name>-<time>.json``: the answers, and the view's table when given."""
    body: dict[str, Any] = {"answers": [outcome_record(o) for o in outcomes]}
    if table is not None:
        body["table"] = {"columns": list(table.columns), "rows": [list(r) for r in table.rows]}
    text = json.dumps(finite(body), ensure_ascii=True, allow_nan=False, default=str, indent=1)
    path, out = create(directory, "mi-" + (_UNSAFE_NAME.sub("_", name).strip("_") or "answer"), ".json")
    with out:
        out.write(text + "\n")
    return path
