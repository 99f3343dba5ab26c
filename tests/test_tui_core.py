"""The TUI's Textual-free core: safe text, filter, counters, feed batching, config."""

from __future__ import annotations

import json
import threading

import pytest
from rich.text import Text

from opensips_tui.__main__ import build_parser, main, settings_from
from opensips_tui.config import ConfigError, resolve
from opensips_tui.export import dumps
from opensips_tui.feed import TOTAL, Feed, format_time
from opensips_tui.filters import LogFilter
from opensips_tui.safe import clean, compact, text
from opensips_tui.stats import DISTINCT_MAX, EventStats
from tests.wire import sample

HOSTILE = [
    "[bold red]x[/]",
    "[link=https://evil.example]click[/link]",
    "\x1b[2J\x1b[H",
    "\x1b]8;;https://evil.example\x07osc\x1b]8;;\x07",
    "abc\u202edcba",
    "line1\nline2\rline3",
    "nul\x00bel\x07del\x7fc1\x9b",
    "zw\u200bsep\u2028iso\u2066",
]


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("payload", HOSTILE)
def test_clean_leaves_no_control_or_bidi_characters(payload: str) -> None:
    out = clean(payload)
    assert "\n" not in out and "\r" not in out and "\x1b" not in out
    assert all(ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F for c in out)
    assert not any(c in out for c in "\u202e\u2066\u200b\u2028")


def test_clean_escapes_are_visible_and_markup_is_kept_literally() -> None:
    assert clean("\x1b[2J") == "\\x1b[2J"
    assert clean("a\nb\tc") == "a\\nb\\tc"
    assert clean("x\u202ey") == "x\\u202ey"
    assert clean("[bold red]x[/]") == "[bold red]x[/]"
    assert clean({"a": [1, 2]}) == '{"a":[1,2]}'
    assert clean("abcdef", limit=4) == "abc…"


def test_text_is_never_parsed_as_markup() -> None:
    shown = text("[bold red]x[/] [link=http://e]y[/link]")
    assert isinstance(shown, Text)
    assert shown.plain == "[bold red]x[/] [link=http://e]y[/link]"
    assert shown.spans == []


def test_compact_params_from_a_real_notification() -> None:
    notif = sample("4.0.1", "events", "E_PIKE_BLOCKED_udp")["notifications"]["udp"][0]["json"]
    assert compact(notif["params"]) == "ip=127.0.0.2"
    assert compact(["a", "b"]) == "a, b"
    assert compact({"": "a", "n": 4}) == "a n=4"
    assert compact(None) == ""
    assert "\n" not in compact({"extra": "INVITE sip:x SIP/2.0\r\nVia: y\r\n"})


def test_filter_words_and_exclusions() -> None:
    assert LogFilter("").matches("anything")
    f = LogFilter("pike 127.0.0.2")
    assert f.matches("E_PIKE_BLOCKED ip=127.0.0.2")
    assert not f.matches("E_PIKE_BLOCKED ip=10.0.0.1")
    assert not LogFilter("-threshold").matches("E_CORE_THRESHOLD source=x")
    assert LogFilter("-threshold").matches("E_CORE_LOG message=y")
    assert LogFilter("-").matches("a - b")


def test_stats_count_rate_history_and_distinct_values() -> None:
    stats = EventStats("E_PIKE_BLOCKED")
    for i in range(10):
        stats.add(100.0 + i / 10, {"ip": f"10.0.0.{i % 2}", "n": i})
    stats.add(102.5, {"ip": "10.0.0.9"})
    view = stats.view(102.9)
    assert view.count == 11
    assert view.first_seen == 100.0 and view.last_seen == 102.5
    assert view.history[-3:] == [10, 0, 1]
    assert view.rate == pytest.approx(11 / 5)
    assert view.distinct["ip"] == [("10.0.0.0", 5), ("10.0.0.1", 5), ("10.0.0.9", 1)]
    assert len(view.distinct["n"]) == 10
    for i in range(DISTINCT_MAX + 1):
        stats.add(103.0, {"n": 100 + i})
    assert "n" not in stats.view(103.0).distinct  # high cardinality: no longer listed
    assert stats.history(200.0) == [0] * 60       # history forgets old seconds


