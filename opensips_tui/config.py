"""Settings: defaults <- config file ``[tui]`` <- ``[profiles.NAME]`` <- command line.

The file is TOML at the platformdirs user config path (``--print-config-path``)::

    [tui]
    profile = "local"          # the profile used when --profile is not given
    ring_size = 10000          # events kept for scrolling back and export
    utc = false                # log times in UTC instead of local time
    refresh = 0.5              # seconds between redraws of counters and rates (the log: 5x as often)
    subscribe = ["E_PIKE_BLOCKED"]

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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

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
EVENT_KEYS = ("transport", "listen_ip", "listen_port", "socket_path", "refresh_interval")


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
    refresh: float = 0.5       # seconds between redraws of the numbers; the log redraws 5x as often
    export_dir: Path = field(default_factory=data_dir)


def load_file(path: Path) -> dict[str, Any]:
    """The parsed TOML file, ``{}`` when it does not exist."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    if tomllib is None:
        raise ConfigError(f"reading {path} needs Python 3.11+ or the tomli package")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return data


def _table(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{key}] must be a table")
    return value


def _names(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: subscribe must be a list of event names")
    return [v.strip() for v in value if v.strip()]


def _apply(settings: Settings, values: dict[str, Any], where: str) -> None:
    """Copy the known keys of one layer (file table or command line) onto ``settings``.

    A layer naming another MI transport drops the MI kwargs of the layers below it.
    """
    conn = values.get("conn") or values.get("mi")
    if conn is not None:
        if conn not in ("fifo", "http", "datagram"):
            raise ConfigError(f"{where}: mi must be fifo, http or datagram, not {conn!r}")
        if conn != settings.conn:
            settings.mi = {}
        settings.conn = conn
    for key, value in values.items():
        if value is None or key in ("mi", "conn"):
            continue
        if key in MI_KEYS:
            settings.mi[key] = value
        elif key in EVENT_KEYS:
            if key == "transport" and value not in ("datagram", "stream"):
                raise ConfigError(f"{where}: transport must be datagram or stream, not {value!r}")
            if key == "refresh_interval" and (isinstance(value, bool) or not isinstance(value, (int, float))
                                              or value <= 0):
                raise ConfigError(f"{where}: refresh_interval must be a positive number of seconds, "
                                  f"not {value!r}")
            settings.event[key] = value
        elif key == "subscribe":
            settings.subscribe = _names(value, where)
        elif key == "filter":
            settings.filter = str(value)
        elif key == "ring_size":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{where}: ring_size must be a positive integer, not {value!r}")
            settings.ring_size = value
        elif key == "utc":
            settings.utc = bool(value)
        elif key == "refresh":
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not REFRESH_MIN <= value <= REFRESH_MAX:
                raise ConfigError(f"{where}: refresh must be a number of seconds from {REFRESH_MIN:g} "
                                  f"to {REFRESH_MAX:g}, not {value!r}")
            settings.refresh = float(value)
        elif key in ("demo", "demo_rate", "profile"):
            setattr(settings, key, value)


def resolve(cli: dict[str, Any], path: Path | None = None) -> Settings:
    """Settings from the config file at ``path`` (default location when None) and ``cli``.

    ``cli`` holds the command-line values, ``None`` for flags not given.
    """
    path = path or config_path()
    data = load_file(path)
    where = str(path)
    settings = Settings()
    tui = _table(data, "tui", where)
    _apply(settings, tui, f"{where} [tui]")
    profiles = _table(data, "profiles", where)
    name = cli.get("profile") or tui.get("profile")
    if name:
        if name not in profiles:
            known = ", ".join(sorted(profiles)) or "none defined"
            raise ConfigError(f"{where}: no profile {name!r} ({known})")
        _apply(settings, _table(profiles, name, where), f"{where} [profiles.{name}]")
        settings.profile = name
    keymap = _table(data, "keymap", where)
    settings.keymap = {str(k): str(v) for k, v in keymap.items()}
    _apply(settings, cli, "command line")
    return settings
