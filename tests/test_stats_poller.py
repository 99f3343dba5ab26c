"""opensips.stats: kinds, rates, restarts, DOWN, histories and diagnose thresholds.

Rates are checked on the two captured 4.0.1 polls taken 1 s apart under traffic; restarts
and DOWN against the simulator over real sockets.
"""

from __future__ import annotations

import threading

import pytest

from opensips.mi import OpenSIPSMI, OpenSIPSMICommandError
from opensips.stats import Selection, StatsPoller, diagnose, guess_kind, worst
from opensips.stats.diagnose import load_level, slow_level
from tests.waiting import Sink, wait_until
from tests.wire import sample


def _ops(case: str):
    return sample("4.0.1", "ops", case)["response_body_json"]["result"]


class Replay:
    """A peer answering from the captures: get_statistics returns the given polls in turn."""

    def __init__(self, polls: list[dict], lists: bool = True) -> None:
        self.polls = list(polls)
        self.lists = lists
        self.calls: list[str] = []

    def execute(self, cmd: str, params=None):
        self.calls.append(cmd)
        if cmd == "get_statistics":
            return self.polls.pop(0)
        if cmd == "ps":
            return _ops("core_ps")
        if cmd == "statistics:list" and self.lists:
            return _ops("statistics_list")
        raise OpenSIPSMICommandError(-32601, "Method not found")


def _clock(*times: float):
    it = iter(times)
    return lambda: next(it)


def test_rates_of_the_captured_polls_one_second_apart():
    one, two = _ops("statistics_get_all_1"), _ops("statistics_get_all_2")
    changed = sample("4.0.1", "ops", "statistics_get_all_2")["changed_since_1"]
    peer = Replay([one, two])
    poller = StatsPoller(peer, clock=_clock(10.0, 11.0))
    first = poller.poll()
    assert first.up and all(r is None for r in first.rates.values())
    second = poller.poll()
    assert poller.kinds_source == "statistics:list"
    kinds = _ops("statistics_list")
    assert set(second.rates) == {n for n, k in kinds.items() if k == "incremental"}
    for name, rate in second.rates.items():
        before, after = changed.get(name, (one[name], one[name]))
        assert rate == after - before, name
    assert "shmem:used_size" not in second.rates and second.values["shmem:used_size"] == two["shmem:used_size"]
    assert second.processes[8] == "SIP receiver udp:127.0.0.1:5060"
    # one get_statistics per poll; the list and ps only on the first answer
    assert peer.calls == ["get_statistics", "statistics:list", "ps", "get_statistics"]
    assert poller.history("core:rcv_requests") == [3.0]
    assert poller.history("tm:inuse_transactions") == [14.0, 14.0]


def test_the_captured_server_is_critical_on_slow_messages():
    """exec_msg_threshold=1 in the capture: every SIP message was slow."""
    poller = StatsPoller(Replay([_ops("statistics_get_all_1"), _ops("statistics_get_all_2")]),
                         clock=_clock(0.0, 1.0))
    poller.poll()
    findings = poller.poll().findings
    slow = [f for f in findings if f.check == "slow_sip"]
    assert [(f.level, f.value) for f in slow] == [("critical", 100.0)]
    assert slow[0].advice == "7 / 7 SIP messages (100%) exceeded the threshold"
    assert worst(findings) == "critical"


def test_the_fallback_guess_matches_every_captured_kind():
    kinds = _ops("statistics_list")
    want = {n: "counter" if k == "incremental" else "gauge" for n, k in kinds.items()}
    assert {n: guess_kind(n) for n in kinds} == want
    poller = StatsPoller(Replay([_ops("statistics_get_all_1")], lists=False))
    got = poller.poll()
    assert poller.kinds_source == "guess" and got.up
    assert {n: got.kind(n) for n in got.values} == want


def test_3x_kinds_come_from_list_statistics(sim36):
    with OpenSIPSMI("http", **sim36.mi_kwargs("http"), timeout=5) as mi:
        poller = StatsPoller(mi)
        got = poller.poll()
    assert poller.kinds_source == "list_statistics"
    assert got.kind("core:rcv_requests") == "counter" and got.kind("shmem:used_size") == "gauge"


