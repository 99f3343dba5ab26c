"""Regenerate the screenshots in this folder from the demo (simulated OpenSIPS + traffic).

    python screenshots/make_screenshots.py            # SVG, plus PNG when cairosvg is installed
    python screenshots/make_screenshots.py trace      # only the trace screen's

Writes main.svg (the main screen), detail.svg (the detail pane zoomed), help.svg (``?``),
statistics.svg (key ``2``), console.svg (key ``3``, the dialogs view) and trace.svg (key ``4``,
a call's ladder), each at 120x40, plus main-80x24.svg, statistics-80x24.svg, console-80x24.svg
(the dispatcher view) and trace-80x24.svg, and search-80x24.svg / pattern-80x24.svg (the events
list searched with a rate alert on; the subscribe-by-pattern prompt), and fleet-120x40.svg /
fleet-80x24.svg (key ``5``, five simulators, one stopped). Never edit the outputs by
hand. ``python screenshots/make_screenshots.py console`` makes only the console's (``trace``,
``fleet``: only those).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from opensips.sim import SimulatedOpenSIPS  # noqa: E402
from opensips_tui.__main__ import DEMO_SUBSCRIBE  # noqa: E402
from opensips_tui.app import OpenSIPSTUI  # noqa: E402
from opensips_tui.config import Settings  # noqa: E402



def _settings(sim: SimulatedOpenSIPS, **extra: Any) -> Settings:
    """Settings for an app on ``sim``'s HTTP MI, listening on loopback, plus ``extra``."""
    return Settings(conn="http", mi=sim.mi_kwargs("http"), event={"listen_ip": "127.0.0.1"}, **extra)

async def until(pilot, cond, tries: int = 200) -> None:
    for _ in range(tries):
        if cond():
            return
        await pilot.pause(0.05)
    raise SystemExit("timed out waiting for the demo")


def save(app: OpenSIPSTUI, name: str) -> Path:
    path = HERE / f"{name}.svg"
    app.save_screenshot(filename=path.name, path=str(HERE))
    return path


async def shoot(sim: SimulatedOpenSIPS, size: tuple[int, int], names: dict[str, str]) -> list[Path]:
    app = OpenSIPSTUI(_settings(sim, subscribe=[*DEMO_SUBSCRIBE, "E_CORE_THRESHOLD"], export_dir=HERE / "tmp"))
    out: list[Path] = []
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: all(app.events.states.get(e) == "active" for e in app.settings.subscribe))
        await until(pilot, lambda: app.feed.view("E_PIKE_BLOCKED").count >= 3
                    and app.feed.view("E_UL_CONTACT_INSERT").count >= 2, tries=400)
        await pilot.pause(2.0)
        app.events.highlighted = app.events.names.index("E_PIKE_BLOCKED")
        await pilot.pause(0.6)
        app.clear_notifications()
        out.append(save(app, names["main"]))
        if "detail" in names:
            app.events.highlighted = app.events.names.index("E_UL_CONTACT_INSERT")
            await pilot.pause(0.6)
            app.query_one("#payload").focus()
            await pilot.press("z")
            await pilot.pause(0.3)
            out.append(save(app, names["detail"]))
            await pilot.press("z")
        if "help" in names:
            app.events.focus()
            await pilot.press("question_mark")
            await pilot.pause(0.3)
            out.append(save(app, names["help"]))
    return out


async def shoot_search(sim: SimulatedOpenSIPS, size: tuple[int, int], names: dict[str, str]) -> list[Path]:
    """The events list searched by typing ("E_UL"), with a rate alert on, then ``+``'s prompt."""
    from opensips_tui.alerts import parse_rule

    app = OpenSIPSTUI(_settings(sim, subscribe=[*DEMO_SUBSCRIBE, "E_UL_CONTACT_DELETE"],
                                export_dir=HERE / "tmp", alerts=[parse_rule("E_UL_* > 1/s")]))
    out: list[Path] = []
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: all(app.events.states.get(e) == "active" for e in app.settings.subscribe))
        await until(pilot, lambda: app.events.alerting, tries=400)
        app.events.focus()
        await pilot.press("E", "_", "u", "l")
        await pilot.pause(1.2)
        app.clear_notifications()
        out.append(save(app, names["search"]))
        if "prompt" in names:
            await pilot.press("enter", "plus")
            await pilot.pause(0.3)
            app.clear_notifications()
            out.append(save(app, names["prompt"]))
    return out


async def shoot_statistics(sim: SimulatedOpenSIPS, size: tuple[int, int], name: str) -> Path:
    """The statistics screen (key 2) after a dozen polls, two statistics pinned."""
    app = OpenSIPSTUI(_settings(sim, export_dir=HERE / "tmp", pins_path=HERE / "tmp" / "pins.json"))
    async with app.run_test(size=size) as pilot:
        await pilot.press("2")
        screen = app.screen
        for stat in ("tm:2xx_transactions", "dialog:processed_dialogs"):
            if stat not in screen.pins:
                screen.pins.append(stat)
        await until(pilot, lambda: getattr(screen, "sample", None) is not None, tries=400)
        await pilot.pause(12.0)
        app.clear_notifications()
        return save(app, name)


async def shoot_trace(sim: SimulatedOpenSIPS, size: tuple[int, int], name: str) -> Path:
    """The trace screen (key 4): the ladder of the first completed call, cursor on its 200 OK."""
    app = OpenSIPSTUI(_settings(sim, export_dir=HERE / "tmp"))
    async with app.run_test(size=size) as pilot:
        await pilot.press("4")
        screen = app.screen
        done = lambda: [c for c in screen.store.calls() if c.state == "COMPLETED"]  # noqa: E731
        await until(pilot, lambda: len(done()) >= 1 and len(screen.store) >= 4, tries=600)
        await pilot.press("p")                  # stop tracing: the picture holds still
        await pilot.pause(1.0)
        screen.calls_list.select(done()[0].key)
        await pilot.pause(0.3)
        await pilot.press("enter", *["down"] * 6)
        await pilot.pause(0.5)
        app.clear_notifications()
        return save(app, name)


