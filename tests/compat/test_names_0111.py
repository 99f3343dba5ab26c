"""The public names of the PyPI ``opensips`` 0.1.11, recorded here, each checked to exist in this package.

The record follows 0.1.11's modules (its wheel); what is deliberately not
provided is listed in NOT_PROVIDED with the reason, and is checked to be absent
so the list stays true.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import time

import pytest

# module -> names defined there (classes, functions, constants)
MODULES = {
    "opensips": ["OpenSIPSMI", "OpenSIPSEvent", "AsyncOpenSIPSEvent", "__version__"],
    "opensips.version": ["__version__"],
    "opensips.mi": ["OpenSIPSMI", "OpenSIPSMIException"],
    "opensips.mi.__main__": ["main"],
    "opensips.mi.connector": ["OpenSIPSMI", "OpenSIPSMIException"],
    "opensips.mi.connection": ["Connection"],
    "opensips.mi.fifo": ["FIFO"],
    "opensips.mi.http": ["HTTP"],
    "opensips.mi.datagram": ["Datagram"],
    "opensips.mi.jsonrpc_helper": ["JSONRPCException", "JSONRPCError", "JSONDecodeError", "get_command",
                                   "get_reply"],
    "opensips.event": ["OpenSIPSEvent", "OpenSIPSEventException", "OpenSIPSEventHandler", "AsyncOpenSIPSEvent"],
    "opensips.event.__main__": ["main"],
    "opensips.event.handler": ["OpenSIPSEventHandler"],
    "opensips.event.event": ["OpenSIPSEventException", "OpenSIPSEvent"],
    "opensips.event.asyncevent": ["AsyncOpenSIPSEvent"],
    "opensips.event.generic_socket": ["GenericSocket"],
    "opensips.event.datagram": ["Datagram"],
    "opensips.event.stream": ["Stream"],
    "opensips.event.json_helper": ["JsonBufferMaxAttempts", "JsonBuffer"],
}

# "module:Class" -> attributes every instance has (methods, properties, class constants)
CLASS_ATTRS = {
    "opensips.mi:OpenSIPSMI": ["execute", "valid", "conn", "validated"],
    "opensips.mi.connection:Connection": ["execute", "valid"],
    "opensips.mi.fifo:FIFO": ["execute", "valid", "get_sticky", "REPLY_FIFO_FILE_TEMPLATE"],
    "opensips.mi.http:HTTP": ["execute", "valid"],
    "opensips.mi.datagram:Datagram": ["execute", "valid"],
    "opensips.mi.jsonrpc_helper:JSONRPCError": ["code", "message", "data", "get_data"],
    "opensips.event:OpenSIPSEventHandler": ["mi", "_type", "kwargs", "events", "subscribe", "async_subscribe",
                                            "unsubscribe"],
    "opensips.event:OpenSIPSEvent": ["name", "callback", "expire", "reregister", "last_subscription", "socket",
                                     "thread", "resubscribe", "unsubscribe", "stop", "check_subscription"],
    "opensips.event:AsyncOpenSIPSEvent": ["name", "callback", "expire", "reregister", "socket", "resubscribe",
                                          "unsubscribe", "stop"],
    "opensips.event.datagram:Datagram": ["create", "read", "destroy", "sock", "sock_name", "ip", "port"],
    "opensips.event.stream:Stream": ["create", "read", "destroy", "sock", "sock_name", "ip", "port"],
    "opensips.event.json_helper:JsonBuffer": ["push", "pop", "parse", "queue", "retries", "max_retries", "buf"],
}

# 0.1.11 names not provided, and why (README, "Compatibility")
NOT_PROVIDED = {
    "opensips.event.listener:ThreadReader": "0.1.11 listener internals: one listener thread per handler here",
    "opensips.event.listener:AsyncReader": "0.1.11 listener internals",
    "opensips.event.listener:ThreadListener": "0.1.11 listener internals",
    "opensips.event.listener:AsyncListener": "0.1.11 listener internals",
    "opensips.event:OpenSIPSEventHandler.__listener__": "internal hook of 0.1.11's event classes",
    "opensips.event:OpenSIPSEventHandler.__async_listener__": "internal hook of 0.1.11's event classes",
    "opensips.event:OpenSIPSEventHandler.__new_socket__": "internal hook of 0.1.11's event classes",
    "opensips.event:OpenSIPSEventHandler.__mi_subscribe__": "internal hook: subscriptions call MI themselves",
    "opensips.event:OpenSIPSEventHandler.__mi_unsubscribe__": "internal hook: subscriptions call MI themselves",
    "opensips.event:AsyncOpenSIPSEvent.resubscribe_task": "renewals run on the handler's refresher thread",
}


def _resolve(ref: str):
    module, _, path = ref.partition(":")
    obj = importlib.import_module(module)
    for part in path.split(".") if path else []:
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_names_exist(module) -> None:
    mod = importlib.import_module(module)
    missing = [name for name in MODULES[module] if not hasattr(mod, name)]
    assert not missing, f"{module} lacks {missing}"


def _instances(sim, tmp_path):
    """One live object of each class, made as 0.1.11 code makes them."""
    from opensips.event import AsyncOpenSIPSEvent, OpenSIPSEventHandler
    from opensips.event.datagram import Datagram as EvDatagram
    from opensips.event.json_helper import JsonBuffer
    from opensips.event.stream import Stream
    from opensips.mi import OpenSIPSMI
    from opensips.mi.datagram import Datagram
    from opensips.mi.fifo import FIFO
    from opensips.mi.http import HTTP
    from opensips.mi.jsonrpc_helper import JSONRPCError

    mi = OpenSIPSMI("http", url=sim.http_url)
    hdl = OpenSIPSEventHandler(mi, "datagram", ip="127.0.0.1")
    ev = hdl.subscribe("E_PIKE_BLOCKED", lambda m: None)
    out = {
        "opensips.mi:OpenSIPSMI": mi,
        "opensips.mi.fifo:FIFO": FIFO(fifo_file=sim.fifo_path, fifo_file_fallback="/x", fifo_reply_dir="/tmp"),
        "opensips.mi.http:HTTP": HTTP(url=sim.http_url),
        "opensips.mi.datagram:Datagram": Datagram(datagram_ip="127.0.0.1", datagram_port=1),
        "opensips.mi.jsonrpc_helper:JSONRPCError": JSONRPCError(1, "m"),
        "opensips.event:OpenSIPSEventHandler": hdl,
        "opensips.event:OpenSIPSEvent": ev,
        "opensips.event.datagram:Datagram": EvDatagram(ip="127.0.0.1"),
        "opensips.event.stream:Stream": Stream(ip="127.0.0.1"),
        "opensips.event.json_helper:JsonBuffer": JsonBuffer(),
    }
    out["opensips.mi.connection:Connection"] = out["opensips.mi.http:HTTP"]

    async def make_async():
        aev = hdl.async_subscribe("E_CORE_THRESHOLD", lambda m: None)
        return aev

    out["opensips.event:AsyncOpenSIPSEvent"] = asyncio.run(make_async())
    assert isinstance(out["opensips.event:AsyncOpenSIPSEvent"], AsyncOpenSIPSEvent)
    return out, hdl


def test_class_attributes_exist_on_live_objects(sim, tmp_path) -> None:
    objects, hdl = _instances(sim, tmp_path)
    try:
        assert set(objects) == set(CLASS_ATTRS)
        for ref, attrs in CLASS_ATTRS.items():
            assert isinstance(objects[ref], _resolve(ref)), ref
            missing = [a for a in attrs if not hasattr(objects[ref], a)]
            assert not missing, f"{ref} lacks {missing}"
    finally:
        hdl.close()


@pytest.mark.parametrize("ref", sorted(NOT_PROVIDED))
def test_not_provided_list_is_true(ref) -> None:
    with pytest.raises(AttributeError):
        _resolve(ref)


@pytest.mark.parametrize("kind", ["udp", "unix", "tcp"])
def test_standalone_receivers_with_json_buffer(sim, tmp_path, kind) -> None:
    """0.1.11's Datagram/Stream + JsonBuffer, subscribed by hand through MI, as old code did."""
    from opensips.event.datagram import Datagram
    from opensips.event.json_helper import JsonBuffer, JsonBufferMaxAttempts
    from opensips.event.stream import Stream
    from opensips.mi import OpenSIPSMI

    sock = {"udp": lambda: Datagram(ip="127.0.0.1", port=0),
            "unix": lambda: Datagram(unix_path=str(tmp_path / "ev.sock")),
            "tcp": lambda: Stream(ip="127.0.0.1")}[kind]()
    name = sock.create()
    assert name.startswith({"udp": "udp:127.0.0.1:", "unix": "unix:/", "tcp": "tcp:127.0.0.1:"}[kind])
    if kind != "unix":
        assert sock.sock.getsockname() == (sock.ip, sock.port)
    mi = OpenSIPSMI("http", url=sim.http_url)
    assert mi.execute("event_subscribe", ["E_MY_CUSTOM", name, 30]) == "OK"
    buf = JsonBuffer()
    try:
        for n in range(3):
            sim.raise_event("E_MY_CUSTOM", {"n": n})
        got = []
        deadline = time.monotonic() + 5
        while len(got) < 3 and time.monotonic() < deadline:
            data = sock.read()
            if data:
                buf.push(data)
            while (msg := buf.pop()) is not None:
                got.append(msg["params"]["n"])
        assert got == [0, 1, 2]
        assert sock.read() is None  # nothing more: None after the read timeout
    finally:
        mi.execute("event_subscribe", ["E_MY_CUSTOM", name, 0])
        sock.destroy()
    assert not (tmp_path / "ev.sock").exists()
    with pytest.raises(JsonBufferMaxAttempts):
        bad = JsonBuffer(max_retries=2)
        for _ in range(3):
            bad.push(b"{not json")
    split = JsonBuffer()
    whole = json.dumps({"a": [1, 2]}).encode() * 2
    split.push(whole[:5])
    split.push(whole[5:])
    assert [split.pop(), split.pop(), split.pop()] == [{"a": [1, 2]}, {"a": [1, 2]}, None]
