"""opensips.console without a UI: params parsing, the read-only allowlist, the catalog,
tables and views over the captured 4.0.1 answers (tests/fixtures/opensips-wire/4.0.1/ops/),
and MIConsole against the simulator over real MI."""

from __future__ import annotations

import subprocess
import sys

import pytest

from opensips.console import (READ_ONLY, VIEWS, Catalog, History, MIConsole, NeedsConfirmation,
                              ParamsError, ReadOnlyError, classify, filter_rows, hint_text,
                              parse_line, request_text, set_state_request, sort_rows, table_of)
from opensips.mi import OpenSIPSMI, OpenSIPSMICommandError, OpenSIPSMIConnectionError
from tests.wire import sample


def ops(case: str):
    return sample("4.0.1", "ops", case)["response_body_json"]["result"]


def ops_error(case: str) -> dict:
    return sample("4.0.1", "ops", case)["response_body_json"]["error"]


CAT4 = Catalog.from_which(ops("core_which"))
CAT3 = Catalog.from_which(sample("3.6.8", "http", "which")["response_body_json"]["result"])


def test_no_ui_imports() -> None:
    code = ("import sys, opensips.console; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('textual', 'rich')]; print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- params --------------------------------------------------------------------------------
@pytest.mark.parametrize("line, want", [
    ("which", ("which", None)),
    ("  dialog:list   ", ("dialog:list", None)),
    ("dialog:list callid=3-18911@127.0.0.1", ("dialog:list", {"callid": "3-18911@127.0.0.1"})),
    ("dialog:list 3-18911@127.0.0.1", ("dialog:list", ["3-18911@127.0.0.1"])),
    ("log_level level:=2 pid=15593", ("log_level", {"level": 2, "pid": "15593"})),
    ("statistics:get statistics:='[\"load:\", \"tm:\"]'", ("statistics:get", {"statistics": ["load:", "tm:"]})),
    ('statistics:get {"statistics": ["all"]}', ("statistics:get", {"statistics": ["all"]})),
    ('get_statistics [["shmem:", "rcv_requests"]]', ("get_statistics", [["shmem:", "rcv_requests"]])),
    ("x name='a b=c'", ("x", {"name": "a b=c"})),
    ('x value=""', ("x", {"value": ""})),
    ("version {}", ("version", None)),
    ("shv_set name=x type=int value=1", ("shv_set", {"name": "x", "type": "int", "value": "1"})),
])
def test_params_forms(line, want) -> None:
    assert parse_line(line) == want


@pytest.mark.parametrize("line, words", [
    ("", "type an MI command"),
    ('x {"a":', "invalid JSON at column"),
    ('x {"a": 1} trailing', "unexpected text after the JSON"),
    ("x 42", None),   # a positional word, not JSON
    ('x "42', "no closing quotation"),
    ("x a=1 b", "named (key=value) and positional"),
    ("x a=1 a=2", "'a' given twice"),
    ("x =3", "no name before '='"),
    ("x a:=NaN", "NaN is not JSON"),
    ("x a:=Infinity", "Infinity is not JSON"),
    ("x a:=[1", "a: invalid JSON"),
    ('x "str"', None),
    ('{"method": "x"}', "starts with the command name"),
    ("bad;name", "not an MI command name"),
    ("x\u202e", "not an MI command name"),
])
def test_params_errors_say_why(line, words) -> None:
    if words is None:
        assert parse_line(line)[1] in (["42"], ["str"])
        return
    with pytest.raises(ParamsError, match=None) as info:
        parse_line(line)
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)


def test_request_text_is_what_the_client_sends() -> None:
    assert request_text("dialog:list", {"callid": "a"}, 7) == \
        '{"jsonrpc":"2.0","method":"dialog:list","params":{"callid":"a"},"id":7}'
    assert request_text("which", None, 1) == '{"jsonrpc":"2.0","method":"which","id":1}'


# -- catalog -------------------------------------------------------------------------------
def test_catalog_detects_the_naming() -> None:
    assert CAT4.namespaced and CAT4.generation == "4.x" and len(CAT4.names) == 91
    assert not CAT3.namespaced and CAT3.generation == "3.x"
    assert CAT4.name_for("pike:list", "pike_list") == "pike:list"
    assert CAT3.name_for("pike:list", "pike_list") == "pike_list"


