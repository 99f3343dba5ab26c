"""The fleet screen's row model (opensips_tui.fleet_rows), without Textual.

Statistics come from the two captured 4.0.1 polls (one second apart, under sipp traffic) run
through the real StatsPoller, so the figures and the diagnose levels are the real server's.
"""

from __future__ import annotations

import dataclasses

from opensips.stats import StatsPoller
from opensips_tui.fleet_rows import (NodeView, fleet_row, fleet_rows, header_cells, layout, rate_cell,
                                     row_cells, sort_rows, status_line, uptime_text, version_text)
from tests.test_stats_poller import Replay, _ops

SERVER = "OpenSIPS (4.0.1 (x86_64/linux))"


def _samples():
    """The captured polls as the poller makes them: the second one has rates."""
    one, two = _ops("statistics_get_all_1"), _ops("statistics_get_all_2")
    ticks = iter((10.0, 11.0))
    poller = StatsPoller(Replay([one, two]), clock=lambda: next(ticks))
    return poller.poll(), poller.poll(), one, two


def test_a_node_row_from_the_captured_polls():
    _, sample, _, two = _samples()
    view = NodeView("edge-1", "up", version=SERVER, up_since=1000.0, events_rate=199.6, sample=sample)
    row = fleet_row(view, 0, now=1000.0 + 3 * 3600 + 5 * 60 + 59)
    assert row.name.text == "edge-1" and row.health.text == "up" and row.version.text == "4.0.1"
    assert row.uptime.text == "3h05m"
    assert row.events.text == "200"
    rcv = sample.rates["core:rcv_requests"]
    assert row.requests.text == rate_cell(rcv) and rcv is not None
    assert row.dialogs.text == str(two["dialog:active_dialogs"])
    assert row.users.text == str(two["usrloc:registered_users"])
    shm = two["shmem:real_used_size"] / two["shmem:total_size"] * 100
    assert row.shm.text == f"{shm:.0f}%" and row.shm.tone == "ok"   # 7 % of 64 MiB
    loads = {n: v for n, v in two.items() if n.startswith("load:load-proc-")}
    assert row.load.text == f"{max(loads.values())}%"


def test_thresholds_colour_memory_and_load_like_diagnose():
    _, sample, _, two = _samples()
    total = two["shmem:total_size"]
    hot = dict(two, **{"shmem:real_used_size": int(total * 0.87), "shmem:max_used_size": int(total * 0.88),
                       "load:load-proc-1": 70})
    ticks = iter((10.0, 11.0))
    poller = StatsPoller(Replay([_ops("statistics_get_all_1"), hot]), clock=lambda: next(ticks))
    poller.poll()
    row = fleet_row(NodeView("a", "up", sample=poller.poll()), 0, now=0)
    assert (row.shm.text, row.shm.tone) == ("87%", "critical")
    assert (row.load.text, row.load.tone) == ("70%", "critical")
    warm = dict(two, **{"load:load-proc-1": 45})
    ticks = iter((10.0, 11.0))
    poller = StatsPoller(Replay([_ops("statistics_get_all_1"), warm]), clock=lambda: next(ticks))
    poller.poll()
    assert fleet_row(NodeView("a", "up", sample=poller.poll()), 0, now=0).load.tone == "warning"


def test_a_down_node_shows_no_stale_figures_and_says_why():
    _, sample, _, _ = _samples()
    view = NodeView("edge-2", "down", reason="[Errno 111] Connection refused", version=SERVER,
                    up_since=0.0, events_rate=12.0, sample=sample)
    row = fleet_row(view, 1, now=100.0)
    assert (row.health.text, row.health.tone) == ("DOWN", "down")
    assert [c.text for c in (row.uptime, row.events, row.requests, row.dialogs, row.users, row.shm, row.load)] \
        == ["-"] * 7
    assert status_line(row, 3) == "edge-2: DOWN: [Errno 111] Connection refused"


def test_first_poll_has_no_rate_yet_and_no_poll_shows_dashes():
    first, _, _, _ = _samples()
    row = fleet_row(NodeView("a", "up", sample=first), 0, now=0)
    assert (row.requests.text, row.requests.tone) == ("-", "dim")
    assert row.dialogs.text != "-"
    bare = fleet_row(NodeView("b", "connecting"), 0, now=0)
    assert bare.health.text == "…" and bare.requests.text == "-" and bare.uptime.text == "-"


def test_uptime_to_the_minute():
    assert [uptime_text(s) for s in (None, -1, 0, 59.9, 60, 3599, 3600, 86399, 86400 * 12 + 3 * 3600)] \
        == ["-", "-", "<1m", "<1m", "1m", "59m", "1h00m", "23h59m", "12d03h"]


