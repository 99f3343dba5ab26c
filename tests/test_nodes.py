"""Nodes and the fleet without Textual: --node / profile ``nodes`` parsing and its errors (one
line, exit 2), three real simulators as nodes (one stopped and started again: its health goes
down and comes back, the others keep delivering, its subscriptions come back), the listener
address each node is told (routable from it), and a bounded close with a hung node."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from opensips.sim import SimulatedOpenSIPS
from opensips_tui.__main__ import main as tui_main
from opensips_tui.config import Settings
from opensips_tui.feed import Feed
from opensips_tui.fleet_backend import FleetBackend, worst
from opensips_tui.nodes import Fleet, Node, NodeError, NodeSpec, listen_settings, parse_node, parse_target

from tests.tui_pilot import live
from tests.waiting import wait_until


def wait_for(pred, what: str, timeout: float = 20.0) -> None:
    assert wait_until(pred, timeout=timeout), f"timed out waiting for {what}"


# -- specs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("target, conn, mi", [
    ("http://10.0.0.5:8888/mi", "http", {"url": "http://10.0.0.5:8888/mi"}),
    ("HTTPS://edge.example.com/mi", "http", {"url": "HTTPS://edge.example.com/mi"}),
    ("udp:10.0.0.6:8080", "datagram", {"datagram_ip": "10.0.0.6", "datagram_port": 8080}),
    ("udp:[::1]:8080", "datagram", {"datagram_ip": "::1", "datagram_port": 8080}),
    ("unix:/run/opensips/mi.sock", "datagram", {"datagram_unix_socket": "/run/opensips/mi.sock"}),
    ("/run/opensips/opensips_fifo", "fifo", {"fifo_file": "/run/opensips/opensips_fifo"}),
])
def test_targets(target: str, conn: str, mi: dict) -> None:
    assert parse_target(target) == (conn, mi)


@pytest.mark.parametrize("text, needle", [
    ("edge1", "a node is NAME=MI_TARGET"),
    ("edge1=", "a node is NAME=MI_TARGET"),
    ("=http://x/mi", "a node name is"),
    ("bad name=http://x/mi", "a node name is"),
    ("[b]x=http://x/mi", "a node name is"),
    ("edge1=udp:10.0.0.1", "udp:HOST:PORT"),
    ("edge1=udp:10.0.0.1:99999", "udp:HOST:PORT"),
    ("edge1=localhost:8080", "not an MI target"),
])
def test_bad_specs(text: str, needle: str) -> None:
    with pytest.raises(NodeError, match=needle.replace("[", r"\[")):
        parse_node(text)


def test_a_node_keeps_the_common_mi_settings_its_transport_takes() -> None:
    spec = parse_node("e=udp:10.0.0.1:8080", {"timeout": 3, "url": "http://x/mi", "verify": False})
    assert spec == NodeSpec("e", "datagram", {"timeout": 3, "datagram_ip": "10.0.0.1", "datagram_port": 8080},
                            "udp:10.0.0.1:8080")


def _tui(argv: list[str], capsys) -> tuple[int, str]:
    code = tui_main(argv)
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return code, err


@pytest.mark.parametrize("argv, needle", [
    (["--node", "edge1"], "--node: 'edge1': a node is NAME=MI_TARGET"),
    (["--node", "edge1=ftp://x"], "--node: 'ftp://x': not an MI target"),
    (["--node", "e=http://a/mi", "--node", "E=http://b/mi"], "two nodes have this name"),
    (["--demo", "--demo-nodes", "0"], "--demo-nodes: must be an integer from 1 to 100"),
    (["--node", "a=http://a/mi", "--node", "b=http://b/mi", "--listen-port", "9000"],
     "--listen-port: each of the 2 nodes has its own listener"),
])
def test_bad_node_flags_exit_2_with_one_line(tmp_path, capsys, argv, needle) -> None:
    code, err = _tui(argv, capsys)
    assert code == 2 and needle in err, err


@pytest.mark.parametrize("content, needle", [
    ("[tui]\nprofile = 'dc1'\n[profiles.dc1]\nnodes = [\n  'edge1=http://10.0.0.5:8888/mi',\n  'edge2',\n]\n",
     "config.toml:6: [profiles.dc1] nodes: 'edge2': a node is NAME=MI_TARGET"),
    ("[tui]\nprofile = 'dc1'\n[profiles.dc1]\nnodes = 'edge1=http://x/mi'\n",
     "config.toml:4: [profiles.dc1] nodes: must be a list"),
    ("[tui]\nprofile = 'dc1'\n[profiles.dc1]\nnodes = [{name = 'edge1', url = 'http://x/mi'}]\n",
     "config.toml:4: [profiles.dc1] nodes: "),
    ("[tui]\nprofile = 'dc1'\n[profiles.dc1]\nnods = []\n",
     "config.toml:4: [profiles.dc1] nods: unknown key (did you mean nodes?)"),
])
def test_profile_nodes_errors_name_file_line_and_key(tmp_path, capsys, content, needle) -> None:
    path = tmp_path / "config.toml"
    path.write_text(content)
    code, err = _tui(["--config", str(path)], capsys)
    assert code == 2 and needle in err, err


def test_profile_nodes_as_strings_or_tables(tmp_path) -> None:
    from opensips_tui.config import resolve

    path = tmp_path / "config.toml"
    path.write_text("[tui]\nprofile = 'dc1'\n[profiles.dc1]\ntimeout = 3\n"
                    "nodes = ['edge1=http://10.0.0.5:8888/mi', {name = 'reg1', target = 'udp:10.0.0.7:8080'}]\n")
    settings = resolve({}, path)
    assert [(n.name, n.conn, n.mi.get("timeout")) for n in settings.nodes] == [
        ("edge1", "http", 3), ("reg1", "datagram", 3)]
    settings = resolve({"nodes": ["core=/tmp/opensips_fifo"]}, path)   # --node replaces them
    assert [n.name for n in settings.nodes] == ["core"]


def test_worst_state_wins() -> None:
    assert worst(["active", "retrying", "active"]) == "retrying"
    assert worst(["active", "active"]) == "active"
    assert worst([]) == "stopped"


# -- a fleet of real simulators ----------------------------------------------------------------
def fleet_of(sims: list[SimulatedOpenSIPS], **event) -> tuple[Fleet, FleetBackend]:
    specs = [NodeSpec(f"edge{i}", "http", sim.mi_kwargs("http")) for i, sim in enumerate(sims, 1)]
    settings = Settings(conn="http", mi={"timeout": 2}, event={"listen_ip": "127.0.0.1", **event}, nodes=specs)
    fleet = Fleet.from_settings(settings, Feed())
    return fleet, FleetBackend(fleet, health_every=0.2)


def test_three_nodes_one_down_and_back(sim_factory) -> None:
    sims = [sim_factory() for _ in range(3)]
    fleet, backend = fleet_of(sims)
    changes: list[tuple[str, str]] = []
    backend.on_change = lambda node: changes.append((node.name, node.health))
    try:
        backend.start()
        wait_for(lambda: all(n.health == "up" for n in fleet), "three nodes up")
        assert backend.ping() == "3/3 up"
        assert all(n.version and n.version.startswith("OpenSIPS") and n.uptime is not None for n in fleet)
        assert "E_PIKE_BLOCKED" in backend.events_list()
        assert backend.subscribe("E_PIKE_BLOCKED") == "active"
        assert backend.subscription("E_PIKE_BLOCKED") == (3, 3, {})
        for i, sim in enumerate(sims):
            sim.raise_event("E_PIKE_BLOCKED", {"ip": f"10.0.0.{i}"})
        wait_for(lambda: backend.feed.node_summary().keys() == {"edge1", "edge2", "edge3"}, "three nodes deliver")

        sims[1].stop()
        wait_for(lambda: fleet.node("edge2").health == "down", "edge2 down")
        assert ("edge2", "down") in changes
        assert backend.ping().startswith("2/3 up · edge2 DOWN: ")
        for sim in (sims[0], sims[2]):    # the others keep delivering
            sim.raise_event("E_PIKE_BLOCKED", {"ip": "192.0.2.1"})
        wait_for(lambda: backend.feed.node_summary()["edge1"][0] == 2
                 and backend.feed.node_summary()["edge3"][0] == 2, "edge1 and edge3 deliver")

        sims[1].start()                   # back, with no subscribers: resubscribed on its own
        wait_for(lambda: fleet.node("edge2").up, "edge2 up again")
        wait_for(lambda: any(s.get("event") == "E_PIKE_BLOCKED" for s in sims[1].subscribers()),
                 "edge2 resubscribed", timeout=30)
        sims[1].raise_event("E_PIKE_BLOCKED", {"ip": "198.51.100.9"})
        wait_for(lambda: backend.feed.node_summary()["edge2"][0] == 2, "edge2 delivers again", timeout=30)
        entries = backend.feed.entries()
        assert {e.node for e in entries} == {"edge1", "edge2", "edge3"}
    finally:
        backend.close()
    assert [live(sim) for sim in sims] == [[], [], []]   # every node unsubscribed at close


def test_subscribing_where_a_node_is_down_names_it(sim_factory) -> None:
    sims = [sim_factory() for _ in range(2)]
    sims[1].stop()
    fleet, backend = fleet_of(sims)
    try:
        backend.events_list()
        state = backend.subscribe("E_PIKE_BLOCKED")
        assert state == "active"
        active, total, missing = backend.subscription("E_PIKE_BLOCKED")
        assert (active, total) == (1, 2) and list(missing) == ["edge2"]
        assert any("not subscribed on edge2" in what for _, what in backend.feed.drain().notices)
        backend.start()
        sims[1].start()                      # it answers at last: subscribed from its health thread
        wait_for(lambda: live(sims[1], "E_PIKE_BLOCKED"), "edge2 subscribed once up")
        wait_for(lambda: backend.subscription("E_PIKE_BLOCKED") == (2, 2, {}), "2/2 active")
        assert len(live(sims[1], "E_PIKE_BLOCKED")) == 1 and len(live(sims[0], "E_PIKE_BLOCKED")) == 1
        assert any(line.startswith("edge2: up") for line in backend.story())
    finally:
        backend.close()


def test_close_is_bounded_with_a_hung_node(sim_factory) -> None:
    sims = [sim_factory() for _ in range(2)]
    fleet, backend = fleet_of(sims)
    backend.subscribe("E_PIKE_BLOCKED")
    sims[0].hang = True                 # reads MI requests and never answers
    done = threading.Event()
    threading.Thread(target=lambda: (backend.close(timeout=1.0), done.set()), daemon=True).start()
    assert done.wait(30), "close waited for the hung node"
    wait_for(lambda: not live(sims[1]), "the healthy node unsubscribed")
    sims[0].hang = False


# -- where each node sends its events ---------------------------------------------------------
def local_address() -> str | None:
    """This machine's own non-loopback IPv4 address (None when it has none)."""
    for probe in ("192.0.2.1", "10.255.255.255", "198.51.100.1"):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.connect((probe, 9))
            ip = s.getsockname()[0]
        except OSError:
            continue
        finally:
            s.close()
        if ip and not ip.startswith("127.") and ip != "0.0.0.0":
            return ip
    return None


