"""The events list after issue 10: type to search, subscribe by pattern, save to the profile,
rate alerts, the failed box, and rows redrawn one at a time (Pilot, at 80x24 and 120x40)."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Input

import opensips_tui.app
from opensips_tui.app import OpenSIPSTUI
from opensips_tui.config import resolve
from opensips_tui.widgets.events_list import EventsList
from opensips_tui.widgets.pattern_prompt import PatternPrompt
from tests.test_tui_redraws import settle
from tests.tui_pilot import live, make_app, run, until

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


async def listed(pilot, app: OpenSIPSTUI) -> None:
    await until(pilot, lambda: app.events.names and app.status.health is True, "events list and health")


@asynccontextmanager
async def started(sim, tmp_path, size) -> AsyncIterator[tuple[OpenSIPSTUI, Pilot]]:
    """The monitor on ``sim`` at ``size``, once the events are listed and MI is up."""
    app = make_app(sim, tmp_path)
    async with app.run_test(size=size) as pilot:
        await listed(pilot, app)
        yield app, pilot


def subtitle(app: OpenSIPSTUI) -> str:
    """The bottom border's text as drawn (Textual keeps a title as markup: parsed back here)."""
    return Text.from_markup(str(app.events.border_subtitle)).plain


# -- type to search ----------------------------------------------------------------------------
@SIZES
@run
async def test_typing_a_capital_searches_and_lowercase_follows(sim, tmp_path, size) -> None:
    async with started(sim, tmp_path, size) as (app, pilot):
        everything = list(app.events.names)
        await pilot.press("U", "l", "_", "c")         # capital first, then lowercase goes in too
        assert app.events.searching and app.events.search == "Ul_c"
        assert app.events.shown == [n for n in everything if "UL_C" in n] and app.events.shown
        assert app.events.current == app.events.shown[0]
        assert "find: Ul_c" in subtitle(app) and f"{len(app.events.shown)} matches" in subtitle(app)
        assert not app.log_pane.paused
        await pilot.press("p")                         # open line: p is text, not pause
        assert app.events.search == "Ul_cp" and not app.log_pane.paused and app.events.shown == []
        await pilot.press("backspace")
        await pilot.press("down")
        assert app.events.current == app.events.shown[1]
        await pilot.press("enter")                     # keeps the filter, closes the line
        assert not app.events.searching and app.events.search == "Ul_c"
        assert "esc" in subtitle(app) and app.events.states.get(app.events.current) is None  # no toggle
        await pilot.press("p")                         # closed: the app's keys work again
        assert app.log_pane.paused
        kept = app.events.current
        await pilot.press("escape")                    # clears; the highlight stays on its event
        assert app.events.search == "" and app.events.shown == everything
        assert app.events.current == kept and subtitle(app) == "space: toggle"


@run
async def test_search_by_pattern_and_f_key_and_space_toggles(sim, tmp_path) -> None:
    async with started(sim, tmp_path, (80, 24)) as (app, pilot):
        await pilot.press("f")
        assert app.events.searching and app.events.search == ""
        for key in "e_ul_*insert":
            await pilot.press(key if key not in "_*" else {"_": "underscore", "*": "asterisk"}[key])
        assert app.events.shown == ["E_UL_AOR_INSERT", "E_UL_CONTACT_INSERT"]
        await pilot.press("space")                     # space still toggles while searching
        await until(pilot, lambda: app.events.states.get("E_UL_AOR_INSERT") == "active", "subscribed")
        assert app.events.search == "e_ul_*insert"


@run
async def test_search_text_is_shown_escaped(sim, tmp_path) -> None:
    async with started(sim, tmp_path, (120, 40)) as (app, pilot):
        app.events.set_search("[bold red]x\x1b[2J", open_line=True)
        await pilot.pause()
        assert "find: [bold red]x\\x1b[2J" in subtitle(app)  # literal, control character escaped
        assert app.events.shown == []


# -- subscribe by pattern ---------------------------------------------------------------------
@SIZES
@run
async def test_plus_subscribes_every_event_matching_a_pattern(sim, tmp_path, size) -> None:
    async with started(sim, tmp_path, size) as (app, pilot):
        await pilot.press("plus")
        assert isinstance(app.screen, PatternPrompt)
        field = app.screen.query_one(Input)
        field.value = "[bold]E_NOPE_*\x1b[2J"
        await pilot.pause()
        said = app.screen.query_one("#matches").render()
        assert "[bold]E_NOPE_*\\x1b[2J: matches no event" in getattr(said, "plain", str(said))
        await pilot.press("enter")                     # matches nothing: stays open
        assert isinstance(app.screen, PatternPrompt)
        field.value = "e_ul_contact_*"                 # any case, as --subscribe
        await pilot.pause()
        matched = [n for n in app.events.names if n.startswith("E_UL_CONTACT_")]
        assert app.screen.matched == matched and len(matched) == 4
        assert f"{len(matched)} events: E_UL_CONTACT_INSERT" in str(app.screen.query_one("#matches").render())
        await pilot.press("enter")
        assert not isinstance(app.screen, PatternPrompt)
        await until(pilot, lambda: all(app.events.states.get(n) == "active" for n in matched), "subscribed")
        assert sorted(s["event"] for s in live(sim)) == sorted(matched)
        assert app.wanted == set(matched)


