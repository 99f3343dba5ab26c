"""Event subscriptions and delivery of the simulator against the captured events/ samples."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import assert_same_shape, mi_http_raw
from tests.wire import VERSIONS, sample

SAMPLE_UDP = "udp:127.0.0.1:9901"
SAMPLE_TCP = "tcp:127.0.0.1:9902"
SAMPLE_UNIX = "unix:/run/opensips-test/run/ev_dgram.sock"


def _post(sim, body: str) -> str:
    status, data = mi_http_raw(sim.http_url, body)
    assert status == 200
    return data.decode()


def _mapper(udp=None, tcp=None, unix=None):
    pairs = [(SAMPLE_UDP, udp), (SAMPLE_TCP, tcp), (SAMPLE_UNIX, unix)]

    def fix(text: str) -> str:
        for old, new in pairs:
            if new is not None:
                text = text.replace(old, new.socket)
        return text

    return fix


@pytest.fixture
def subscribed(sim_factory, listeners):
    """(sim, udp, unix, tcp, fix): E_MY_CUSTOM subscribed on three live listeners."""

    def make(version: str = "4.0.1", **kw):
        sim = sim_factory(version=version, **kw)
        udp, unix, tcp = listeners("udp"), listeners("unix"), listeners("tcp")
        for lst in (udp, unix, tcp):
            reply = _post(sim, json.dumps({"jsonrpc": "2.0", "method": "event_subscribe", "params": {
                "event": "E_MY_CUSTOM", "socket": lst.socket}, "id": 1}))
            assert json.loads(reply)["result"] == "OK"
        return sim, udp, unix, tcp, _mapper(udp, tcp, unix)

    return make


@pytest.mark.parametrize("version", VERSIONS)
def test_subscribe_responses_and_listing(version, sim_factory, listeners):
    sim = sim_factory(version=version, demo_events=False)
    udp, tcp, unix = listeners("udp"), listeners("tcp"), listeners("unix")
    fix = _mapper(udp, tcp, unix)
    for step in sample(version, "events", "subscribe_responses")["steps"]:
        got = _post(sim, fix(step["request"]))
        assert got == step["response"], step["step"]
    lists = sample(version, "events", "subscribers_list_after_subscribe")
    for name, case in lists.items():
        if not isinstance(case, dict) or "request" not in case:
            continue
        got = _post(sim, fix(case["request"]))
        assert_same_shape(json.loads(got), json.loads(fix(case["response"])))


@pytest.mark.parametrize("version", VERSIONS)
def test_error_cases(version, sim_factory, listeners):
    sim = sim_factory(version=version, demo_events=False)
    udp = listeners("udp")
    fix = _mapper(udp)
    _post(sim, fix('{"jsonrpc":"2.0","method":"event_subscribe","params":'
                   '{"event":"E_MY_CUSTOM","socket":"udp:127.0.0.1:9901"},"id":1}'))
    for name, case in sample(version, "events", "error_cases")["cases"].items():
        got = _post(sim, fix(case["request"]))
        assert got == fix(case["response"]), name
    # none of the bad subscriptions was accepted; the "30" one updated the existing entry
    listing = json.loads(_post(sim, '{"jsonrpc":"2.0","method":"subscribers_list",'
                                    '"params":{"event":"E_MY_CUSTOM"},"id":1}'))
    assert listing["result"]["Event"]["Subscribers"] == [
        {"socket": udp.socket, "expire": 30, "ttl": 30}]


RAISE_CASES = ["raise_no_params", "raise_params_array_strings", "raise_params_json_string",
               "raise_params_json_string_complex_values", "raise_params_json_string_unicode",
               "raise_params_object", "raise_unicode", "raise_params_array_ints",
               "raise_positional", "raise_params_string_not_json", "raise_params_json_string_array"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", RAISE_CASES)
def test_raise_event_samples(case, version, subscribed):
    sim, udp, unix, tcp, fix = subscribed(version)
    s = sample(version, "events", case)
    want_udp = [n["raw"].encode() for n in s["notifications"]["udp"]] if "notifications" in s else []
    if want_udp and b'"":' in want_udp[0]:
        # the unnamed-params quirk shows after the first array raise since startup
        _post(sim, '{"jsonrpc":"2.0","method":"raise_event","params":'
                   '{"event":"E_MY_CUSTOM","params":["warm","up"]},"id":1}')
        assert udp.recv(1) and unix.recv(1)
        tcp_before = len(tcp.wait(1))
    else:
        tcp_before = 0
    assert _post(sim, s["mi"]["request"]) == s["mi"]["response"]
    if not want_udp:
        sim.flush()
        assert udp.recv(1, timeout=0.1) == []
        return
    if case == "raise_params_json_string_complex_values":
        # an array value comes out as freed-memory garbage: only its type is stable
        def strip(raw: bytes) -> dict:
            obj = json.loads(raw)
            assert isinstance(obj["params"].pop("list"), str)
            return obj

        assert strip(udp.recv(1)[0]) == strip(want_udp[0])
        assert strip(unix.recv(1)[0]) == strip(want_udp[0])
        assert strip(tcp.wait(10)) == strip(want_udp[0])
        return
    assert udp.recv(len(want_udp)) == want_udp
    assert unix.recv(1) == [n["raw"].encode() for n in s["notifications"]["unix"]]
    want_tcp = s["notifications"]["tcp"][0]["concatenated_raw"].encode()
    assert tcp.wait(tcp_before + len(want_tcp))[tcp_before:] == want_tcp
    assert len(tcp.conns) == 1


def test_array_params_repeat(subscribed):
    sim, udp, _unix, _tcp, _fix = subscribed()
    runs = sample("4.0.1", "events", "raise_params_array_repeat")["runs"]
    _post(sim, '{"jsonrpc":"2.0","method":"raise_event","params":'
               '{"event":"E_MY_CUSTOM","params":["first","second"]},"id":1}')
    assert json.loads(udp.recv(1)[0])["params"] == ["first", "second"]
    for i, run in enumerate(runs):
        body = json.dumps({"jsonrpc": "2.0", "method": "raise_event",
                           "params": {"event": "E_MY_CUSTOM", "params": [f"a{i}", f"b{i}"]}, "id": 1})
        assert _post(sim, body) == run["mi_response"]
        assert udp.recv(1) == [r.encode() for r in run["udp_raw"]]


def test_stream_framing_and_method_override(subscribed, listeners):
    sim, _udp, _unix, tcp, _fix = subscribed()
    s = sample("4.0.1", "events", "stream_framing_5_events")
    for i in range(5):
        sim.raise_event("E_MY_CUSTOM", {"seq": i})
    want = "".join(json.dumps({"jsonrpc": "2.0", "method": "E_MY_CUSTOM", "params": {"seq": i}},
                              separators=(",", ":")) for i in range(5)).encode()
    assert tcp.wait(len(want)) == want
    assert len(tcp.conns) == s["tcp_connections_total"]

    over = listeners("tcp")
    m = sample("4.0.1", "events", "stream_method_override")
    assert _post(sim, m["subscribe"]["request"].replace("tcp:127.0.0.1:9903", over.socket)) == \
        m["subscribe"]["response"]
    assert _post(sim, m["raise"]["request"]) == m["raise"]["response"]
    assert over.wait(10).decode() == m["tcp"][0]["concatenated_raw"]


def test_stream_listener_down_and_back(sim, listeners):
    from tests.conftest import TcpListener

    first = listeners("tcp")
    port = first.port
    sim.registry.subscribe("E_MY_CUSTOM", first.socket, 60)
    sim.raise_event("E_MY_CUSTOM", {"phase": "up"})
    assert first.wait(10)
    first.close()                           # listener gone: its connection closed, port closed
    s = sample("4.0.1", "events", "stream_listener_down_and_back")
    for key in ("raise_while_down_1", "raise_while_down_2"):
        assert _post(sim, s[key]["request"]) == s[key]["response"]
    sim.flush()
    back = TcpListener(port=port)
    try:
        assert _post(sim, s["raise_after_back"]["request"]) == s["raise_after_back"]["response"]
        want = s["tcp_after_back"][0]["concatenated_raw"].encode()
        assert back.wait(len(want)) == want       # the events raised while down are lost
        assert len(back.conns) == 1
    finally:
        back.close()


def test_expire_zero_and_lazy_removal(sim, listeners):
    udp, keep = listeners("udp"), listeners("udp")
    s = sample("4.0.1", "events", "expire_and_unsubscribe")["steps"]
    sub = '{"jsonrpc":"2.0","method":"event_subscribe","params":{"event":"E_MY_CUSTOM","socket":"%s","expire":%d},"id":1}'
    lst = '{"jsonrpc":"2.0","method":"subscribers_list","params":{"event":"E_MY_CUSTOM"},"id":1}'
    assert _post(sim, sub % (keep.socket, 60)) == s["subscribe_expire_2_on_new_socket"]["response"]
    assert _post(sim, sub % (udp.socket, 30)) == '{"jsonrpc":"2.0","result":"OK","id":1}'
    assert _post(sim, sub % (udp.socket, 0)) == s["unsubscribe_udp_expire_0"]["response"]
    listing = json.loads(_post(sim, lst))["result"]["Event"]["Subscribers"]
    assert listing[0] == {"socket": udp.socket, "expire": 0, "ttl": "expired"}
    assert listing[1]["socket"] == keep.socket
    # still delivered within the same second
    assert _post(sim, s["raise_right_after_expire_0"]["request"]) == '{"jsonrpc":"2.0","result":"OK","id":1}'
    assert udp.recv(1) == [n["raw"].encode() for n in s["udp_received_right_after"]]
    time.sleep(1.1)
    listing = json.loads(_post(sim, lst))["result"]["Event"]["Subscribers"]
    assert [x["socket"] for x in listing] == [keep.socket]
    _post(sim, s["raise_after_2_6s"]["request"])
    assert udp.recv(1, timeout=0.2) == []
    assert len(keep.recv(2)) == 2
    # expire 0 on a socket never subscribed creates an already expired entry
    fresh = listeners("udp")
    assert _post(sim, sub % (fresh.socket, 0)) == s["expire_0_on_never_subscribed_socket"]["response"]
    listing = json.loads(_post(sim, lst))["result"]["Event"]["Subscribers"]
    assert listing[0] == {"socket": fresh.socket, "expire": 0, "ttl": "expired"}


def test_expiry_of_a_short_subscription(sim, listeners):
    udp = listeners("udp")
    sim.registry.subscribe("E_PIKE_BLOCKED", udp.socket, 1)
    assert sim.subscribers()[0]["ttl"] == 1
    time.sleep(2.05)
    assert sim.subscribers() == []
    sim.raise_event("E_PIKE_BLOCKED", {"ip": "192.0.2.1"})
    sim.flush()
    assert udp.recv(1, timeout=0.1) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_core_event_shapes_over_udp(version, sim_factory, listeners):
    """Python-API raises produce exactly the bytes OpenSIPS sent for core and pike events."""
    sim = sim_factory(version=version)
    udp = listeners("udp")
    for case in ("E_CORE_THRESHOLD_udp", "E_CORE_TCP_DISCONNECT_udp", "E_CORE_LOG_udp",
                 "E_PIKE_BLOCKED_udp", "script_raise_event_E_MY_CUSTOM_via_sip"):
        s = sample(version, "events", case)
        for n in s["notifications"]["udp"]:
            note = n["json"]
            sim.registry.subscribe(note["method"], udp.socket, 60)
            sim.raise_event(note["method"], note.get("params"))
            assert udp.recv(1) == [n["raw"].encode()], case


def test_pike_list_shows_blocked_ips(sim, mi_post):
    sim.raise_event("E_PIKE_BLOCKED", {"ip": "127.0.0.2"})
    want = sample("4.0.1", "events", "E_PIKE_BLOCKED_udp")["pike_list"]
    assert mi_post(sim, want["request"]) == json.loads(want["response"])


def test_python_api_raise_and_subscribers(sim, listeners):
    udp, unix = listeners("udp"), listeners("unix")
    sim.registry.subscribe("E_MY_CUSTOM", udp.socket)
    sim.registry.subscribe("E_MY_CUSTOM", unix.socket, 120)
    subs = sim.subscribers()
    assert [(s["event"], s["socket"], s["expire"]) for s in subs] == [
        ("E_MY_CUSTOM", unix.socket, 120), ("E_MY_CUSTOM", udp.socket, 3600)]
    sim.raise_event("E_MY_CUSTOM")
    sim.raise_event("E_MY_CUSTOM", ["x", 1])
    sim.raise_event("E_MY_CUSTOM", {"k": "v"})
    want = [b'{"jsonrpc":"2.0","method":"E_MY_CUSTOM"}',
            b'{"jsonrpc":"2.0","method":"E_MY_CUSTOM","params":["x",1]}',
            b'{"jsonrpc":"2.0","method":"E_MY_CUSTOM","params":{"k":"v"}}']
    assert udp.recv(3) == want
    assert unix.recv(3) == want
    sim.raise_event("E_NEW_THING", {"a": 1})     # published on the fly, nobody listening
    assert any(e["name"] == "E_NEW_THING" for e in sim.events())


def test_restart_keeps_addresses_and_empties_subscribers(sim, listeners, mi_post):
    udp = listeners("udp")
    before = (sim.http_url, sim.datagram_addr, sim.fifo_path, sim.datagram_unix_path)
    sim.registry.subscribe("E_MY_CUSTOM", udp.socket)
    sim.stop()
    sim.start()
    assert (sim.http_url, sim.datagram_addr, sim.fifo_path, sim.datagram_unix_path) == before
    assert sim.subscribers() == []
    assert mi_post(sim, {"jsonrpc": "2.0", "method": "subscribers_list", "id": 1}) == \
        {"jsonrpc": "2.0", "result": {"Events": []}, "id": 1}


def test_reliable_stream_mode(sim_factory, listeners):
    s = sample("4.0.1", "variant_event_stream_reliable", "event_stream_reliable_mode")
    answered = []

    def reply(data: bytes) -> bytes:
        obj = json.loads(data)
        answered.append(obj["id"])
        return json.dumps({"jsonrpc": "2.0", "result": "ok", "id": obj["id"]}).encode()

    sim = sim_factory(stream_reliable=True, stream_event_param="event_name")
    tcp = listeners("tcp", reply=reply)
    sim.registry.subscribe("E_MY_CUSTOM", tcp.socket)
    sim.raise_event("E_MY_CUSTOM", {"k": "v", "n": 1})
    got = json.loads(tcp.wait(10))
    want = json.loads(s["cases"]["reply_ok"]["connections"][0]["chunks_raw"][0])
    assert list(got) == list(want) and isinstance(got["id"], int)
    assert got["params"] == want["params"]
    deadline = time.monotonic() + 2
    while not answered and time.monotonic() < deadline:
        time.sleep(0.01)
    sim.raise_event("E_MY_CUSTOM", ["a"])
    sim.flush()
    assert sim.deliverer.replies and sim.deliverer.replies[0]["id"] == got["id"]
    assert len(tcp.conns) == 1


def test_reliable_mode_waits_for_each_reply_then_gives_up_and_goes_on(sim_factory, listeners, caplog):
    """Like event_stream: a listener that never replies costs each event the reply timeout
    (logged), and the connection stays."""
    sim = sim_factory(stream_reliable=True)
    tcp = listeners("tcp")  # never replies
    sim.registry.subscribe("E_MY_CUSTOM", tcp.socket)
    with caplog.at_level("WARNING", logger="opensips.sim.delivery"):
        sim.raise_event("E_MY_CUSTOM", {"n": 1})
        sim.raise_event("E_MY_CUSTOM", {"n": 2})
        sim.flush()
        deadline = time.monotonic() + 5
        while b'"n":2' not in tcp.data() and time.monotonic() < deadline:
            time.sleep(0.02)
    assert b'"n":1' in tcp.data() and b'"n":2' in tcp.data()
    assert len(tcp.conns) == 1
    assert "timed out waiting for the reply" in caplog.text


def test_reliable_garbage_reply_closes_connection(sim_factory, listeners):
    sim = sim_factory(stream_reliable=True)
    tcp = listeners("tcp", reply=lambda data: b"garbage!")
    sim.registry.subscribe("E_MY_CUSTOM", tcp.socket)
    sim.raise_event("E_MY_CUSTOM", {"n": 1})
    tcp.wait(10)
    time.sleep(0.1)          # the garbage reply arrives
    sim.raise_event("E_MY_CUSTOM", {"n": 2})
    deadline = time.monotonic() + 2
    while len(tcp.conns) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(tcp.conns) == 2     # OpenSIPS closed the first and opened a new one


@pytest.mark.parametrize("version", VERSIONS)
def test_unknown_command_raises_core_log(version, sim_factory, listeners):
    sim = sim_factory(version=version)
    udp = listeners("udp")
    sim.registry.subscribe("E_CORE_LOG", udp.socket)
    s = sample(version, "events", "E_CORE_LOG_udp")
    assert _post(sim, s["trigger"]["request"]) == s["trigger"]["response"]
    got = json.loads(udp.recv(1)[0])
    assert_same_shape(got, s["notifications"]["udp"][0]["json"])