def test_completion() -> None:
    assert CAT4.complete("dialog:li") == ["dialog:list", "dialog:list_ctx", "dialog:list_all_profiles"]
    bare = CAT4.complete("list")       # module:list names, ambiguous as a bare name
    assert {"dialog:list", "dispatcher:list", "tcp:list", "pike:list"} <= set(bare)
    assert CAT4.resolve("list") == [n for n in CAT4.names if n.endswith(":list")]
    assert CAT4.resolve("uptime") == ["core:uptime"]
    assert CAT3.complete("get_") == ["get_statistics", "get_config_hash"]
    assert CAT3.complete("nothing") == []


def test_catalog_drops_junk() -> None:
    cat = Catalog.from_which(["ps", "ps", 3, None, "bad name", "\x1b[2J", "core:ps"])
    assert cat.names == ("ps", "core:ps")
    with pytest.raises(ValueError):
        Catalog.from_which({"not": "a list"})


def test_hint_text() -> None:
    text = hint_text("dialog:list", ops("which_dialog_list"))
    assert text == "dialog:list  ·  (no params) | callid= | callid= from_tag= | index= counter="


# -- safety --------------------------------------------------------------------------------
@pytest.mark.parametrize("command, params, read_only", [
    ("dialog:list", None, True), ("dlg_list", None, True), ("usrloc:dump", None, True),
    ("ul_dump", {"brief": 1}, True), ("dispatcher:list", {"full": 1}, True), ("pike:list", None, True),
    ("which", {"command": "ps"}, True), ("uptime", None, True), ("ps", None, True),
    ("core:log_level", None, True), ("log_level", {"pid": "1"}, True), ("log_level", {"level": "3"}, False),
    ("log_level", ["3"], False), ("core:log_level", {"level": 1, "pid": 2}, False),
    ("dispatcher:set_state", {"state": "i", "group": "1", "address": "sip:x"}, False),
    ("ds_set_state", None, False), ("dialog:end_dlg", {"dialog_id": "0:0"}, False),
    ("dispatcher:reload", None, False), ("load_balancer:reload", None, False), ("core:reload_routes", None, False),
    ("core:kill", None, False), ("kill", None, False), ("statistics:reset_all", None, False),
    ("load_balancer:status", {"destination_id": "1"}, True),
    ("load_balancer:status", {"destination_id": "1", "new_status": "0"}, False),
    ("tracer:trace", None, True), ("tracer:trace", {"mode": "off"}, False), ("tracer:start", None, False),
    ("no_such_command", None, False), ("mem:shm_check", None, False),
])
def test_read_only_allowlist(command, params, read_only) -> None:
    verdict = classify(command, params, CAT4)
    assert verdict.read_only is read_only, verdict
    assert bool(verdict.why) is not read_only


def test_log_level_with_value_is_a_write() -> None:
    # "log_level with level" was the legacy call in the capture's bad_param_type case.
    verdict = classify("log_level", {"level": "abc"})
    assert "level" in verdict.why


def test_bare_4x_names_resolve_through_the_catalog() -> None:
    assert classify("dump", None, CAT4).read_only is False       # usrloc:dump and db_text:dump
    assert classify("list_ctx", None, CAT4).read_only is True     # only dialog:list_ctx
    assert "stops OpenSIPS" in classify("core:kill", None, CAT4).why


def test_allowlist_names_are_in_the_captured_catalogs() -> None:
    """Every 4.x name on the allowlist whose module was loaded in the capture is a real name;
    every 3.x name likewise (a typo here would make a read-only command ask for confirmation)."""
    modules4 = {n.partition(":")[0] for n in CAT4.names}
    for entry in set(READ_ONLY.values()):
        if entry.canonical.partition(":")[0] in modules4 and entry.canonical != "core:profiling_proc":
            assert entry.canonical in CAT4.names, entry
    in3 = {e.legacy for e in READ_ONLY.values()} & set(CAT3.names)
    assert {"ps", "get_statistics", "pike_list", "list_tcp_conns", "events_list"} <= in3


# -- tables --------------------------------------------------------------------------------
@pytest.mark.parametrize("case, key, first", [
    ("dialog_list", "Dialogs", "ID"), ("dialog_list_paged", "Dialogs", "ID"), ("core_ps", "Processes", "ID"),
    ("tcp_list", "Connections", "ID"), ("load_balancer_list", "Destinations", "uri"),
])
def test_nested_lists_are_tables(case, key, first) -> None:
    result = ops(case)
    table = table_of(result)
    assert table is not None and table.key == key and table.columns[0] == first
    assert len(table.rows) == len(result[key])
    assert table.as_dicts()[0] == {c: result[key][0].get(c) for c in table.columns}


