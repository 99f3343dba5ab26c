#!/usr/bin/env python3
"""The monitor's own CPU in a real terminal: % of one core per event rate, and key latency.

For each rate, the simulator runs in its own process (``opensips-sim --rate R``), and the real
``opensips-tui`` runs in a pseudo-terminal of the given size, its output read by this process
into a terminal emulator (pyte: ``pip install '.[bench]'``). 11 events are subscribed (the 8 the
simulator's traffic generator makes, so every generated event reaches the TUI, and 3 quiet ones).
Per rate it prints:

- the TUI process's CPU (``utime + stime`` of ``/proc/PID/stat``: every thread, the listener
  included) over ``--seconds``, as % of one core. That counter only grows while the process
  runs, so it hardly moves with other load on the machine (only caches and frequency do);
- the events/s reaching the TUI: a UDP socket of this script is subscribed to the same events
  (the simulator sends every event to both), and counts what arrives during the window;
- key-to-screen latency: ``down``/``up`` written to the pty as a terminal sends them, timed until
  the emulated screen shows the events list's highlight on the other row.

Rate ``max`` asks the simulator for ``--max-rate`` events/s; the row shows what it sustained.
``--runs 3`` repeats every rate and prints the median and the spread (min-max).
``--nice -5`` (root) runs the TUI, the simulator and this script ahead of other load: on a saturated
machine a starved TUI draws less often, so its CPU would show what it got, not what it asks for,
and a starved emulator here would add its own delay to the key latency.
``--python PATH`` runs the TUI with another interpreter (e.g. a venv holding an older version),
for a before/after comparison under the same machine load.
``--py-spy DIR`` also records each rate with ``py-spy record --format raw`` (needs ptrace) and
writes DIR/RATE-run.txt, the folded stacks, plus a summary of the hottest frames; the
per-thread CPU (from ``/proc``) then names each thread (the UI loop, the event listener, ...).

    python bench/tui_cpu.py [--size 120x40] [--rates 0,200,2000,max] [--seconds 15] [--runs 3]
                            [--screen events|statistics|trace] [--record]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pyte

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sender import free_port, stop  # noqa: E402

TRAFFIC = ["E_PIKE_BLOCKED", "E_CORE_THRESHOLD", "E_UL_CONTACT_INSERT", "E_UL_CONTACT_DELETE",
           "E_UL_CONTACT_UPDATE", "E_DLG_STATE_CHANGED", "E_CORE_LOG", "E_CORE_TCP_DISCONNECT"]
QUIET = ["E_CORE_SHM_THRESHOLD", "E_CORE_PKG_THRESHOLD", "E_UL_AOR_INSERT"]
SUBSCRIBE = TRAFFIC + QUIET
TICKS = os.sysconf("SC_CLK_TCK")
DOWN, UP = b"\x1b[B", b"\x1b[A"
ACTIVE_RE = re.compile(r"(\d+) active")
THREAD_RE = re.compile(r"thread \((\d+)\): ([^;]+);")


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds so far of each of ``pid``'s threads, by OS thread id."""
    out: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / TICKS
    return out


def thread_names(pid: int, spied: Path | None) -> dict[int, str]:
    """OS thread id -> name: Python 3.11 does not name OS threads, but a py-spy profile
    (``--threads``) heads each stack with ``thread (TID): NAME``. Without one, the main
    thread is "ui" and the others are "others"."""
    names = {pid: "ui"}
    if spied is not None and spied.exists():
        for line in spied.read_text(errors="replace").splitlines():
            match = THREAD_RE.match(line)
            if match:
                names[int(match.group(1))] = match.group(2)
    return names


def run_queue_wait(pid: int) -> float:
    """Seconds ``pid``'s threads have waited for a CPU while runnable (/proc schedstat): how
    busy the machine was for the TUI. Waiting a lot means it drew less than it wanted."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            continue
    return total


def renice(pid: int, nice: int) -> None:
    """``nice`` for ``pid``'s scheduling group too: with autogroups (Linux's default for desktops
    and many servers) a process niced inside its own session still shares the CPUs equally with
    every other session, so the group's niceness is what counts."""
    if nice:
        try:
            Path(f"/proc/{pid}/autogroup").write_text(str(nice))
        except OSError:
            pass


def start_sim(rate: float, nice: int = 0) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "opensips.sim", "--mi-http", f"127.0.0.1:{port}",
                             "--rate", str(rate), "--seed", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: os.nice(nice) and None)
    renice(proc.pid, nice)
    return proc, f"http://127.0.0.1:{port}/mi"


