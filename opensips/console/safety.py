"""Which MI commands only read, and which change OpenSIPS's state.

The read-only list is an allowlist: a command not on it (including one we have never
heard of) is treated as changing state, so ``--read-only`` refuses it and the console
asks for confirmation before sending it. Missing a read-only command costs a confirmation;
missing a state-changing one could cost an outage.

Source: the ``mi_export_t`` tables of OpenSIPS 4.0.1 (command names, their 3.x aliases
and parameter sets) and each module's "Exported MI Functions" documentation:
``mi/mi_core.c`` (core, tcp, mem, cache, status_report, evi), ``statistics.c``,
``blacklists.c``, ``net/proto_tcp/proto_tcp.c`` and ``modules/{dialog,usrloc,dispatcher,
load_balancer,pike,tracer,tm,cfgutils,httpd}/``. Left off on purpose: ``mem:*`` dumps and
``mem:shm_check`` (they only read, but make OpenSIPS scan and log its whole memory),
``db_text:dump`` (writes tables to disk), ``cache:store``/``remove``, every ``reload``,
``set_state``, ``end_dlg``, ``kill``, ``*_sync``, ``*_flush``, ``evi:subscribe``/``raise``,
``tracer:start``/``stop``, ``t_uac_*``/``t_reply``.

Some commands read or write depending on their params (``log_level`` without ``level``
reads, with it sets): ``writes_with`` names those params. Positional params cannot be
told apart, so any positional param to such a command counts as a write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .catalog import Catalog

__all__ = ["READ_ONLY", "Verdict", "classify"]


@dataclass(frozen=True)
class ReadOnly:
    """One allowlisted command: 4.x canonical name, 3.x name, params that make it a write."""

    canonical: str
    legacy: str | None = None
    writes_with: tuple[str, ...] = ()


_LIST = [
    # mi/mi_core.c: mi_core_cmds
    ReadOnly("core:uptime", "uptime"), ReadOnly("core:version", "version"), ReadOnly("core:pwd", "pwd"),
    ReadOnly("core:arg", "arg"), ReadOnly("core:which", "which"), ReadOnly("core:ps", "ps"),
    ReadOnly("core:help", "help"),
    ReadOnly("core:log_level", "log_level", ("level",)),
    ReadOnly("core:xlog_level", "xlog_level", ("level",)),
    ReadOnly("core:profiling_proc", "profiling_proc", ("level",)),
    ReadOnly("core:log_level_filter", "log_level_filter", ("level_filter",)),
    ReadOnly("core:log_mute_state", "log_mute_state", ("mute_state",)),
    # mi_tcp_cmds, proto_tcp.c
    ReadOnly("tcp:list", "list_tcp_conns"), ReadOnly("tcp:trace", "tcp_trace", ("trace_mode",)),
    # mi_cache_cmds, mi_status_report_cmds, mi_evi_cmds
    ReadOnly("cache:fetch", "cache_fetch"),
    ReadOnly("status_report:get", "sr_get_status"), ReadOnly("status_report:status", "sr_list_status"),
    ReadOnly("status_report:reports", "sr_list_reports"),
    ReadOnly("status_report:identifiers", "sr_list_identifiers"),
    ReadOnly("evi:list", "events_list"), ReadOnly("evi:subscribers", "subscribers_list"),
    # statistics.c, blacklists.c
    ReadOnly("statistics:get", "get_statistics"), ReadOnly("statistics:list", "list_statistics"),
    ReadOnly("blacklists:list", "list_blacklists"), ReadOnly("blacklists:check_all", "check_blacklists"),
    ReadOnly("blacklists:check", "check_blacklist"),
    # modules
    ReadOnly("tm:hash", "t_hash"),
    ReadOnly("cfgutils:rand_get_prob", "rand_get_prob"), ReadOnly("cfgutils:get_config_hash", "get_config_hash"),
    ReadOnly("cfgutils:check_config_hash", "check_config_hash"), ReadOnly("cfgutils:shv_get", "shv_get"),
    ReadOnly("httpd:list_root_path", "httpd_list_root_path"),
    ReadOnly("pike:list", "pike_list"),
    ReadOnly("tracer:trace", "trace", ("mode",)),
    ReadOnly("dialog:list", "dlg_list"), ReadOnly("dialog:list_ctx", "dlg_list_ctx"),
    ReadOnly("dialog:profile_get_size", "profile_get_size"),
    ReadOnly("dialog:profile_list_dlgs", "profile_list_dlgs"),
    ReadOnly("dialog:profile_get_values", "profile_get_values"),
    ReadOnly("dialog:list_all_profiles", "list_all_profiles"),
    ReadOnly("usrloc:dump", "ul_dump"), ReadOnly("usrloc:show_contact", "ul_show_contact"),
    ReadOnly("dispatcher:list", "ds_list"),
    ReadOnly("load_balancer:list", "lb_list"), ReadOnly("load_balancer:status", "lb_status", ("new_status",)),
]

READ_ONLY: dict[str, ReadOnly] = {}
for _entry in _LIST:
    READ_ONLY[_entry.canonical] = _entry
    if _entry.legacy:
        READ_ONLY[_entry.legacy] = _entry

# Commands worth a stronger word in the confirmation than "changes state".
_WARNINGS = {"core:kill": "stops OpenSIPS", "kill": "stops OpenSIPS",
             "core:reload_routes": "reloads the script's routes", "reload_routes": "reloads the script's routes"}


@dataclass(frozen=True)
class Verdict:
    """Whether one request only reads, and why not when it does not."""

    command: str
    read_only: bool
    why: str = ""


def _lookup(command: str, catalog: Catalog | None) -> ReadOnly | None:
    entry = READ_ONLY.get(command)
    if entry is None and catalog is not None:
        meant = catalog.resolve(command)   # a bare 4.x name OpenSIPS resolves to one module:cmd
        if len(meant) == 1:
            entry = READ_ONLY.get(meant[0])
    return entry


def classify(command: str, params: dict[str, Any] | list[Any] | None, catalog: Catalog | None = None) -> Verdict:
    """Read-only or state-changing, for ``--read-only`` and for the confirmation prompt."""
    entry = _lookup(command, catalog)
    if entry is None:
        what = _WARNINGS.get(command) or "is not a read-only command"
        return Verdict(command, False, f"{command} {what}")
    if entry.writes_with and params:
        if isinstance(params, list):
            return Verdict(command, False, f"{command} with positional params may set "
                                           f"{'/'.join(entry.writes_with)}")
        given = [p for p in entry.writes_with if p in params]
        if given:
            return Verdict(command, False, f"{command} with {given[0]} changes OpenSIPS's state")
    return Verdict(command, True)
