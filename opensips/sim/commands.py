"""MI command table and JSON-RPC dispatch of the simulated OpenSIPS (pure: no sockets).

`Dispatcher.handle(raw)` turns request bytes into an `Outcome`; each MI transport decides what
to put on the wire for it, because the real transports differ (a parse error is -32700 over
http, plain text `400 Parse_error` over datagram and silence over fifo; a request with a
non-string method crashes mi_fifo but gets -32600 over http).
"""

from __future__ import annotations

import builtins
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from . import data
from .jsontext import DupKeys, dumps
from .registry import DEFAULT_EXPIRE, BadSocket, Registry
from .statistics import SimStatistics, kind_of, select
from .tracer import SimTracer, TracerError

_INT = re.compile(r"^\s*[+-]?\d+\s*$")


class MIError(Exception):
    """A JSON-RPC error object to send back."""

    def __init__(self, code: int, message: str, data_: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data_

    def as_dict(self) -> dict:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err


def _bad_type(name: str) -> MIError:
    return MIError(-32602, "Invalid params", f"Bad type for parameter '{name}'")


@dataclass
class Outcome:
    """What the dispatcher made of one request.

    kind: "reply" (send `text`), "notification" (executed, nothing to send),
    "parse_error" (`text` is the -32700 reply), "crash" (a request that segfaults the real
    mi_fifo / 4.x mi_datagram; `text` is the -32600 reply mi_http gives).
    """

    kind: str
    text: str | None = None


@dataclass
class Params:
    """Named parameters after recipe matching."""

    values: dict[str, Any] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.values

    def int(self, name: str) -> int:
        v = self.values[name]
        if isinstance(v, bool):
            raise _bad_type(name)
        if isinstance(v, (int, float)):
            return int(v)
        if isinstance(v, str) and _INT.match(v):
            return int(v)
        raise _bad_type(name)

    def str(self, name: str) -> str:
        v = self.values[name]
        if isinstance(v, str) and v:
            return v
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        raise _bad_type(name)

    def array(self, name: builtins.str) -> list:  # plain `str` here is the method above
        v = self.values[name]
        if not isinstance(v, list):
            raise _bad_type(name)
        return v


# Parameter recipes (the accepted sets of named parameters) of the implemented commands,
# keyed by the 3.x flat name.
RECIPES: dict[str, list[list[str]]] = {
    "which": [[], ["command"]],
    "version": [[], ["revision"]],
    "uptime": [[]],
    "ps": [[]],
    "help": [["mi_cmd"]],
    "log_level": [[], ["level"], ["level", "pid"]],
    "get_statistics": [["statistics"]],
    "list_statistics": [[], ["statistics"]],
    "reset_statistics": [["statistics"]],
    "events_list": [[]],
    "subscribers_list": [[], ["event"], ["event", "socket"]],
    "event_subscribe": [["event", "socket"], ["event", "socket", "expire"]],
    "raise_event": [["event"], ["event", "params"]],
    "pike_list": [[]],
    # the tracer module answers these itself (tracer.py); here for `which`
    "trace": [[], ["id"], ["mode"], ["id", "mode"]],
    "trace_start": [["id", "uri"], ["id", "uri", "filter"], ["id", "uri", "filter", "scope", "type"]],
    "trace_stop": [["id"]],
    "pwd": [[]],
    "shv_get": [[], ["name"]],
    "shv_set": [["name", "type", "value"]],
}

_UNNAMED_GARBAGE = "x\u00a7\u00cb\\d"   # what 4.0.1 sends for an array inside JSON-string params


class Dispatcher:
    """Executes MI commands against the simulator state."""

    def __init__(self, version: str, registry: Registry,
                 emit: Callable[[str, Any], None],
                 info: Callable[[], dict] | None = None,
                 quirks: bool = True) -> None:
        self.version = version
        self.v4 = version.startswith("4")
        self.registry = registry
        self.emit = emit
        self.info = info or (lambda: {})
        self.quirks = quirks
        self.started = time.time()
        self.log_level = 3
        self.proc_log_level: dict[int, int] = {}   # ps ID -> a level set for that process only
        # dialog/usrloc/registrar statistics when those modules' events are published
        self.modules = "E_DLG_STATE_CHANGED" in registry.events
        self.stats = SimStatistics(modules=self.modules)
        self.shared_vars: dict[str, int | str] = {}
        self._array_raised = False
        self._lock = threading.Lock()
        self.tracer: SimTracer | None = None  # the tracer module, when the server loads it
        # name resolution tables
        rows = data.commands(self.modules)
        self.canonical = {c: (old or c) for c, old, _m in rows}
        self.alias = {old: c for c, old, _m in rows if old and old not in data.NOT_ALIASES_4}
        self.module = {(old or c): m for c, old, m in rows}
        # command sets of the loaded modules (objects with RECIPES and cmd_<3.x name> methods)
        self._extensions: list[Any] = []

    def extend(self, commands: Any) -> None:
        """Answer the commands of ``commands``: its ``cmd_<3.x name>`` methods, with the
        parameter recipes of its ``RECIPES`` and the named-only commands of ``NAMED_ONLY``."""
        self._extensions.append(commands)

    def recipes(self, key: str) -> list[list[str]] | None:
        """The accepted parameter sets of a command, by its 3.x flat name."""
        if key in RECIPES:
            return RECIPES[key]
        for ext in self._extensions:
            if key in getattr(ext, "RECIPES", {}):
                return ext.RECIPES[key]
        return None

    def _named_only(self, key: str) -> bool:
        return any(key in getattr(ext, "NAMED_ONLY", ()) for ext in self._extensions)

    # -- lifecycle -------------------------------------------------------------------------
    def reset(self) -> None:
        """A restart: fresh uptime, statistics from zero, the configured log level and the
        first-array quirk again."""
        self.started = time.time()
        self.stats.reset()
        self._array_raised = False
        self.log_level = 3
        self.proc_log_level.clear()

    # -- name resolution -----------------------------------------------------------------
    def which_list(self) -> list[str]:
        if self.v4:
            return [c for c, _o, _m in data.commands(self.modules)]
        return data.which_3(self.modules)

    def resolve(self, name: str) -> str:
        """Map a requested method name to the internal (3.x flat) command key."""
        if not self.v4:
            if name in data.which_3(self.modules):
                return name
            raise MIError(-32601, "Method not found")
        if name in self.canonical:
            return self.canonical[name]
        if name in self.alias:
            return name
        matches = [c for c in self.canonical if c.split(":", 1)[1] == name]
        if len(matches) == 1:
            return self.canonical[matches[0]]
        if matches:
            raise MIError(-32001, "Method ambiguous", "supported names: " + ", ".join(matches))
        raise MIError(-32601, "Method not found")

    # -- JSON-RPC --------------------------------------------------------------------------
    def reply_text(self, rid: Any, result: Any = None, error: MIError | None = None,
                   pretty: bool = False) -> str:
        body: dict[str, Any] = {"jsonrpc": "2.0"}
        if error is not None:
            body["error"] = error.as_dict()
        else:
            body["result"] = result
        body["id"] = rid
        return dumps(body, pretty)

    def handle(self, raw: bytes | str, pretty: bool = False) -> Outcome:
        try:
            text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
            req = json.loads(text)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return Outcome("parse_error",
                           self.reply_text(None, error=MIError(-32700, "Parse error"), pretty=pretty))
        invalid = MIError(-32600, "Invalid Request")
        if not isinstance(req, dict):
            return Outcome("crash", self.reply_text(None, error=invalid, pretty=pretty))
        has_id = "id" in req
        rid = req.get("id")
        method = req.get("method")
        if not isinstance(method, str):
            return Outcome("crash", self.reply_text(rid, error=invalid, pretty=pretty))
        params = req.get("params")
        if req.get("jsonrpc") != "2.0" or ("params" in req and params is not None
                                           and not isinstance(params, (dict, list))):
            return Outcome("reply", self.reply_text(rid, error=invalid, pretty=pretty))
        try:
            result = self.execute(method, params)
            error = None
        except MIError as exc:
            result, error = None, exc
        except Exception as exc:  # a simulator bug must not kill a transport thread
            result, error = None, MIError(500, f"Internal error: {exc}")
        if not has_id:
            return Outcome("notification")
        return Outcome("reply", self.reply_text(rid, result, error, pretty))

    def execute(self, method: str, params: dict | list | None) -> Any:
        """Run one command; returns its result or raises MIError."""
        tracer = self.tracer
        if tracer is not None and tracer.handles(method):
            try:
                return tracer.execute(method, params)
            except TracerError as exc:
                raise MIError(exc.code, exc.message, exc.data) from None
        try:
            key = self.resolve(method)
        except MIError as exc:
            if exc.code == -32601:
                self._log_event("ERROR", "handle_mi_request", "Command not found")
            raise
        if isinstance(params, list) and params and self._named_only(key):
            raise MIError(-32602, "Invalid params", "Command only supports named parameters")
        values = self._match(self.recipes(key), params)
        handler = getattr(self, "cmd_" + key, None)
        for ext in self._extensions:
            handler = handler or getattr(ext, "cmd_" + key, None)
        if handler is None:
            raise MIError(500, "Not implemented by opensips-sim")
        return handler(Params(values))

    @staticmethod
    def _match(recipes: list[list[str]] | None, params: dict | list | None) -> dict[str, Any]:
        """Pick the recipe the params fit, with OpenSIPS's two error messages."""
        if not params:
            if recipes is None or [] in recipes:
                return {}
            raise MIError(-32602, "Invalid params", "Too few or too many parameters")
        if recipes is None:
            return dict(params) if isinstance(params, dict) else {}
        err = "Too few or too many parameters"
        for recipe in recipes:
            if len(recipe) != len(params):
                continue
            if isinstance(params, list):
                return dict(zip(recipe, params))
            if set(recipe) == set(params):
                return dict(params)
            err = "Named parameters do not match"
        raise MIError(-32602, "Invalid params", err)

    # -- helpers ---------------------------------------------------------------------------
    def _log_event(self, level: str, function: str, message: str) -> None:
        if "E_CORE_LOG" in self.registry.events and self.registry.active("E_CORE_LOG"):
            self.emit("E_CORE_LOG", {
                "time": time.strftime("%b %d %H:%M:%S"), "pid": os.getpid(), "level": level,
                "module": "core", "function": function, "message": message})

    def processes(self) -> list[tuple[int, str]]:
        http = self.info().get("http", "127.0.0.1:8888")
        base = os.getpid()
        types = list(data.PROCESS_TYPES)
        if self.tracer is not None and self.tracer.processes():  # its hep_udp socket, in the last UDP receiver's place
            types[max(i for i, t in enumerate(types) if t.startswith("SIP receiver udp:"))] = self.tracer.processes()[0]
        return [(base + i * 2 if i else base, t.replace("{http}", http)) for i, t in enumerate(types)]

    def statistics(self) -> dict[str, int]:
        return self.stats.snapshot()

    def bump(self, name: str, n: int = 1) -> None:
        self.stats.bump(name, n)

    # -- commands --------------------------------------------------------------------------
    def cmd_version(self, p: Params) -> Any:
        return {"Server": data.server_string(self.version)}

    def cmd_uptime(self, p: Params) -> Any:
        now = time.time()
        return {"Now": time.ctime(now), "Up since": time.ctime(self.started),
                "Up time": f"{int(now - self.started)} [sec]"}

    def cmd_which(self, p: Params) -> Any:
        if not p.has("command"):
            return self.which_list()
        command = p.str("command")
        if self.v4 and command.endswith(":"):   # "dialog:" lists one module's commands
            names = [c for c in self.which_list() if c.startswith(command)]
            if names:
                return names
        try:
            key = self.resolve(command)
        except MIError:
            raise MIError(404, "unknown MI command") from None
        return self.recipes(key) or [[]]

    def cmd_ps(self, p: Params) -> Any:
        return {"Processes": [{"ID": i, "PID": pid, "Type": t}
                              for i, (pid, t) in enumerate(self.processes())]}

    def cmd_pwd(self, p: Params) -> Any:
        return {"WD": os.getcwd()}

    def cmd_help(self, p: Params) -> Any:
        try:
            key = self.resolve(p.str("mi_cmd"))
        except MIError:
            raise MIError(404, "unknown MI command") from None
        return {"Help": data.HELP.get(key, "no help available"),
                "Exported by": self.module.get(key, "core")}

    def cmd_log_level(self, p: Params) -> Any:
        """Each process's level; a level for all, or for one process (mi/mi_core.c)."""
        if not p.has("level"):
            return {"Processes": [{"PID": pid, "Log level": self.proc_log_level.get(i, self.log_level),
                                   "Type": t} for i, (pid, t) in enumerate(self.processes())]}
        level = p.int("level")
        if p.has("pid"):
            pid = p.int("pid")
            ids = [i for i, (proc, _t) in enumerate(self.processes()) if proc == pid]
            if not ids:
                raise MIError(-32602, "Invalid params", "Bad PID")
            self.proc_log_level[ids[0]] = level
            return {"Log level": level}
        self.log_level = level
        self.proc_log_level.clear()
        return {"New global log level": level}

    def cmd_get_statistics(self, p: Params) -> Any:
        wanted = p.array("statistics")
        if not all(isinstance(w, str) for w in wanted):
            raise _bad_type("statistics")
        return select(self.statistics(), wanted)

    def cmd_list_statistics(self, p: Params) -> Any:
        names = self.statistics()
        if p.has("statistics"):
            names = select(names, p.array("statistics"))
        return {k: kind_of(k) for k in names}

    def cmd_events_list(self, p: Params) -> Any:
        return {"Events": [{"name": n, "id": i} for n, i in self.registry.event_list()]}

    def cmd_subscribers_list(self, p: Params) -> Any:
        if not p.has("event"):
            return {"Events": [{"name": n, "id": i, "Subscribers": subs}
                               for n, i, subs in self.registry.listing()]}
        event = p.str("event")
        if event not in self.registry.events:
            raise MIError(404, "Event not published")
        subs = self.registry.of_event(event)
        eid = self.registry.events[event]
        if p.has("socket"):
            sock = p.str("socket")
            for s in subs:
                if s["socket"] == sock:
                    return {"Event": {"name": event, "id": eid, "Subscriber": s}}
            raise MIError(404, "Subscriber does not exist")
        if not subs:
            return {"Event": {}}
        return {"Event": {"name": event, "id": eid, "Subscribers": subs}}

    def cmd_event_subscribe(self, p: Params) -> Any:
        event = p.str("event")
        sock = p.str("socket")
        expire = DEFAULT_EXPIRE
        if p.has("expire"):
            expire = p.int("expire")
            if expire < 0:
                raise MIError(-32602, "Invalid params", "Negative expire value")
        try:
            self.registry.subscribe(event, sock, expire)
        except (KeyError, BadSocket):
            raise MIError(400, "Bad parameter value") from None
        return "OK"

    def cmd_raise_event(self, p: Params) -> Any:
        event = p.str("event")
        if event not in self.registry.events:
            raise MIError(404, "Event not registered")
        if not self.registry.active(event):
            raise MIError(480, "Temporarily Unavailable")
        payload: Any = None
        if p.has("params"):
            payload = self._event_params(p.values["params"])
        self.emit(event, payload)
        return "OK"

    def _event_params(self, raw: Any) -> Any:
        """raise_event params: a string holding a JSON object, or an array; never an object."""
        if isinstance(raw, dict):
            raise MIError(400, "No Params")
        if isinstance(raw, list):
            if not self.quirks or not self._array_raised:
                self._array_raised = True
                return list(raw)
            return DupKeys(("", v if isinstance(v, str) else dumps(v)) for v in raw)
        if not isinstance(raw, str):
            raise MIError(400, "Bad Params")
        try:
            obj = json.loads(raw)
        except ValueError:
            raise MIError(400, "Bad Params") from None
        if not isinstance(obj, dict):
            raise MIError(400, "Bad Params")
        if not self.quirks:
            return obj
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if isinstance(v, bool) or v is None:
                out[k] = "null"
            elif isinstance(v, (int, str)):
                out[k] = v
            elif isinstance(v, float):
                out[k] = int(v)
            elif isinstance(v, dict):
                out[k] = dumps(v)
            else:
                out[k] = _UNNAMED_GARBAGE
        return out

    def cmd_shv_set(self, p: Params) -> Any:
        """cfgutils shared variables: also a handy way to make replies of any size."""
        name, kind = p.str("name"), p.str("type")
        if kind == "int":
            self.shared_vars[name] = p.int("value")
        elif kind == "str":
            v = p.values["value"]
            if not isinstance(v, str):
                raise _bad_type("value")
            self.shared_vars[name] = v
        else:
            raise MIError(500, "bad shv type")
        return "OK"

    def cmd_shv_get(self, p: Params) -> Any:
        def var(n: str) -> dict:
            return {"name": n, "value": self.shared_vars[n]}

        if p.has("name"):
            name = p.str("name")
            if name not in self.shared_vars:
                raise MIError(404, "Variable not found")
            return {"VAR": var(name)}
        return {"VARs": [var(n) for n in self.shared_vars]}
