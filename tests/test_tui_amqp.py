"""``--amqp``: the monitor fed by a real RabbitMQ broker, as OpenSIPS's event_rabbitmq feeds it.

The messages are the captured ones (tests/fixtures/opensips-wire/4.0.1/rabbitmq/): their
bodies published with every property unset, under the routing keys a fleet's opensips.cfg
would give them (``exchange=opensips?edge1``). One broker serves the module (tests/broker.py).
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest

from opensips.event.decode import decode_notification
from opensips.record import Recording
from opensips_tui.__main__ import close_sources, open_sources
from opensips_tui.app import OpenSIPSTUI
from opensips_tui.config import Settings
from opensips_tui.feed import TOTAL, Feed
from opensips_tui.widgets import LogView
from tests.broker import broker, free_port  # noqa: F401 (broker: a fixture)
from tests.test_event_amqp import Publisher, _captured
from tests.test_tui_record import refused
from tests.tui_pilot import live, run, until

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


@pytest.fixture
def publish(broker) -> Iterator[Publisher]:
    pub = Publisher(broker.url)
    yield pub
    pub.close()


def amqp_app(url: str, tmp_path: Path, exchange: str = "opensips", **settings) -> OpenSIPSTUI:
    """The monitor as ``--amqp URL --amqp-exchange opensips`` (and ``settings``) starts it."""
    config = Settings(amqp={"url": url, "exchange": exchange}, export_dir=tmp_path / "exports", **settings)
    feed = Feed(config.ring_size)
    from opensips_tui.backend import Backend

    return OpenSIPSTUI(config, Backend(config, feed), sources=open_sources(config, feed))


def bodies() -> list[bytes]:
    return [m["body_raw"].encode() for m in _captured()]


def amqp_up(app: OpenSIPSTUI) -> bool:
    return "AMQP up" in app.status.content().plain


@SIZES
@run
async def test_captured_messages_reach_the_log_with_their_node(broker, publish, tmp_path, size) -> None:
    app = amqp_app(broker.url, tmp_path, record=str(tmp_path / "fleet.jsonl"))   # and --record
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: amqp_up(app), "AMQP up")
        for body in bodies():                       # the fleet's opensips.cfg: exchange=opensips?NODE
            publish("opensips", "edge1", body)
            publish("opensips", "edge2.pike", body)
        total = 2 * len(bodies())
        await until(pilot, lambda: app.feed.summary()[TOTAL][0] == total, f"{total} notifications")
        methods = Counter(decode_notification(b)["method"] for b in bodies())
        assert {n: c for n, (c, _) in app.feed.summary().items() if n != TOTAL} == \
            {m: 2 * c for m, c in methods.items()}
        assert {n: c for n, (c, _) in app.feed.node_summary().items()} == \
            {"edge1": len(bodies()), "edge2": len(bodies())}
        lines = app.query_one("#log", LogView).lines
        await until(pilot, lambda: len(lines) == total, "every notification in the log")
        assert sum(" edge1 " in line for line in lines) == sum(" edge2 " in line for line in lines) == len(bodies())
        assert any("E_MY_CUSTOM unnamed-a, unnamed-b" in line for line in lines)
        assert sorted(app.events.names) == sorted(methods)     # the list fills from what arrives
        await pilot.press("2")                      # no MI target named: no MI at all
        await until(pilot, lambda: any("Statistics screen: unavailable with --amqp alone" in n.message
                                       for n in app._notifications), "statistics unavailable")
        await pilot.press("space")
        await until(pilot, lambda: any("subscriptions are made in opensips.cfg" in n.message
                                       for n in app._notifications), "no subscription over MI")
        assert "DOWN" not in app.status.content().plain and "listen" not in app.status.content().plain
    close_sources(app.sources, app.backend)
    recorded = Recording(tmp_path / "fleet.jsonl")
    assert Counter(r.node for r in recorded) == {"edge1": len(bodies()), "edge2": len(bodies())}
    assert [r.notification for r in recorded if r.node == "edge1"] == [decode_notification(b) for b in bodies()]


@run
async def test_with_an_mi_target_statistics_use_it_and_events_come_from_the_broker(broker, publish, sim,
                                                                                    tmp_path) -> None:
    app = amqp_app(broker.url, tmp_path, conn="http", mi=sim.mi_kwargs("http"), mi_named=True,
                   event={"listen_ip": "127.0.0.1"}, subscribe=["E_PIKE_BLOCKED"])
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: amqp_up(app) and app.status.health is True, "AMQP and MI up")
        await until(pilot, lambda: "E_PIKE_BLOCKED" in app.events.names, "the events list from MI")
        assert any("--subscribe is ignored with --amqp" in n.message for n in app._notifications)
        app.events.highlighted = app.events.names.index("E_PIKE_BLOCKED")
        await pilot.press("space")
        await until(pilot, lambda: any("subscriptions are made in opensips.cfg" in n.message
                                       for n in app._notifications), "no subscription over MI")
        assert live(sim) == []
        publish("opensips", "registrar-3.E_MY_CUSTOM", bodies()[0])
        await until(pilot, lambda: app.feed.node_summary().get("registrar-3", (0,))[0] == 1, "the broker's one")
        await until(pilot, lambda: "E_MY_CUSTOM" in app.events.names, "a name events_list lacks, listed")
        await pilot.press("2")
        await until(pilot, lambda: type(app.screen).__name__ == "StatisticsScreen", "the statistics screen")
    close_sources(app.sources, app.backend)
    assert live(sim) == []


@run
async def test_a_broker_down_at_start_is_a_status_not_an_exit(tmp_path) -> None:
    app = amqp_app(f"amqp://guest:guest@127.0.0.1:{free_port()}/", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "AMQP DOWN" in app.status.content().plain, "AMQP DOWN")
        assert any("cannot reach the broker" in n.message and n.severity == "error" for n in app._notifications)
        await pilot.press("d")
        assert any("RabbitMQ amqp:amqp://guest@127.0.0.1" in n.message for n in app._notifications)
    close_sources(app.sources, app.backend)


@pytest.mark.parametrize("argv, needle", [
    (["--amqp", "http://broker/", "--amqp-exchange", "x"], "must start with amqp:// or amqps://"),
    (["--amqp", "amqp://broker/"], "give an exchange to bind to, or a queue"),
    (["--amqp", "amqp://broker/", "--amqp-exchange", "x", "--amqp-node-pattern", "("],
     "--amqp-node-pattern: bad regular expression '('"),
], ids=["url", "no-exchange", "pattern"])
def test_bad_amqp_flags_exit_2_with_one_line(tmp_path, capsys, argv, needle) -> None:
    assert needle in refused(tmp_path, capsys, argv)


def test_without_pika_one_line_says_what_to_install(tmp_path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    code = ("import sys; sys.modules['pika'] = None\n"            # as if the [amqp] extra were not installed
            "from opensips_tui.__main__ import main\n"
            f"sys.exit(main(['--config', {str(config)!r}, '--amqp', 'amqp://b/', '--amqp-exchange', 'x']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == "opensips-tui: --amqp: the RabbitMQ source needs pika: pip install 'opensips[amqp]'\n"


@run
async def test_the_broker_restarting_is_shown_down_then_up(broker, tmp_path) -> None:
    """Last in the module: it restarts the module's broker."""
    app = amqp_app(broker.url, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: amqp_up(app), "AMQP up")
        broker.stop_broker()
        await until(pilot, lambda: "AMQP DOWN" in app.status.content().plain, "AMQP DOWN")
        broker.start()
        await until(pilot, lambda: amqp_up(app), "AMQP up again", tries=1200)
        pub = Publisher(broker.url)
        try:
            pub("opensips", "edge9", bodies()[0])
        finally:
            pub.close()
        await until(pilot, lambda: app.feed.node_summary().get("edge9", (0,))[0] == 1, "a notification after")
    close_sources(app.sources, app.backend)
