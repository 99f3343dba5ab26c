#!/usr/bin/env python3
"""Side by side: our opensips.event / opensips.mi vs the `opensips` package (0.1.11) on PyPI.

Why a throwaway venv: both packages are named ``opensips``, and that one is GPL;
it is installed into a temporary venv, only ever *run* (as a subprocess with that
venv's python), never copied or committed.

One run measures:

* events: the same UDP sender blasts N notifications at three receivers, each in
  its own process: a bare ``recvfrom`` + ``json.loads`` loop, our
  ``OpenSIPSEventHandler`` and theirs (both subscribed through MI to the
  simulator ``opensips-sim``, like against a real OpenSIPS). Printed: events/s
  delivered to the callback and the receiver's CPU microseconds per event.
* MI: ``version`` calls/s (and client CPU per call) over http and datagram
  against the simulator, ours vs theirs (and a bare socket for reference).

    python bench/compare_pypi_opensips.py [--events 50000] [--repeat 3] [--mi-seconds 3] [--mi-repeat 3]

Everything is bounded in time (``--budget`` seconds overall, per-step timeouts).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sender import EVENT, blast, free_port, notification, stop  # noqa: E402

PYPI_SPEC = "opensips==0.1.11"

# --- receiver run in a child process (bare | ours | theirs) -----------------
RECEIVER = textwrap.dedent(
    r'''
    import json, socket, sys, threading, time
    mode, mi_url, event, expected = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    state = {"n": 0, "first": None, "last": None}

    def cb(msg):
        if msg is None:
            return
        now = time.perf_counter()
        if state["first"] is None:
            state["first"] = now
        state["last"] = now
        state["n"] += 1

    closer = None
    if mode == "bare":
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # the same receive buffer our listener asks for, so both lose (or keep) the same
        # datagrams; blocking: the leanest possible loop
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        sock.bind(("127.0.0.1", 0))
        host, port = sock.getsockname()
        stop = threading.Event()

        def loop():
            recv, loads = sock.recvfrom, json.loads
            while True:
                data, _ = recv(65535)
                if stop.is_set():
                    break
                try:
                    msg = loads(data)
                except ValueError:
                    continue
                cb(msg)

        t = threading.Thread(target=loop, daemon=True)
        t.start()

        def closer():
            stop.set()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(b"", (host, port))  # wake the blocking recv
            t.join(2); sock.close()
    elif mode == "ours":
        from opensips.mi import OpenSIPSMI
        from opensips.event import OpenSIPSEventHandler
        hdl = OpenSIPSEventHandler(mi=OpenSIPSMI("http", url=mi_url), _type="datagram", ip="127.0.0.1", port=0)
        ev = hdl.subscribe(event, cb)
        host, port = ev.socket.split(":")[1], int(ev.socket.split(":")[2])
        closer = hdl.close
    else:  # theirs: the PyPI package, imported in its own venv
        from opensips.mi import OpenSIPSMI
        from opensips.event import OpenSIPSEventHandler
        hdl = OpenSIPSEventHandler(OpenSIPSMI(conn="http", url=mi_url), "datagram", ip="127.0.0.1", port=0)
        ev = hdl.subscribe(event, cb)
        name = ev.socket.sock_name
        host, port = name.split(":")[1], int(name.split(":")[2])
        closer = ev.unsubscribe

    cpu0 = time.process_time()
    print(f"READY {host} {port}", flush=True)
    deadline = time.monotonic() + float(sys.argv[5])
    seen, still = -1, time.monotonic()
    while time.monotonic() < deadline and state["n"] < expected:
        time.sleep(0.05)
        if state["n"] != seen:
            seen, still = state["n"], time.monotonic()
        elif state["n"] and time.monotonic() - still > 1.0:
            break  # sender done, the rest was dropped by the kernel
    cpu = time.process_time() - cpu0
    closer()
    wall = (state["last"] - state["first"]) if state["n"] > 1 else 0.0
    print("RESULT " + json.dumps({"delivered": state["n"], "cpu_s": cpu, "wall_s": wall}), flush=True)
    '''
)

# --- MI client run in a child process (bare | ours | theirs) x (http | datagram)
MI_CLIENT = textwrap.dedent(
    r'''
    import json, socket, sys, time
    mode, conn, target, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    host, _, port = target.rpartition(":") if conn == "datagram" else ("", "", "")
    if mode == "bare":
        if conn == "datagram":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
            addr = (host, int(port)); i = [0]
            def call():
                i[0] += 1
                s.sendto(json.dumps({"jsonrpc": "2.0", "method": "version", "id": i[0]}).encode(), addr)
                return json.loads(s.recv(65535))["result"]
        else:
            import http.client, urllib.parse
            u = urllib.parse.urlsplit(target)
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=2); i = [0]
            def call():
                i[0] += 1
                c.request("POST", u.path, json.dumps({"jsonrpc": "2.0", "method": "version", "id": i[0]}),
                          {"Content-Type": "application/json"})
                return json.loads(c.getresponse().read())["result"]
    else:
        from opensips.mi import OpenSIPSMI
        if conn == "datagram":
            kw = {"datagram_ip": host, "datagram_port": int(port)}
            if mode == "theirs":
                kw["datagram_timeout"] = 2  # theirs defaults to 0.1 s
            mi = OpenSIPSMI(conn="datagram", **kw)
        else:
            mi = OpenSIPSMI(conn="http", url=target)
        def call():
            return mi.execute("version")
    call()  # warm up (connection, imports)
    n, errors = 0, 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    end = t0 + seconds
    while time.perf_counter() < end:
        try:
            call(); n += 1
        except Exception as exc:  # a failed call is counted, not fatal
            errors += 1
            if errors > 100:
                break
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    print("RESULT " + json.dumps({"calls": n, "errors": errors, "wall_s": wall, "cpu_s": cpu}), flush=True)
    '''
)


class Budget:
    """Overall deadline so the script never runs away."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self, cap: float) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("overall --budget exhausted")
        return min(cap, left)