def test_rates_and_versions_in_few_characters():
    assert [rate_cell(r) for r in (None, 0, 0.35, 9.94, 10.4, 199.6, 250_000)] \
        == ["-", "0.0", "0.3", "9.9", "10", "200", "250.0k"]
    assert version_text(SERVER) == "4.0.1"
    assert version_text("3.6.8") == "3.6.8"


def test_names_and_versions_from_the_wire_are_literal_text():
    hostile = "[bold red]x[/]\x1b[2J\u202eevil\nline"
    row = fleet_row(NodeView(hostile, "down", reason="\x1b]8;;http://x\x07", version=hostile), 0, now=0)
    for cell in (row.name, row.version):
        assert "\x1b" not in cell.text and "\n" not in cell.text and "\u202e" not in cell.text
    assert row.name.text.startswith("[bold red]x[/]\\x1b")
    assert "\x1b" not in status_line(row, 1) and "\x07" not in status_line(row, 1)


def test_rows_equal_when_nothing_shown_changed():
    _, sample, _, _ = _samples()
    view = NodeView("a", "up", version=SERVER, up_since=0.0, events_rate=200.2, sample=sample)
    assert fleet_row(view, 0, now=100) == fleet_row(dataclasses.replace(view, events_rate=199.9), 0, now=110)
    assert fleet_row(view, 0, now=100) != fleet_row(view, 0, now=130)            # a minute more
    assert fleet_row(view, 0, now=100) != fleet_row(dataclasses.replace(view, health="down"), 0, now=100)


def test_sorting_keeps_fleet_order_on_ties_and_unknowns_last():
    _, sample, _, _ = _samples()
    views = [NodeView("c", "up", events_rate=5.0, sample=sample), NodeView("a", "down"),
             NodeView("b", "up", events_rate=50.0, sample=sample, alerts=("E_PIKE_BLOCKED",)),
             NodeView("d", "up", events_rate=5.0)]
    rows = fleet_rows(views, now=0)
    assert [r.node for r in sort_rows(rows, "order")] == ["c", "a", "b", "d"]
    assert [r.node for r in sort_rows(rows, "name")] == ["a", "b", "c", "d"]
    assert [r.node for r in sort_rows(rows, "health")] == ["a", "c", "b", "d"]
    assert [r.node for r in sort_rows(rows, "events")] == ["b", "c", "d", "a"]
    assert [r.node for r in sort_rows(rows, "shm")] == ["c", "b", "a", "d"]     # no poll, DOWN: last
    assert [r.node for r in sort_rows(rows, "alerts")] == ["b", "c", "a", "d"]


def test_alerts_column_and_status_line():
    row = fleet_row(NodeView("gw", "up", version=SERVER, alerts=("E_PIKE_BLOCKED", "E_CORE_LOG")), 0, now=0)
    assert (row.alerts.text, row.alerts.tone) == ("E_CORE_LOG,E_PIKE_BLOCKED", "critical")
    assert status_line(row, 1) == "gw: up · OpenSIPS 4.0.1 · ALERT E_CORE_LOG,E_PIKE_BLOCKED"
    assert status_line(None, 0) == "no nodes"


def test_layout_fills_the_width_and_drops_the_version_when_narrow():
    names = ["edge-1", "registrar-eu-west"]
    for width in (80, 120, 200):
        columns = layout(width, names)
        assert sum(c.width for c in columns) == width
        row = fleet_row(NodeView("registrar-eu-west", "restarted", version=SERVER), 0, now=0)
        assert len("".join(text for text, _ in row_cells(row, columns))) == width
        assert len("".join(header_cells(columns, "events"))) == width
        if width >= 120:                    # a name that fits is whole
            assert row_cells(row, columns)[0][0] == " registrar-eu-west"
    assert "version" in [c.key for c in layout(120, names)]
    assert "version" not in [c.key for c in layout(80, names)]
    header = "".join(header_cells(layout(120, names), "events"))
    assert "EV/S▼" in header and header.split() [0] == "NODE"
    long = fleet_row(NodeView("x" * 60, "up"), 0, now=0)
    first = row_cells(long, layout(80, ["x" * 60]))[0][0]
    assert first.endswith("…") and len(first) <= 25


def test_the_row_model_imports_no_textual():
    """The rows are plain Python: a fleet report or a test builds them without a UI."""
    import subprocess
    import sys

    code = ("import sys, opensips_tui.fleet_rows; "
            "sys.exit(1 if [m for m in sys.modules if m.split('.')[0] == 'textual'] else 0)")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
