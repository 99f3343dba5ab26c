"""The simulator's statistics: shaped like the captured 4.0.1 lists, moving with its traffic."""

from __future__ import annotations

import pytest

from opensips.mi import OpenSIPSMI, OpenSIPSMICommandError
from opensips.sim.statistics import REQUESTS_PER_EVENT, SimStatistics
from opensips.sim.traffic import TrafficGenerator
from tests.waiting import wait_until
from tests.wire import sample


def _result(case: str) -> dict:
    return sample("4.0.1", "ops", case)["response_body_json"]["result"]


def _groups(names) -> list[str]:
    out: list[str] = []
    for n in names:
        g = n.split(":", 1)[0]
        if g not in out:
            out.append(g)
    return out


def _http(sim) -> OpenSIPSMI:
    return OpenSIPSMI("http", **sim.mi_kwargs("http"), timeout=5)


def test_kinds_agree_with_the_captured_statistics_list(sim):
    captured = _result("statistics_list")
    with _http(sim) as mi:
        ours = mi.execute("statistics:list")
        legacy = mi.execute("list_statistics")
        every = mi.execute("get_statistics", {"statistics": ["all"]})
    assert ours == legacy and list(ours) == list(every)
    shared = [n for n in ours if n in captured]
    assert len(shared) > 100
    assert {n: ours[n] for n in shared} == {n: captured[n] for n in shared}
    # the groups come in the captured order; tracer is the only module the demo lacks
    assert _groups(ours) == [g for g in _groups(captured) if g != "tracer"]
    for group in ("dialog", "usrloc", "registrar"):
        assert [n for n in ours if n.startswith(group + ":")] == \
               [n for n in captured if n.startswith(group + ":")]


def test_load_statistics_follow_the_process_ids_of_ps(sim):
    with _http(sim) as mi:
        ids = {p["ID"] for p in mi.execute("ps")["Processes"]}
        stats = mi.execute("get_statistics", {"statistics": ["load:"]})
    per_proc = {int(n.rsplit("-", 1)[1]) for n in stats if "-proc-" in n}
    assert per_proc and per_proc <= ids
    assert stats["load:processes_number"] == len(ids)
    # same layout as the captured load group: three values per process, then the totals
    captured = list(_result("statistics_get_load"))
    assert [n.split("-proc-")[0] for n in stats][:3] == [n.split("-proc-")[0] for n in captured][:3]
    assert list(stats)[-7:] == captured[-7:]


def test_statistics_list_errors_like_the_real_server(sim, sim36):
    want = sample("4.0.1", "ops", "error_statistics_list_bad_param")["response_body_json"]["error"]
    with _http(sim) as mi, pytest.raises(OpenSIPSMICommandError) as info:
        mi.execute("statistics:list", {"foo": 1})
    assert (info.value.code, info.value.message) == (want["code"], want["message"])
    with _http(sim36) as mi:
        kinds = mi.execute("list_statistics")
        assert list(kinds) == list(mi.execute("get_statistics", {"statistics": ["all"]}))
        assert kinds["core:rcv_requests"] == "incremental" and kinds["shmem:used_size"] == "non-incremental"
        with pytest.raises(OpenSIPSMICommandError) as info:
            mi.execute("statistics:list")
        assert info.value.code == -32601


def test_module_groups_only_with_their_events(sim_factory):
    with _http(sim_factory(demo_events=False)) as mi:
        names = mi.execute("statistics:list")
    assert not any(n.startswith(("dialog:", "usrloc:", "registrar:")) for n in names)


def test_every_event_counts_its_sip_traffic():
    stats = SimStatistics(seed=1)
    gen = TrafficGenerator(lambda *_: None, seed=7)
    before = stats.snapshot()
    n = 400
    for _ in range(n):
        stats.account(*gen.next_event())
    after = stats.snapshot()
    assert after["core:rcv_requests"] - before["core:rcv_requests"] == n * REQUESTS_PER_EVENT
    for name, kind in ((k, v) for k, v in before.items()):
        if name.startswith(("core:", "tm:", "sl:", "dns:", "sql:")) and name not in (
                "core:timestamp", "tm:inuse_transactions"):
            assert after[name] >= before[name], name
    assert after["core:slow_messages"] > 0 and after["sl:sent_replies"] > 0
    assert after["usrloc:location-contacts"] > 0
    assert after["dialog:processed_dialogs"] + after["dialog:failed_dialogs"] > 0


def test_loads_and_memory_move_with_the_rate_and_fall_back_when_idle():
    now = [0.0]
    stats = SimStatistics(seed=3, clock=lambda: now[0])
    gen = TrafficGenerator(lambda *_: None, seed=3)
    idle = stats.snapshot()
    assert all(v == 0 for k, v in idle.items() if k.startswith("load:load"))
    for _ in range(20):       # 20 s at 200 events/s
        for _ in range(200):
            stats.account(*gen.next_event())
        now[0] += 1.0
        busy = stats.snapshot()
    assert busy["load:load"] > 20 and busy["tm:inuse_transactions"] > 0
    assert busy["shmem:real_used_size"] != idle["shmem:real_used_size"]
    assert busy["shmem:max_used_size"] >= busy["shmem:real_used_size"]
    assert busy["shmem:free_size"] == busy["shmem:total_size"] - busy["shmem:real_used_size"]
    for _ in range(60):       # a quiet minute
        now[0] += 1.0
        quiet = stats.snapshot()
    assert quiet["load:load"] == 0 and quiet["tm:inuse_transactions"] == 0
    assert 0 < quiet["load:load10m"] <= busy["load:load10m"] + 1


def test_counters_rise_with_the_generated_traffic_and_restart_from_zero(sim_factory):
    sim = sim_factory(rate=200, seed=5)
    with _http(sim) as mi:
        def requests() -> int:
            return mi.execute("get_statistics", {"statistics": ["rcv_requests"]})["core:rcv_requests"]

        assert wait_until(lambda: requests() >= 100 * REQUESTS_PER_EVENT, timeout=30, step=0.2)
        seen = requests()
        assert seen <= sim.traffic.generated * REQUESTS_PER_EVENT
        sim.set_rate(0)
        sim.stop()
        sim.start()
        assert requests() < seen


def test_an_idle_simulator_keeps_still(sim_factory):
    sim = sim_factory(demo_events=False)
    with _http(sim) as mi:
        first = mi.execute("get_statistics", {"statistics": ["core:", "load:", "tm:", "net:"]})
        second = mi.execute("get_statistics", {"statistics": ["core:", "load:", "tm:", "net:"]})
    for name in ("core:timestamp", "load:processes_number"):
        first.pop(name), second.pop(name)
    assert first == second and not any(first.values())
