"""MI commands of the operational tables: dialog, usrloc, dispatcher, load_balancer, tcp, pike.

Handlers are named ``cmd_<3.x name>``; the dispatcher (commands.py) resolves the 4.x
``module:cmd`` names and the aliases to those. Parameter recipes, error codes and messages
come from the 4.0.1 sources (modules/*/ mi_cmds tables and handlers) and are checked against
the captures in tests/fixtures/opensips-wire/4.0.1/ops/error_*.json.

Every command first lets time act on the tables (expiries, probe rounds) and sends the events
that raised, so what a reply shows and what subscribers were told agree.
"""

from __future__ import annotations

from typing import Any, Callable

from .commands import MIError, Params
from .connections import KNOWN_PROTOS
from .operations import Event, Operations
from .statistics import SimStatistics

RECIPES: dict[str, list[list[str]]] = {
    "dlg_list": [[], ["callid"], ["callid", "from_tag"], ["index", "counter"]],
    "dlg_list_ctx": [[], ["callid"], ["callid", "from_tag"], ["index", "counter"]],
    "dlg_end_dlg": [["dialog_id"], ["dialog_id", "extra_hdrs"]],
    "ul_dump": [[], ["brief"]],
    "ul_show_contact": [["table_name", "aor"]],
    "ds_set_state": [["state", "group", "address"]],
    "ds_list": [[], ["partition"], ["full"], ["full", "partition"]],
    "lb_list": [[]],
    "lb_status": [["destination_id"], ["destination_id", "new_status"]],
    "list_tcp_conns": [[], ["proto"]],
    "pike_list": [[]],
}
# Where 3.6.8 differs (mi/mi_core.c: its list_tcp_conns takes no params).
RECIPES_3: dict[str, list[list[str]]] = {"list_tcp_conns": [[]]}
# MI_NAMED_PARAMS_ONLY in dialog.c: positional params are refused before recipe matching.
NAMED_ONLY = frozenset({"dlg_list", "dlg_list_ctx"})


class OperationsMI:
    """The handlers, over one :class:`Operations` (``emit`` sends events to subscribers)."""

    NAMED_ONLY = NAMED_ONLY

    def __init__(self, ops: Operations, emit: Callable[[str, Any], None],
                 stats: SimStatistics | None = None, v4: bool = True) -> None:
        self.RECIPES = RECIPES if v4 else {**RECIPES, **RECIPES_3}
        self.ops = ops
        self.emit = emit
        self.stats = stats

    def _send(self, events: list[Event]) -> None:
        for name, params in events:
            self.emit(name, params)

    def _tick(self) -> None:
        self._send(self.ops.tick())

    # -- dialog ----------------------------------------------------------------------------
    def _dialogs(self, p: Params, context: bool) -> Any:
        self._tick()
        table = self.ops.dialogs
        if p.has("callid"):
            found = table.one(p.str("callid"), p.str("from_tag") if p.has("from_tag") else None,
                              context)
            if found is None:
                raise MIError(404, "No such dialog")
            return found
        if p.has("index"):
            return table.listing(context, p.int("index"), p.int("counter"))
        return table.listing(context)

    def cmd_dlg_list(self, p: Params) -> Any:
        return self._dialogs(p, context=False)

    def cmd_dlg_list_ctx(self, p: Params) -> Any:
        return self._dialogs(p, context=True)

    def cmd_dlg_end_dlg(self, p: Params) -> Any:
        dialog_id = p.str("dialog_id")
        if p.has("extra_hdrs"):
            p.str("extra_hdrs")
        self._tick()
        ended = self.ops.dialogs.end(dialog_id)
        if ended is None:
            raise MIError(404, "Requested Dialog not found")
        dlg, event = ended
        if self.stats is not None:
            self.stats.bump("dialog:processed_dialogs")
            self.stats.bump("tm:UAC_transactions", 2)      # the BYE sent to each side
        self.emit("E_DLG_STATE_CHANGED", event)
        return "OK"

    # -- usrloc ----------------------------------------------------------------------------
    def cmd_ul_dump(self, p: Params) -> Any:
        brief = bool(p.int("brief")) if p.has("brief") else False
        reply, events = self.ops.location.dump(brief)
        self._send(events)
        return reply

    def cmd_ul_show_contact(self, p: Params) -> Any:
        table, aor = p.str("table_name"), p.str("aor")
        if table != "location":
            raise MIError(404, "Table not found")
        if "@" not in aor:                    # use_domain: an AOR is user@domain
            raise MIError(400, "Domain missing in AOR")
        reply, events = self.ops.location.show(aor)
        self._send(events)
        if reply is None:
            raise MIError(404, "AOR not found")
        return reply

    # -- dispatcher ------------------------------------------------------------------------
    def cmd_ds_list(self, p: Params) -> Any:
        full = bool(p.int("full")) if p.has("full") else False
        if p.has("partition") and p.str("partition") != "default":
            raise MIError(500, "ERROR Unknown partition")
        self._tick()
        return self.ops.destinations.ds_listing(full)

    def cmd_ds_set_state(self, p: Params) -> Any:
        state = p.str("state")[0]
        if state in "0Ii":
            state = "i"
        elif state in "pP2":
            state = "p"
        elif state in "aA1":
            state = "a"
        else:
            raise MIError(500, "Bad state value")
        group = p.str("group")
        partition, sep, number = group.rpartition(":")
        if sep and ":" in partition:
            raise MIError(500, "bad group format")
        if sep and partition != "default":
            raise MIError(404, "ERROR Unknown partition")
        if not number.isdigit():
            raise MIError(500, "bad group value")
        address = p.str("address")
        self._tick()
        events = self.ops.destinations.set_state(state, int(number), address)
        if events is None:
            raise MIError(404, "destination not found")
        self._send(events)
        return "OK"

    # -- load_balancer ---------------------------------------------------------------------
    def cmd_lb_list(self, p: Params) -> Any:
        self._tick()
        return self.ops.destinations.lb_listing(self.ops.dialogs.load())

    def cmd_lb_status(self, p: Params) -> Any:
        dst_id = p.int("destination_id")
        enable = bool(p.int("new_status")) if p.has("new_status") else None
        self._tick()
        answer = self.ops.destinations.lb_status(dst_id, enable)
        if answer is None:
            raise MIError(404, "Destination ID not found")
        enabled, events = answer
        self._send(events)
        if enable is None:
            return {"enable": "yes" if enabled else "no"}
        return "OK"

    # -- core tcp and pike -----------------------------------------------------------------
    def cmd_list_tcp_conns(self, p: Params) -> Any:
        proto = p.str("proto") if p.has("proto") else None
        if proto is not None and proto.lower() not in KNOWN_PROTOS:
            raise MIError(400, "Bad protocol")
        self._tick()
        return self.ops.connections.listing(proto)

    def cmd_pike_list(self, p: Params) -> Any:
        return {"IPs": self.ops.connections.blocked()}
