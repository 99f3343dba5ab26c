"""SIP traffic as a proxy sees it, for the simulator's tracer: REGISTERs, OPTIONS and whole calls.

Each generated item is a list of ``SipMessage``: the messages a real
OpenSIPS 4.0.1 proxy handles for it, in the order the captured tracer sent
them (``hep/udp_scope_t_register_options_call``): a call is the INVITE in,
100 out, INVITE out, 100/180 in, 180 out, 200 in and out, ACK in and out,
then BYE in and out and its 200 in and out. ``delay`` is the time since the
previous message of the same item. Some endpoints use "TLS" (port 5061,
tracer proto 22), which only a tracer can show: capture tools see ciphertext.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from .traffic import AGENTS, DOMAIN, USERS

PROXY = ("127.0.0.1", 5060)
PROXY_TLS = ("127.0.0.1", 5061)
_CONTACT = re.compile(r"sips?:(?:([^@;>]+)@)?([^:;>]+)(?::(\d+))?")


def _user_of(uri: str) -> str:
    m = _CONTACT.match(uri or "")
    return m.group(1) or "" if m else ""


def _host_of(uri: str, default: tuple[str, int]) -> tuple[str, int]:
    m = _CONTACT.match(uri or "")
    return (m.group(2), int(m.group(3) or 5060)) if m else default


@dataclass(frozen=True)
class SipMessage:
    """One message the proxy received (``incoming``) or sent, with its addresses and tracer proto."""

    delay: float
    src: tuple[str, int]
    dst: tuple[str, int]
    proto: int            # 17 UDP, 22 TLS, as the tracer reports them
    payload: bytes
    call_id: str
    is_request: bool
    method: str           # the request's, or the CSeq method of a reply
    caller: str
    callee: str

    @property
    def incoming(self) -> bool:
        return self.dst in (PROXY, PROXY_TLS)


class SipGenerator:
    """Reproducible SIP items (``seed``); ``hostile`` puts nasty but legal text in display names and agents."""

    def __init__(self, seed: int | None = None, hostile: bool = False) -> None:
        self.rng = random.Random(seed)
        self.hostile = hostile
        self.count = 0

    def _host(self) -> str:
        r = self.rng
        return f"10.{r.randrange(0, 4)}.{r.randrange(0, 256)}.{r.randrange(1, 255)}"

    def _tag(self) -> str:
        return f"{self.rng.getrandbits(32):08x}"

    def _branch(self) -> str:
        return f"z9hG4bK{self.rng.getrandbits(48):012x}"

    def _user(self) -> str:
        return self.rng.choice(USERS) + str(self.rng.randrange(100, 130))

    def _agent(self) -> str:
        if self.hostile and self.rng.random() < 0.2:
            return self.rng.choice(["Evil[bold]Phone[/bold]", "\x1b[31mred\x1b[0m", "\u202eenohP"])
        return self.rng.choice(AGENTS)

    def next_item(self) -> list[SipMessage]:
        """The next REGISTER, OPTIONS or call (in proportions a small PBX shows)."""
        self.count += 1
        kind = self.rng.choices(["register", "options", "call"], [4, 2, 3])[0]
        return getattr(self, kind)()

    # -- items ---------------------------------------------------------------------------
    def register(self) -> list[SipMessage]:
        user, host, tls = self._user(), self._host(), self.rng.random() < 0.25
        ua = (host, 5061 if tls else 5060)
        proxy = PROXY_TLS if tls else PROXY
        transport = "TLS" if tls else "UDP"
        call_id = f"{self.rng.getrandbits(64):016x}@{host}"
        tag = self._tag()
        via = f"SIP/2.0/{transport} {host}:{ua[1]};rport;branch={self._branch()}"
        common = (f"Via: {via}\r\nFrom: <sip:{user}@{DOMAIN}>;tag={tag}\r\nTo: <sip:{user}@{DOMAIN}>")
        req = (f"REGISTER sip:{DOMAIN} SIP/2.0\r\n{common}\r\nMax-Forwards: 70\r\nCall-ID: {call_id}\r\n"
               f"CSeq: 1 REGISTER\r\nContact: <sip:{user}@{host}:{ua[1]};transport={transport.lower()}>\r\n"
               f"Expires: 3600\r\nUser-Agent: {self._agent()}\r\nContent-Length: 0\r\n\r\n")
        ok = (f"SIP/2.0 200 OK\r\n{common};tag={self._tag()}\r\nCall-ID: {call_id}\r\nCSeq: 1 REGISTER\r\n"
              f"Contact: <sip:{user}@{host}:{ua[1]};transport={transport.lower()}>;expires=3600\r\n"
              f"Server: OpenSIPS (4.0.1 (x86_64/linux))\r\nContent-Length: 0\r\n\r\n")
        proto = 22 if tls else 17
        return [self._msg(0.0, ua, proxy, proto, req, call_id, "REGISTER", user, user),
                self._msg(0.002, proxy, ua, proto, ok, call_id, "REGISTER", user, user)]

    def options(self) -> list[SipMessage]:
        host = self._host()
        ua = (host, 5060)
        call_id = f"{self.rng.getrandbits(64):016x}@{host}"
        head = (f"Via: SIP/2.0/UDP {host}:5060;branch={self._branch()}\r\nFrom: <sip:ping@{host}>;tag={self._tag()}"
                f"\r\nTo: <sip:{DOMAIN}>")
        req = (f"OPTIONS sip:{DOMAIN} SIP/2.0\r\n{head}\r\nMax-Forwards: 70\r\nCall-ID: {call_id}\r\n"
               f"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
        ok = (f"SIP/2.0 200 OK\r\n{head};tag={self._tag()}\r\nCall-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\n"
              f"Content-Length: 0\r\n\r\n")
        return [self._msg(0.0, ua, PROXY, 17, req, call_id, "OPTIONS", "ping", ""),
                self._msg(0.001, PROXY, ua, 17, ok, call_id, "OPTIONS", "ping", "")]

    def call(self, duration: float | None = None, dialog: Any = None) -> list[SipMessage]:
        """A whole call through the proxy (Record-Route), answered, then hung up by the caller.

        ``dialog`` (a ``dialogs.Dialog``) makes it that call: its Call-ID, users, tags and
        contacts. Every random value is drawn either way, so a generator seeded alike gives
        the same branches for the same dialog in each of its states.
        """
        r = self.rng
        caller, callee = self._user(), self._user()
        tls = r.random() < 0.3
        a_host, b_host = self._host(), self._host()
        a = (a_host, 5061 if tls else 5060)
        b = (b_host, 5060)
        pa = PROXY_TLS if tls else PROXY
        pa_proto, pb_proto = (22 if tls else 17), 17
        ta = "TLS" if tls else "UDP"
        call_id = f"{r.getrandbits(64):016x}@{a_host}"
        ftag, ttag = self._tag(), self._tag()
        if dialog is not None:
            caller, callee = _user_of(dialog.from_uri) or caller, _user_of(dialog.to_uri) or callee
            a_host, a_port = _host_of(dialog.caller_contact, (a_host, a[1]))
            b_host = _host_of(dialog.callee_contact, (b_host, 5060))[0]
            a, b = (a_host, a_port), (b_host, 5060)
            call_id, ftag, ttag = dialog.callid, dialog.from_tag, dialog.to_tag or ttag
        via_a = f"SIP/2.0/{ta} {a_host}:{a[1]};branch={self._branch()}"
        via_p = f"SIP/2.0/UDP {PROXY[0]}:{PROXY[1]};branch={self._branch()}"
        rr = f"Record-Route: <sip:{PROXY[0]};lr>"
        frm = f"From: \"{caller}\" <sip:{caller}@{DOMAIN}>;tag={ftag}"
        to = f"To: <sip:{callee}@{DOMAIN}>"
        sdp = (f"v=0\r\no=- {r.getrandbits(31)} 1 IN IP4 {a_host}\r\ns=-\r\nc=IN IP4 {a_host}\r\nt=0 0\r\n"
               f"m=audio {r.randrange(10000, 30000, 2)} RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n")
        body = f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}"
        agent = f"User-Agent: {self._agent()}"
        invite_a = (f"INVITE sip:{callee}@{DOMAIN} SIP/2.0\r\nVia: {via_a}\r\nMax-Forwards: 70\r\n{frm}\r\n{to}\r\n"
                    f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:{caller}@{a_host}:{a[1]}>\r\n{agent}\r\n"
                    + body)
        invite_b = (f"INVITE sip:{callee}@{b_host}:5060 SIP/2.0\r\n{rr}\r\nVia: {via_p}\r\nVia: {via_a}\r\n"
                    f"Max-Forwards: 69\r\n{frm}\r\n{to}\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n"
                    f"Contact: <sip:{caller}@{a_host}:{a[1]}>\r\n{agent}\r\n" + body)

        def reply(code: str, vias: str, method: str = "INVITE", cseq: int = 1, extra: str = "",
                  tagged: bool = True) -> str:
            return (f"SIP/2.0 {code}\r\n{vias}{frm}\r\n{to}{';tag=' + ttag if tagged else ''}\r\n"
                    f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n{extra}Content-Length: 0\r\n\r\n")

        both = f"Via: {via_p}\r\nVia: {via_a}\r\n"
        only_a = f"Via: {via_a}\r\n"
        contact_b = f"Contact: <sip:{callee}@{b_host}:5060>\r\n{rr}\r\n"
        ok_b = reply("200 OK", both, extra=contact_b).replace("Content-Length: 0\r\n\r\n", body.replace(a_host, b_host))
        ok_a = reply("200 OK", only_a, extra=contact_b).replace("Content-Length: 0\r\n\r\n",
                                                                 body.replace(a_host, b_host))
        dialog = f"{frm}\r\n{to};tag={ttag}\r\nCall-ID: {call_id}\r\n"
        ack_a, ack_b, _ = self._in_dialog("ACK", 1, f"sip:{callee}@{b_host}:5060", f"{ta} {a_host}:{a[1]}", dialog)
        bye_a, bye_b, via_bye_a = self._in_dialog("BYE", 2, f"sip:{callee}@{b_host}:5060", f"{ta} {a_host}:{a[1]}",
                                                   dialog)
        via_bye_p = bye_b.split("Via: ", 2)[1].split("\r\n", 1)[0]
        bye_ok_b = (f"SIP/2.0 200 OK\r\nVia: {via_bye_p}\r\nVia: {via_bye_a}\r\n{dialog}CSeq: 2 BYE\r\n"
                    f"Content-Length: 0\r\n\r\n")
        bye_ok_a = f"SIP/2.0 200 OK\r\nVia: {via_bye_a}\r\n{dialog}CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
        talk = duration if duration is not None else r.uniform(3.0, 25.0)
        ring = r.uniform(0.5, 3.0)
        steps = [
            (0.0, a, pa, pa_proto, invite_a, "INVITE"),
            (0.001, pa, a, pa_proto, reply("100 Trying", only_a, tagged=False), "INVITE"),
            (0.001, PROXY, b, pb_proto, invite_b, "INVITE"),
            (0.004, b, PROXY, pb_proto, reply("100 Trying", both, tagged=False), "INVITE"),
            (0.05, b, PROXY, pb_proto, reply("180 Ringing", both, extra=contact_b), "INVITE"),
            (0.001, pa, a, pa_proto, reply("180 Ringing", only_a, extra=contact_b), "INVITE"),
            (ring, b, PROXY, pb_proto, ok_b, "INVITE"),
            (0.001, pa, a, pa_proto, ok_a, "INVITE"),
            (0.02, a, pa, pa_proto, ack_a, "ACK"),
            (0.001, PROXY, b, pb_proto, ack_b, "ACK"),
            (talk, a, pa, pa_proto, bye_a, "BYE"),
            (0.001, PROXY, b, pb_proto, bye_b, "BYE"),
            (0.01, b, PROXY, pb_proto, bye_ok_b, "BYE"),
            (0.001, pa, a, pa_proto, bye_ok_a, "BYE"),
        ]
        return [self._msg(d, s, t, p, text, call_id, m, caller, callee) for d, s, t, p, text, m in steps]

    def _in_dialog(self, method: str, cseq: int, ruri: str, sent_by: str, dialog: str) -> tuple[str, str, str]:
        """An in-dialog request as the caller sends it (Route to us) and as we relay it; and its Via."""
        via_a = f"SIP/2.0/{sent_by};branch={self._branch()}"
        via_p = f"SIP/2.0/UDP {PROXY[0]}:{PROXY[1]};branch={self._branch()}"
        tail = f"{dialog}CSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
        return (f"{method} {ruri} SIP/2.0\r\nVia: {via_a}\r\nRoute: <sip:{PROXY[0]};lr>\r\nMax-Forwards: 70\r\n{tail}",
                f"{method} {ruri} SIP/2.0\r\nVia: {via_p}\r\nVia: {via_a}\r\nMax-Forwards: 69\r\n{tail}", via_a)

    def _msg(self, delay: float, src: tuple[str, int], dst: tuple[str, int], proto: int, text: str,
             call_id: str, method: str, caller: str, callee: str) -> SipMessage:
        return SipMessage(delay, src, dst, proto, text.encode("utf-8"), call_id, not text.startswith("SIP/2.0 "),
                          method, caller, callee)
