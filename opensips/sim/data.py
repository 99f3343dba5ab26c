"""Static tables of the simulated OpenSIPS: versions, MI command names, events, statistics.

The values mirror the wire captures of OpenSIPS 4.0.1 and 3.6.8 (tests/fixtures/opensips-wire)
so that `which`, `events_list` and `get_statistics` answer with the same names and order.
"""

from __future__ import annotations

VERSIONS = ("4.0.1", "3.6.8")
DEFAULT_VERSION = "4.0.1"


def server_string(version: str) -> str:
    return f"OpenSIPS ({version} (x86_64/linux))"


# (4.x canonical name, 3.x flat name or None when the command is new in 4.x, exporting module)
# in the order 4.0.1 lists them in `which`.
COMMANDS: list[tuple[str, str | None, str]] = [
    ("statistics:get", "get_statistics", "core"),
    ("statistics:list", "list_statistics", "core"),
    ("statistics:reset", "reset_statistics", "core"),
    ("statistics:reset_all", "reset_all_statistics", "core"),
    ("core:uptime", "uptime", "core"),
    ("core:version", "version", "core"),
    ("core:pwd", "pwd", "core"),
    ("core:arg", "arg", "core"),
    ("core:which", "which", "core"),
    ("core:ps", "ps", "core"),
    ("core:kill", "kill", "core"),
    ("core:log_level", "log_level", "core"),
    ("core:xlog_level", "xlog_level", "core"),
    ("core:profiling_proc", None, "core"),
    ("core:log_level_filter", "log_level_filter", "core"),
    ("core:log_mute_state", "log_mute_state", "core"),
    ("core:reload_routes", "reload_routes", "core"),
    ("core:help", "help", "core"),
    ("tcp:list", "list_tcp_conns", "core"),
    ("tcp:close", None, "core"),
    ("mem:shm_check", "shm_check", "core"),
    ("mem:pkg_dump", "mem_pkg_dump", "core"),
    ("mem:shm_dump", "mem_shm_dump", "core"),
    ("mem:rpm_dump", "mem_rpm_dump", "core"),
    ("cache:store", "cache_store", "core"),
    ("cache:fetch", "cache_fetch", "core"),
    ("cache:remove", "cache_remove", "core"),
    ("status_report:get", "sr_get_status", "core"),
    ("status_report:status", "sr_list_status", "core"),
    ("status_report:reports", "sr_list_reports", "core"),
    ("status_report:identifiers", "sr_list_identifiers", "core"),
    ("evi:subscribe", "event_subscribe", "core"),
    ("evi:list", "events_list", "core"),
    ("evi:subscribers", "subscribers_list", "core"),
    ("evi:raise", "raise_event", "core"),
    ("blacklists:list", "list_blacklists", "core"),
    ("blacklists:check_all", "check_blacklists", "core"),
    ("blacklists:check", "check_blacklist", "core"),
    ("blacklists:add_rule", "add_blacklist_rule", "core"),
    ("blacklists:del_rule", "del_blacklist_rule", "core"),
    ("tcp:trace", "tcp_trace", "proto_tcp"),
    ("tm:uac_dlg", "t_uac_dlg", "tm"),
    ("tm:uac_cancel", "t_uac_cancel", "tm"),
    ("tm:hash", "t_hash", "tm"),
    ("tm:reply", "t_reply", "tm"),
    ("cfgutils:rand_set_prob", "rand_set_prob", "cfgutils"),
    ("cfgutils:rand_reset_prob", "rand_reset_prob", "cfgutils"),
    ("cfgutils:rand_get_prob", "rand_get_prob", "cfgutils"),
    ("cfgutils:get_config_hash", "get_config_hash", "cfgutils"),
    ("cfgutils:check_config_hash", "check_config_hash", "cfgutils"),
    ("cfgutils:shv_get", "shv_get", "cfgutils"),
    ("cfgutils:shv_set", "shv_set", "cfgutils"),
    ("httpd:list_root_path", "httpd_list_root_path", "httpd"),
    ("pike:list", "pike_list", "pike"),
    ("pike:rm", "pike_rm", "pike"),
]

