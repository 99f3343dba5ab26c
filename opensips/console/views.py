"""Ready-made operational views: which MI calls each makes, and the table it builds.

Every view names its command in both namings (4.x canonical, 3.x flat) and picks the one
the server's catalog uses (``pike_list`` is gone in 4.0.1: only ``pike:list`` answers,
tests/fixtures/opensips-wire/4.0.1/ops/legacy_pike_list.json). Shapes are those of the
captures in tests/fixtures/opensips-wire/4.0.1/ops/; a value missing from a row (another
version, another module setting) leaves its cell empty instead of failing the view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .catalog import Catalog
from .tables import Table, table_of

__all__ = ["Call", "View", "VIEWS", "DIALOG_STATES", "DISPATCHER_STATES", "set_state_request"]

# modules/dialog/dlg_hash.h (DLG_STATE_*)
DIALOG_STATES = {1: "unconfirmed", 2: "early", 3: "confirmed (no ACK)", 4: "confirmed", 5: "deleted"}
# dispatcher:set_state "state" values (modules/dispatcher docs): active, inactive, probing
DISPATCHER_STATES = {"active": "a", "inactive": "i", "probing": "p"}


@dataclass(frozen=True)
class Call:
    """One MI call of a view, in both namings."""

    canonical: str
    legacy: str | None
    params: dict[str, Any] | None = None

    def name(self, catalog: Catalog | None) -> str:
        return catalog.name_for(self.canonical, self.legacy) if catalog else self.canonical


def _items(value: Any, key: str) -> list[dict[str, Any]]:
    """``value[key]`` when it is a list of objects; [] for anything else."""
    items = value.get(key) if isinstance(value, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _dialogs(results: list[Any], now: float) -> list[tuple]:
    rows = []
    result = results[0]
    items = _items(result, "Dialogs") or ([result["Dialog"]] if isinstance(result, dict)
                                          and isinstance(result.get("Dialog"), dict) else [])
    for d in items:
        state = d.get("state")
        start = d.get("timestart")
        age = max(0, int(now - start)) if isinstance(start, (int, float)) and not isinstance(start, bool) and start else None
        rows.append((DIALOG_STATES.get(state, str(state)) if state is not None else None,
                     d.get("from_uri"), d.get("to_uri"), age, d.get("callid"), d.get("ID")))
    return rows


def _registrations(results: list[Any], now: float) -> list[tuple]:
    rows = []
    for domain in _items(results[0], "Domains"):
        for aor in _items(domain, "AORs"):
            contacts = _items(aor, "Contacts")
            if not contacts:
                rows.append((aor.get("AOR"), None, None, None, None, domain.get("name")))
            for c in contacts:
                rows.append((aor.get("AOR"), c.get("Contact"), c.get("User-agent"), c.get("Expires"),
                             c.get("Socket"), domain.get("name")))
    return rows


def _destinations(results: list[Any], now: float) -> list[tuple]:
    rows = []
    for part in _items(results[0], "PARTITIONS"):
        for dset in _items(part, "SETS"):
            for d in _items(dset, "Destinations"):
                resolved = d.get("resolved_addresses")
                rows.append((part.get("name"), dset.get("id"), d.get("URI"), d.get("state"),
                             d.get("first_hit_counter"), d.get("weight"), d.get("description"),
                             " ".join(map(str, resolved)) if isinstance(resolved, list) else resolved))
    return rows


def _balancer(results: list[Any], now: float) -> list[tuple]:
    rows = []
    for d in _items(results[0], "Destinations"):
        resources = " ".join(f"{r.get('name')} {r.get('load')}/{r.get('max')}"
                             for r in _items(d, "Resources"))
        rows.append((d.get("id"), d.get("group"), d.get("uri"), d.get("enabled"), d.get("auto-reenable"),
                     resources))
    return rows


def _generic(results: list[Any], now: float, columns: tuple[str, ...]) -> list[tuple]:
    table = table_of(results[0])
    if table is None:
        return []
    rows = [tuple(row.get(c) for c in columns) for row in table.as_dicts()]
    return [row for row in rows if any(cell is not None for cell in row)]   # not another shape


def _processes(results: list[Any], now: float) -> list[tuple]:
    """``ps`` joined with the ``load:`` statistics (``load:load-proc-<ID>``, 1m, 10m)."""
    load = results[1] if len(results) > 1 and isinstance(results[1], dict) else {}
    rows = []
    for p in _items(results[0], "Processes"):
        pid = p.get("ID")
        rows.append((pid, p.get("PID"), p.get("Type"), load.get(f"load:load-proc-{pid}"),
                     load.get(f"load:load1m-proc-{pid}"), load.get(f"load:load10m-proc-{pid}")))
    return rows


@dataclass(frozen=True)
class View:
    """One operational table: its calls, its columns, and how rows come out of the answers."""

    id: str
    title: str
    calls: tuple[Call, ...]
    columns: tuple[str, ...]
    rows: Callable[[list[Any], float], list[tuple]] = field(repr=False)

    def build(self, results: list[Any], now: float) -> Table:
        """The table from one answer per call (in ``calls`` order); ``now`` for ages."""
        return Table(self.columns, tuple(self.rows(results, now)), self.id)


_TCP = ("ID", "Type", "State", "Remote", "Local", "Lifetime", "Alias port")

VIEWS: dict[str, View] = {v.id: v for v in [
    View("dialogs", "Dialogs", (Call("dialog:list", "dlg_list"),),
         ("State", "Caller", "Callee", "Age s", "Call-ID", "Dialog ID"), _dialogs),
    View("registrations", "Registrations", (Call("usrloc:dump", "ul_dump"),),
         ("AOR", "Contact", "User agent", "Expires s", "Socket", "Table"), _registrations),
    View("dispatcher", "Dispatcher destinations", (Call("dispatcher:list", "ds_list", {"full": 1}),),
         ("Partition", "Set", "URI", "State", "Hits", "Weight", "Description", "Resolved"), _destinations),
    View("load_balancer", "Load balancer", (Call("load_balancer:list", "lb_list"),),
         ("ID", "Group", "URI", "Enabled", "Auto-reenable", "Resources"), _balancer),
    View("pike", "Blocked IPs", (Call("pike:list", "pike_list"),), ("IPs",),
         lambda results, now: _generic(results, now, ("IPs",))),
    View("tcp", "TCP connections", (Call("tcp:list", "list_tcp_conns"),), _TCP,
         lambda results, now: _generic(results, now, _TCP)),
    View("processes", "Processes", (Call("core:ps", "ps"),
                                    Call("statistics:get", "get_statistics", {"statistics": ["load:"]})),
         ("ID", "PID", "Type", "Load", "Load 1m", "Load 10m"), _processes),
]}


def set_state_request(catalog: Catalog | None, partition: Any, group: Any, uri: Any,
                      state: str) -> tuple[str, dict[str, str]]:
    """``dispatcher:set_state`` for one destination: ``state`` is active, inactive or probing.

    A partition other than ``default`` goes in front of the group (``"part:1"``,
    tests/fixtures/opensips-wire/4.0.1/ops/error_dispatcher_set_state_unknown_partition.json).
    """
    if state not in DISPATCHER_STATES:
        raise ValueError(f"state must be one of {', '.join(DISPATCHER_STATES)}, not {state!r}")
    group_text = str(group) if partition in (None, "", "default") else f"{partition}:{group}"
    name = Call("dispatcher:set_state", "ds_set_state").name(catalog)
    return name, {"state": DISPATCHER_STATES[state], "group": group_text, "address": str(uri)}
