"""MI connection flags shared by the command-line tools (and reusable by the TUI).

Flags follow opensips-cli habits: ``-t/--type fifo|http|datagram``, ``-i/--ip``,
``-p/--port``, ``-u/--unix-socket``, ``-f/--fifo-file``, ``--fifo-reply-dir``,
``--url``, ``--timeout``, plus every flag of the PyPI ``opensips`` 0.1.11 tools
(``-fb``, ``-fd``, ``-ds/--datagram-socket``, ``-dt``, ``-db``, ``--env-file``).
Each flag falls back to an ``OPENSIPS_MI_*`` environment variable, then to the
connector's own default. When ``--type`` is not given anywhere, it is inferred
from the flags used (a URL means http, an ip/port/unix socket means datagram),
else fifo. ``-t http`` with ``-i``/``-p`` and no URL means ``http://IP:PORT/mi``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any, NoReturn

# flag dest -> environment variable
ENV = {
    "mi_type": "OPENSIPS_MI_TYPE",
    "mi_url": "OPENSIPS_MI_URL",
    "mi_ip": "OPENSIPS_MI_IP",
    "mi_port": "OPENSIPS_MI_PORT",
    "mi_unix_socket": "OPENSIPS_MI_UNIX_SOCKET",
    "mi_fifo_file": "OPENSIPS_MI_FIFO_FILE",
    "mi_fifo_fallback": "OPENSIPS_MI_FIFO_FALLBACK",
    "mi_fifo_reply_dir": "OPENSIPS_MI_FIFO_REPLY_DIR",
    "mi_timeout": "OPENSIPS_MI_TIMEOUT",
    "mi_user": "OPENSIPS_MI_USER",
    "mi_password": "OPENSIPS_MI_PASSWORD",
}
# older names still read
ENV_ALIASES = {"mi_fifo_file": ("OPENSIPS_MI_FIFO",)}
MI_TYPES = ("fifo", "http", "datagram")


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``prog: error: ... (see --help)``, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def add_mi_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the MI transport flags (all default to None so the environment can fill them)."""
    g = parser.add_argument_group("MI connection (flags override OPENSIPS_MI_* environment variables)")
    g.add_argument("-t", "--type", dest="mi_type", choices=MI_TYPES, type=str.lower,
                   help="MI transport [OPENSIPS_MI_TYPE; default: inferred from the flags, else fifo]")
    g.add_argument("--url", dest="mi_url", metavar="URL",
                   help="mi_http URL, e.g. http://127.0.0.1:8888/mi [OPENSIPS_MI_URL]")
    g.add_argument("-i", "--ip", dest="mi_ip", metavar="IP",
                   help="mi_datagram IP [OPENSIPS_MI_IP; default 127.0.0.1]")
    g.add_argument("-p", "--port", dest="mi_port", metavar="PORT",
                   help="mi_datagram UDP port [OPENSIPS_MI_PORT; default 8080]")
    g.add_argument("-u", "-ds", "--unix-socket", "--datagram-socket", dest="mi_unix_socket", metavar="PATH",
                   help="mi_datagram UNIX socket path [OPENSIPS_MI_UNIX_SOCKET]")
    g.add_argument("-dt", "--datagram-timeout", dest="mi_datagram_timeout", metavar="SECONDS",
                   help="seconds to wait for a mi_datagram reply (default: --timeout)")
    g.add_argument("-db", "--datagram-buffer-size", dest="mi_datagram_buffer_size", metavar="BYTES",
                   help="largest mi_datagram reply read (default 65535)")
    g.add_argument("-f", "--fifo-file", dest="mi_fifo_file", metavar="PATH",
                   help="mi_fifo FIFO [OPENSIPS_MI_FIFO_FILE; default /var/run/opensips/opensips_fifo]")
    g.add_argument("-fb", "--fifo-fallback", dest="mi_fifo_fallback", metavar="PATH",
                   help="FIFO tried when --fifo-file is missing [OPENSIPS_MI_FIFO_FALLBACK; default /tmp/opensips_fifo]")
    g.add_argument("-fd", "--fifo-reply-dir", dest="mi_fifo_reply_dir", metavar="DIR",
                   help="where reply FIFOs are created [OPENSIPS_MI_FIFO_REPLY_DIR; default /tmp]")
    g.add_argument("--user", dest="mi_user", metavar="NAME", help="mi_http basic-auth user [OPENSIPS_MI_USER]")
    g.add_argument("--password", dest="mi_password", metavar="SECRET",
                   help="mi_http basic-auth password [OPENSIPS_MI_PASSWORD]")
    g.add_argument("--insecure", dest="mi_insecure", action="store_true",
                   help="do not verify the mi_http TLS certificate")
    g.add_argument("--timeout", dest="mi_timeout", metavar="SECONDS",
                   help="seconds one MI call may take [OPENSIPS_MI_TIMEOUT; default 5]")
    g.add_argument("--env-file", dest="env_file", metavar="PATH", default=".env",
                   help="KEY=VALUE lines read into the environment first (default .env, if it exists)")


