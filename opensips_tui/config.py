"""Settings: defaults <- config file ``[tui]`` <- ``[profiles.NAME]`` <- command line.

The file is TOML at the platformdirs user config path (``--print-config-path``)::

    [tui]
    profile = "local"          # the profile used when --profile is not given
    ring_size = 10000          # events kept for scrolling back and export
    utc = false                # log times in UTC instead of local time
    refresh = 1                # seconds between redraws of counters and rates (the log: 10x as often)
    stats_interval = 1         # seconds between statistics polls (--interval)
    read_only = false          # the MI console refuses commands that change state (--read-only)
    subscribe = ["E_PIKE_BLOCKED"]
    alerts = ["E_PIKE_BLOCKED > 5/s"]   # rate alerts (opensips_tui.alerts): row and status bar red
    alert_bell = false         # ring the terminal bell when an alert starts
    record = "~/rec/opensips-%Y%m%d-%H%M%S.jsonl"   # --record: a new recording every start
    record_max_bytes = "64M"   # rotate past this size (--record-max-bytes), keeping
    record_backups = 4         # this many older files (--record-backups)
    amqp_url = "amqp://guest:guest@broker:5672/"    # --amqp: consume event_rabbitmq's messages
    amqp_exchange = "opensips" # --amqp-exchange; amqp_bindings = ["#"]; amqp_node_pattern; amqp_queue

    [profiles.local]
    mi = "fifo"                # fifo | http | datagram, plus that transport's kwargs:
    fifo_file = "/tmp/opensips_fifo"
    transport = "datagram"     # event transport: datagram | stream
    listen_ip = "127.0.0.1"
    refresh_interval = 60      # seconds between refreshes of a permanent subscription

    [keymap]                   # binding id = key(s), see the help screen (?)
    pause = "p,f5"

Exports and other history go under the platformdirs user data path.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import platformdirs

from opensips.mi import OpenSIPSMI, OpenSIPSMIException
from opensips.mi.options import MAX_SECONDS

from .alerts import Rule, RuleError, parse_rule
from .node_spec import NodeError, NodeSpec, check_names, make_spec, parse_node

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError:
        tomllib = None  # type: ignore[assignment]

APP_NAME = "opensips-tui"

# Keys of a profile that are OpenSIPSMI kwargs (the rest are ours).
MI_KEYS = ("timeout", "fifo_file", "fifo_file_fallback", "fifo_reply_dir", "url", "verify", "auth",
           "datagram_ip", "datagram_port", "datagram_unix_socket", "datagram_timeout",
           "datagram_buffer_size")
REFRESH_MIN, REFRESH_MAX = 0.1, 60.0   # --refresh bounds, seconds
STATS_INTERVAL_MIN, STATS_INTERVAL_MAX = 0.1, 3600.0   # --interval bounds (statistics polls), seconds
EVENT_KEYS = ("transport", "listen_ip", "listen_port", "socket_path", "refresh_interval")
RECORD_KEYS = ("record", "record_max_bytes", "record_backups")
AMQP_KEYS = ("amqp_url", "amqp_exchange", "amqp_bindings", "amqp_node_pattern", "amqp_queue")
PROFILE_KEYS = ("mi", *MI_KEYS, *EVENT_KEYS, "subscribe", "filter", "ring_size", "utc", "stats_interval",
                "alerts", "alert_bell", "read_only", *RECORD_KEYS, *AMQP_KEYS, "nodes")
TUI_KEYS = (*PROFILE_KEYS, "profile", "demo", "demo_rate", "demo_nodes", "refresh")


class ConfigError(Exception):
    """The config file cannot be read or holds a wrong value; the message says which."""


def config_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def data_dir() -> Path:
    return platformdirs.user_data_path(APP_NAME)


@dataclass
class Settings:
    conn: str = "fifo"
    mi: dict[str, Any] = field(default_factory=dict)       # OpenSIPSMI kwargs
    event: dict[str, Any] = field(default_factory=dict)    # transport / listen_ip / ...
    subscribe: list[str] = field(default_factory=list)
    filter: str = ""
    ring_size: int = 10_000
    utc: bool = False
    keymap: dict[str, str] = field(default_factory=dict)
    profile: str | None = None
    demo: bool = False
    demo_rate: float = 20.0
    refresh: float = 1.0       # seconds between redraws of the numbers; the log redraws 10x as often
    export_dir: Path = field(default_factory=data_dir)
    stats_interval: float = 1.0                             # seconds between statistics polls
    pins_path: Path = field(default_factory=lambda: data_dir() / "pins.json")
    alerts: list[Rule] = field(default_factory=list)        # rate alert rules
    alert_bell: bool = False                                # ring the bell when an alert starts
    # Where the settings came from, so "save subscriptions" (w) writes back to the same place:
    # the config file (None: defaults only) and the table of the profile in use.
    config_file: Path | None = None
    read_only: bool = False                                 # the MI console refuses state changes
    history_path: Path = field(default_factory=lambda: data_dir() / "console_history.jsonl")
    record: str | None = None          # --record FILE (strftime fields and ~ expanded at start)
    record_max_bytes: int = 64 << 20   # a recording's file rotates past this size
    record_backups: int = 4            # rotated files kept
    replay: Path | None = None         # --replay FILE: the recording is the app's only source
    speed: float = 1.0                 # --speed: replay pace (0: as fast as possible)
    amqp: dict[str, Any] = field(default_factory=dict)   # --amqp: url, exchange, bindings, node_pattern, queue
    mi_named: bool = False             # an MI transport was named (flags, environment or file)
    nodes: list[NodeSpec] = field(default_factory=list)     # a fleet (--node, a profile's nodes)
    demo_nodes: int = 1                                     # --demo-nodes: simulators in the demo


RING_MAX = 10_000_000       # events kept: more would not fit in memory (and overflows deque)
DEMO_RATE_MAX = 100_000.0
DEMO_NODES_MAX = 100
TOP_KEYS = ("tui", "profiles", "keymap")
# key -> its command-line flag, for messages about the command-line layer
FLAGS = {"ring_size": "--ring-size", "refresh": "--refresh", "listen_port": "--listen-port", "demo_rate": "--demo-rate",
         "stats_interval": "--interval", "listen_ip": "--listen-ip", "socket_path": "--socket-path", "timeout": "--timeout",
         "alerts": "--alert", "record_max_bytes": "--record-max-bytes", "record_backups": "--record-backups",
         "speed": "--speed", "amqp_url": "--amqp", "amqp_exchange": "--amqp-exchange",
         "amqp_bindings": "--amqp-binding", "amqp_node_pattern": "--amqp-node-pattern",
         "amqp_queue": "--amqp-queue", "nodes": "--node", "demo_nodes": "--demo-nodes"}
RECORD_MIN_BYTES, RECORD_MAX_BYTES = 1024, 1 << 40
SPEED_MAX = 10_000.0
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


class Layer:
    """One source of settings (a table of the file, or the command line), to word errors.

    ``lines`` is the file's text, so an error can name the line a key is on (TOML parsers do
    not say); ``table`` is the table's dotted name, e.g. ``profiles.edge1``.
    """

    def __init__(self, path: Path | None = None, table: str = "", lines: list[str] | None = None) -> None:
        self.path = path
        self.table = table
        self.lines = lines or []

    def error(self, key: str, problem: str, value: str | None = None) -> ConfigError:
        """An error about ``key`` (and, in a list, its item ``value``: its own line if found)."""
        if self.path is None:
            return ConfigError(f"{FLAGS.get(key, key)}: {problem}")
        line = self.line_of(key)
        if line and value is not None:
            line = self.line_of_item(line, value) or line
        where = f"{self.path}:{line}" if line else str(self.path)
        return ConfigError(f"{where}: {f'[{self.table}] ' if self.table else ''}{key}: {problem}")

    def line_of(self, key: str) -> int | None:
        """The 1-based line of ``key = ...`` inside this table (None when not found)."""
        current = ""
        pattern = re.compile(rf"""^\s*(["']?){re.escape(key)}\1\s*=""")
        table = re.compile(rf"""^\s*\[\s*(["']?){re.escape(key)}\1\s*[\].]""")
        for number, text in enumerate(self.lines, 1):
            if not self.table and table.match(text):
                return number  # a top-level table: its header
            header = re.match(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$", text)
            if header:
                current = ".".join(part.strip().strip("\"'") for part in header.group(1).split("."))
            elif current == self.table and pattern.match(text):
                return number
        return None


    def line_of_item(self, start: int, value: str) -> int | None:
        """The line, from ``start`` on, holding the string ``value`` (an item of a list)."""
        for number in range(start, len(self.lines) + 1):
            text = self.lines[number - 1]
            if number > start and re.match(r"""^\s*(\[|[A-Za-z0-9_.-]+\s*=|"[^"]*"\s*=|'[^']*'\s*=)""", text):
                return None  # the next key or table: the list ended
            if f'"{value}"' in text or f"'{value}'" in text:
                return number
        return None


def load_file(path: Path, required: bool = False) -> tuple[dict[str, Any], list[str]]:
    """The parsed TOML file and its lines; ``({}, [])`` when it does not exist and is not required."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise ConfigError(f"{path}: no such config file") from None
        return {}, []
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    if tomllib is None:
        raise ConfigError(f"reading {path} needs Python 3.11+ or the tomli package")
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return data, text.splitlines()


def _table(data: dict[str, Any], key: str, layer: Layer) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{layer.path}: [{key}] must be a table")
    return value


def _unknown(keys: Iterable[str], known: Iterable[str], layer: Layer) -> None:
    """A key we do not know is a typo until proven otherwise: say which, and what was meant."""
    known = list(known)
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(sorted(known))})"
            raise layer.error(key, f"unknown key{hint}")


def _names(value: Any, layer: Layer) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise layer.error("subscribe", "must be a list of event names")
    return [v.strip() for v in value if v.strip()]


def _rules(value: Any, layer: Layer) -> list[Rule]:
    """``alerts``: a list of rule strings, each parsed strictly (a bad one names its line)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise layer.error("alerts", f'must be a list of rules such as ["E_PIKE_BLOCKED > 5/s"], not {value!r}')
    rules = []
    for text in value:
        try:
            rules.append(parse_rule(text))
        except RuleError as exc:
            raise layer.error("alerts", str(exc), value=text) from None
    return rules


def _nodes(value: Any, layer: Layer, common: dict[str, Any]) -> list[NodeSpec]:
    """``nodes``: ``["edge1=http://10.0.0.5:8888/mi", ...]`` or tables ``{name, target}``
    (``--node`` gives the strings); each checked as the command line's are."""
    if not isinstance(value, list) or not value:
        raise layer.error("nodes", 'must be a list such as ["edge1=http://10.0.0.5:8888/mi"], '
                                   f"not {value!r}")
    specs = []
    for item in value:
        shown = item if isinstance(item, str) else str(item.get("name", "")) if isinstance(item, dict) else None
        try:
            if isinstance(item, str):
                specs.append(parse_node(item, common))
            elif isinstance(item, dict) and set(item) <= {"name", "target"} \
                    and all(isinstance(item.get(k), str) for k in ("name", "target")):
                specs.append(make_spec(item["name"].strip(), item["target"], common))
            else:
                raise NodeError(f"{item!r}: a node is \"NAME=MI_TARGET\" or {{name = \"...\", target = \"...\"}}")
        except NodeError as exc:
            raise layer.error("nodes", str(exc), value=shown) from None
    try:
        check_names(specs)
    except NodeError as exc:
        raise layer.error("nodes", str(exc)) from None
    return specs


def _number(key: str, value: Any, layer: Layer, low: float, high: float, integer: bool = False) -> Any:
    """``value`` if it is a number in ``[low, high]`` (an integer when asked); else a ConfigError.

    Booleans are not numbers here, and neither are strings from the file (``timeout = "abc"``).
    """
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not low <= value <= high:
        what = "an integer" if integer else "a number"
        raise layer.error(key, f"must be {what} from {_shown(low)} to {_shown(high)}, not {value!r}")
    return value


def _shown(number: float) -> str:
    return str(number) if isinstance(number, int) else f"{number:g}"


def parse_size(key: str, value: Any, layer: Layer) -> int:
    """A size in bytes: an integer, or a string with a K, M or G suffix (powers of 1024)."""
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMG]?)(?:i?B)?\s*", value, re.IGNORECASE)
        if m is None:
            raise layer.error(key, f"must be a size such as 65536, 512K, 64M or 1G, not {value!r}")
        value = int(float(m.group(1)) * _SIZE_UNITS[m.group(2).upper()])
    return _number(key, value, layer, RECORD_MIN_BYTES, RECORD_MAX_BYTES, integer=True)


