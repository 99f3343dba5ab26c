"""What the fleet screen shows: one row of short cells per node (no Textual here).

A row is computed from a :class:`NodeView`, a plain snapshot of one node taken on the UI
thread: its health, version and start time, the events/s the feed counts for it, its last
statistics poll and its firing alerts. Every cell is already display text (names and versions
come from the network and go through :func:`~opensips_tui.safe.clean`), with a level for its
colour: the thresholds of opensips-cli's ``diagnose`` (:mod:`opensips.stats.diagnose`) for
shared memory and process load, ``down`` for a node that does not answer.

Rows compare equal when they show the same text, so the screen redraws a row only when a
shown value changed. Uptime is shown to the minute (``<1m``, ``42m``, ``3h05m``, ``12d03h``):
a seconds counter would redraw every row every second for nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Mapping, Sequence

from opensips.stats import Sample, worst
from opensips.stats.numbers import short_number

from .safe import clean

Health = Literal["connecting", "up", "restarted", "down"]
# a cell's colour: diagnose's levels, plus "down" (the node does not answer) and "dim" (unknown)
Tone = Literal["ok", "notice", "warning", "critical", "down", "dim"]
SortKey = Literal["order", "name", "health", "events", "requests", "shm", "load", "alerts"]
SORT_KEYS: tuple[SortKey, ...] = ("order", "name", "health", "events", "requests", "shm", "load", "alerts")

NAME_MAX = 24          # characters of a node name kept (the table cuts further to fit)
VERSION_MAX = 12
UNKNOWN = "-"

HEALTH_TEXT: dict[Health, str] = {"connecting": "…", "up": "up", "restarted": "restarted", "down": "DOWN"}
_HEALTH_RANK: dict[Health, int] = {"down": 0, "restarted": 1, "connecting": 2, "up": 3}


@dataclass(frozen=True)
class NodeView:
    """One node as the fleet screen sees it at one moment (plain data, any thread may build it)."""

    name: str
    health: Health = "connecting"
    reason: str = ""                     # why it is down (or what it is doing)
    version: str = ""                    # "4.0.1" or the whole server string
    up_since: float | None = None        # epoch seconds the server started, when known
    events_rate: float = 0.0             # events/s received from this node (the feed's window)
    sample: Sample | None = None         # its last statistics poll, if any
    alerts: tuple[str, ...] = ()         # events whose rate alert is on, for this node


@dataclass(frozen=True)
class Cell:
    text: str
    tone: Tone = "ok"


@dataclass(frozen=True)
class FleetRow:
    """One node's row: display cells plus the raw numbers the sort keys use."""

    node: str                     # the node's name as given (the key; never shown raw)
    order: int                    # position in the fleet
    name: Cell
    health: Cell
    version: Cell
    uptime: Cell
    events: Cell
    requests: Cell
    dialogs: Cell
    users: Cell
    shm: Cell
    load: Cell
    alerts: Cell
    reason: str = ""              # cleaned, for the status line when this row is selected
    sort: Mapping[str, float] = field(default_factory=dict, compare=False)


def version_text(server: str) -> str:
    """``OpenSIPS (4.0.1 (x86_64/linux))`` -> ``4.0.1``; anything else cleaned and cut."""
    inner = server.partition("(")[2].split(" ")[0].strip(")") if "(" in server else server.strip()
    return clean(inner, VERSION_MAX) if inner else UNKNOWN


def rate_cell(rate: float | None) -> str:
    """Events or requests per second: one decimal below 10, whole numbers above (``-``: unknown).

    A whole number changes less often than a decimal one, so busy rows redraw less."""
    if rate is None:
        return UNKNOWN
    return short_number(rate, 1 if rate < 10 else 0)


