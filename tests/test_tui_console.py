"""The MI console screen (key 3) against the simulator over real MI (http): completion,
hints, tables, errors, read-only refusal, confirmation, history, views, a DOWN server."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager

from textual.widgets import DataTable, Tree

from opensips_tui.screens import ConsoleScreen
from opensips_tui.widgets.confirm import ConfirmRequest
from tests.tui_pilot import make_app, run, until


def console_app(sim, tmp_path, **overrides):
    return make_app(sim, tmp_path, health_every=3600, history_path=tmp_path / "history.jsonl", **overrides)


async def open_console(pilot) -> ConsoleScreen:
    await pilot.press("3")
    screen = pilot.app.screen
    assert isinstance(screen, ConsoleScreen)
    await until(pilot, lambda: screen.catalog is not None, "which")
    return screen


@asynccontextmanager
async def console(sim, tmp_path, **overrides):
    """The app on ``sim`` at 120x40 with the console shown: ``(app, pilot, screen)``."""
    app = console_app(sim, tmp_path, **overrides)
    async with app.run_test(size=(120, 40)) as pilot:
        yield app, pilot, await open_console(pilot)


def plain(widget) -> str:
    return str(widget.render())


async def run_line(pilot, screen: ConsoleScreen, line: str) -> None:
    screen.input.value = line
    await pilot.press("enter")


@run
async def test_completion_and_hints(sim, tmp_path) -> None:
    async with console(sim, tmp_path) as (app, pilot, screen):
        assert "4.x names" in plain(screen.query_one("#console-status"))
        await pilot.press(*"upt", "tab")
        assert screen.input.value == "core:uptime "
        await until(pilot, lambda: "(no params)" in plain(screen.hint), "the uptime hint")
        screen.input.value = "statistics:"
        await pilot.press("tab")
        await until(pilot, lambda: "commands:" in plain(screen.hint), "the candidates")
        assert "statistics:get" in plain(screen.hint) and "statistics:list" in plain(screen.hint)
        screen.input.value = ""
        await pilot.press(*"which ")
        await until(pilot, lambda: "command=" in plain(screen.hint), "which's params")
        assert plain(screen.hint) == "which  ·  (no params) | command="


@run
async def test_table_result_sorts_and_filters(sim, tmp_path) -> None:
    async with console(sim, tmp_path) as (app, pilot, screen):
        await run_line(pilot, screen, "ps")
        await until(pilot, lambda: screen.result.mode == "table", "a table")
        grid = screen.result.query_one(DataTable)
        expected = sim.dispatcher.processes()
        assert grid.row_count == len(expected)
        assert f"{len(expected)} rows in Processes" in plain(screen.summary)
        assert " ms " in plain(screen.summary)
        grid.focus()
        await pilot.press("right", "s")          # sort by PID, then the other way
        pids = [row["PID"] for row in [dict(zip(screen.table.columns, r)) for r in screen.result.shown_rows]]
        assert pids == sorted(pids)
        await pilot.press("s")
        pids = [dict(zip(screen.table.columns, r))["PID"] for r in screen.result.shown_rows]
        assert pids == sorted(pids, reverse=True)
        await pilot.press("slash", *"MI FIFO")
        await until(pilot, lambda: grid.row_count == 1, "the filter")
        await pilot.press("ctrl+t")
        assert screen.result.mode == "tree"
        await pilot.press("ctrl+t")
        assert screen.result.mode == "json"
        shown = json.loads(str(screen.result.query_one("#result-json").render()))
        assert shown == screen.outcomes[0].result


@run
async def test_error_shows_code_message_and_data(sim, tmp_path) -> None:
    async with console(sim, tmp_path) as (app, pilot, screen):
        await run_line(pilot, screen, "which command=no_such_cmd")
        await until(pilot, lambda: "error" in plain(screen.summary), "the error")
        assert "error 404 unknown MI command" in plain(screen.summary)
        assert screen.summary.has_class("-error")
        await run_line(pilot, screen, "list")    # 4.x: ambiguous, so not known to be read-only
        await until(pilot, lambda: isinstance(app.screen, ConfirmRequest), "the prompt")
        await pilot.press("y")
        await until(pilot, lambda: "-32001" in plain(screen.summary), "ambiguous")
        assert "data: supported names:" in plain(screen.summary)
        tree = screen.result.query_one(Tree)
        labels = [str(node.label) for node in tree.root.children]
        assert labels[0] == "code: -32001" and labels[1] == "message: Method ambiguous"
        await run_line(pilot, screen, 'which {"command": ')
        assert "not sent: params: invalid JSON" in plain(screen.summary)


@run
async def test_read_only_refuses_without_sending(sim, tmp_path) -> None:
    before = sim.dispatcher.log_level
    async with console(sim, tmp_path, read_only=True) as (app, pilot, screen):
        assert "READ-ONLY" in plain(screen.query_one("#console-status"))
        await run_line(pilot, screen, "log_level level=1")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmRequest)
        assert "refused (read-only): log_level with level" in plain(screen.summary)
        await run_line(pilot, screen, "log_level")       # reading is fine
        await until(pilot, lambda: screen.table is not None, "log levels")
    assert sim.dispatcher.log_level == before


@run
async def test_confirmation_shows_the_request(sim, tmp_path) -> None:
    before = sim.dispatcher.log_level
    async with console(sim, tmp_path) as (app, pilot, screen):
        await run_line(pilot, screen, "log_level level:=1")
        await until(pilot, lambda: isinstance(app.screen, ConfirmRequest), "the prompt")
        prompt = app.screen
        assert '{"jsonrpc":"2.0","method":"log_level","params":{"level":1},"id":"…"}' in \
            plain(prompt.query_one("#confirm-request"))
        await pilot.press("enter")                          # Enter is on Cancel: not sent
        await until(pilot, lambda: app.screen is screen, "the prompt closed")
        assert sim.dispatcher.log_level == before and "not sent" in plain(screen.hint)
        await run_line(pilot, screen, "log_level level:=1")
        await until(pilot, lambda: isinstance(app.screen, ConfirmRequest), "the prompt")
        await pilot.press("y")
        await until(pilot, lambda: sim.dispatcher.log_level == 1, "the request sent")
        await until(pilot, lambda: "New global log level" in json.dumps(screen.result.value), "the answer")


@run
async def test_history_up_down_and_search(sim, tmp_path) -> None:
    async with console(sim, tmp_path) as (app, pilot, screen):
        for line in ("uptime", "ps", "which command=ps"):
            await run_line(pilot, screen, line)
            await until(pilot, lambda: not screen.busy, line)
        await pilot.press(*"draft", "up")
        assert screen.input.value == "which command=ps"
        await pilot.press("up", "up", "up")
        assert screen.input.value == "uptime"
        await pilot.press("down", "down", "down")
        assert screen.input.value == "draft"
        screen.input.value = ""
        await pilot.press("ctrl+r", *"ti")
        await until(pilot, lambda: "uptime" in plain(screen.hint), "the search")
        await pilot.press("enter")
        assert screen.input.value == "uptime" and not screen.input.searching
    saved = (tmp_path / "history.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in saved] == ["uptime", "ps", "which command=ps"]


@run
async def test_view_refreshes_only_on_screen(sim, tmp_path) -> None:
    async with console(sim, tmp_path) as (app, pilot, screen):
        await pilot.press("f8")
        await until(pilot, lambda: screen.table is not None and screen.table.key == "processes", "processes")
        assert screen.refreshing
        assert screen.table.columns == ("ID", "PID", "Type", "Load", "Load 1m", "Load 10m")
        await pilot.press("escape", "1")
        assert not screen.refreshing
        await pilot.press("3")
        assert screen.refreshing
        await pilot.press("colon", *"uptime", "enter")        # a typed command ends the view
        assert not screen.refreshing


@run
async def test_down_server_is_a_status_not_a_hang(sim, tmp_path) -> None:
    """OpenSIPS reads the request and never answers: the MI timeout makes it DOWN on the
    status line; the screen keeps answering keys meanwhile, and comes back when OpenSIPS does."""
    app = console_app(sim, tmp_path)
    app.settings.mi["timeout"] = 1.0
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_console(pilot)
        sim.hang = True
        await run_line(pilot, screen, "uptime")
        await pilot.press("f8")                       # keys still work while the call waits
        assert screen.view is not None and screen.view.id == "processes"
        await until(pilot, lambda: screen.down is not None, "DOWN", tries=200)
        assert "DOWN" in plain(screen.query_one("#console-status"))
        assert "no reply" in plain(screen.query_one("#console-status"))
        sim.hang = False
        await until(pilot, lambda: not screen.busy and not screen.view_busy, "the calls back", tries=200)
        await run_line(pilot, screen, "uptime")
        await until(pilot, lambda: screen.down is None, "up again", tries=200)
        assert "DOWN" not in plain(screen.query_one("#console-status"))


def labels(node) -> list[str]:
    return [str(node.label)] + [text for child in node.children for text in labels(child)]


@run
async def test_hostile_text_is_shown_literally(sim, tmp_path) -> None:
    async with console(sim, tmp_path) as (app, pilot, screen):
        hostile = "[bold red]x[/]\x1b[2J\u202e"
        await run_line(pilot, screen, f"shv_set name=v type=str value='{hostile}'")
        await until(pilot, lambda: isinstance(app.screen, ConfirmRequest), "the prompt")
        assert '"value":"[bold red]x[/]\\u001b[2J\\u202e"' in plain(app.screen.query_one("#confirm-request"))
        await pilot.press("y")
        await until(pilot, lambda: screen.outcomes and screen.outcomes[0].command == "shv_set", "set")
        await run_line(pilot, screen, "shv_get name=v")
        await until(pilot, lambda: screen.result.value == {"VAR": {"name": "v", "value": hostile}}, "get")
        shown = labels(screen.result.query_one(Tree).root)
        assert any("[bold red]x[/]\\x1b[2J\\u202e" in text for text in shown), shown
        assert not any("\x1b" in text or "\u202e" in text for text in shown)
        await pilot.press("ctrl+t")
        raw = str(screen.result.query_one("#result-json").render())
        assert "[bold red]x[/]\\u001b[2J\\u202e" in raw and "\u202e" not in raw


@run
async def test_export_every_answer(sim, tmp_path) -> None:
    async with console(sim, tmp_path) as (app, pilot, screen):
        await run_line(pilot, screen, "ps")
        await until(pilot, lambda: screen.outcomes, "ps")
        await pilot.press("ctrl+s", "ctrl+s")
        await pilot.press("f8")
        await until(pilot, lambda: screen.table is not None and screen.table.key == "processes", "view")
        await pilot.press("ctrl+s")
        await run_line(pilot, screen, "nope_cmd")
        await until(pilot, lambda: isinstance(app.screen, ConfirmRequest), "the prompt")
        await pilot.press("y")
        await until(pilot, lambda: "error" in plain(screen.summary), "the error")
        await pilot.press("ctrl+s")
    files = sorted((tmp_path / "exports").glob("mi-*.json"))
    assert len(files) == 4 and len({f.name for f in files}) == 4
    bodies = [json.loads(f.read_text()) for f in files]
    by_name = {f.name.split("-2")[0]: b for f, b in zip(files, bodies)}
    assert by_name["mi-ps"]["answers"][0]["result"]["Processes"]
    assert by_name["mi-processes"]["table"]["columns"][0] == "ID"
    assert by_name["mi-nope_cmd"]["answers"][0]["error"]["code"] == -32601


def states(screen: ConsoleScreen) -> dict[str, str]:
    return {r["URI"]: r["State"] for r in screen.table.as_dicts()} if screen.table is not None else {}


@run
async def test_dispatcher_view_follows_e_dispatcher_status(sim, tmp_path) -> None:
    """With a one-hour refresh, only E_DISPATCHER_STATUS can bring a state change to the view;
    the subscription exists only while the view is shown."""
    from opensips.console import MIConsole, set_state_request
    from opensips.mi import OpenSIPSMI
    from tests.tui_pilot import live

    async with console(sim, tmp_path) as (app, pilot, screen):
        screen.view_interval = 3600
        await pilot.press("f4")
        await until(pilot, lambda: screen.table is not None and screen.table.key == "dispatcher", "the view")
        await until(pilot, lambda: screen.watch_note.startswith("live"), "the subscription")
        assert live(sim, "E_DISPATCHER_STATUS")
        uri = next(u for u, state in states(screen).items() if state != "Inactive")
        other = MIConsole(OpenSIPSMI("http", **sim.mi_kwargs("http")))
        try:
            row = next(r for r in screen.table.as_dicts() if r["URI"] == uri)
            command, params = set_state_request(None, row["Partition"], row["Set"], uri, "inactive")
            assert other.call(command, params, confirmed=True).ok
        finally:
            other.mi.close()
        await until(pilot, lambda: states(screen)[uri] == "Inactive", "the event-driven refresh", tries=200)
        # a / i / p on the highlighted destination, after confirmation
        grid = screen.result.query_one(DataTable)
        grid.focus()
        grid.move_cursor(row=[r[2] for r in screen.result.shown_rows].index(uri), column=0)
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ConfirmRequest), "the prompt")
        assert '"method":"dispatcher:set_state"' in plain(app.screen.query_one("#confirm-request"))
        assert f'"address":"{uri}"' in plain(app.screen.query_one("#confirm-request"))
        await pilot.press("y")
        await until(pilot, lambda: states(screen)[uri] != "Inactive", "probing again", tries=200)
        await pilot.press("f2")
        await until(pilot, lambda: not live(sim, "E_DISPATCHER_STATUS"), "unsubscribed", tries=200)
        await pilot.press("f4")
        await until(pilot, lambda: live(sim, "E_DISPATCHER_STATUS"), "subscribed again", tries=200)
        await pilot.press("1")
        await until(pilot, lambda: not live(sim, "E_DISPATCHER_STATUS"), "unsubscribed when hidden", tries=200)


@run
async def test_views_in_the_palette(sim, tmp_path) -> None:
    async with console(sim, tmp_path) as (app, pilot, screen):
        titles = {c.title for c in app.get_system_commands(screen)}
        assert {"Dialogs", "Registrations", "Dispatcher destinations", "Processes"} <= titles
        command = next(c for c in app.get_system_commands(screen) if c.title == "Processes")
        await command.callback()          # what the palette runs (run_action is a coroutine)
        await until(pilot, lambda: screen.table is not None and screen.table.key == "processes", "the view")


@run
async def test_views_use_3x_names_on_a_3x_server(sim_factory, tmp_path) -> None:
    """On 3.6.8 the status says 3.x and the views call the flat names (ps + get_statistics)."""
    sim36 = sim_factory(version="3.6.8")
    async with console(sim36, tmp_path) as (app, pilot, screen):
        assert "3.x names" in plain(screen.query_one("#console-status"))
        await pilot.press("f8")
        await until(pilot, lambda: screen.table is not None and screen.table.key == "processes", "processes")
        assert [o.command for o in screen.outcomes] == ["ps", "get_statistics"]
        assert len(screen.table.rows) == len(sim36.dispatcher.processes())
        await pilot.press(*"get_", "tab")
        await until(pilot, lambda: "get_statistics" in plain(screen.hint), "3.x completion")