def test_restart_is_a_reset_never_a_negative_rate_and_down_is_shown(sim_factory):
    sim = sim_factory(rate=200, seed=2)
    with OpenSIPSMI("http", **sim.mi_kwargs("http"), timeout=2) as mi:
        poller = StatsPoller(mi, statistics=["core:", "tm:", "load:"])
        assert wait_until(lambda: poller.poll().values.get("core:rcv_requests", 0) > 500,
                          timeout=30, step=0.2)
        busy = poller.latest
        sim.set_rate(0)
        sim.stop()
        down = poller.poll()
        assert not down.up and down.error and down.values == {}
        sim.start()
        back = poller.poll()
    assert back.up and back.restarted
    assert back.values["core:rcv_requests"] < busy.values["core:rcv_requests"]
    assert all(r is not None and r >= 0 for r in back.rates.values())
    assert all(v >= 0 for n in back.rates for v in poller.history(n))


def test_the_thread_polls_once_per_interval_and_stops(sim):
    class Counting:
        def __init__(self, mi):
            self.mi, self.calls = mi, []

        def execute(self, cmd, params=None):
            self.calls.append(cmd)
            return self.mi.execute(cmd, params)

    sink = Sink()
    with OpenSIPSMI("http", **sim.mi_kwargs("http"), timeout=2) as mi:
        peer = Counting(mi)
        poller = StatsPoller(peer, interval=0.05, on_sample=sink).start()
        got = sink.take(4, timeout=10)
        poller.stop()
    assert not poller.running and all(s.up for s in got)
    assert peer.calls.count("get_statistics") >= 4
    assert [c for c in peer.calls if c != "get_statistics"] == ["statistics:list", "ps"]
    assert not any(t.name == "opensips-stats-poller" for t in threading.enumerate())


def test_a_broken_callback_is_logged_and_polling_goes_on(sim, caplog):
    calls = []

    def boom(sample):
        calls.append(sample)
        raise RuntimeError("callback bug")

    with OpenSIPSMI("http", **sim.mi_kwargs("http"), timeout=2) as mi:
        poller = StatsPoller(mi, interval=0.05, on_sample=boom).start()
        assert wait_until(lambda: len(calls) >= 3, timeout=10)
        poller.stop()
    assert "callback bug" in caplog.text


def test_bad_interval():
    with pytest.raises(ValueError):
        StatsPoller(object(), interval=0)


@pytest.mark.parametrize("load,level", [(20, "ok"), (21, "notice"), (40, "notice"), (41, "warning"),
                                        (66, "warning"), (67, "critical")])
def test_load_levels(load, level):
    assert load_level(load) == level


@pytest.mark.parametrize("pct,level", [(1, "ok"), (2, "notice"), (5, "notice"), (6, "warning"),
                                       (50, "warning"), (51, "critical")])
def test_slow_levels(pct, level):
    assert slow_level(pct) == level


def test_memory_thresholds_and_advice():
    def shm(used, peak, total=100):
        return diagnose({"shmem:total_size": total, "shmem:real_used_size": used,
                         "shmem:max_used_size": peak})

    assert shm(70, 80) == []
    [warn] = shm(71, 75)
    assert warn.level == "warning" and "Current shared memory usage > 70%" in warn.advice and '"-m"' in warn.advice
    [peak] = shm(50, 81)
    assert peak.level == "warning" and peak.advice.startswith("Peak shared memory usage > 80%")
    [crit] = shm(60, 91)
    assert crit.level == "critical" and "as soon as possible" in crit.advice
    [pk] = diagnose({"pkmem:7-real_used_size": 90, "pkmem:7-free_size": 10, "pkmem:7-max_used_size": 90})
    assert pk.level == "critical" and '"-M"' in pk.advice
    [load] = diagnose({"load:load-proc-7": 50}, processes={7: "SIP receiver udp:1.2.3.4:5060"})
    assert load.level == "warning" and "SIP receiver udp:1.2.3.4:5060" in load.advice


def test_selection_patterns():
    names = list(_ops("statistics_list"))
    assert Selection(["core:"]).filter(names) == [n for n in names if n.startswith("core:")]
    assert Selection(["rcv_requests"]).filter(names) == ["core:rcv_requests"]
    assert Selection(["tm:*xx_transactions"]).filter(names) == [
        "tm:2xx_transactions", "tm:3xx_transactions", "tm:4xx_transactions", "tm:5xx_transactions",
        "tm:6xx_transactions"]
    assert Selection(["*slow*"]).filter(names) == [
        "core:slow_messages", "dns:dns_slow_queries", "sql:sql_slow_queries", "cdb:cdb_slow_queries"]
    assert Selection(["core:", "tm:inuse_transactions"]).request() == ["core:", "tm:"]
    assert Selection(["*_replies"]).request() == ["all"]
    assert Selection([]).request() == ["all"] and Selection([]).matches("x:y")
    with pytest.raises(ValueError):
        Selection(["a:b:c"])