def test_contacts_and_ips() -> None:
    contacts = ops("usrloc_dump")["Domains"][0]["AORs"][0]
    table = table_of(contacts)      # {"AOR": ..., "Contacts": [...]}: one list beside scalars
    assert table is not None and table.key == "Contacts" and "User-agent" in table.columns
    pike = sample("4.0.1", "events", "E_PIKE_BLOCKED_udp")["pike_list"]["response"]
    import json
    table = table_of(json.loads(pike)["result"])
    assert table.columns == ("IPs",) and table.rows == (("127.0.0.2",),)
    empty = table_of(ops("pike_list"))
    assert empty.key == "IPs" and empty.rows == ()


@pytest.mark.parametrize("result", [
    {"Server": "OpenSIPS (4.0.1 (x86_64/linux))"}, "OK", None, 3, [], {"a": [1], "b": [2]},
    {"a": [{"x": 1}, 2]}, {"Dialog": {"ID": "1"}}, [[1, 2]],
])
def test_not_tables(result) -> None:
    assert table_of(result) is None


def test_sort_and_filter() -> None:
    table = table_of(ops("dialog_list"))
    col = table.columns.index("timestart")
    ordered = sort_rows(table.rows, col)
    starts = [r[col] for r in ordered]
    assert starts == sorted(starts)
    assert [r[col] for r in sort_rows(table.rows, col, reverse=True)] == sorted(starts, reverse=True)
    assert sort_rows([("10",), ("9",), ("",), ("b",), ("A",)], 0) == [("9",), ("10",), ("A",), ("b",), ("",)]
    long = filter_rows(table.rows, "LONGCALL")
    assert long and all("longcall" in r[table.columns.index("to_uri")] for r in long)
    assert filter_rows(table.rows, "-longcall") == [r for r in table.rows if r not in long]


# -- views ---------------------------------------------------------------------------------
NOW = 1796309600.0


def test_dialogs_view() -> None:
    table = VIEWS["dialogs"].build([ops("dialog_list")], NOW)
    raw = ops("dialog_list")["Dialogs"]
    assert len(table.rows) == len(raw) == 11
    first = table.as_dicts()[0]
    assert first["State"] == "confirmed" and first["Caller"] == "sip:sipp@127.0.0.1"
    assert first["Callee"] == "sip:longcall@127.0.0.1" and first["Age s"] == int(NOW - raw[0]["timestart"])
    assert {r["State"] for r in table.as_dicts()} == {"confirmed", "deleted"}
    one = VIEWS["dialogs"].build([ops("dialog_list_by_callid")], NOW)
    assert len(one.rows) == 1


def test_registrations_view() -> None:
    table = VIEWS["registrations"].build([ops("usrloc_dump")], NOW)
    rows = table.as_dicts()
    assert {r["AOR"] for r in rows} == {"alice@127.0.0.1", "bob@127.0.0.1", "carol@127.0.0.1", "dave@127.0.0.1"}
    assert rows[0]["User agent"] == "capture-ua/1.0" and rows[0]["Expires s"] == 114
    brief = VIEWS["registrations"].build([ops("usrloc_dump_brief")], NOW)
    assert len(brief.rows) == 4 and brief.as_dicts()[0]["Contact"] is None


def test_dispatcher_view_and_set_state() -> None:
    rows = VIEWS["dispatcher"].build([ops("dispatcher_list_full")], NOW).as_dicts()
    assert [(r["URI"], r["State"]) for r in rows] == [("sip:127.0.0.1:5070", "Active"),
                                                      ("sip:127.0.0.1:5071", "Probing")]
    assert rows[1]["Description"] == "dead destination (nothing listens)"
    same = VIEWS["dispatcher"].build([ops("legacy_ds_list")], NOW).as_dicts()
    assert [r["State"] for r in same] == ["Active", "Probing"]
    name, params = set_state_request(CAT4, "default", 1, "sip:127.0.0.1:5071", "inactive")
    captured = sample("4.0.1", "ops", "dispatcher_set_state")["request_body"]
    assert request_text(name, params, 1) == captured
    assert set_state_request(CAT3, "edge", 2, "sip:a", "probing") == \
        ("ds_set_state", {"state": "p", "group": "edge:2", "address": "sip:a"})
    with pytest.raises(ValueError):
        set_state_request(CAT4, None, 1, "sip:a", "disabled")


