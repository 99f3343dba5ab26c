"""Node specs: ``NAME=MI_TARGET`` (``--node``, a profile's ``nodes``) -> :class:`NodeSpec`.

No Textual and nothing of the app, so the config file's checks use it as the command line does.
A target is an http(s) URL, ``udp:HOST:PORT``, ``unix:PATH`` (mi_datagram on a UNIX socket) or
a FIFO path; a bad one is a :class:`NodeError` with a one-line message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from opensips.mi import OpenSIPSMI, OpenSIPSMIException

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
TARGET_HELP = "http(s)://HOST:PORT/mi, udp:HOST:PORT, unix:PATH or a FIFO path"
# MI kwargs a node takes from the common settings when its own transport uses them
COMMON_MI = {"http": ("timeout", "verify", "auth"), "datagram": ("timeout", "datagram_timeout", "datagram_buffer_size"),
             "fifo": ("timeout", "fifo_reply_dir")}


class NodeError(ValueError):
    """A node spec that cannot be used; the message is one line fit for stderr."""


@dataclass(frozen=True)
class NodeSpec:
    """One OpenSIPS to watch: its name, MI transport and ``OpenSIPSMI`` kwargs."""

    name: str
    conn: str
    mi: dict[str, Any] = field(default_factory=dict)
    target: str = ""            # as the operator wrote it (for messages)


def parse_target(target: str) -> tuple[str, dict[str, Any]]:
    """``(conn, OpenSIPSMI kwargs)`` for an MI target; NodeError when it is none of them."""
    text = target.strip()
    if re.match(r"^https?://", text, re.IGNORECASE):
        return "http", {"url": text}
    if text.lower().startswith("udp:"):
        host, sep, port = text[4:].rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise NodeError(f"{target!r}: a datagram target is udp:HOST:PORT")
        return "datagram", {"datagram_ip": host, "datagram_port": int(port)}
    if text.lower().startswith("unix:") and len(text) > 5:
        return "datagram", {"datagram_unix_socket": text[5:]}
    if "/" in text and "://" not in text:
        return "fifo", {"fifo_file": text}
    raise NodeError(f"{target!r}: not an MI target (use {TARGET_HELP})")


def parse_node(text: str, common: dict[str, Any] | None = None) -> NodeSpec:
    """``NAME=TARGET`` -> NodeSpec, its MI settings checked by building the client once.

    ``common``: the MI kwargs of the settings (``--timeout``, ``--insecure``...), of which a
    node keeps those its transport takes."""
    name, sep, target = text.partition("=")
    name = name.strip()
    if not sep or not target.strip():
        raise NodeError(f"{text!r}: a node is NAME=MI_TARGET (TARGET: {TARGET_HELP})")
    return make_spec(name, target, common)


def make_spec(name: str, target: str, common: dict[str, Any] | None = None) -> NodeSpec:
    if not NAME.match(name):
        raise NodeError(f"{name!r}: a node name is 1-32 letters, digits, '.', '_' or '-'")
    conn, mi = parse_target(target)
    kept = {k: v for k, v in (common or {}).items() if k in COMMON_MI[conn]}
    mi = {**kept, **mi}
    try:
        OpenSIPSMI(conn, **mi).close()
    except (OpenSIPSMIException, ValueError, TypeError) as exc:
        raise NodeError(f"{name}={target}: {exc}") from None
    return NodeSpec(name, conn, mi, target.strip())


def check_names(specs: list[NodeSpec]) -> None:
    """Two nodes with one name would merge in the log and the filter: refuse."""
    seen: set[str] = set()
    for spec in specs:
        if spec.name.lower() in seen:
            raise NodeError(f"{spec.name!r}: two nodes have this name")
        seen.add(spec.name.lower())


def describe_target(spec: NodeSpec) -> str:
    """A short name for a single node's target (the name of a fleet of one)."""
    mi = spec.mi
    if spec.conn == "http":
        return str(mi.get("url", "http"))
    if spec.conn == "datagram":
        if mi.get("datagram_unix_socket"):
            return f"unix:{mi['datagram_unix_socket']}"
        return f"udp:{mi.get('datagram_ip', '127.0.0.1')}:{mi.get('datagram_port', 8080)}"
    return str(mi.get("fifo_file", "fifo"))