def _regex(key: str, value: Any, layer: Layer) -> str:
    if not isinstance(value, str):
        raise layer.error(key, f"must be a regular expression, not {value!r}")
    try:
        re.compile(value)
    except re.error as exc:
        raise layer.error(key, f"bad regular expression {value!r}: {exc}") from None
    return value


def _check_file_value(key: str, value: Any, layer: Layer) -> None:
    """Types of the keys a file may hold (the command line's are typed by argparse)."""
    if key in ("timeout", "datagram_timeout", "refresh_interval"):
        _number(key, value, layer, 0.001, MAX_SECONDS)
    elif key in ("datagram_port", "listen_port"):
        _number(key, value, layer, 0 if key == "listen_port" else 1, 65535, integer=True)
    elif key == "datagram_buffer_size":
        _number(key, value, layer, 1, 1 << 30, integer=True)
    elif key in ("url", "fifo_file", "fifo_file_fallback", "fifo_reply_dir", "datagram_ip",
                 "datagram_unix_socket", "listen_ip", "socket_path", "filter", "profile", "record",
                 "amqp_url", "amqp_exchange", "amqp_queue"):
        if not isinstance(value, str):
            raise layer.error(key, f"must be a string, not {value!r}")
    elif key in ("utc", "demo", "alert_bell", "read_only"):
        if not isinstance(value, bool):
            raise layer.error(key, f"must be true or false, not {value!r}")
    elif key == "verify" and not isinstance(value, (bool, str)):
        raise layer.error(key, f"must be true, false or a CA bundle path, not {value!r}")
    elif key == "auth" and not (isinstance(value, list) and len(value) == 2
                                and all(isinstance(v, str) for v in value)):
        raise layer.error(key, f'must be ["user", "password"], not {value!r}')