def test_feed_batches_are_bounded_but_counts_exact() -> None:
    clock = Clock()
    feed = Feed(ring_size=1000, log_batch=50, clock=clock)
    for i in range(5000):
        feed.push("E_X", {"jsonrpc": "2.0", "method": "E_X", "params": {"i": i}})
    batch = feed.drain()
    assert batch.arrived == 5000 and batch.matched == 5000
    assert len(batch.entries) == 50 and batch.skipped == 4950
    assert batch.entries[-1].params == {"i": 4999}  # the newest are kept
    assert feed.summary()["E_X"][0] == 5000
    assert feed.summary()[TOTAL][0] == 5000
    assert len(feed.entries()) == 1000               # the ring is bounded
    assert feed.drain().arrived == 0


def test_feed_filter_state_notices_and_clear() -> None:
    feed = Feed(ring_size=100, clock=Clock())
    feed.push("E_A", {"method": "E_A", "params": {"ip": "1.1.1.1"}})
    feed.push("E_B", {"method": "E_B", "params": {"ip": "2.2.2.2"}})
    assert [e.event for e in feed.set_filter(LogFilter("2.2.2"))] == ["E_B"]
    feed.push("E_A", {"method": "E_A"})
    feed.push("E_B", {"method": "E_B", "params": ["2.2.2.2"]})
    feed.push("E_B", None)
    feed.set_state("E_A", "retrying")
    batch = feed.drain()
    assert batch.arrived == 4 and [e.event for e in batch.entries] == ["E_B"]
    assert batch.states == {"E_A": "retrying"} and batch.notices[0][0] == "E_B"
    assert batch.touched == {"E_A", "E_B"}
    feed.clear()
    assert feed.entries() == [] and feed.view("E_B").count == 2


