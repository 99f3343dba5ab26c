"""opensips-cli ``diagnose`` thresholds, applied to one poll (and an older one for ratios).

The levels and advice follow opensips-cli's ``diagnose`` (sip, dns, sql, memory) and its load
report: worker load over 20 / 40 / 66 %; shared memory over 70 % now or 80 % at peak
(warning), 85 % / 90 % (critical), private memory the same with ``-M``; slow SIP messages,
DNS or SQL queries at 2-5 % (notice), 6-50 % (warning), over 50 % (critical), counted like
diagnose: the slow ones among those received since the older sample.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Mapping

Level = Literal["ok", "notice", "warning", "critical"]
LEVELS: tuple[Level, ...] = ("ok", "notice", "warning", "critical")

LOAD_LEVELS = ((66, "critical"), (40, "warning"), (20, "notice"))
_PROC_LOAD = re.compile(r"^load:load-proc-(\d+)$")
_PKMEM = re.compile(r"^pkmem:(\d+)-real_used_size$")
# (check, slow statistic, total statistics, what is counted)
SLOW_CHECKS = (
    ("slow_sip", "core:slow_messages", ("core:rcv_requests", "core:rcv_replies"), "SIP messages"),
    ("slow_dns", "dns:dns_slow_queries", ("dns:dns_total_queries",), "DNS queries"),
    ("slow_sql", "sql:sql_slow_queries", ("sql:sql_total_queries",), "SQL queries"),
)


@dataclass(frozen=True)
class Finding:
    """One threshold crossed: ``subject`` is a statistic (or ``shmem``), ``value`` a percent."""

    check: str
    subject: str
    level: Level
    value: float
    advice: str


def worst(findings: list[Finding], subject: str | None = None) -> Level:
    """The highest level among ``findings`` (for one subject when given)."""
    levels = [f.level for f in findings if subject is None or f.subject == subject]
    return max(levels, key=LEVELS.index, default="ok")


def load_level(percent: float) -> Level:
    for limit, level in LOAD_LEVELS:
        if percent > limit:
            return level  # type: ignore[return-value]
    return "ok"


def slow_level(percent: int) -> Level:
    if percent > 50:
        return "critical"
    if percent >= 6:
        return "warning"
    if percent >= 2:
        return "notice"
    return "ok"


def memory_level(now: int, peak: int) -> Level:
    if now <= 70 and peak <= 80:
        return "ok"
    if now <= 85 and peak <= 90:
        return "warning"
    return "critical"


def _memory(check: str, subject: str, used: int, peak: int, total: int, flag: str,
            kind: str) -> Finding | None:
    if total <= 0:
        return None
    now_pct, peak_pct = int(used / total * 100), int(peak / total * 100)
    level = memory_level(now_pct, peak_pct)
    if level == "ok":
        return None
    if level == "warning":
        which, limit = ("Current", 70) if now_pct > 70 else ("Peak", 80)
        advice = f"{which} {kind} memory usage > {limit}%, please increase the \"{flag}\" command line parameter!"
    else:
        which, limit = ("Current", 85) if now_pct > 85 else ("Peak", 90)
        advice = (f"{which} {kind} memory usage > {limit}%, increase the \"{flag}\" command line "
                  f"parameter as soon as possible!!")
    return Finding(check, subject, level, float(max(now_pct, peak_pct)), advice)


def diagnose(values: Mapping[str, int], older: Mapping[str, int] | None = None,
             processes: Mapping[int, str] | None = None) -> list[Finding]:
    """Every threshold ``values`` crosses; ``older`` (same server run) enables the slow ratios."""
    out: list[Finding] = []
    names = processes or {}
    for name, value in values.items():
        m = _PROC_LOAD.match(name)
        if m:
            level = load_level(value)
            if level != "ok":
                proc = int(m.group(1))
                who = f"process {proc}" + (f" ({names[proc]})" if proc in names else "")
                advice = {"notice": f"{who} is {value}% busy",
                          "warning": f"{who} is {value}% busy: traffic will soon queue; add workers",
                          "critical": f"{who} is {value}% busy: messages are queuing; add workers "
                                      "(udp_workers / tcp_workers) or spread the load now"}[level]
                out.append(Finding("load", name, level, float(value), advice))
            continue
        m = _PKMEM.match(name)
        if m:
            p = m.group(1)
            total = value + values.get(f"pkmem:{p}-free_size", 0)
            found = _memory("pkmem", name, value, values.get(f"pkmem:{p}-max_used_size", value),
                            total, "-M", f"process {p} private")
            if found:
                out.append(found)
    if "shmem:total_size" in values:
        found = _memory("shmem", "shmem", values.get("shmem:real_used_size", 0),
                        values.get("shmem:max_used_size", 0), values["shmem:total_size"], "-m",
                        "shared")
        if found:
            out.append(found)
    if older is not None:
        for check, slow, totals, what in SLOW_CHECKS:
            if slow not in values or slow not in older or any(t not in values or t not in older
                                                              for t in totals):
                continue
            total = sum(values[t] - older[t] for t in totals)
            count = values[slow] - older[slow]
            if total <= 0 or count < 0:
                continue
            pct = int(count / total * 100)
            level = slow_level(pct)
            if level != "ok":
                out.append(Finding(check, slow, level, float(pct),
                                   f"{count} / {total} {what} ({pct}%) exceeded the threshold"))
    return out