def _apply(settings: Settings, values: dict[str, Any], layer: Layer) -> None:
    """Copy the keys of one layer (file table or command line) onto ``settings``.

    A layer naming another MI transport drops the MI kwargs of the layers below it.
    """
    conn = values.get("conn") or values.get("mi")
    if conn is not None:
        if conn not in ("fifo", "http", "datagram"):
            raise layer.error("mi", f"must be fifo, http or datagram, not {conn!r}")
        if conn != settings.conn:
            settings.mi = {}
        settings.conn = conn
        settings.mi_named = True
    for key, value in values.items():
        if value is None or key in ("mi", "conn", "nodes"):
            continue
        if layer.path is not None:
            _check_file_value(key, value, layer)
        if key in MI_KEYS:
            settings.mi[key] = value
        elif key in EVENT_KEYS:
            if key == "transport" and value not in ("datagram", "stream"):
                raise layer.error(key, f"must be datagram or stream, not {value!r}")
            if key == "refresh_interval":
                _number(key, value, layer, 0.001, MAX_SECONDS)
            if key == "listen_port":
                _number(key, value, layer, 0, 65535, integer=True)
            settings.event[key] = value
        elif key == "subscribe":
            settings.subscribe = _names(value, layer)
        elif key == "filter":
            settings.filter = str(value)
        elif key == "ring_size":
            settings.ring_size = _number(key, value, layer, 1, RING_MAX, integer=True)
        elif key == "refresh":
            settings.refresh = float(_number(key, value, layer, REFRESH_MIN, REFRESH_MAX))
        elif key == "stats_interval":
            settings.stats_interval = float(_number(key, value, layer, STATS_INTERVAL_MIN, STATS_INTERVAL_MAX))
        elif key == "demo_rate":
            settings.demo_rate = float(_number(key, value, layer, 0.001, DEMO_RATE_MAX))
        elif key in ("utc", "demo", "alert_bell", "read_only"):
            setattr(settings, key, bool(value))
        elif key == "alerts":
            settings.alerts = _rules(value, layer)
        elif key == "demo_nodes":
            settings.demo_nodes = _number(key, value, layer, 1, DEMO_NODES_MAX, integer=True)
        elif key == "profile":
            settings.profile = value
        elif key in RECORD_KEYS or key in AMQP_KEYS or key in ("replay", "speed"):
            _apply_source(settings, key, value, layer)
    if values.get("nodes") is not None:  # after the layer's MI keys: nodes take its timeout
        settings.nodes = _nodes(values["nodes"], layer, settings.mi)