class Tap:
    """A UDP socket subscribed to the traffic events of one or more simulators: counts the
    events they send."""

    def __init__(self, *urls: str, expire: int = 600) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        port = self.sock.getsockname()[1]
        for url in urls:
            for n, event in enumerate(TRAFFIC):
                body = json.dumps({"jsonrpc": "2.0", "id": n, "method": "event_subscribe",
                                   "params": {"event": event, "socket": f"udp:127.0.0.1:{port}",
                                              "expire": expire}}).encode()
                req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=5) as reply:
                    if b'"result"' not in reply.read():
                        raise RuntimeError(f"tap: cannot subscribe {event}")
        self.count = 0
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                self.sock.recv(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            self.count += 1

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)
        self.sock.close()


class Terminal:
    """The TUI in a pty of ``cols`` x ``rows``, its output kept on an emulated screen.

    The reader thread only stores what the TUI writes; the emulator (slow, pure Python) parses it
    when the screen is looked at. So while CPU is measured nothing parses, the pty never fills,
    and the TUI is never slowed down by its terminal (it would then draw less, and use less).
    """

    def __init__(self, argv: list[str], cols: int, rows: int, env: dict[str, str], nice: int = 0) -> None:
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.bytes_out = 0
        self._raw: list[bytes] = []   # written by the TUI, not parsed yet
        self._stamps: list[float] = []   # when each of them arrived (monotonic)
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.master = master
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
            preexec_fn=lambda: (fcntl.ioctl(0, termios.TIOCSCTTY, 0), os.nice(nice)) and None)  # pty: its terminal
        os.close(slave)
        renice(self.proc.pid, nice)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:
                break
            if not data:
                break
            with self.lock:
                self.bytes_out += len(data)
                self._raw.append(data)
                self._stamps.append(time.monotonic())
                self.changed.notify_all()

    def emulated(self) -> pyte.Screen:
        """The screen as of now (call with ``lock`` held)."""
        if self._raw:
            self.stream.feed(b"".join(self._raw))
            self._raw.clear()
            self._stamps.clear()
        return self.screen

    def written_at(self, predicate, timeout: float) -> float | None:
        """When (monotonic) the TUI wrote the output that made ``predicate(screen)`` hold,
        None if it did not within ``timeout``. The chunks are parsed one by one with their
        arrival times, so a busy emulator (pure Python) does not delay what is measured."""
        end = time.monotonic() + timeout
        with self.lock:
            if predicate(self.emulated()):      # already shown
                return time.monotonic()
        while True:
            with self.lock:     # take one chunk; parse it with the lock free for the reader
                while not self._raw:
                    left = end - time.monotonic()
                    if left <= 0 or self.proc.poll() is not None:
                        return None
                    self.changed.wait(min(left, 0.05))
                chunk, stamp = self._raw.pop(0), self._stamps.pop(0)
            self.stream.feed(chunk)
            if predicate(self.screen):
                return stamp

    def text(self) -> str:
        with self.lock:
            return "\n".join(self.emulated().display)

    def wait_for(self, predicate, timeout: float) -> bool:
        """Wait until ``predicate(screen)`` holds (checked on every output chunk)."""
        end = time.monotonic() + timeout
        with self.lock:
            while not predicate(self.emulated()):
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return False
                self.changed.wait(min(left, 0.05))
        return True

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.send(b"q")
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                stop(self.proc)
        try:
            os.close(self.master)
        except OSError:
            pass


def highlighted_row(screen: pyte.Screen, column: int = 3) -> int | None:
    """The events list's highlighted row: the one row whose background differs from the rest
    of the list's rows (column 3 is inside the list at every size)."""
    rows = range(2, screen.lines - 3)
    bgs = [screen.buffer[y][column].bg for y in rows]
    common = Counter(bgs).most_common(1)[0][0]
    odd = [y for y, bg in zip(rows, bgs) if bg != common]
    return odd[0] if len(odd) == 1 else None


def key_latencies(term: Terminal, presses: int, gap: float) -> list[float]:
    """Seconds from writing ``down``/``up`` to the emulated screen showing the highlight moved."""
    out = []
    for i in range(presses):
        with term.lock:
            before = highlighted_row(term.emulated())
        if before is None:
            time.sleep(gap)
            continue
        t0 = time.perf_counter()
        term.send(DOWN if i % 2 == 0 else UP)
        moved = term.wait_for(lambda s: highlighted_row(s) not in (before, None), 5.0)
        out.append(time.perf_counter() - t0 if moved else float("inf"))
        time.sleep(gap)
    return out