def uptime_text(seconds: float | None) -> str:
    """Uptime to the minute: ``<1m``, ``42m``, ``3h05m``, ``12d03h`` (``-`` when unknown)."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return UNKNOWN
    minutes = int(seconds // 60)
    if minutes < 1:
        return "<1m"
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def _stat_cells(sample: Sample | None) -> tuple[Cell, Cell, Cell, Cell, Cell, dict[str, float]]:
    """requests/s, dialogs, users, shm %, worst load (and their numbers for sorting)."""
    dim = Cell(UNKNOWN, "dim")
    if sample is None or not sample.up:
        return dim, dim, dim, dim, dim, {}
    values, sort = sample.values, {}
    requests = dim
    if "core:rcv_requests" in values:
        rate = sample.rates.get("core:rcv_requests")
        requests = Cell(rate_cell(rate), "ok" if rate is not None else "dim")
        sort["requests"] = rate or 0.0
    dialogs = Cell(short_number(values["dialog:active_dialogs"])) if "dialog:active_dialogs" in values else dim
    users = Cell(short_number(values["usrloc:registered_users"])) if "usrloc:registered_users" in values else dim
    shm = dim
    total = values.get("shmem:total_size", 0)
    if total > 0:
        used = values.get("shmem:real_used_size", 0) / total * 100
        shm = Cell(f"{used:.0f}%", worst(sample.findings, "shmem"))
        sort["shm"] = used
    load = dim
    loads = [(value, name) for name, value in values.items() if name.startswith("load:load-proc-")]
    if loads:
        value, name = max(loads)
        load = Cell(f"{value}%", worst(sample.findings, name))
        sort["load"] = float(value)
    return requests, dialogs, users, shm, load, sort


def fleet_row(view: NodeView, order: int, now: float) -> FleetRow:
    """The row of ``view`` at wall-clock time ``now``."""
    down = view.health == "down"
    health = Cell(HEALTH_TEXT.get(view.health, clean(view.health, 10)),
                  "down" if down else "warning" if view.health == "restarted" else
                  "dim" if view.health == "connecting" else "ok")
    if down:   # last known figures would lie: a DOWN node shows none
        requests = dialogs = users = shm = load = Cell(UNKNOWN, "dim")
        sort: dict[str, float] = {}
    else:
        requests, dialogs, users, shm, load, sort = _stat_cells(view.sample)
    uptime = (UNKNOWN if down or view.up_since is None else uptime_text(now - view.up_since))
    alerts = Cell(",".join(clean(a, 40) for a in sorted(view.alerts)) if view.alerts else "",
                  "critical" if view.alerts else "ok")
    sort.update(order=float(order), health=float(_HEALTH_RANK.get(view.health, 2)),
                events=view.events_rate, alerts=float(len(view.alerts)))
    return FleetRow(
        node=view.name, order=order, name=Cell(clean(view.name, NAME_MAX)), health=health,
        version=Cell(version_text(view.version) if view.version else UNKNOWN,
                     "ok" if view.version else "dim"),
        uptime=Cell(uptime, "dim" if uptime == UNKNOWN else "ok"),
        events=Cell(rate_cell(view.events_rate) if not down else UNKNOWN, "dim" if down else "ok"),
        requests=requests, dialogs=dialogs, users=users, shm=shm, load=load, alerts=alerts,
        reason=clean(view.reason, 200), sort=sort)


def fleet_rows(views: Sequence[NodeView], now: float) -> list[FleetRow]:
    """Every node's row, in fleet order."""
    return [fleet_row(view, i, now) for i, view in enumerate(views)]


def sort_rows(rows: Sequence[FleetRow], key: SortKey) -> list[FleetRow]:
    """Rows ordered by ``key``: names A-Z, health worst first, numbers highest first.

    Ties keep the fleet order, so a sort never shuffles equal rows between refreshes.
    """
    if key == "order":
        return sorted(rows, key=lambda r: r.order)
    if key == "name":
        return sorted(rows, key=lambda r: (r.node.casefold(), r.order))
    if key == "health":
        return sorted(rows, key=lambda r: (r.sort.get("health", 2.0), r.order))
    # unknown figures (a DOWN node, no poll yet) go last
    return sorted(rows, key=lambda r: (key not in r.sort, -r.sort.get(key, 0.0), r.order))