def _apply_source(settings: Settings, key: str, value: Any, layer: Layer) -> None:
    """Keys of the recording, the replay and the RabbitMQ source."""
    if key == "record":
        settings.record = str(value)
    elif key == "record_max_bytes":
        settings.record_max_bytes = parse_size(key, value, layer)
    elif key == "record_backups":
        settings.record_backups = _number(key, value, layer, 0, 1000, integer=True)
    elif key == "replay":
        settings.replay = Path(value)
    elif key == "speed":
        settings.speed = float(_number(key, value, layer, 0, SPEED_MAX))
    elif key == "amqp_bindings":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise layer.error(key, f'must be a list of binding keys such as ["#"], not {value!r}')
        settings.amqp["bindings"] = list(value)
    elif key == "amqp_node_pattern":
        settings.amqp["node_pattern"] = _regex(key, value, layer)
    else:   # amqp_url, amqp_exchange, amqp_queue
        settings.amqp[key.removeprefix("amqp_")] = str(value)


def _check_mi(settings: Settings, layers: str) -> None:
    """Build the MI client once: values no single key check catches (a bad URL) fail here."""
    try:
        OpenSIPSMI(settings.conn, **settings.mi).close()
    except (OpenSIPSMIException, ValueError, TypeError) as exc:
        raise ConfigError(f"MI settings ({layers}): {exc}") from None