async def shoot_console(sim: SimulatedOpenSIPS, size: tuple[int, int], name: str, key: str) -> Path:
    """The MI console (key 3) showing one view (``key``) of the simulator's live traffic."""
    app = OpenSIPSTUI(_settings(sim, export_dir=HERE / "tmp", history_path=HERE / "tmp" / "history.jsonl"))
    async with app.run_test(size=size) as pilot:
        await pilot.press("3")
        screen = app.screen
        await until(pilot, lambda: screen.catalog is not None, tries=400)
        await pilot.pause(6.0)         # let the traffic make dialogs and registrations
        await pilot.press(key)
        await until(pilot, lambda: screen.table is not None and len(screen.table.rows) > 1, tries=400)
        await pilot.pause(1.0)
        app.clear_notifications()
        return save(app, name)


async def shoot_fleet(sims: list[SimulatedOpenSIPS], names: list[str], size: tuple[int, int], name: str) -> Path:
    """The fleet screen (key 5): five nodes at different rates, the fourth one stopped."""
    from opensips_tui.nodes import NodeSpec

    specs = [NodeSpec(node, "http", sim.mi_kwargs("http")) for node, sim in zip(names, sims)]
    settings = Settings(conn="http", nodes=specs, event={"listen_ip": "127.0.0.1"}, subscribe=list(DEMO_SUBSCRIBE),
                        export_dir=HERE / "tmp")
    app = OpenSIPSTUI(settings)
    async with app.run_test(size=size) as pilot:
        await pilot.press("5")
        screen = app.screen
        sending = lambda: [r for r in screen.rows if r.requests.text not in ("-", "0.0")]  # noqa: E731
        await until(pilot, lambda: len(sending()) == len(sims) - 1, tries=600)
        await pilot.pause(6.0)           # rates settle over the feed's 5 s window
        app.clear_notifications()
        return save(app, name)


def fleet_shots() -> list[Path]:
    names = ["edge1", "edge2", "registrar1", "registrar2", "gw-media1"]
    sims = [SimulatedOpenSIPS(rate=rate, seed=n, fifo=False, datagram_unix=False).start()
            for n, rate in enumerate((25, 30, 12, 20, 50))]
    sims[3].stop()                       # registrar2 is DOWN
    try:
        return [asyncio.run(shoot_fleet(sims, names, (120, 40), "fleet-120x40")),
                asyncio.run(shoot_fleet(sims, names, (80, 24), "fleet-80x24"))]
    finally:
        for sim in sims:
            sim.stop()


def to_png(svgs: list[Path]) -> None:
    try:
        import cairosvg
    except ImportError:
        print("cairosvg not installed: SVG only")
        return
    for svg in svgs:
        # The SVG asks for Fira Code from the web; cairosvg would fall back to a proportional
        # font and break box drawing (the ladder): use a monospace one that is installed.
        text = svg.read_text(encoding="utf-8").replace("Fira Code", "DejaVu Sans Mono")
        cairosvg.svg2png(bytestring=text.encode(), write_to=str(svg.with_suffix(".png")), output_width=1600)
        print(svg.with_suffix(".png"))


def trace_shots() -> list[Path]:
    with SimulatedOpenSIPS(rate=5, seed=7, fifo=False, datagram_unix=False, sip_rate=3) as sim:
        return [asyncio.run(shoot_trace(sim, (120, 40), "trace")),
                asyncio.run(shoot_trace(sim, (80, 24), "trace-80x24"))]


def main() -> None:
    if sys.argv[1:] == ["trace"]:
        svgs = trace_shots()
        for svg in svgs:
            print(svg)
        to_png(svgs)
        return
    if sys.argv[1:] == ["fleet"]:
        svgs = fleet_shots()
        to_png(svgs)
        return
    if sys.argv[1:] == ["console"]:
        with SimulatedOpenSIPS(rate=25, seed=7, fifo=False, datagram_unix=False) as sim:
            svgs = [asyncio.run(shoot_console(sim, (120, 40), "console", "f2")),
                    asyncio.run(shoot_console(sim, (80, 24), "console-80x24", "f4"))]
        to_png(svgs)
        return
    with SimulatedOpenSIPS(rate=25, seed=7, fifo=False, datagram_unix=False) as sim:
        svgs = asyncio.run(shoot(sim, (120, 40), {"main": "main", "detail": "detail", "help": "help"}))
        svgs += asyncio.run(shoot(sim, (80, 24), {"main": "main-80x24"}))
        svgs += asyncio.run(shoot_search(sim, (80, 24), {"search": "search-80x24", "prompt": "pattern-80x24"}))
        sim.set_rate(45)   # busier, so the loads cross diagnose's first threshold
        svgs.append(asyncio.run(shoot_statistics(sim, (120, 40), "statistics")))
        svgs.append(asyncio.run(shoot_statistics(sim, (80, 24), "statistics-80x24")))
        svgs.append(asyncio.run(shoot_console(sim, (120, 40), "console", "f2")))
        svgs.append(asyncio.run(shoot_console(sim, (80, 24), "console-80x24", "f4")))
    svgs += trace_shots()
    svgs += fleet_shots()
    for svg in svgs:
        print(svg)
    to_png(svgs)


if __name__ == "__main__":
    main()