def status_line(row: FleetRow | None, count: int) -> str:
    """The line under the table: the selected node's story (why it is DOWN, its alerts)."""
    if row is None:
        return "no nodes" if count == 0 else ""
    name = row.name.text
    if row.health.tone == "down":
        return f"{name}: DOWN: {row.reason or 'no answer'}"
    parts = [f"{name}: {row.health.text}"]
    if row.version.text != UNKNOWN:
        parts.append(f"OpenSIPS {row.version.text}")
    if row.reason:
        parts.append(row.reason)
    if row.alerts.text:
        parts.append(f"ALERT {row.alerts.text}")
    return " · ".join(parts)


# -- layout: which columns fit a width, and each row's cells padded to them -------------------
@dataclass(frozen=True)
class Column:
    key: str          # FleetRow attribute
    title: str
    width: int        # cells, the one-space gap before it included
    right: bool       # numbers are right-aligned


NAME_MIN = 8
_FIXED = (Column("health", "HEALTH", 10, False), Column("version", "VERSION", 9, False),
          Column("uptime", "UPTIME", 7, True), Column("events", "EV/S", 7, True),
          Column("requests", "REQ/S", 7, True), Column("dialogs", "DIALOGS", 8, True),
          Column("users", "USERS", 7, True), Column("shm", "SHM", 5, True),
          Column("load", "LOAD", 6, True))
# dropped first when the terminal is narrow (the status line still tells the selected node's)
_OPTIONAL = ("version",)
ALERTS_MIN = 8
SORT_TITLES: dict[SortKey, str] = {"order": "", "name": "NODE", "health": "HEALTH", "events": "EV/S",
                                   "requests": "REQ/S", "shm": "SHM", "load": "LOAD", "alerts": "ALERTS"}


def layout(width: int, names: Sequence[str] = ()) -> list[Column]:
    """The columns shown ``width`` cells wide: the name column as wide as the longest name
    (at most :data:`NAME_MAX`), the figures, then alerts in what is left."""
    fixed = list(_FIXED)
    name_w = max([NAME_MIN, *(min(len(n), NAME_MAX) + 1 for n in names)])   # + the gap before it
    for key in _OPTIONAL:
        if name_w + sum(c.width for c in fixed) + ALERTS_MIN > width:
            fixed = [c for c in fixed if c.key != key]
    name_w = max(NAME_MIN, min(name_w, width - sum(c.width for c in fixed) - ALERTS_MIN))
    alerts_w = max(0, width - name_w - sum(c.width for c in fixed))
    return [Column("name", "NODE", name_w, False), *fixed, Column("alerts", "ALERTS", alerts_w, False)]


def fit(text: str, width: int, right: bool) -> str:
    """``text`` in exactly ``width`` cells: padded, or cut with an ellipsis (one-space gap kept)."""
    room = width - 1
    if room <= 0:
        return " " * max(width, 0)
    if len(text) > room:
        text = text[: room - 1] + "…" if room > 1 else "…"
    return " " + (text.rjust(room) if right else text.ljust(room))


def header_cells(columns: Sequence[Column], sort: SortKey) -> list[str]:
    """The column titles, the sorted one marked with ``▼`` (``▲`` for names: A-Z)."""
    out = []
    for column in columns:
        title = column.title
        if SORT_TITLES.get(sort) == title:
            title += "▲" if sort == "name" else "▼"
        out.append(fit(title, column.width, column.right))
    return out


def row_cells(row: FleetRow, columns: Sequence[Column]) -> list[tuple[str, Tone]]:
    """``row``'s cells for ``columns``, each fitted to its width, with its tone."""
    out = []
    for column in columns:
        cell: Cell = getattr(row, column.key)
        out.append((fit(cell.text, column.width, column.right), cell.tone))
    return out
