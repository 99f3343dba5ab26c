"""MI results as tables: columns and rows, plus the sorting and filtering a table view needs.

A result is tabular when it is a list of objects (``[{...}, {...}]``), or an object holding
exactly one such list (``{"Dialogs": [...]}``, ``{"Contacts": [...]}``, ``{"Processes": [...]}``,
``{"Connections": [...]}``, ``{"IPs": [...]}``; tests/fixtures/opensips-wire/4.0.1/ops/).
A list of plain values (``{"IPs": ["127.0.0.2"]}``) is a one-column table. Cells keep the
values as OpenSIPS sent them (a nested value such as a dialog's ``CALLEES`` stays a list);
turning them into display text is the screen's job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

__all__ = ["Table", "table_of", "cell_text", "sort_rows", "filter_rows"]


@dataclass(frozen=True)
class Table:
    """Rows of cells under named columns; ``key`` is the member the list was nested in."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    key: str | None = None

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _from_list(items: list[Any], key: str | None) -> Table | None:
    if all(isinstance(item, dict) for item in items):
        columns: dict[str, None] = {}
        for item in items:
            for name in item:
                columns.setdefault(str(name))
        cols = tuple(columns)
        return Table(cols, tuple(tuple(item.get(c) for c in cols) for item in items), key)
    if all(_scalar(item) for item in items):
        return Table((key or "value",), tuple((item,) for item in items), key)
    return None


def table_of(result: Any) -> Table | None:
    """The table in ``result``, or None when it is not tabular (then show it as a tree)."""
    if isinstance(result, list):
        return _from_list(result, None) if result else None
    if isinstance(result, dict):
        lists = [(k, v) for k, v in result.items() if isinstance(v, list)]
        others = [v for v in result.values() if not isinstance(v, list)]
        # One list, and at most scalars beside it (paged dialog:list adds "count").
        if len(lists) == 1 and all(_scalar(v) for v in others):
            key, items = lists[0]
            if not items:
                return Table((), (), key)
            return _from_list(items, key)
    return None


def cell_text(value: Any) -> str:
    """A cell as one line: strings as they are, ``None`` empty, the rest compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return repr(value)


def _sort_key(value: Any) -> tuple[int, Any]:
    """Numbers by value before text (case-insensitive); empty cells last."""
    if value is None or value == "":
        return (2, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    if isinstance(value, str):
        try:
            return (0, float(value))
        except ValueError:
            return (1, value.casefold())
    return (1, cell_text(value).casefold())


def sort_rows(rows: Sequence[tuple[Any, ...]], column: int, reverse: bool = False) -> list[tuple[Any, ...]]:
    """``rows`` ordered by one column; equal cells keep their order (stable)."""
    return sorted(rows, key=lambda row: _sort_key(row[column] if column < len(row) else None), reverse=reverse)


def filter_rows(rows: Iterable[tuple[Any, ...]], text: str) -> list[tuple[Any, ...]]:
    """Rows where every word of ``text`` appears in some cell (any case); ``-word`` excludes."""
    words = text.casefold().split()
    want = [w for w in words if not (w.startswith("-") and len(w) > 1)]
    unwanted = [w[1:] for w in words if w.startswith("-") and len(w) > 1]
    out = []
    for row in rows:
        line = "\t".join(cell_text(cell) for cell in row).casefold()
        if all(w in line for w in want) and not any(w in line for w in unwanted):
            out.append(row)
    return out