# MI commands of the modules the simulator loads with its demo events (tracer, dialog, usrloc,
# db_text, dispatcher, load_balancer), in the order 4.0.1 lists them after pike's
# (tests/fixtures/opensips-wire/4.0.1/ops/core_which.json); the second name is the 3.6.8 one
# (the mi_cmds tables of modules/*/ in the 3.6.8 and 4.0.1 sources).
MODULE_COMMANDS: list[tuple[str, str | None, str]] = [
    ("tracer:trace", "trace", "tracer"),
    ("tracer:start", "trace_start", "tracer"),
    ("tracer:stop", "trace_stop", "tracer"),
    ("dialog:list", "dlg_list", "dialog"),
    ("dialog:list_ctx", "dlg_list_ctx", "dialog"),
    ("dialog:end_dlg", "dlg_end_dlg", "dialog"),
    ("dialog:db_sync", "dlg_db_sync", "dialog"),
    ("dialog:restore_db", "dlg_restore_db", "dialog"),
    ("dialog:cluster_sync", "dlg_cluster_sync", "dialog"),
    ("dialog:profile_get_size", "profile_get_size", "dialog"),
    ("dialog:profile_list_dlgs", "profile_list_dlgs", "dialog"),
    ("dialog:profile_get_values", "profile_get_values", "dialog"),
    ("dialog:list_all_profiles", "list_all_profiles", "dialog"),
    ("dialog:profile_end_dlgs", "profile_end_dlgs", "dialog"),
    ("dialog:push_var", "dlg_push_var", "dialog"),
    ("dialog:send_sequential", "dlg_send_sequential", "dialog"),
    ("dialog:set_profile", "dlg_set_profile", "dialog"),
    ("dialog:unset_profile", "dlg_unset_profile", "dialog"),
    ("usrloc:rm", "ul_rm", "usrloc"),
    ("usrloc:rm_contact", "ul_rm_contact", "usrloc"),
    ("usrloc:dump", "ul_dump", "usrloc"),
    ("usrloc:flush", "ul_flush", "usrloc"),
    ("usrloc:add", "ul_add", "usrloc"),
    ("usrloc:show_contact", "ul_show_contact", "usrloc"),
    ("usrloc:sync", "ul_sync", "usrloc"),
    ("usrloc:cluster_sync", "ul_cluster_sync", "usrloc"),
    ("db_text:dump", "dbt_dump", "db_text"),
    ("db_text:reload", "dbt_reload", "db_text"),
    ("dispatcher:set_state", "ds_set_state", "dispatcher"),
    ("dispatcher:list", "ds_list", "dispatcher"),
    ("dispatcher:reload", "ds_reload", "dispatcher"),
    ("dispatcher:push_script_attrs", "ds_push_script_attrs", "dispatcher"),
    ("load_balancer:reload", "lb_reload", "load_balancer"),
    ("load_balancer:resize", "lb_resize", "load_balancer"),
    ("load_balancer:list", "lb_list", "load_balancer"),
    ("load_balancer:status", "lb_status", "load_balancer"),
]

# 3.6.8 names that 4.0.1 no longer accepts as aliases (their mi_cmds entry has no alias):
# pike_list answers -32601 (ops/legacy_pike_list.json); bare "trace" is ambiguous with
# tcp:trace; the dialog profile commands still resolve as unique bare names.
NOT_ALIASES_4 = frozenset({"pike_list", "pike_rm", "trace", "profile_get_size",
                           "profile_list_dlgs", "profile_get_values", "list_all_profiles",
                           "profile_end_dlgs"})


def commands(modules: bool) -> list[tuple[str, str | None, str]]:
    """Every command of a server, with the module commands when those modules are loaded."""
    return COMMANDS + (MODULE_COMMANDS if modules else [])


def which_3(modules: bool) -> list[str]:
    """`which` of 3.6.8: its core list, then the module commands under their 3.x names."""
    return WHICH_3 + ([old for _c, old, _m in MODULE_COMMANDS if old] if modules else [])


# 3.6.8 lists the flat names in its own order.
WHICH_3 = [
    "get_statistics", "list_statistics", "reset_statistics", "reset_all_statistics", "uptime",
    "version", "pwd", "arg", "which", "ps", "kill", "log_level", "xlog_level", "log_level_filter",
    "log_mute_state", "shm_check", "cache_store", "cache_fetch", "cache_remove", "event_subscribe",
    "events_list", "subscribers_list", "raise_event", "list_tcp_conns", "mem_pkg_dump",
    "mem_shm_dump", "mem_rpm_dump", "reload_routes", "sr_get_status", "sr_list_status",
    "sr_list_reports", "sr_list_identifiers", "help", "list_blacklists", "check_blacklists",
    "check_blacklist", "add_blacklist_rule", "del_blacklist_rule", "tcp_trace", "t_uac_dlg",
    "t_uac_cancel", "t_hash", "t_reply", "rand_set_prob", "rand_reset_prob", "rand_get_prob",
    "get_config_hash", "check_config_hash", "shv_get", "shv_set", "httpd_list_root_path",
    "pike_list", "pike_rm",
]

HELP = {
    "version": "prints the version string of a runningOpenSIPS",
    "uptime": "prints various time information about OpenSIPS - when it started to run, for how long it runs",
    "which": "lists all available MI commands",
    "ps": "lists all processes used by OpenSIPS",
    "help": "prints information about MI commands usage",
    "log_level": "gets/sets the per process or global log level in OpenSIPS",
    "get_statistics": "prints the statistics (all, group or one) realtime values.",
    "events_list": "lists all the events advertised through the OpenSIPS Event Interface",
    "subscribers_list": "lists all the OpenSIPS Event Interface subscribers",
    "event_subscribe": "subscribes an external application for a certain event",
    "raise_event": "raises an event through the OpenSIPS Event Interface",
    "pike_list": "lists the nodes that have been blocked by the pike module",
}

