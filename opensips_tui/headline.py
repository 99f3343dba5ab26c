"""What the statistics headline says, from one poll (no Textual: plain cells with a level).

Only the parts whose statistics the server has are shown (a proxy without dialog or usrloc
has no DLG or REG part). Threshold levels come from the poller's diagnose findings.
"""

from __future__ import annotations

from dataclasses import dataclass

from opensips.stats import Level, Sample, worst
from opensips.stats.numbers import rate_text, short_number

from .safe import clean

PROC_NAME = 26       # characters of a process type shown next to its load
MAX_LOADS = 6        # the busiest processes shown; the rest are summed up in one cell


@dataclass(frozen=True)
class Cell:
    """``label value`` in the colour of ``level``."""

    label: str
    value: str
    level: Level = "ok"


@dataclass(frozen=True)
class Row:
    title: str
    cells: list[Cell]


def _rate(sample: Sample, name: str, unit: str = "") -> str:
    return rate_text(sample.rates.get(name)) + unit


def _traffic(s: Sample) -> Row | None:
    if "core:rcv_requests" not in s.values:
        return None
    cells = [Cell(label, _rate(s, f"core:{name}")) for label, name in (
        ("req", "rcv_requests"), ("rpl", "rcv_replies"), ("fwd", "fwd_requests"),
        ("drop", "drop_requests"), ("err", "err_requests"))]
    if "core:slow_messages" in s.values:
        slow = next((f for f in s.findings if f.check == "slow_sip"), None)
        cells.append(Cell("slow", _rate(s, "core:slow_messages")
                          + (f" {slow.value:.0f}%" if slow else ""), slow.level if slow else "ok"))
    return Row("SIP/s", cells)


def _calls(s: Sample) -> Row | None:
    v = s.values
    cells = []
    if "tm:inuse_transactions" in v:
        cells.append(Cell("transactions", str(v["tm:inuse_transactions"])))
    if "dialog:active_dialogs" in v:
        cells += [Cell("dialogs", str(v["dialog:active_dialogs"])),
                  Cell("early", str(v.get("dialog:early_dialogs", 0))),
                  Cell("done/s", _rate(s, "dialog:processed_dialogs")),
                  Cell("failed/s", _rate(s, "dialog:failed_dialogs"))]
    return Row("CALLS", cells) if cells else None


def _users(s: Sample) -> Row | None:
    v = s.values
    if "usrloc:registered_users" not in v:
        return None
    contacts = sum(n for k, n in v.items() if k.startswith("usrloc:") and k.endswith("-contacts"))
    return Row("USERS", [Cell("registered", str(v["usrloc:registered_users"])),
                         Cell("contacts", str(contacts))])


def _memory(s: Sample) -> Row | None:
    v = s.values
    cells = []
    total = v.get("shmem:total_size", 0)
    if total > 0:
        level = worst(s.findings, "shmem")
        used = v.get("shmem:real_used_size", 0) / total * 100
        peak = v.get("shmem:max_used_size", 0) / total * 100
        cells.append(Cell("shm", f"{used:.1f}% peak {peak:.1f}% of {short_number(total)}", level))
    for proto in ("udp", "tcp", "tls"):
        name = f"net:waiting_{proto}"
        if name in v and (proto != "tls" or v[name]):
            cells.append(Cell(f"{proto} backlog", str(v[name]), "warning" if v[name] else "ok"))
    return Row("MEM", cells) if cells else None


def _loads(s: Sample) -> Row | None:
    loads = []
    for name, value in s.values.items():
        if name.startswith("load:load-proc-"):
            proc = int(name.rsplit("-", 1)[1]) if name.rsplit("-", 1)[1].isdigit() else -1
            loads.append((value, proc, name))
    if not loads:
        return None
    loads.sort(key=lambda t: (-t[0], t[1]))
    cells = [Cell(clean(s.processes.get(proc, f"process {proc}"), PROC_NAME) + f" #{proc}",
                  f"{value}%", worst(s.findings, name)) for value, proc, name in loads[:MAX_LOADS]]
    if len(loads) > MAX_LOADS:
        cells.append(Cell(f"+{len(loads) - MAX_LOADS} more at", f"<= {loads[MAX_LOADS][0]}%"))
    return Row("LOAD", cells)


def _pins(s: Sample, pins: list[str]) -> Row | None:
    cells = []
    for name in pins:
        if name in s.values:
            value = _rate(s, name, "/s") if name in s.rates else short_number(s.values[name])
            cells.append(Cell(clean(name, 40), value, worst(s.findings, name)))
    return Row("PINS", cells) if cells else None


def headline(sample: Sample, pins: list[str]) -> list[Row]:
    """The headline rows of a good poll (a DOWN poll is the caller's to show)."""
    rows = [_traffic(sample), _calls(sample), _users(sample), _memory(sample), _loads(sample),
            _pins(sample, pins)]
    return [r for r in rows if r is not None]


def advice(sample: Sample, limit: int = 2) -> list[Cell]:
    """The most severe findings first, as ``LEVEL advice`` cells."""
    order = {"critical": 0, "warning": 1, "notice": 2}
    found = sorted(sample.findings, key=lambda f: (order.get(f.level, 3), -f.value))
    return [Cell(f.level.upper(), clean(f.advice, 200), f.level) for f in found[:limit]]
