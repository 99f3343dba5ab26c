"""The raw SIP of one traced message, headers highlighted, everything escaped.

SIP text is the most hostile text the console shows: anyone who can send OpenSIPS a request
chooses its headers. Each line goes through :func:`opensips_tui.safe.clean` (control
characters, escape sequences and bidi overrides become visible ``\\x..`` escapes) into a
``rich.text.Text``, which is never parsed as markup. At most :data:`MAX_LINES` lines of at most
:data:`MAX_LINE` characters are shown, so a 64 KiB message of one line costs a bounded draw.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from opensips.hep.calls import TraceMessage

from ..feed import format_time
from ..safe import clean

MAX_LINES = 400
MAX_LINE = 1000


def sip_text(message: TraceMessage | None, utc: bool = False) -> Text:
    """The message as display text: a summary line, then its start line, headers and body."""
    out = Text(no_wrap=False, end="")
    if message is None:
        out.append("No message selected.", style="dim")
        return out
    packet = message.packet
    out.append(f"{format_time(message.time, utc)}  {clean(message.src)} -> {clean(message.dst)}  "
               f"{message.transport}  {len(packet.payload)} bytes", style="dim")
    if message.node:
        out.append(f"  node {clean(message.node, 40)}", style="dim")
    out.append("\n")
    lines = packet.payload.decode("utf-8", "replace").split("\n")
    in_body = False
    for n, raw in enumerate(lines[:MAX_LINES]):
        line = clean(raw[:-1] if raw.endswith("\r") else raw, MAX_LINE)
        if n == 0:
            out.append(line, style="bold")
        elif in_body:
            out.append(line, style="italic")
        elif not line:
            in_body = True
        else:
            name, colon, value = line.partition(":")
            if colon and name and " " not in name.strip() and not name[0].isspace():
                out.append(name + colon, style="bold cyan")
                out.append(value)
            else:
                out.append(line)
        out.append("\n")
    if len(lines) > MAX_LINES:
        out.append(f"… {len(lines) - MAX_LINES} more lines", style="dim")
    return out


class SipMessageView(VerticalScroll):
    """Scrolls the raw text of the message the ladder or the messages list points at."""

    ALLOW_MAXIMIZE = True      # z zooms it (containers do not by default)

    DEFAULT_CSS = """
    SipMessageView { height: 1fr; background: $surface; }
    SipMessageView > Static { width: 1fr; }
    """

    def __init__(self, utc: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.utc = utc
        self.message: TraceMessage | None = None

    def compose(self) -> ComposeResult:
        yield Static(sip_text(None), id="sip-text")

    def show(self, message: TraceMessage | None) -> None:
        if message is self.message:
            return
        self.message = message
        self.query_one("#sip-text", Static).update(sip_text(message, self.utc))
        self.scroll_home(animate=False)
