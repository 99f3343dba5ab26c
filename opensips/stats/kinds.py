"""Which statistics are counters (show a rate) and which are gauges (show a level).

OpenSIPS says so itself: ``statistics:list`` (4.x) or ``list_statistics`` (3.x) labels each
statistic "incremental" (a counter) or "non-incremental" (a gauge); see
tests/fixtures/opensips-wire/4.0.1/ops/statistics_list.json. :func:`classify` asks for it.

Fallback, when neither command exists (older servers) or a statistic appears that the list
did not name (a module loaded later): :func:`guess_kind`, name rules read off the 4.0.1 list.
Memory, load and network backlog groups are gauges; so are names that describe "how many now"
(``active_``, ``early_``, ``inuse_``, ``registered_``, per-table ``-users``/``-contacts``) or a
setting (``max_``, ``default_``); ``core:timestamp`` is the uptime. Everything else counts.
"""

from __future__ import annotations

from typing import Any, Literal

from opensips.mi import OpenSIPSMICommandError

Kind = Literal["counter", "gauge"]
COUNTER: Kind = "counter"
GAUGE: Kind = "gauge"

_LEVEL_GROUPS = frozenset({"shmem", "rpmem", "pkmem", "load", "net"})
_LEVEL_PREFIXES = ("active_", "early_", "inuse_", "registered_", "max_", "default_")
_LEVEL_SUFFIXES = ("-users", "-contacts")
# the list commands, newest first: 3.x answers -32601 to the 4.x name
LIST_COMMANDS = ("statistics:list", "list_statistics")


def guess_kind(name: str) -> Kind:
    """The kind of ``group:name`` from its name alone (the documented fallback)."""
    group, _, stat = name.partition(":")
    if group in _LEVEL_GROUPS or name == "core:timestamp":
        return GAUGE
    if stat.startswith(_LEVEL_PREFIXES) or stat.endswith(_LEVEL_SUFFIXES):
        return GAUGE
    return COUNTER


def parse_list(result: Any) -> dict[str, Kind]:
    """``{"name": "incremental"|"non-incremental"}`` -> ``{"name": kind}``; odd entries guessed."""
    if not isinstance(result, dict):
        return {}
    out: dict[str, Kind] = {}
    for name, label in result.items():
        if label == "incremental":
            out[str(name)] = COUNTER
        elif label == "non-incremental":
            out[str(name)] = GAUGE
        else:
            out[str(name)] = guess_kind(str(name))
    return out


def classify(mi: Any) -> tuple[dict[str, Kind], str]:
    """``(kinds, source)`` from the server; source is the command that answered, or ``guess``.

    Connection errors propagate (the server is down: the caller retries later); a command
    error (unknown command, bad params) moves on to the next command, then to the guess.
    """
    for command in LIST_COMMANDS:
        try:
            kinds = parse_list(mi.execute(command))
        except OpenSIPSMICommandError:
            continue
        if kinds:
            return kinds, command
    return {}, "guess"