@run
async def test_plus_starts_from_the_search_and_escape_cancels(sim, tmp_path) -> None:
    async with started(sim, tmp_path, (80, 24)) as (app, pilot):
        await pilot.press("P", "i", "k", "e", "enter", "plus")
        assert app.screen.query_one(Input).value == "*PIKE*"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, PatternPrompt) and not live(sim)


# -- save subscriptions into the profile ------------------------------------------------------------
CONFIG = """\
# my monitor
[tui]
profile = "edge1"   # the usual one
ring_size = 500

[profiles.edge1]
mi = "http"
# these were there before
subscribe = [
    "E_CORE_LOG",   # noisy
]
utc = true

[profiles.other]
subscribe = ["E_PIKE_BLOCKED"]
"""


@SIZES
@run
async def test_w_saves_the_subscriptions_into_the_active_profile(sim, tmp_path, size) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    path.chmod(0o640)
    settings = resolve({"profile": None, "conn": "http", **sim.mi_kwargs("http")}, path, required=True)
    assert settings.profile == "edge1" and settings.subscribe == ["E_CORE_LOG"]
    app = make_app(sim, tmp_path, subscribe=settings.subscribe, profile="edge1", config_file=path)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.events.states.get("E_CORE_LOG") == "active", "subscribed")
        for name in ("E_PIKE_BLOCKED", "E_UL_AOR_INSERT"):
            app.events.highlighted = app.events.names.index(name)
            await pilot.press("space")
        app.events.highlighted = app.events.names.index("E_CORE_LOG")
        await pilot.press("space")                     # unsubscribed: not saved
        await until(pilot, lambda: app.events.states.get("E_UL_AOR_INSERT") == "active"
                    and app.events.states.get("E_CORE_LOG") is None, "toggles")
        await pilot.press("w")
        await until(pilot, lambda: "saved as subscribe in [profiles.edge1]" in
                    " ".join(n.message for n in app._notifications), "saved")
    text = path.read_text()
    expected_order = [n for n in app.events.names if n in ("E_PIKE_BLOCKED", "E_UL_AOR_INSERT")]
    assert text == CONFIG.replace('subscribe = [\n    "E_CORE_LOG",   # noisy\n]',
                                  f'subscribe = ["{expected_order[0]}", "{expected_order[1]}"]')
    assert path.stat().st_mode & 0o777 == 0o640
    again = resolve({"profile": None}, path, required=True)
    assert again.subscribe == expected_order and again.ring_size == 500 and again.utc is True
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".config")] == []  # no temp left


@run
async def test_save_without_a_profile_goes_to_tui_and_errors_are_shown(sim, tmp_path) -> None:
    path = tmp_path / "new" / "config.toml"            # does not exist yet: created
    app = make_app(sim, tmp_path, subscribe=["E_PIKE_BLOCKED"], config_file=path)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.events.states.get("E_PIKE_BLOCKED") == "active", "subscribed")
        await pilot.press("w")
        await until(pilot, lambda: path.exists(), "file written")
        assert path.read_text() == '[tui]\nsubscribe = ["E_PIKE_BLOCKED"]\n'
        path.write_text("[tui]\nsubscribe = [\n")        # broken by hand meanwhile: left alone
        app.clear_notifications()
        await pilot.press("w")
        await until(pilot, lambda: any("Not saved: the file is not valid TOML" in n.message
                                       for n in app._notifications), "error shown")
        assert path.read_text() == "[tui]\nsubscribe = [\n"


# -- rate alerts -----------------------------------------------------------------------------------
class Clock:
    """The feed's clock, moved by the test: rates are then exact and the test waits for nothing."""

    def __init__(self) -> None:
        self.now = 1_764_255_600.5

    def __call__(self) -> float:
        return self.now


class Belling(OpenSIPSTUI):
    """Counts the terminal bells instead of ringing them."""

    CSS_PATH = Path(opensips_tui.app.__file__).with_name("app.tcss")  # not next to this file
    rung = 0

    def bell(self) -> None:
        self.rung += 1