def py_spy(pid: int, seconds: float, out: Path, rate: int = 100) -> subprocess.Popen:
    return subprocess.Popen(["py-spy", "record", "--format", "raw", "--nonblocking", "-r", str(rate),
                             "-d", str(int(seconds)), "-p", str(pid), "-o", str(out), "--threads"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def summarize_raw(path: Path, top: int = 25) -> str:
    """Hottest frames of a py-spy raw (folded) profile: own time and inclusive time, % of samples."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        threads[frames[0]] += n
        own[frames[-1]] += n
        for frame in set(frames[1:]):
            incl[frame] += n
    if not total:
        return "no samples\n"
    lines = [f"{total} samples"]
    lines += ["by thread:"] + [f"  {100 * n / total:5.1f}%  {t}" for t, n in threads.most_common(8)]
    lines += ["own time:"] + [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines += ["inclusive:"] + [f"  {100 * n / total:5.1f}%  {f}" for f, n in incl.most_common(top)]
    return "\n".join(lines) + "\n"


def measure(rate: float, args: argparse.Namespace, label: str) -> dict:
    cols, rows = (int(x) for x in args.size.split("x"))
    sim, url = start_sim(rate, args.nice)
    term = tap = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows),
                       XDG_CONFIG_HOME=tmp, XDG_DATA_HOME=tmp)
            argv = [args.python, "-m", "opensips_tui", "-t", "http", "--url", url,
                    "--listen-ip", "127.0.0.1", "--subscribe", ",".join(SUBSCRIBE)]
            if args.refresh is not None:
                argv += ["--refresh", str(args.refresh)]
            if args.record:  # every notification also written to a recording (its cost)
                argv += ["--record", os.path.join(tmp, "rec.jsonl")]
            for _ in range(50):  # the simulator binds its port
                try:
                    tap = Tap(url)
                    break
                except OSError:
                    time.sleep(0.2)
            else:
                raise RuntimeError("opensips-sim did not answer")
            term = Terminal(argv, cols, rows, env, args.nice)
            want = len(SUBSCRIBE)
            ok = term.wait_for(lambda s: any((m := ACTIVE_RE.search(line)) and int(m.group(1)) == want
                                             for line in s.display), 30)
            if not ok:
                raise RuntimeError("subscriptions never became active:\n" + term.text())
            if args.screen == "statistics":  # key 2: the statistics screen polls and redraws
                term.send(b"2")
                if not term.wait_for(lambda s: any("SIP/s" in line for line in s.display), 15):
                    raise RuntimeError("the statistics screen never showed:\n" + term.text())
            if args.screen == "trace":  # key 4: the tracer mirrors the simulator's SIP (2 items/s) as HEP
                term.send(b"4")
                if not term.wait_for(lambda s: any("trace running" in line for line in s.display), 15):
                    raise RuntimeError("the trace screen never showed:\n" + term.text())
            time.sleep(args.warmup)
            spy, spy_out = None, None
            if args.py_spy:
                Path(args.py_spy).mkdir(parents=True, exist_ok=True)
                spy_out = Path(args.py_spy) / f"{label}.txt"
                spy = py_spy(term.proc.pid, args.seconds, spy_out, args.py_spy_rate)
            n0, c0, t0 = tap.count, cpu_seconds(term.proc.pid), time.monotonic()
            th0, w0 = thread_cpu(term.proc.pid), run_queue_wait(term.proc.pid)
            time.sleep(args.seconds)
            n1, c1, t1 = tap.count, cpu_seconds(term.proc.pid), time.monotonic()
            th1, w1 = thread_cpu(term.proc.pid), run_queue_wait(term.proc.pid)
            if spy is not None:
                spy.wait(args.seconds + 30)
            names = thread_names(term.proc.pid, spy_out)
            threads: Counter[str] = Counter()
            for tid, seconds in th1.items():  # threads of one name (a worker pool) added up
                threads[names.get(tid, "others")] += 100 * (seconds - th0.get(tid, 0.0)) / (t1 - t0)
            # the latency probe watches the events list's highlight: events screen only
            lat = key_latencies(term, args.presses, 0.25) if args.screen == "events" else []
            return {"cpu": 100 * (c1 - c0) / (t1 - t0), "rate": (n1 - n0) / (t1 - t0), "lat": lat,
                    "threads": threads, "waited": 100 * (w1 - w0) / (t1 - t0)}
    finally:
        if term is not None:
            term.close()
        if tap is not None:
            tap.close()
        stop(sim)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="120x40", help="terminal size COLSxROWS (default 120x40)")
    ap.add_argument("--rates", default="0,200,2000,max", help="simulator rates (default 0,200,2000,max)")
    ap.add_argument("--max-rate", type=float, default=50_000, help="what 'max' asks for (default 50000)")
    ap.add_argument("--seconds", type=float, default=15.0, help="CPU window per rate (default 15)")
    ap.add_argument("--warmup", type=float, default=4.0, help="seconds after subscribing (default 4)")
    ap.add_argument("--presses", type=int, default=20, help="key presses per rate (default 20)")
    ap.add_argument("--runs", type=int, default=3, help="runs of every rate (default 3)")
    ap.add_argument("--refresh", type=float, default=None, help="pass --refresh to the TUI")
    ap.add_argument("--record", action="store_true", help="run the TUI with --record (a file in its temporary directory)")
    ap.add_argument("--screen", choices=("events", "statistics", "trace"), default="events",
                    help="the screen shown while measuring (statistics: key 2, polled every second; "
                         "trace: key 4, the simulator's SIP traced as HEP)")
    ap.add_argument("--nice", type=int, default=0,
                    help="run the TUI and the simulator at this niceness (e.g. -5 as root, so that on a "
                         "busy machine the TUI gets the CPU it asks for and the figure is its demand)")
    ap.add_argument("--python", default=sys.executable,
                    help="the Python that runs the TUI (another venv: compare two versions)")
    ap.add_argument("--py-spy", dest="py_spy", metavar="DIR", help="also record py-spy profiles into DIR")
    ap.add_argument("--py-spy-rate", dest="py_spy_rate", type=int, default=100,
                    help="py-spy samples per second (default 100; more for a short window)")
    ap.add_argument("--json", action="store_true", help="print the raw results as JSON too")
    args = ap.parse_args(argv)
    if args.nice:  # this script too: its terminal emulator times the keys, and must not be starved
        try:
            os.nice(args.nice)
        except OSError:
            pass
        renice(os.getpid(), args.nice)
    rates = [args.max_rate if r.strip() == "max" else float(r) for r in args.rates.split(",")]
    names = [r.strip() for r in args.rates.split(",")]
    results: dict[str, list[dict]] = {n: [] for n in names}
    print(f"# opensips-tui CPU at {args.size}, {args.screen} screen, {len(SUBSCRIBE)} subscriptions, {args.seconds:g} s per "
          f"rate, {args.runs} run(s); machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}",
          flush=True)
    for run in range(args.runs):  # rates interleaved across runs, so a busy minute hits them all
        for name, rate in zip(names, rates):
            r = measure(rate, args, f"{args.size}-{name}-run{run + 1}")
            results[name].append(r)
            finite = [x for x in r["lat"] if x != float("inf")]
            print(f"run {run + 1} rate {name:>5}: {r['rate']:8.0f} ev/s  TUI CPU {r['cpu']:5.1f}% of one core  "
                  f"key p95 {1000 * pct(finite, 0.95):5.0f} ms ({len(r['lat']) - len(finite)} lost)  "
                  "threads: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(r["threads"].items(), key=lambda kv: -kv[1])
                                          if v >= 0.1)
                  + f"; waited for a CPU {r['waited']:.1f}%", flush=True)
    print(f"\n| events/s reaching the TUI ({args.size}) | TUI CPU, % of one core: median (min-max) | "
          "key to screen: median / p95 | waited for a CPU, % |")
    print("| ---: | ---: | ---: | ---: |")
    for name in names:
        rs = results[name]
        cpu = [r["cpu"] for r in rs]
        ev = statistics.median(r["rate"] for r in rs)
        lat = [x for r in rs for x in r["lat"] if x != float("inf")]
        print(f"| {ev:,.0f} ({name}) | {statistics.median(cpu):.1f} ({min(cpu):.1f}-{max(cpu):.1f}) | "
              f"{1000 * statistics.median(lat) if lat else float('nan'):.0f} ms / "
              f"{1000 * pct(lat, 0.95):.0f} ms | {statistics.median(r['waited'] for r in rs):.0f} |")
    if args.py_spy:
        for path in sorted(Path(args.py_spy).glob(f"{args.size}-*.txt")):
            print(f"\n## py-spy {path.name}\n{summarize_raw(path)}")
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
