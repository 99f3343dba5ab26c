"""The Textual-free cores of issue 10: alert rules, the sliding rate, the config edit, the
config checks of ``alerts`` / ``alert_bell`` (one line, exit 2, file and line named)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from opensips_tui.alerts import CLEAR_RATIO, Alerts, RuleError, parse_rule
from opensips_tui.config import ConfigError, resolve
from opensips_tui.profile_file import ProfileWriteError, edit, write_key
from opensips_tui.stats import EventStats


# -- rules ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, event, op, threshold", [
    ("E_PIKE_BLOCKED > 5/s", "E_PIKE_BLOCKED", ">", 5.0),
    ("E_UL_*>=120/min", "E_UL_*", ">=", 2.0),
    ("  E_CORE_LOG > 0/s ", "E_CORE_LOG", ">", 0.0),
    ("E_X > 1.5 / sec", "E_X", ">", 1.5),
])
def test_rules_parse(text, event, op, threshold) -> None:
    rule = parse_rule(text)
    assert (rule.event, rule.op, rule.threshold, rule.node) == (event, op, threshold, None)
    assert rule.limit == f"{op} {threshold * (60 if 'min' in text else 1):g}/{'min' if 'min' in text else 's'}"


@pytest.mark.parametrize("text, says", [
    ("E_X < 1/s", "only > and >="),
    ("E_X == 1/s", "only > and >="),
    ("E_X > 5", "say the unit"),
    ("E_X > 5/h", "unknown unit"),
    ("E_X > abc/s", "not a number"),
    ("E_X > nan/s", "0 or more"),
    ("E_X > -1/s", "0 or more"),
    ("E_X > 1e300/s", "cannot be reached"),
    ("E_X >= 0/s", "never clears"),
    ("E_PIKE_BLOCKED", "is not EVENT > NUMBER/s"),
    ("", "is not EVENT > NUMBER/s"),
    ("E_X\x1b[2J > 1/s", "not an event name"),
    (5, "a rule is a string"),
])
def test_bad_rules_say_why(text, says) -> None:
    with pytest.raises(RuleError, match=None) as info:
        parse_rule(text)  # type: ignore[arg-type]
    assert says in str(info.value)


def test_alerts_fire_hold_and_clear_with_hysteresis_per_event_and_node() -> None:
    alerts = Alerts([parse_rule("E_PIKE_BLOCKED > 5/s"), parse_rule("E_UL_* >= 60/min")])
    changes = alerts.update({"E_PIKE_BLOCKED": 5.0, "E_UL_CONTACT_INSERT": 1.0, "E_CORE_LOG": 99.0})
    assert [f.event for f in changes.started] == ["E_UL_CONTACT_INSERT"]   # 5 is not > 5; 1 >= 1
    changes = alerts.update({"E_PIKE_BLOCKED": 5.1, "E_UL_CONTACT_INSERT": 0.9})
    assert [f.event for f in changes.started] == ["E_PIKE_BLOCKED"] and not changes.cleared
    assert alerts.events() == {"E_PIKE_BLOCKED", "E_UL_CONTACT_INSERT"}
    assert alerts.summary() == "ALERT E_PIKE_BLOCKED 5.1/s > 5/s (+1)"
    changes = alerts.update({"E_PIKE_BLOCKED": 5 * CLEAR_RATIO + 0.01, "E_UL_CONTACT_INSERT": 0.8})
    assert not changes.started and not changes.cleared                    # between 80 % and 100 %
    changes = alerts.update({"E_PIKE_BLOCKED": 5 * CLEAR_RATIO})           # and E_UL_... gone: 0/s
    assert sorted(changes.cleared) == [(None, "E_PIKE_BLOCKED"), (None, "E_UL_CONTACT_INSERT")]
    assert alerts.summary() == "" and not alerts.events()
    # a fleet: the same event on two nodes is two alerts
    alerts.update({"E_PIKE_BLOCKED": 9.0}, node="edge1")
    alerts.update({"E_PIKE_BLOCKED": 1.0}, node="edge2")
    assert alerts.events("edge1") == {"E_PIKE_BLOCKED"} and alerts.events("edge2") == set()
    assert alerts.summary() == "ALERT edge1: E_PIKE_BLOCKED 9.0/s > 5/s"


def test_any_event_rule_and_per_minute_limits() -> None:
    alerts = Alerts([parse_rule("E_CORE_LOG > 0/s"), parse_rule("E_DLG_* > 30/min")])
    changes = alerts.update({"E_CORE_LOG": 0.2, "E_DLG_STATE_CHANGED": 0.6})
    assert {f.event for f in changes.started} == {"E_CORE_LOG", "E_DLG_STATE_CHANGED"}
    assert alerts.firing[(None, "E_DLG_STATE_CHANGED")].describe() == "E_DLG_STATE_CHANGED 36.0/min > 30/min"
    assert alerts.update({"E_CORE_LOG": 0.0, "E_DLG_STATE_CHANGED": 0.41}).cleared == [(None, "E_CORE_LOG")]


# -- the rate -----------------------------------------------------------------------------------
@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.3, 0.5, 0.95])
def test_steady_rate_reads_true_at_any_point_of_the_second(fraction) -> None:
    """10 events/s for a minute: the old 5 s window read 8.0-10.0 depending on the moment."""
    stats = EventStats("E_X")
    now = 160.0 + fraction
    for i in range(700):
        ts = 100.0 + i / 10 + 0.01
        if ts <= now:
            stats.add(ts)
    assert stats.rate(now) == pytest.approx(10.0, abs=0.21)   # one event of 5 s: the granularity


def test_rate_forgets_a_burst_after_the_window() -> None:
    stats = EventStats("E_X")
    for _ in range(50):
        stats.add(100.2)
    assert stats.rate(100.5) == pytest.approx(10.0)
    assert stats.rate(105.1) == pytest.approx(50 * 0.9 / 5)    # the burst's second is 90 % in
    assert stats.rate(106.0) == 0.0


# -- the config ------------------------------------------------------------------------------------
def write(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_alerts_and_bell_from_tui_and_profile(tmp_path) -> None:
    path = write(tmp_path, '[tui]\nalerts = ["E_PIKE_BLOCKED > 5/s"]\nalert_bell = true\n'
                           '[profiles.edge]\nalerts = ["E_UL_* > 2/s", "E_CORE_LOG > 0/s"]\n')
    settings = resolve({}, path, required=True)
    assert [r.text for r in settings.alerts] == ["E_PIKE_BLOCKED > 5/s"] and settings.alert_bell
    settings = resolve({"profile": "edge"}, path, required=True)
    assert [r.event for r in settings.alerts] == ["E_UL_*", "E_CORE_LOG"]
    assert settings.config_file == path and settings.profile == "edge"
    settings = resolve({"profile": "edge", "alerts": ["E_X > 1/s"]}, path, required=True)
    assert [r.event for r in settings.alerts] == ["E_X"]


@pytest.mark.parametrize("text, message", [
    ('[tui]\nalerts = [\n  "E_A > 1/s",\n  "E_B > x/s",\n]\n', ":4: [tui] alerts: 'E_B > x/s': 'x' is not a number"),
    ('[tui]\nalert_bell = "yes"\n', ":2: [tui] alert_bell: must be true or false, not 'yes'"),
    ('[tui]\nalerts = [1]\n', ":2: [tui] alerts: must be a list of rules"),
    ('[profiles.p]\nalerts = "E_A < 1/s"\n', ":2: [profiles.p] alerts: 'E_A < 1/s': only > and >="),
    ('[tui]\nalert = ["E_A > 1/s"]\n', ":2: [tui] alert: unknown key (did you mean alerts?)"),
])
def test_bad_alert_config_exits_2_naming_file_line_and_key(tmp_path, text, message) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        resolve({"profile": "p" if "profiles.p" in text else None}, path, required=True)
    assert str(info.value) == f"{path}{message}" or str(info.value).startswith(f"{path}{message}")
    run = subprocess.run([sys.executable, "-m", "opensips_tui", "--config", str(path)]
                         + (["--profile", "p"] if "profiles.p" in text else []),
                         capture_output=True, text=True, timeout=60, env={**os.environ, "TERM": "dumb"})
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and message in run.stderr and "Traceback" not in run.stderr


def test_bad_alert_flag_exits_2() -> None:
    run = subprocess.run([sys.executable, "-m", "opensips_tui", "--alert", "E_X > 5"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and run.stderr == "opensips-tui: --alert: 'E_X > 5': say the unit, e.g. 5/s or 5/min\n"


# -- writing the profile back ----------------------------------------------------------------------
def test_edit_keeps_everything_else_byte_for_byte() -> None:
    text = ('# top comment\n[tui]\nprofile = "a"  # keep me\n\n[profiles.a]\nmi = "http"\n'
            'subscribe = "E_X"\n\n# a comment about b\n[profiles."b c"]\nsubscribe = ["E_Y"]\n')
    new = edit(text, ("profiles", "a"), "subscribe", ["E_PIKE_BLOCKED", 'E_"Q"'])
    assert new == text.replace('subscribe = "E_X"', 'subscribe = ["E_PIKE_BLOCKED", "E_\\"Q\\""]')
    added = edit(text, ("profiles", "b c"), "alert_bell", True)
    assert added == text + "alert_bell = true\n"
    inserted = edit(text, ("tui",), "subscribe", [])
    assert inserted == text.replace('# keep me\n', '# keep me\nsubscribe = []\n')
    appended = edit(text, ("profiles", "new"), "subscribe", ["E_Z"])
    assert appended == text + '\n[profiles.new]\nsubscribe = ["E_Z"]\n'
    assert edit("", ("tui",), "subscribe", ["E_Z"]) == '[tui]\nsubscribe = ["E_Z"]\n'


@pytest.mark.parametrize("text, says", [
    ("[tui\n", "not valid TOML"),
    ('profiles = { a = { subscribe = ["E_X"] } }\n', "not written as a table header"),
    ('[profiles]\na.subscribe = ["E_X"]\n', "not written as a table header"),
    ('[profiles.a]\nnote = """\n[profiles.b]\n"""\n', "laid out in a way this edit cannot follow"),
])
def test_edit_refuses_what_it_cannot_follow(text, says) -> None:
    with pytest.raises(ProfileWriteError) as info:
        edit(text, ("profiles", "a"), "subscribe", ["E_Y"])
    assert says in str(info.value)


def test_write_is_atomic_keeps_mode_and_follows_a_symlink(tmp_path) -> None:
    real = tmp_path / "real.toml"
    real.write_text("[tui]\nring_size = 5\n")
    real.chmod(0o600)
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    write_key(link, ("tui",), "subscribe", ["E_A"])
    assert link.is_symlink() and real.read_text() == '[tui]\nring_size = 5\nsubscribe = ["E_A"]\n'
    assert real.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "real.toml"]


def test_write_error_is_one_typed_error(tmp_path) -> None:
    """A directory nobody can create files in (even root cannot in /proc): a ProfileWriteError."""
    path = tmp_path / "config.toml"
    path.write_text("[tui]\n")
    with pytest.raises(ProfileWriteError, match="cannot write /proc/"):
        write_key(__import__("pathlib").Path("/proc/opensips-tui-config.toml"), ("tui",), "subscribe", ["E_A"])
    with pytest.raises(ProfileWriteError, match="cannot read"):
        write_key(tmp_path, ("tui",), "subscribe", ["E_A"])   # a directory, not a file
    assert path.read_text() == "[tui]\n"
