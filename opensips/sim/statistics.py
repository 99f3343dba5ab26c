"""Statistics of the simulated OpenSIPS that move with its traffic.

The names, groups and order follow `get_statistics ["all"]` and `statistics:list` of the
captured 4.0.1 server (tests/fixtures/opensips-wire/4.0.1/ops/); the dialog, usrloc and
registrar groups appear when those modules are "loaded" (the demo events are published).

How the numbers move:

- Each generated event stands for :data:`REQUESTS_PER_EVENT` SIP requests: the one it
  reports (a REGISTER for usrloc events, an in-dialog request for dialog events, a slow
  message for E_CORE_THRESHOLD, a flood request pike dropped...) plus OPTIONS keep-alives
  answered statelessly. Counters rise at that rate and never go down until a restart.
- Gauges follow the traffic: worker loads from the recent message rate (per process, as
  ``load:load-proc-N`` with N the `ps` ID), transactions in use, the UDP/TCP backlog when the
  workers are busy, dialogs and contacts from the dialog and usrloc events.
- Memory grows with contacts, dialogs and transactions and wanders a little even when idle.

An idle simulator (no traffic) keeps every counter, load and backlog at 0, like the captured
idle servers. Threads: :meth:`account` runs on the traffic thread, :meth:`snapshot` on the MI
threads; one lock guards the table.
"""

from __future__ import annotations

import math
import random
import threading
import time
from typing import Any, Callable

from . import data

REQUESTS_PER_EVENT = 5           # the event's own request + 4 OPTIONS keep-alives
WORKER_CAPACITY = 250.0          # SIP messages per second that make one worker 100% busy
RATE_WINDOW = 0.5                # seconds of traffic folded into each rate estimate
LOAD_1M, LOAD_10M = 60.0, 600.0  # time constants of load1m / load10m

# Gauges ("non-incremental" in statistics:list): whole groups, then single names.
GAUGE_GROUPS = ("shmem", "rpmem", "pkmem", "load", "net")
GAUGES = frozenset({
    "core:timestamp", "tm:inuse_transactions", "dialog:active_dialogs", "dialog:early_dialogs",
    "usrloc:registered_users", "registrar:max_expires", "registrar:max_contacts",
    "registrar:default_expire",
})

# Module groups in the order 4.0.1 lists them (after sl:, before load:).
MODULE_STATS: dict[str, tuple[str, ...]] = {
    "dialog": ("active_dialogs", "early_dialogs", "processed_dialogs", "expired_dialogs",
               "failed_dialogs", "create_sent", "update_sent", "delete_sent", "create_recv",
               "update_recv", "delete_recv"),
    "usrloc": ("registered_users", "location-users", "location-contacts", "location-expires"),
    "registrar": ("max_expires", "max_contacts", "default_expire", "accepted_regs",
                  "rejected_regs"),
}


def kind_of(name: str) -> str:
    """``incremental`` (a counter) or ``non-incremental`` (a gauge), as statistics:list says."""
    group, _, stat = name.partition(":")
    if group in GAUGE_GROUPS or name in GAUGES:
        return "non-incremental"
    if group == "usrloc" and stat.endswith(("-users", "-contacts")):
        return "non-incremental"
    return "incremental"


def _workers() -> tuple[list[int], list[int]]:
    """(ps IDs with load statistics, of which the SIP workers)."""
    with_load = [i for i in range(len(data.PROCESS_TYPES)) if f"load:load-proc-{i}" in _BASE]
    sip = [i for i in with_load if data.PROCESS_TYPES[i].startswith(("SIP receiver", "TCP receiver"))]
    return with_load, sip


_BASE = data.base_statistics()


