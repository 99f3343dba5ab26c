"""Poll ``get_statistics`` at an interval: values, rates, restarts, short histories, findings.

One ``get_statistics`` call per interval. The kinds (``statistics:list``) and the process
names (``ps``) are asked once when the server first answers and again after each restart,
because a restarted OpenSIPS may load other modules and has new processes.

Rates are per second between two polls. A counter lower than at the previous poll means
OpenSIPS restarted (counters start again at 0): its rate is then its value over the interval,
never negative. A failed poll is a DOWN sample (``up=False`` with the reason); rates resume at
the next two good polls.

Threads: :meth:`StatsPoller.poll` runs wherever it is called (the CLI's main thread);
:meth:`StatsPoller.start` runs it on one daemon thread and hands each sample to ``on_sample``
there. No Textual, no global state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from opensips.mi import OpenSIPSMICommandError, OpenSIPSMIException

from .diagnose import Finding, diagnose
from .kinds import COUNTER, Kind, classify, guess_kind

log = logging.getLogger("opensips.stats")

HISTORY = 120          # samples kept per statistic (two minutes at the default interval)
SLOW_WINDOW = 60       # samples between the two ends of the slow-message ratios


@dataclass(frozen=True)
class Sample:
    """One poll. ``rates`` holds counters only (None when there is nothing to compare with)."""

    at: float                                   # monotonic clock
    wall: float                                 # time.time(), for display and JSONL
    up: bool
    values: dict[str, int] = field(default_factory=dict)
    rates: dict[str, float | None] = field(default_factory=dict)
    kinds: dict[str, Kind] = field(default_factory=dict)
    processes: dict[int, str] = field(default_factory=dict)   # ps ID -> Type
    findings: list[Finding] = field(default_factory=list)
    restarted: bool = False
    error: str | None = None

    def kind(self, name: str) -> Kind:
        return self.kinds.get(name) or guess_kind(name)


def _numbers(result: Any) -> dict[str, int]:
    """The integer statistics of a get_statistics answer (anything else is skipped)."""
    if not isinstance(result, dict):
        raise ValueError("get_statistics: the answer is not an object")
    out: dict[str, int] = {}
    for name, value in result.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            out[str(name)] = value
        elif isinstance(value, float):
            out[str(name)] = int(value)
        elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
            out[str(name)] = int(value)
    return out


def _processes(result: Any) -> dict[int, str]:
    procs = result.get("Processes") if isinstance(result, dict) else None
    out: dict[int, str] = {}
    for p in procs if isinstance(procs, list) else []:
        if isinstance(p, dict) and isinstance(p.get("ID"), int):
            out[p["ID"]] = str(p.get("Type", ""))
    return out


def _restarted(prev: Mapping[str, int], cur: Mapping[str, int], kinds: Mapping[str, Kind]) -> bool:
    """The uptime went back, or a counter did."""
    if "core:timestamp" in prev and "core:timestamp" in cur:
        if cur["core:timestamp"] < prev["core:timestamp"]:
            return True
    return any(cur[n] < prev[n] for n in cur
               if n in prev and (kinds.get(n) or guess_kind(n)) == COUNTER)


class StatsPoller:
    """Polls one OpenSIPS through ``mi`` (an ``OpenSIPSMI`` or anything with ``execute``)."""

    def __init__(self, mi: Any, *, interval: float = 1.0, statistics: Iterable[str] = ("all",),
                 history: int = HISTORY, on_sample: Callable[[Sample], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be a positive number of seconds, not {interval!r}")
        self.mi = mi
        self.interval = float(interval)
        self.statistics = list(statistics)
        self.on_sample = on_sample
        self._clock, self._wall = clock, wall
        self._history_len = history
        self.kinds: dict[str, Kind] = {}
        self.kinds_source = ""
        self.processes: dict[int, str] = {}
        self.latest: Sample | None = None
        self._prev: Sample | None = None          # last good sample
        self._runs: deque[Sample] = deque(maxlen=SLOW_WINDOW)   # good samples since a restart
        self._history: dict[str, deque[float]] = {}
        self._described = False
        self._lock = threading.Lock()          # the histories (read from other threads)
        self._poll_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one poll ---------------------------------------------------------------------------
    def poll(self) -> Sample:
        """One ``get_statistics`` (plus list/ps on the first answer and after a restart).

        Safe to call from any thread: polls are serialised, so rates pair consecutive polls.
        """
        with self._poll_lock:
            return self._poll()

    def _poll(self) -> Sample:
        at, wall = self._clock(), self._wall()
        try:
            values = _numbers(self.mi.execute("get_statistics", {"statistics": self.statistics}))
            prev = self._prev
            restarted = prev is not None and _restarted(prev.values, values, self.kinds)
            if restarted or not self._described:
                self._describe()
        except (OpenSIPSMIException, OSError, ValueError) as exc:
            sample = Sample(at, wall, False, error=str(exc) or type(exc).__name__)
            self._publish(sample)
            return sample
        rates: dict[str, float | None] = {}
        dt = at - prev.at if prev is not None else 0.0
        for name, value in values.items():
            if (self.kinds.get(name) or guess_kind(name)) != COUNTER:
                continue
            before = prev.values.get(name) if prev is not None and dt > 0 else None
            if before is None:
                rates[name] = None
            else:      # after a restart the counter started again from 0 within dt
                rates[name] = (value if restarted else value - before) / dt
        if restarted:
            self._runs.clear()
        older = self._runs[0].values if self._runs else None
        findings = diagnose(values, older, self.processes)
        sample = Sample(at, wall, True, values, rates, self.kinds, self.processes, findings,
                        restarted)
        with self._lock:
            for name, value in values.items():
                point = rates.get(name, value) if name in rates else value
                if point is None:
                    continue
                hist = self._history.get(name)
                if hist is None:
                    hist = self._history[name] = deque(maxlen=self._history_len)
                hist.append(float(point))
        self._prev = sample
        self._runs.append(sample)
        self._publish(sample)
        return sample

    def _describe(self) -> None:
        self.kinds, self.kinds_source = classify(self.mi)
        try:
            self.processes = _processes(self.mi.execute("ps"))
        except OpenSIPSMICommandError:    # no ps: loads show by number
            self.processes = {}
        self._described = True

    def _publish(self, sample: Sample) -> None:
        self.latest = sample
        if self.on_sample is not None:
            try:
                self.on_sample(sample)
            except Exception:  # noqa: BLE001 - a broken callback must not end the polling
                log.exception("statistics callback failed")

    def clear_history(self) -> None:
        with self._lock:
            self._history.clear()

    def history(self, name: str) -> list[float]:
        """Recent points of ``name``: rates for counters, values for gauges (oldest first)."""
        with self._lock:
            return list(self._history.get(name, ()))

    # -- the thread -------------------------------------------------------------------------
    def start(self) -> StatsPoller:
        """Poll every ``interval`` seconds on a daemon thread until :meth:`stop`."""
        if self._thread is None:
            # each thread has its own stop flag: one stopped while its MI call was in flight
            # ends after that call even when a new thread started meanwhile
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(self._stop,),
                                            name="opensips-stats-poller", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop polling; wait up to ``timeout`` s for an MI call in flight (0: do not wait)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and timeout > 0 and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def _run(self, stop: threading.Event) -> None:
        next_at = self._clock()
        while not stop.is_set():
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - logged, and polling goes on
                log.exception("statistics poll failed")
            next_at += self.interval
            now = self._clock()
            if next_at < now:          # a slow answer: skip the missed beats, keep the cadence
                next_at = now + self.interval - (now - next_at) % self.interval
            if stop.wait(max(0.0, next_at - now)):
                break