def test_listen_settings_route_to_the_node() -> None:
    assert listen_settings({}, "127.0.0.1") == {"listen_ip": "127.0.0.1"}
    assert listen_settings({}, None) == {"listen_ip": "127.0.0.1"}          # a FIFO: same machine
    assert listen_settings({"listen_ip": "10.9.9.9"}, "203.0.113.5") == {"listen_ip": "10.9.9.9"}
    assert listen_settings({"socket_path": "/tmp/x.sock"}, "10.0.0.1") == {"socket_path": "/tmp/x.sock"}


def test_a_node_on_another_address_is_told_a_routable_one(sim_factory) -> None:
    ip = local_address()
    if ip is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    sim = sim_factory(http_host=ip)
    settings = Settings(conn="http", mi={}, event={}, nodes=[NodeSpec("far", "http", sim.mi_kwargs("http"))])
    fleet = Fleet.from_settings(settings, Feed())
    node = fleet.node("far")
    assert node.settings.event["listen_ip"] == ip
    backend = FleetBackend(fleet)
    try:
        backend.subscribe("E_PIKE_BLOCKED")
        told = [s for s in sim.subscribers() if s.get("event") == "E_PIKE_BLOCKED"]
        assert told and str(told[0]["socket"]).startswith(f"udp:{ip}:"), told
        sim.raise_event("E_PIKE_BLOCKED", {"ip": "203.0.113.1"})
        wait_for(lambda: backend.feed.view("E_PIKE_BLOCKED").count == 1, "the event over the routed address")
        assert backend.feed.entries()[0].node is None      # one --node: the app of one OpenSIPS
        loop = Fleet.from_settings(Settings(conn="http", event={}, nodes=[
            NodeSpec("near", "http", {"url": "http://127.0.0.1:1/mi"})]), Feed())
        assert loop.node("near").settings.event["listen_ip"] == "127.0.0.1"
    finally:
        backend.close()