def resolve(cli: dict[str, Any], path: Path | None = None, required: bool = False) -> Settings:
    """Settings from the config file at ``path`` (default location when None) and ``cli`` (the
    command-line values, ``None`` for flags not given). ``required``: the file must exist
    (``--config`` named it); the default location may be absent.
    """
    path = path or config_path()
    data, lines = load_file(path, required)
    _unknown(data, TOP_KEYS, Layer(path, "", lines))
    settings = Settings()
    tui_layer = Layer(path, "tui", lines)
    tui = _table(data, "tui", tui_layer)
    _unknown(tui, TUI_KEYS, tui_layer)
    _apply(settings, tui, tui_layer)
    profiles = _table(data, "profiles", Layer(path, "profiles", lines))
    name = cli.get("profile") or tui.get("profile")
    if name:
        if name not in profiles:
            known = ", ".join(sorted(profiles)) or "none defined"
            raise ConfigError(f"{path}: no profile {name!r} ({known})")
        layer = Layer(path, f"profiles.{name}", lines)
        table = _table(profiles, name, layer)
        _unknown(table, PROFILE_KEYS, layer)
        _apply(settings, table, layer)
        settings.profile = name
    keymap = _table(data, "keymap", Layer(path, "keymap", lines))
    settings.keymap = {str(k): str(v) for k, v in keymap.items()}
    _apply(settings, cli, Layer())
    settings.config_file = path
    _check_mi(settings, f"{path} and the command line" if data else "command line")
    _check_fleet_listener(settings)
    return settings


def _check_fleet_listener(settings: Settings) -> None:
    """Each node of a fleet has its own listener: one fixed port or socket cannot serve them."""
    for key in ("listen_port", "socket_path"):
        if len(settings.nodes) > 1 and settings.event.get(key):
            raise ConfigError(f"{FLAGS[key]}: each of the {len(settings.nodes)} nodes has its own "
                              "listener, so one fixed address cannot serve them (leave it out)")