def make_venv(where: Path, budget: Budget) -> Path:
    """A fresh venv with the PyPI package; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=budget.left(120))
    py = where / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", PYPI_SPEC],
                   check=True, timeout=budget.left(300))
    return py


def start_sim(budget: Budget, workdir: Path) -> tuple[subprocess.Popen, str, str]:
    """``opensips-sim`` in its own process (its CPU is not the receiver's)."""
    http_port, dgram_port = free_port(), free_port(socket.SOCK_DGRAM)
    proc = subprocess.Popen(
        [sys.executable, "-m", "opensips.sim", "--mi-http", f"127.0.0.1:{http_port}",
         "--mi-datagram", f"127.0.0.1:{dgram_port}", "--rate", "0"],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    addr = ("127.0.0.1", dgram_port)
    deadline = time.monotonic() + budget.left(15)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"opensips-sim exited: {proc.stderr.read().decode(errors='replace')[-500:]}")
            try:
                s.sendto(b'{"jsonrpc":"2.0","method":"version","id":1}', addr)
                if b"result" in s.recv(65535):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                stop(proc)
                raise RuntimeError("opensips-sim did not answer MI within 15 s")
            time.sleep(0.1)
    return proc, f"http://127.0.0.1:{http_port}/mi", f"127.0.0.1:{dgram_port}"


def read_result(proc: subprocess.Popen, timeout: float) -> dict:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise RuntimeError(f"timed out; stderr: {err[-400:]}") from None
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"no result (rc={proc.returncode}); stderr: {err.strip()[-400:]}")


