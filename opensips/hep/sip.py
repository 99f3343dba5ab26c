"""A tolerant summary of one SIP message: start line, Call-ID, From/To users and tags, CSeq.

The payload of a HEP packet is whatever OpenSIPS saw on the wire, so it may be truncated,
binary, or written by someone hostile. :func:`summarize` never raises, reads at most
:data:`MAX_HEAD` bytes of headers and keeps at most :data:`MAX_VALUE` characters of any value,
so a message costs a bounded amount of work and memory however it is built. It is not a SIP
validator: a field it cannot find is left empty and the message is still listed.

No Textual here: the TUI's trace screen and ``opensips-trace`` both use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["SipSummary", "summarize", "split_message", "user_of", "tag_of", "MAX_HEAD", "MAX_VALUE"]

MAX_HEAD = 16 * 1024     # bytes of start line + headers looked at (SIP over UDP fits in 64 KiB)
MAX_VALUE = 256          # characters kept of the start line and of each header value
MAX_HEADERS = 200        # header lines looked at

# RFC 3261 7.3.3 compact forms of the headers we read.
_COMPACT = {"i": "call-id", "f": "from", "t": "to"}
_WANTED = {"call-id", "from", "to", "cseq"}
_TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]{1,32}")
_STATUS = re.compile(r"SIP/2\.0[ \t]+(\d{3})(?:[ \t]+(.*))?$", re.IGNORECASE)
_REQUEST = re.compile(r"([A-Za-z0-9.!%*_+`'~-]{1,32})[ \t]+(\S+)[ \t]+SIP/2\.0$", re.IGNORECASE)
_TAG = re.compile(r";\s*tag\s*=\s*([^;,\s>]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SipSummary:
    """What the trace lists for one message. Empty strings stand for "not found"."""

    method: str = ""        # request method, "" for a reply
    uri: str = ""           # request-URI
    status: int = 0         # reply status code, 0 for a request
    reason: str = ""        # reply reason phrase
    call_id: str = ""
    from_uri: str = ""
    from_user: str = ""
    from_tag: str = ""
    to_uri: str = ""
    to_user: str = ""
    to_tag: str = ""
    cseq: int = -1          # CSeq number, -1 when missing or unreadable
    cseq_method: str = ""
    first_line: str = ""    # the start line as received (cut at MAX_VALUE)

    @property
    def is_request(self) -> bool:
        return bool(self.method)

    @property
    def is_reply(self) -> bool:
        return self.status > 0

    @property
    def label(self) -> str:
        """``INVITE`` for a request, ``200 OK`` for a reply, the start line for anything else."""
        if self.method:
            return self.method
        if self.status:
            return f"{self.status} {self.reason}".rstrip()
        return self.first_line


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def split_message(payload: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    """``(start line, [(name, value), ...], body)`` with folded lines joined.

    Tolerant: CRLF or bare LF, no blank line (all headers, no body), lines without a colon
    (kept as a name with an empty value). Headers are read from the first :data:`MAX_HEAD`
    bytes only, and at most :data:`MAX_HEADERS` of them; names and values are not cut here (the
    raw view shows them whole), ``summarize`` cuts what it keeps.
    """
    head, sep, body = payload[:MAX_HEAD].partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = payload[:MAX_HEAD].partition(b"\n\n")
    if sep:
        body = payload[len(head) + len(sep):]
    else:
        body = payload[len(head):]
    lines = _text(head).replace("\r\n", "\n").split("\n")
    start = lines[0].strip() if lines else ""
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:          # RFC 3261 7.3.1 line folding
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        if len(headers) >= MAX_HEADERS:
            break
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return start, headers, body


def _uri_of(value: str) -> str:
    """The URI inside a From/To value: between ``<>``, else up to the first ``;``."""
    lt = value.find("<")
    if lt >= 0:
        gt = value.find(">", lt)
        return value[lt + 1:gt if gt >= 0 else None].strip()
    return value.partition(";")[0].strip().strip('"')


def user_of(uri: str) -> str:
    """``sip:alice@host`` -> ``alice``; ``tel:+123;x`` -> ``+123``; no user part -> ``""``."""
    _, colon, rest = uri.partition(":")
    if not colon:
        rest = uri
    user, at, _ = rest.partition("@")
    if at:
        return user.partition(";")[0].partition(":")[0]
    if uri[:4].lower() == "tel:":
        return rest.partition(";")[0]
    return ""


def tag_of(value: str) -> str:
    """The ``tag`` parameter of a From/To value (outside the ``<>`` URI)."""
    gt = value.rfind(">")
    match = _TAG.search(value, gt + 1 if gt >= 0 else 0)
    return match.group(1) if match else ""


def _cut(value: str) -> str:
    return value[:MAX_VALUE]


def summarize(payload: bytes) -> SipSummary:
    """The summary of one SIP message; never raises (garbage gives an almost empty summary)."""
    try:
        return _summarize(payload)
    except Exception:  # noqa: BLE001 - defence in depth: wire input must never break a listener
        return SipSummary(first_line=_cut(_text(payload[:MAX_VALUE]).split("\n", 1)[0].strip()))


def _summarize(payload: bytes) -> SipSummary:
    start, headers, _ = split_message(payload)
    found: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        key = _COMPACT.get(key, key)
        if key in _WANTED and key not in found:            # the first one counts
            found[key] = value
            if len(found) == len(_WANTED):
                break
    method = uri = reason = ""
    status = 0
    status_match = _STATUS.match(start)
    if status_match:
        status = int(status_match.group(1))
        reason = (status_match.group(2) or "").strip()
    else:
        request = _REQUEST.match(start)
        if request:
            method, uri = request.group(1).upper(), request.group(2)
    cseq_num, cseq_method = -1, ""
    parts = found.get("cseq", "").split()
    if parts and parts[0].isdigit() and len(parts[0]) <= 10:
        cseq_num = int(parts[0])
    if len(parts) > 1 and _TOKEN.fullmatch(parts[1]):
        cseq_method = parts[1].upper()
    from_value, to_value = found.get("from", ""), found.get("to", "")
    from_uri, to_uri = _uri_of(from_value), _uri_of(to_value)
    return SipSummary(
        method=method, uri=_cut(uri), status=status, reason=_cut(reason),
        call_id=_cut(found.get("call-id", "")),
        from_uri=_cut(from_uri), from_user=_cut(user_of(from_uri)), from_tag=_cut(tag_of(from_value)),
        to_uri=_cut(to_uri), to_user=_cut(user_of(to_uri)), to_tag=_cut(tag_of(to_value)),
        cseq=cseq_num, cseq_method=cseq_method, first_line=_cut(start))