class SimStatistics:
    """The statistics table of one simulated OpenSIPS (see the module docstring)."""

    def __init__(self, modules: bool = True, seed: int | None = None,
                 clock: Any = time.monotonic) -> None:
        self.modules = modules
        self._clock = clock
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._procs, self._sip = _workers()
        # the live dialog/usrloc gauges, counted by the tables that list them (operations.py);
        # without it they are counted here from the events
        self.gauges: Callable[[], dict[str, int]] | None = None
        self.reset()

    # -- lifecycle ---------------------------------------------------------------------------
    def reset(self) -> None:
        """A restart: counters at 0, no dialogs or contacts, memory back to its start."""
        with self._lock:
            st: dict[str, int] = {}
            for name, value in _BASE.items():
                if name.startswith("load:") and self.modules:
                    for group, stats in MODULE_STATS.items():
                        if f"{group}:{stats[0]}" not in st:
                            st.update({f"{group}:{s}": 0 for s in stats})
                st[name] = value
            if self.modules:
                st["registrar:default_expire"] = 3600
            self.stats = st
            self._started = self._clock()
            self._last = self._started
            self._pending = 0            # messages since the last rate estimate
            self._rate = 0.0             # SIP messages per second, smoothed
            self._loads = {p: [0.0, 0.0, 0.0] for p in self._procs}  # now, 1m, 10m
            self._dialogs: dict[str, int] = {}   # callid -> state
            self._aors: dict[str, int] = {}      # aor -> contacts
            self._walk = 0.0             # shared memory random walk, bytes
            self._pk_walk = {p: 0.0 for p in self._procs}
            self._base_used = st["shmem:used_size"]
            self._base_frag = st["shmem:fragments"]
            self._pk_base = {p: st.get(f"pkmem:{p}-used_size", 0) for p in self._procs}

    # -- traffic -----------------------------------------------------------------------------
    def account(self, event: str, params: Any) -> None:
        """Count the SIP traffic that one generated ``event`` stands for."""
        p = params if isinstance(params, dict) else {}
        rnd = self._rng.random
        with self._lock:
            c = self.stats
            keepalives = REQUESTS_PER_EVENT - 1
            c["core:rcv_requests"] += REQUESTS_PER_EVENT
            c["dns:dns_total_queries"] += 1      # routing lookups and auth queries of the
            c["sql:sql_total_queries"] += 1      # event's own request
            self._sl(c, "2xx", keepalives)
            messages = REQUESTS_PER_EVENT
            if event == "E_DLG_STATE_CHANGED":
                messages += self._dialog(c, p)
            elif event.startswith("E_UL_CONTACT"):
                self._contact(c, event, p)
            elif event == "E_CORE_THRESHOLD":
                source = str(p.get("source", ""))
                if source.startswith("dns"):
                    c["dns:dns_total_queries"] += 1
                    c["dns:dns_slow_queries"] += 1
                elif source.startswith("sql"):
                    c["sql:sql_total_queries"] += 1
                    c["sql:sql_slow_queries"] += 1
                else:
                    c["core:slow_messages"] += 1
                self._sl(c, "2xx", 1)
            elif event == "E_PIKE_BLOCKED":
                c["core:drop_requests"] += 1
            elif event == "E_CORE_LOG":
                c["core:err_requests"] += 1
                self._sl(c, "4xx", 1)
                c["sl:sent_err_replies"] += 1
            else:
                self._sl(c, "2xx", 1)
            if rnd() < 0.02:
                c["core:bad_msg_hdr"] += 1
            self._pending += messages

    @staticmethod
    def _sl(c: dict[str, int], cls: str, n: int) -> None:
        c[f"sl:{cls}_replies"] += n
        c["sl:sent_replies"] += n

    def _dialog(self, c: dict[str, int], p: dict) -> int:
        """A request of a call relayed statefully; returns the replies it brought back."""
        replies = 2
        c["core:fwd_requests"] += 1
        c["core:rcv_replies"] += replies
        c["dns:dns_total_queries"] += 1
        c["tm:UAS_transactions"] += 1
        c["tm:UAC_transactions"] += 1
        c["tm:received_replies"] += replies
        c["tm:relayed_replies"] += replies
        c["tm:local_replies"] += 1
        c["tm:2xx_transactions"] += 1
        if self._rng.random() < 0.05:
            c["tm:retransmission_req_T1_1"] += 1
        if not self.modules:
            return replies
        callid = str(p.get("callid", ""))
        new, old = p.get("new_state"), p.get("old_state")
        if new == 5:
            state = self._dialogs.pop(callid, old if isinstance(old, int) else 4)
            c["dialog:processed_dialogs" if state >= 3 else "dialog:failed_dialogs"] += 1
        elif isinstance(new, int):
            self._dialogs[callid] = new
            while len(self._dialogs) > 300:   # the generator forgets old calls too
                self._dialogs.pop(next(iter(self._dialogs)))
                c["dialog:expired_dialogs"] += 1
        if self.gauges is None:     # else the dialog table counts them
            states = list(self._dialogs.values())
            c["dialog:active_dialogs"] = sum(1 for s in states if s >= 3)
            c["dialog:early_dialogs"] = sum(1 for s in states if s < 3)
        return replies

    def _contact(self, c: dict[str, int], event: str, p: dict) -> None:
        """A REGISTER saved (or removed) by the registrar, answered statelessly."""
        self._sl(c, "2xx", 1)
        c["sql:sql_total_queries"] += 1
        if not self.modules:
            return
        aor = str(p.get("aor", ""))
        c["registrar:accepted_regs"] += 1
        if event.endswith("INSERT"):
            self._aors[aor] = self._aors.get(aor, 0) + 1
        elif event.endswith("DELETE") and aor in self._aors:
            self._aors[aor] -= 1
            if self._aors[aor] <= 0:
                del self._aors[aor]
            c["usrloc:location-expires"] += 1
        while len(self._aors) > 500:
            self._aors.pop(next(iter(self._aors)))
        if self.gauges is None:     # else the location table counts them
            c["usrloc:registered_users"] = c["usrloc:location-users"] = len(self._aors)
            c["usrloc:location-contacts"] = sum(self._aors.values())

    # -- reading -----------------------------------------------------------------------------
    def snapshot(self) -> dict[str, int]:
        """Every statistic now (gauges brought up to date), in the server's order."""
        live = self.gauges() if self.gauges is not None and self.modules else {}
        with self._lock:
            self.stats.update(live)
            self._advance()
            st = dict(self.stats)
        st["core:timestamp"] = int(self._clock() - self._started)
        return st

    def bump(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.stats[name] = self.stats.get(name, 0) + n

    def _advance(self) -> None:
        now = self._clock()
        dt = now - self._last
        if dt < RATE_WINDOW:
            return
        self._last = now
        alpha = 1.0 - math.exp(-dt / 2.0)
        self._rate += alpha * (self._pending / dt - self._rate)
        self._pending = 0
        if self._rate < 0.05:
            self._rate = 0.0
        st, rng = self.stats, self._rng
        per_worker = self._rate / max(1, len(self._sip))
        sip_loads = []
        for proc in self._procs:
            share = per_worker if proc in self._sip else self._rate * 0.01
            now_load = min(100.0, share / WORKER_CAPACITY * 100 * (1 + rng.uniform(-0.2, 0.2)))
            loads = self._loads[proc]
            loads[0] = now_load
            loads[1] += (1 - math.exp(-dt / LOAD_1M)) * (now_load - loads[1])
            loads[2] += (1 - math.exp(-dt / LOAD_10M)) * (now_load - loads[2])
            for key, value in zip(("load", "load1m", "load10m"), loads):
                st[f"load:{key}-proc-{proc}"] = int(round(value))
            if proc in self._sip:
                sip_loads.append(loads)
            self._pk_walk[proc] = max(-4096.0, min(65536.0, self._pk_walk[proc]
                                                   + rng.uniform(-512, 512) + now_load * 8))
            self._memory_pk(proc)
        for i, key in enumerate(("load", "load1m", "load10m")):
            st[f"load:{key}"] = int(round(sum(l[i] for l in sip_loads) / max(1, len(sip_loads))))
            st[f"load:{key}-all"] = int(round(sum(l[i] for l in self._loads.values())
                                              / max(1, len(self._loads))))
        busy = max((l[0] for l in sip_loads), default=0.0)
        st["net:waiting_udp"] = int(max(0.0, busy - 70) * self._rate / 200 * rng.random())
        st["net:waiting_tcp"] = int(max(0.0, busy - 85) * self._rate / 800 * rng.random())
        st["tm:inuse_transactions"] = int(round(self._rate / REQUESTS_PER_EVENT * 0.4
                                                * rng.uniform(0.5, 1.5)))
        self._memory_shm()

    def _memory_shm(self) -> None:
        st, rng = self.stats, self._rng
        self._walk = max(-65536.0, min(262144.0, self._walk + rng.uniform(-8192, 8192)))
        dialogs = st.get("dialog:active_dialogs", 0) + st.get("dialog:early_dialogs", 0)
        contacts = st.get("usrloc:location-contacts", 0)
        used = int(self._base_used + self._walk + 1400 * contacts + 5200 * dialogs
                   + 3000 * st["tm:inuse_transactions"])
        frags = self._base_frag + contacts + 2 * dialogs + rng.randrange(0, 40)
        real = used + 70 * frags
        st["shmem:used_size"] = used
        st["shmem:fragments"] = frags
        st["shmem:real_used_size"] = real
        st["shmem:max_used_size"] = max(st["shmem:max_used_size"], real)
        st["shmem:free_size"] = st["shmem:total_size"] - real

    def _memory_pk(self, proc: int) -> None:
        st = self.stats
        key = f"pkmem:{proc}-"
        if key + "used_size" not in st:
            return
        used = int(self._pk_base[proc] + self._pk_walk[proc])
        real = used + 50560
        st[key + "used_size"] = used
        st[key + "real_used_size"] = real
        st[key + "max_used_size"] = max(st[key + "max_used_size"], real)
        st[key + "free_size"] = st[key + "total_size"] - real


def select(stats: dict[str, int], wanted: list[Any]) -> dict[str, int]:
    """The `get_statistics` lookup: ``all``, ``group:`` or a bare name (first match); nothing else."""
    out: dict[str, int] = {}
    for w in wanted:
        if w == "all":
            out.update(stats)
        elif w.endswith(":"):
            out.update({k: v for k, v in stats.items() if k.startswith(w)})
        elif ":" in w:
            pass  # "group:name" is not looked up: {} (the capture error_statistics_get_canonical_name_in_list)
        else:
            for k, v in stats.items():
                if k.split(":", 1)[1] == w:
                    out[k] = v
                    break
    return out