def run_receiver(py: str, mode: str, script: Path, mi_url: str, n: int, rate: float | None,
                 budget: Budget) -> dict:
    listen = budget.left(120)
    proc = subprocess.Popen([py, str(script), mode, mi_url, EVENT, str(n), str(listen)],
                            cwd=script.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + budget.left(20)
        line = ""
        while not line.startswith("READY"):
            line = proc.stdout.readline()
            if not line and proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"receiver not ready: {proc.stderr.read()[-400:] if proc.poll() is not None else 'timeout'}")
        _, host, port = line.split()
        data = [notification(i) for i in range(n)]
        sent = blast((host, int(port)), data, rate=rate, deadline=time.perf_counter() + listen)
        rest, err = proc.communicate(timeout=budget.left(listen + 10))
        for out in rest.splitlines():
            if out.startswith("RESULT "):
                res = json.loads(out[7:])
                res["sent"] = sent
                return res
        raise RuntimeError(f"no result (rc={proc.returncode}); stderr: {err.strip()[-400:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def median_row(runs: list[dict]) -> dict:
    per = [r["cpu_s"] / r["delivered"] * 1e6 for r in runs if r["delivered"]]
    rate = [r["delivered"] / r["wall_s"] for r in runs if r["wall_s"] > 0]
    return {
        "sent": sum(r["sent"] for r in runs) // len(runs),
        "delivered": sum(r["delivered"] for r in runs) // len(runs),
        "eps": statistics.median(rate) if rate else 0.0,
        "us": statistics.median(per) if per else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=50_000, help="notifications per receiver run")
    ap.add_argument("--rate", type=float, default=None, help="sender pace in events/s (default: full speed)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per receiver; the median is printed")
    ap.add_argument("--mi-seconds", type=float, default=3.0, help="duration of each MI calls/s run")
    ap.add_argument("--mi-repeat", type=int, default=3, help="MI runs per client (interleaved); the median is printed")
    ap.add_argument("--venv", type=Path, help="reuse this venv holding opensips==0.1.11 instead of a temporary one")
    ap.add_argument("--budget", type=float, default=900.0, help="overall time limit, seconds")
    args = ap.parse_args(argv)
    budget = Budget(args.budget)

    tmp = Path(tempfile.mkdtemp(prefix="bench-pypi-opensips-"))
    sim = None
    try:
        if args.venv:
            theirs_py = args.venv / "bin" / "python"
            if not theirs_py.exists():
                theirs_py = make_venv(args.venv, budget)
        else:
            print(f"# installing {PYPI_SPEC} into a throwaway venv ...", file=sys.stderr)
            theirs_py = make_venv(tmp / "venv", budget)
        (tmp / "receiver.py").write_text(RECEIVER)
        (tmp / "mi_client.py").write_text(MI_CLIENT)
        sim, mi_url, dgram = start_sim(budget, tmp)

        ours_py = sys.executable
        rows: list[tuple[str, dict | str]] = []
        for label, mode, py in (("bare recvfrom + json.loads", "bare", ours_py),
                                ("ours: opensips.event (this repo)", "ours", ours_py),
                                (f"theirs: {PYPI_SPEC} (PyPI)", "theirs", str(theirs_py))):
            runs = []
            try:
                for _ in range(args.repeat):
                    runs.append(run_receiver(py, mode, tmp / "receiver.py", mi_url, args.events, args.rate, budget))
                rows.append((label, median_row(runs)))
            except Exception as exc:  # one broken row must not hide the others
                rows.append((label, f"failed: {exc}"))
            print(f"# {label}: {rows[-1][1]}", file=sys.stderr)

        # MI rows: --mi-repeat rounds, the three clients interleaved within each
        # round so a burst of load from elsewhere on a shared machine hits all of
        # them alike; the median run (by calls/s) of each client is printed.
        mi_rows: list[tuple[str, str, dict | str]] = []
        for conn, target in (("http", mi_url), ("datagram", dgram)):
            clients = (("bare socket", "bare", ours_py), ("ours", "ours", ours_py),
                       ("theirs", "theirs", str(theirs_py)))
            runs: dict[str, list[dict]] = {label: [] for label, _, _ in clients}
            failed: dict[str, str] = {}
            for _ in range(args.mi_repeat):
                for label, mode, py in clients:
                    if label in failed:
                        continue
                    proc = subprocess.Popen([py, str(tmp / "mi_client.py"), mode, conn, target, str(args.mi_seconds)],
                                            cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    try:
                        runs[label].append(read_result(proc, budget.left(args.mi_seconds + 30)))
                    except Exception as exc:
                        failed[label] = f"failed: {exc}"
                    print(f"# MI {label} {conn}: {failed.get(label) or runs[label][-1]}", file=sys.stderr)
            for label, _, _ in clients:
                done = sorted(runs[label], key=lambda r: r["calls"] / r["wall_s"] if r["wall_s"] else 0.0)
                mi_rows.append((label, conn, failed.get(label) or done[len(done) // 2]))

        print_tables(args, rows, mi_rows)
        return 0
    finally:
        if sim is not None:
            stop(sim)
        shutil.rmtree(tmp, ignore_errors=True)


def print_tables(args: argparse.Namespace, rows: list, mi_rows: list) -> None:
    pace = f"{args.rate:g}/s" if args.rate else "full speed"
    print(f"\n### Events: {args.events} UDP notifications per run ({pace}), median of {args.repeat} runs\n")
    print("| receiver | sent | delivered | events/s delivered | CPU µs/event | CPU vs bare |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    bare_us = rows[0][1]["us"] if isinstance(rows[0][1], dict) else None
    for label, r in rows:
        if isinstance(r, str):
            print(f"| {label} | {r} | | | | |")
            continue
        ratio = f"{r['us'] / bare_us:.2f}x" if bare_us else "n/a"
        print(f"| {label} | {r['sent']} | {r['delivered']} | {r['eps']:,.0f} | {r['us']:.1f} | {ratio} |")
    print(f"\n### MI: `version` calls against opensips-sim, one thread, median of {args.mi_repeat} interleaved "
          f"runs of {args.mi_seconds:g} s\n")
    print("| client | transport | calls/s | CPU µs/call | errors |")
    print("| --- | --- | ---: | ---: | ---: |")
    for label, conn, r in mi_rows:
        if isinstance(r, str):
            print(f"| {label} | {conn} | {r} | | |")
            continue
        cps = r["calls"] / r["wall_s"] if r["wall_s"] else 0.0
        us = r["cpu_s"] / r["calls"] * 1e6 if r["calls"] else float("nan")
        print(f"| {label} | {conn} | {cps:,.0f} | {us:.0f} | {r['errors']} |")


if __name__ == "__main__":
    sys.exit(main())