def test_feed_survives_concurrent_pushers() -> None:
    feed = Feed(ring_size=500, log_batch=100)
    stop = threading.Event()

    def pusher(name: str) -> None:
        for i in range(2000):
            feed.push(name, {"method": name, "params": {"i": i}})

    threads = [threading.Thread(target=pusher, args=(f"E_{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    drained = 0
    while any(t.is_alive() for t in threads):
        drained += feed.drain().arrived
        feed.summary()
        feed.view("E_1")
    for t in threads:
        t.join(timeout=10)
    stop.set()
    drained += feed.drain().arrived
    assert drained == 8000 and feed.summary()[TOTAL][0] == 8000


def test_entry_line_and_export_record() -> None:
    feed = Feed(clock=Clock(0.5))
    feed.push("E_X", {"method": "E_X", "params": {"m": "[red]\x1b[2Jx"}})
    entry = feed.entries()[0]
    assert entry.line(utc=True) == "00:00:00.500 E_X m=[red]\\x1b[2Jx"
    assert json.loads(dumps(entry))["notification"]["params"]["m"] == "[red]\x1b[2Jx"
    assert format_time(3661.0, utc=True, millis=False) == "01:01:01"


def test_config_layers(tmp_path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[tui]\nprofile = "lab"\nring_size = 50\nsubscribe = ["E_A"]\n'
        '[profiles.lab]\nmi = "http"\nurl = "http://10.0.0.1:8888/mi"\nlisten_ip = "10.0.0.2"\n'
        'refresh_interval = 30\n[keymap]\npause = "f5"\n'
    )
    s = resolve({"subscribe": "E_B,E_C", "filter": None}, path)
    assert (s.conn, s.mi, s.event) == ("http", {"url": "http://10.0.0.1:8888/mi"},
                                       {"listen_ip": "10.0.0.2", "refresh_interval": 30})
    assert s.subscribe == ["E_B", "E_C"] and s.ring_size == 50 and s.keymap == {"pause": "f5"}
    assert s.profile == "lab"
    assert resolve({}, tmp_path / "missing.toml").conn == "fifo"


@pytest.mark.parametrize("content, needle", [
    ("[tui\n", "config.toml"),
    ('[tui]\nring_size = "big"\n', "ring_size"),
    ('[tui]\nprofile = "nope"\n', "no profile"),
    ('[profiles.x]\nmi = "carrier-pigeon"\n', None),
    ('[profiles.x]\ntransport = "quic"\n', None),
    ('[profiles.x]\nrefresh_interval = 0\n', None),
])
def test_config_errors_are_typed_and_say_why(tmp_path, content: str, needle: str | None) -> None:
    path = tmp_path / "config.toml"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        resolve({"profile": "x"} if needle is None else {}, path)
    assert needle is None or needle in str(info.value)


def test_command_line_to_settings(tmp_path, capsys) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[profiles.lab]\nmi = "fifo"\nfifo_file = "/run/x"\n[tui]\nprofile = "lab"\n')
    parse = build_parser().parse_args
    s = settings_from(parse(["--config", str(path), "--url", "http://10.0.0.1:8888/mi",
                             "--transport", "stream", "--listen-port", "9999",
                             "--subscribe", "E_A,E_B", "--filter", "pike", "--ring-size", "50"]), {})
    assert (s.conn, s.mi) == ("http", {"url": "http://10.0.0.1:8888/mi"})
    assert s.event == {"transport": "stream", "listen_port": 9999}
    assert (s.subscribe, s.filter, s.ring_size) == (["E_A", "E_B"], "pike", 50)
    s = settings_from(parse(["--config", str(path)]), {})          # no MI flag: the profile wins
    assert (s.conn, s.mi) == ("fifo", {"fifo_file": "/run/x"})
    s = settings_from(parse(["--config", str(path)]), {"OPENSIPS_MI_PORT": "8089"})
    assert (s.conn, s.mi) == ("datagram", {"datagram_port": "8089"})
    assert main(["--print-config-path", "--config", str(path)]) == 0
    assert capsys.readouterr().out.strip() == str(path)
    path.write_text("[tui\n")
    assert main(["--config", str(path)]) == 2
    assert "config.toml" in capsys.readouterr().err


def test_status_bar_keeps_states_and_rate_before_a_long_down_reason() -> None:
    from opensips_tui.widgets import StatusBar

    bar = StatusBar("http://127.0.0.1:8888/mi")
    bar.health, bar.listen, bar.rate = False, "udp:127.0.0.1:40000", 0.0
    bar.health_detail = "cannot connect to http://127.0.0.1:8888/mi ([Errno 111] Connection refused): is OpenSIPS running?"
    bar.states = {"E_A": "retrying", "E_B": "active"}
    plain = bar.content().plain
    head = plain[:80]  # what an 80-column terminal shows
    assert "DOWN" in head and "1 retrying" in head and "ev/s" in head
    assert plain.index("listen udp:127.0.0.1:40000") < plain.index("cannot connect")


def test_feed_wakes_the_ui_once_per_drain_on_the_empty_to_non_empty_edge() -> None:
    """A flood costs one wake-up per drain, not one per event; nothing arriving wakes nothing."""
    feed = Feed(ring_size=100)
    wakes: list[str] = []
    feed.wake = lambda: wakes.append(threading.current_thread().name)
    feed.push("E_A", {"params": {}})
    assert wakes == ["MainThread"]
    pushers = [threading.Thread(target=lambda: [feed.push("E_A", {"params": {}}) for _ in range(2000)],
                                name=f"listener-{i}") for i in range(4)]
    for t in pushers:
        t.start()
    for t in pushers:
        t.join()
    assert len(wakes) == 1  # still not drained: no second wake-up
    assert feed.drain().arrived == 8001
    assert feed.drain().arrived == 0 and len(wakes) == 1  # draining an empty feed wakes nothing
    feed.set_state("E_A", "retrying")      # a state change is something to show, too
    assert len(wakes) == 2
    feed.push("E_A", None)                 # a listener notice: same edge
    assert len(wakes) == 2
    batch = feed.drain()
    assert batch.states == {"E_A": "retrying"} and len(batch.notices) == 1
    feed.push("E_A", None)                 # rate-limited notice: nothing new to show, no wake-up
    assert len(wakes) == 2 and feed.drain().notices == []


def test_refresh_from_config_and_command_line(tmp_path, capsys) -> None:
    """``--refresh SECONDS`` / ``refresh``: how often numbers redraw (the log 10x as often)."""
    path = tmp_path / "config.toml"
    path.write_text("[tui]\nrefresh = 2\n")
    parse = build_parser().parse_args
    assert settings_from(parse(["--config", str(path)]), {}).refresh == 2.0
    assert settings_from(parse(["--config", str(path), "--refresh", "0.25"]), {}).refresh == 0.25
    assert resolve({}, tmp_path / "missing.toml").refresh == 1.0
    for bad in ("0", '"fast"', "1000", "true"):
        path.write_text(f"[tui]\nrefresh = {bad}\n")
        with pytest.raises(ConfigError, match="refresh: must be a number from 0.1 to 60"):
            resolve({}, path)
    path.write_text("")
    for bad in ("0", "nan", "-1"):
        assert main(["--config", str(path), "--refresh", bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--refresh: must be" in err