def test_demo_nodes_start_a_fleet_named_edge1_to_edgeN() -> None:
    from opensips_tui.__main__ import DEMO_SUBSCRIBE, start_demo

    settings = Settings(demo=True, demo_nodes=3, demo_rate=50.0)
    sims = start_demo(settings)
    fleet = Fleet.from_settings(settings, Feed(), list(sims))
    backend = FleetBackend(fleet)
    try:
        assert fleet.names == ["edge1", "edge2", "edge3"] and settings.subscribe == DEMO_SUBSCRIBE
        for event in DEMO_SUBSCRIBE:
            backend.subscribe(event)
        wait_for(lambda: set(backend.feed.node_summary()) == {"edge1", "edge2", "edge3"}, "three demo nodes deliver")
    finally:
        backend.close()
    wait_for(lambda: not any(sim.running for sim in sims), "the simulators stop with the fleet")


def test_one_node_is_the_app_of_old() -> None:
    settings = Settings(conn="http", mi={"url": "http://127.0.0.1:1/mi"})
    fleet = Fleet.from_settings(settings, Feed())
    try:
        assert not fleet.multi and fleet.names == ["http://127.0.0.1:1/mi"] and fleet.selected == fleet.names[0]
        assert fleet.current.backend.node is None       # its notifications carry no node
        assert fleet.current.settings is settings
    finally:
        fleet.close()


def test_a_quick_restart_reads_restarted_and_gets_its_subscriptions_back(sim_factory) -> None:
    sims = [sim_factory() for _ in range(2)]
    fleet, backend = fleet_of(sims)
    try:
        backend.start()
        wait_for(lambda: all(n.health == "up" for n in fleet), "both up")
        backend.subscribe("E_PIKE_BLOCKED")
        sims[0].restart()                 # quicker than a health check can see it down
        wait_for(lambda: fleet.node("edge1").health == "restarted", "edge1 restarted")
        assert fleet.node("edge1").restarts == 1 and "restarted" in fleet.node("edge1").reason
        assert "edge1 restarted" in backend.ping()
        wait_for(lambda: len(live(sims[0], "E_PIKE_BLOCKED")) == 1, "edge1 subscribed again")
        sims[0].raise_event("E_PIKE_BLOCKED", {"ip": "203.0.113.9"})
        wait_for(lambda: backend.feed.node_summary().get("edge1", (0,))[0] == 1, "edge1 delivers")
        assert fleet.node("edge2").health == "up" and fleet.node("edge2").restarts == 0
    finally:
        backend.close()