# Events published by the captured servers, with their ids.
EVENTS_4 = [
    "E_CORE_SR_STATUS_CHANGED", "E_CORE_THRESHOLD", "E_CORE_SHM_THRESHOLD", "E_CORE_PKG_THRESHOLD",
    "E_CORE_PROC_AUTO_SCALE", "E_CORE_TCP_DISCONNECT", "E_PROFILING_SCRIPT", "E_PROFILING_PROC",
    "E_PIKE_BLOCKED", "E_MY_CUSTOM", "E_CORE_LOG",
]
EVENTS_3 = [
    "E_CORE_SR_STATUS_CHANGED", "E_CORE_THRESHOLD", "E_CORE_SHM_THRESHOLD", "E_CORE_PKG_THRESHOLD",
    "E_CORE_PROC_AUTO_SCALE", "E_CORE_TCP_DISCONNECT", "E_PIKE_BLOCKED", "E_MY_CUSTOM", "E_CORE_LOG",
]
# Extra events the demo traffic uses (the usrloc, dialog, dispatcher and load_balancer
# modules publish them), after the older ones so that their ids stay put.
DEMO_EVENTS = [
    "E_UL_AOR_INSERT", "E_UL_AOR_DELETE", "E_UL_CONTACT_INSERT", "E_UL_CONTACT_DELETE",
    "E_UL_CONTACT_UPDATE", "E_UL_CONTACT_REFRESH", "E_DLG_STATE_CHANGED",
    "E_DISPATCHER_STATUS", "E_LOAD_BALANCER_STATUS",
]


def events_for(version: str, demo: bool = True) -> list[str]:
    base = list(EVENTS_4 if version.startswith("4") else EVENTS_3)
    return base + (DEMO_EVENTS if demo else [])


PROCESS_TYPES = [
    "attendant", "event_stream Sender", "MI Datagram", "HTTPD {http}", "MI FIFO", "time_keeper",
    "timer", "SIP receiver udp:127.0.0.1:5060", "SIP receiver udp:127.0.0.1:5060", "TCP receiver",
    "Timer handler", "TCP main",
]

# `get_statistics all` of the captured 4.0.1 server, in order (3.6.8 has the same names).
_PKMEM_PROCS = (2, 3, 4, 7, 8, 9, 10, 11)


def base_statistics() -> dict[str, int]:
    st: dict[str, int] = {
        "shmem:total_size": 67108864, "shmem:max_used_size": 4128704, "shmem:free_size": 62980160,
        "shmem:used_size": 4057928, "shmem:real_used_size": 4128704, "shmem:fragments": 661,
        "rpmem:rpm_total_size": 0, "rpmem:rpm_used_size": 0, "rpmem:rpm_real_used_size": 0,
        "rpmem:rpm_fragments": 0, "rpmem:rpm_max_used_size": 0, "rpmem:rpm_free_size": 0,
    }
    for name in ("rcv_requests", "rcv_replies", "fwd_requests", "fwd_replies", "drop_requests",
                 "drop_replies", "err_requests", "err_replies", "bad_URIs_rcvd", "bad_msg_hdr",
                 "slow_messages", "timestamp"):
        st["core:" + name] = 0
    for name in ("waiting_udp", "waiting_tcp", "waiting_tls"):
        st["net:" + name] = 0
    for grp in ("dns", "sql", "cdb"):
        st[f"{grp}:{grp}_total_queries"] = 0
        st[f"{grp}:{grp}_slow_queries"] = 0
    for name in ("received_replies", "relayed_replies", "local_replies", "UAS_transactions",
                 "UAC_transactions", "2xx_transactions", "3xx_transactions", "4xx_transactions",
                 "5xx_transactions", "6xx_transactions", "inuse_transactions", "cluster_reply_sent",
                 "cluster_request_sent", "cluster_cancel_sent", "cluster_reply_recv",
                 "cluster_request_recv", "cluster_cancel_recv", "retransmission_req_T1_1",
                 "retransmission_req_T1_2", "retransmission_req_T1_3", "retransmission_req_T2",
                 "retransmission_rpl_T2", "timeout_finalresponse", "timeout_finalresponse_inv"):
        st["tm:" + name] = 0
    for name in ("1xx_replies", "2xx_replies", "3xx_replies", "4xx_replies", "5xx_replies",
                 "6xx_replies", "sent_replies", "sent_err_replies", "received_ACKs"):
        st["sl:" + name] = 0
    for p in _PKMEM_PROCS:
        for kind in ("load", "load1m", "load10m"):
            st[f"load:{kind}-proc-{p}"] = 0
    for kind in ("load", "load1m", "load10m"):
        st[f"load:{kind}"] = 0
    for kind in ("load", "load1m", "load10m"):
        st[f"load:{kind}-all"] = 0
    st["load:processes_number"] = 12
    for p in _PKMEM_PROCS:
        used = 1231920 + (p * 7919) % 70000
        st[f"pkmem:{p}-total_size"] = 8388608
        st[f"pkmem:{p}-used_size"] = used
        st[f"pkmem:{p}-real_used_size"] = used + 50560
        st[f"pkmem:{p}-max_used_size"] = used + 50560
        st[f"pkmem:{p}-free_size"] = 8388608 - used - 50560
        st[f"pkmem:{p}-fragments"] = 298 + p % 9
    return st