def test_balancer_tcp_pike_processes_views() -> None:
    lb = VIEWS["load_balancer"].build([ops("load_balancer_list")], NOW).as_dicts()
    assert lb[0]["Resources"] == "calls 6/100" and lb[1]["Enabled"] == "no"
    tcp = VIEWS["tcp"].build([ops("tcp_list")], NOW).as_dicts()
    assert tcp[0]["Remote"] == "127.0.0.1:39420" and tcp[0]["Lifetime"] == "2026-12-03 14:54:04"
    assert VIEWS["pike"].build([ops("pike_list")], NOW).rows == ()
    procs = VIEWS["processes"].build([ops("core_ps"), ops("statistics_get_load")], NOW).as_dicts()
    assert len(procs) == 23
    by_id = {p["ID"]: p for p in procs}
    assert by_id[3]["Type"] == "MI Datagram" and by_id[3]["Load"] == 0 and by_id[0]["Load"] is None


def test_views_name_their_calls_per_version() -> None:
    names4 = [c.name(CAT4) for v in VIEWS.values() for c in v.calls]
    names3 = [c.name(CAT3) for v in VIEWS.values() for c in v.calls]
    assert "pike:list" in names4 and "pike_list" in names3 and "get_statistics" in names3
    for name in names4:
        assert name in CAT4.names
    for view in VIEWS.values():
        for call in view.calls:
            assert classify(call.canonical, call.params, CAT4).read_only
            assert classify(call.legacy, call.params, CAT3).read_only


def test_views_survive_junk() -> None:
    for view in VIEWS.values():
        for junk in (None, "OK", {"Dialogs": "x"}, {"PARTITIONS": [1, {"SETS": None}]}, [], {"Domains": [{}]}):
            table = view.build([junk, junk], NOW)
            assert table.rows == () and table.columns == view.columns


# -- history -------------------------------------------------------------------------------
def test_history_file(tmp_path) -> None:
    path = tmp_path / "sub" / "history"
    h = History(path, limit=3)
    for line in ["which", "which", "ps", 'x name="a\tb"', "  ", "dialog:list"]:
        h.add(line)
    assert h.lines == ["which", "ps", 'x name="a\tb"', "dialog:list"]
    assert History(path, limit=3).lines == ["ps", 'x name="a\tb"', "dialog:list"]
    assert h.search("PS") == 1 and h.search("i", before=3) == 0 and h.search("nope") is None
    with path.open("a") as out:
        out.write('"torn')
    assert History(path).lines[-1] == "dialog:list"
    for n in range(10):
        h.add(f"cmd{n}")
    assert History(path, limit=3).lines == ["cmd7", "cmd8", "cmd9"]


def test_history_unwritable(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    h = History(blocker / "history")
    h.add("ps")
    assert h.lines == ["ps"] and h.error


# -- MIConsole against the simulator ---------------------------------------------------------
def test_console_on_the_simulator(sim, mi_http) -> None:
    console = MIConsole(mi_http)
    assert console.load_catalog().namespaced
    out = console.call("uptime")
    assert out.ok and "Up since" in out.result and out.elapsed >= 0 and out.at > 0
    assert out.request == '{"jsonrpc":"2.0","method":"uptime","id":1}'
    err = console.call("no_such_command", confirmed=True)   # unknown: not on the allowlist
    assert isinstance(err.error, OpenSIPSMICommandError) and err.error.code == -32601
    assert console.recipes("version") == [[], ["revision"]]
    with pytest.raises(NeedsConfirmation):
        console.call("log_level", {"level": "3"})
    assert console.call("log_level", {"level": "3"}, confirmed=True).ok


def test_read_only_console_refuses_even_confirmed(sim, mi_http) -> None:
    console = MIConsole(mi_http, read_only=True)
    with pytest.raises(ReadOnlyError, match="read-only"):
        console.call("log_level", {"level": "1"}, confirmed=True)
    assert console.call("log_level").ok


def test_console_down_is_an_outcome(sim) -> None:
    mi = OpenSIPSMI("http", **sim.mi_kwargs("http"), timeout=1)
    sim.stop()
    try:
        out = MIConsole(mi).call("ps")
        assert isinstance(out.error, OpenSIPSMIConnectionError)
    finally:
        mi.close()


def test_json_params_must_be_object_or_array() -> None:
    from opensips.console import parse_params
    assert parse_params('[1, "a"]') == [1, "a"]
    assert parse_params("[]") is None
    with pytest.raises(ParamsError, match="invalid JSON"):
        parse_params("{")
