"""The log's node column and the ``node:`` filter, at 80x24 and 120x40: the column appears once
entries carry a node (a fleet, a multi-node recording), as wide as the longest name (capped),
names drawn as cleaned text; the export names each entry's node."""

from __future__ import annotations

import json

import pytest

from opensips_tui.feed import NODE_WIDTH_MAX

from tests.tui_pilot import log_lines, make_app, run, until

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
HOSTILE = "[b]evil\x1b[2J-node-with-a-long-name"


def push(app, node: str | None, i: int) -> None:
    app.feed.push("E_X", {"jsonrpc": "2.0", "method": "E_X", "params": {"i": i}}, node=node)


@SIZES
@run
async def test_no_column_without_nodes(sim, tmp_path, size) -> None:
    app = make_app(sim, tmp_path)
    async with app.run_test(size=size) as pilot:
        push(app, None, 1)
        await until(pilot, lambda: len(log_lines(app)) == 1, "a line")
        assert app.log_pane.log_widget.node_width == 0
        assert log_lines(app)[0].split(" ", 1)[1] == "E_X i=1"


@SIZES
@run
async def test_node_column_filter_and_export(sim, tmp_path, size) -> None:
    app = make_app(sim, tmp_path)
    async with app.run_test(size=size) as pilot:
        for i, node in enumerate(["edge1", "edge2", "core1", "edge1"]):
            push(app, node, i)
        await until(pilot, lambda: len(log_lines(app)) == 4, "four lines")
        log = app.log_pane.log_widget
        assert log.node_width == 5
        assert [line.split(" ", 1)[1] for line in log_lines(app)] == [
            "edge1 E_X i=0", "edge2 E_X i=1", "core1 E_X i=2", "edge1 E_X i=3"]
        await pilot.pause()
        assert "edge2 E_X i=1" in log.render_line(1).text

        push(app, HOSTILE, 4)       # a name from a recording or a broker: untrusted
        await until(pilot, lambda: len(log_lines(app)) == 5, "five lines")
        assert log.node_width == NODE_WIDTH_MAX
        last = log_lines(app)[-1].split(" ", 1)[1]
        assert last == "[b]evil\\x1b[2J-…" + " E_X i=4"
        assert log_lines(app)[0].split(" ", 1)[1] == "edge1" + " " * (NODE_WIDTH_MAX - 5) + " E_X i=0"
        await pilot.pause()
        assert "\x1b" not in log.render_line(log.line_count - 1 - int(log.scroll_y)).text

        await pilot.press("slash")
        await pilot.press(*"node:EDGE*")
        await until(pilot, lambda: len(log_lines(app)) == 3, "edge lines only")
        assert all(" edge" in line for line in log_lines(app))
        await pilot.press("enter")
        await pilot.press("e")
        await until(pilot, lambda: list((tmp_path / "exports").glob("*.jsonl")), "export file")
        path = next((tmp_path / "exports").glob("*.jsonl"))
        await until(pilot, lambda: len(path.read_text().splitlines()) == 3, "three records")
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert [(r["node"], r["notification"]["params"]["i"]) for r in records] == [
            ("edge1", 0), ("edge2", 1), ("edge1", 3)]
        assert list(records[0]) == ["time", "node", "event", "notification"]

        await pilot.press("slash")
        await pilot.press(*"\b" * 10, *"-node:edge*")
        await until(pilot, lambda: len(log_lines(app)) == 2, "the others")
        assert app.feed.node_summary()["edge1"][0] == 2


@run
async def test_nodes_heard_while_another_screen_covers_the_log(sim, tmp_path) -> None:
    app = make_app(sim, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.action_show_screen("statistics")
        await until(pilot, lambda: app.events_covered, "the statistics screen on top")
        push(app, "edge1", 1)
        await until(pilot, lambda: app.log_pane.log_widget.node_width == 5, "room made for the node")
        app.action_show_screen("events")
        await until(pilot, lambda: len(log_lines(app)) == 1, "the line")
        assert log_lines(app)[0].split(" ", 1)[1] == "edge1 E_X i=1"