# flag (dest) -> OpenSIPSMI kwarg, copied when given, per transport
_KWARGS: dict[str, tuple[tuple[str, str], ...]] = {
    "http": (("mi_url", "url"),),
    "datagram": (("mi_unix_socket", "datagram_unix_socket"), ("mi_ip", "datagram_ip"),
                 ("mi_port", "datagram_port"), ("mi_datagram_timeout", "datagram_timeout"),
                 ("mi_datagram_buffer_size", "datagram_buffer_size")),
    "fifo": (("mi_fifo_file", "fifo_file"), ("mi_fifo_fallback", "fifo_file_fallback"),
             ("mi_fifo_reply_dir", "fifo_reply_dir")),
}


def _value(args: argparse.Namespace, dest: str, environ: dict[str, str]) -> Any:
    value = getattr(args, dest, None)
    if (value is None or value == "") and dest in ENV:
        for name in (ENV[dest], *ENV_ALIASES.get(dest, ())):
            value = environ.get(name) or None
            if value is not None:
                break
    return value


def read_env_file(path: str, environ: dict[str, str]) -> None:
    """Put the ``KEY=VALUE`` lines of ``path`` into ``environ`` (as 0.1.11's ``--env-file``).

    A missing file is ignored; blank lines and ``#`` comments are skipped;
    one pair of matching quotes around a value is removed. A line without
    ``=`` raises ValueError naming the line.
    """
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        key, sep, value = text.partition("=")
        key = key.strip()
        if text.startswith("export "):
            key = key[len("export "):].strip()
        if not sep or not key:
            raise ValueError(f"{path}:{number}: not KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        environ[key] = value


def mi_settings(args: argparse.Namespace, environ: dict[str, str] | None = None) -> tuple[str, dict[str, Any]]:
    """``(conn, kwargs)`` for ``OpenSIPSMI(conn, **kwargs)`` from parsed flags and the environment."""
    env = dict(os.environ if environ is None else environ)
    if getattr(args, "env_file", None):
        read_env_file(args.env_file, env)
    get = lambda dest: _value(args, dest, env)  # noqa: E731
    conn = get("mi_type")
    if conn is not None:
        conn = str(conn).strip().lower()
        if conn not in MI_TYPES:
            raise ValueError(f"unknown MI type {conn!r} (from {ENV['mi_type']}): use fifo, http or datagram")
    else:
        if get("mi_url"):
            conn = "http"
        elif get("mi_unix_socket") or get("mi_ip") or get("mi_port"):
            conn = "datagram"
        else:
            conn = "fifo"
    kwargs: dict[str, Any] = {}
    if get("mi_timeout") is not None:
        kwargs["timeout"] = get("mi_timeout")
    for dest, kwarg in _KWARGS.get(conn, _KWARGS["fifo"]):
        value = get(dest)
        if value:
            kwargs[kwarg] = value
    if conn == "http":
        if "url" not in kwargs and (get("mi_ip") or get("mi_port")):
            kwargs["url"] = f"http://{get('mi_ip') or '127.0.0.1'}:{get('mi_port') or 8080}/mi"
        if get("mi_user"):
            kwargs["auth"] = (get("mi_user"), get("mi_password") or "")
        if getattr(args, "mi_insecure", False):
            kwargs["verify"] = False
    return conn, kwargs


def mi_from_args(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Any:
    """An ``OpenSIPSMI`` built from the flags; raises ValueError / OpenSIPSMIException on bad values."""
    from opensips.mi import OpenSIPSMI

    conn, kwargs = mi_settings(args, environ)
    return OpenSIPSMI(conn, **kwargs)


def fail(prog: str, message: str, status: int = 1) -> int:
    """Print one error line on stderr and return the exit status (no traceback, ever)."""
    message = " ".join(str(message).split()) or "unknown error"
    try:
        sys.stderr.write(f"{prog}: error: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return status


_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


def complete(parser: argparse.ArgumentParser, what: str, listings: dict[str, Any]) -> str:
    """The ``-bc WHAT`` answer of the 0.1.11 tools, for their bash completion file.

    ``listings[what]()`` gives names from OpenSIPS (MI commands, events); if
    OpenSIPS cannot be asked, the option strings instead. ``params`` gives the
    option strings; any other WHAT, an option name without dashes, its choices.
    Never an error: completion must not print one.
    """
    # argparse (stdlib) has no public list of its actions
    actions = parser._actions  # noqa: SLF001
    options = [o for action in actions for o in action.option_strings]
    if what in listings:
        try:
            names = listings[what]()
        except Exception:  # noqa: BLE001 - no OpenSIPS: complete the options instead
            return " ".join(options)
        if not isinstance(names, list):
            return " ".join(options)
        # names come from OpenSIPS: only plain identifiers reach the shell and the terminal
        return " ".join(n for n in names if isinstance(n, str) and _NAME.fullmatch(n))
    if what == "params":
        return " ".join(options)
    wanted = {"-" + what, "--" + what}
    for action in actions:
        if wanted & set(action.option_strings):
            return " ".join(str(c) for c in action.choices or ())
    return ""