@SIZES
@run
async def test_rate_alert_turns_row_and_status_bar_red_and_clears_with_hysteresis(sim, tmp_path, size) -> None:
    from opensips_tui.alerts import parse_rule

    clock = Clock()
    settings = make_app(sim, tmp_path, subscribe=["E_PIKE_BLOCKED", "E_CORE_LOG"],
                        alerts=[parse_rule("E_PIKE_BLOCKED > 5/s")], alert_bell=True).settings
    app = Belling(settings, clock=clock)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: all(app.events.states.get(e) == "active"
                                       for e in ("E_PIKE_BLOCKED", "E_CORE_LOG")), "subscribed")
        for i in range(30):                            # 30 in the 5 s window: 6/s > 5/s
            sim.raise_event("E_PIKE_BLOCKED", {"ip": f"[red]10.0.0.{i}"})
        sim.raise_event("E_CORE_LOG", {"message": "x"})
        await until(pilot, lambda: app.events.alerting == {"E_PIKE_BLOCKED"}, "alert on", tries=200)
        assert app.status.has_class("-alert") and app.rung == 1
        assert app.status.content().plain.startswith("ALERT E_PIKE_BLOCKED 6.0/s > 5/s │")
        assert any(n.title == "Rate alert" for n in app._notifications)
        row = app.events.shown.index("E_PIKE_BLOCKED") - int(app.events.scroll_y)
        app.events.highlighted = app.events.names.index("E_CORE_LOG")
        await pilot.pause()
        red = app.events.get_component_rich_style("events-list--alert").bgcolor
        assert list(app.events.render_line(row))[0].style.bgcolor == red
        clock.now += 1.0
        for i in range(8):
            sim.raise_event("E_PIKE_BLOCKED", {"ip": "10.0.0.1"})
        await until(pilot, lambda: app.feed.view("E_PIKE_BLOCKED").count == 38, "8 more")
        assert app.feed.view("E_PIKE_BLOCKED").rate == pytest.approx((30 + 8) / 5)
        # Four seconds on: the first second half out of the window, (30 / 2 + 8) / 5 = 4.6/s.
        # Below the threshold but above 80 % of it: still on (no blinking at the edge).
        clock.now += 4.0
        assert app.feed.view("E_PIKE_BLOCKED").rate == pytest.approx(4.6)
        await until(pilot, lambda: "E_PIKE_BLOCKED 4.6/s" in app.status.content().plain, "a tick at 4.6/s")
        assert app.events.alerting == {"E_PIKE_BLOCKED"} and app.rung == 1
        clock.now += 10.0                              # nothing for 10 s: 0/s, the alert clears
        await until(pilot, lambda: not app.events.alerting, "alert off", tries=100)
        assert not app.status.has_class("-alert") and "ALERT" not in app.status.content().plain
        assert list(app.events.render_line(row))[0].style.bgcolor != red


# -- the failed state ------------------------------------------------------------------------------
@run
async def test_failed_subscription_has_its_own_box(sim, tmp_path) -> None:
    app = make_app(sim, tmp_path, subscribe=["E_CORE_LOG"])
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.events.states.get("E_CORE_LOG") == "active", "subscribed")
        # The listener's socket breaks under it (its descriptor now /dev/null): recv fails, the
        # listener stops, and the handler reports the subscription failed.
        sock = app.backend._handler.listener.sock
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, sock.fileno())
        os.close(devnull)
        await until(pilot, lambda: app.events.states.get("E_CORE_LOG") == "failed", "failed")
        row = app.events.shown.index("E_CORE_LOG") - int(app.events.scroll_y)
        assert app.events.render_line(row).text.startswith("[E] E_CORE_LOG")
        assert "1 failed" in app.status.content().plain and not app.events.is_subscribed("E_CORE_LOG")
        app.events.highlighted = app.events.names.index("E_CORE_LOG")
        await pilot.press("space")                     # a failed one subscribes again
        await until(pilot, lambda: app.events.states.get("E_CORE_LOG") == "active", "again")


# -- rows redrawn one at a time --------------------------------------------------------------------
@run
async def test_counts_redraw_only_the_rows_that_changed(sim, tmp_path) -> None:
    app = make_app(sim, tmp_path, health_every=3600.0, subscribe=["E_PIKE_BLOCKED", "E_CORE_LOG"])
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: all(app.events.states.get(e) == "active"
                                       for e in ("E_PIKE_BLOCKED", "E_CORE_LOG")), "subscribed")
        app.events.highlighted = app.events.names.index("E_CORE_LOG")
        await pilot.press("p")
        await settle(pilot, app)
        drawn: list[int] = []
        line = app.events.render_line
        app.events.render_line = lambda y: (drawn.append(y), line(y))[1]  # type: ignore[method-assign]
        sim.raise_event("E_PIKE_BLOCKED", {"ip": "10.0.0.1"})
        await until(pilot, lambda: app.events.counts.get("E_PIKE_BLOCKED", (0,))[0] == 1 and drawn, "drawn")
        await pilot.pause(0.3)                         # any other row would be drawn in the same frame
        del app.events.render_line
        row = app.events.shown.index("E_PIKE_BLOCKED") - int(app.events.scroll_y)
        assert drawn and set(drawn) == {row}, drawn    # that row only, not the 30-odd others


def test_events_list_bindings_have_ids_for_the_keymap() -> None:
    ids = {b.id for b in EventsList.BINDINGS}
    assert {"toggle", "search", "clear_search", "subscribe_pattern", "save_subscriptions"} <= ids
