"""``opensips-mi``: run one MI command and print its result as pretty JSON.

    opensips-mi [MI flags] CMD [PARAMS...]

PARAMS are ``key=value`` pairs (named; a repeated key becomes a list), plain
values (positional), or one JSON object/array (also as ``-j JSON``). A value
that is an integer or starts with ``[``/``{`` is sent as JSON, anything else
as a string. For the commands whose parameter is an array, the plain values
from its position on are packed into it, as opensips-cli does:
``get_statistics core: shmem:`` sends ``[["core:", "shmem:"]]``.
``-s STAT...`` is ``get_statistics`` of those statistics; ``-bc [WHAT]`` is the
bash-completion protocol of the PyPI ``opensips`` 0.1.11 tools.
Exit status: 0 on a result, 1 on any error (one line on stderr), 2 on bad usage.
"""

from __future__ import annotations

import sys
# typing costs milliseconds at start-up, and a Ctrl+C in that window would print a
# traceback before the tools can install their quiet handler: annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from .interrupts import loud_interrupts, run_main

PROG = "opensips-mi"


class UsageError(ValueError):
    pass


# MI commands taking an array parameter, and its position among the positional params.
ARRAY_PARAMS = {
    "get_statistics": 0, "list_statistics": 0, "reset_statistics": 0, "trace_start": 0,
    "statistics:get": 0, "statistics:list": 0, "statistics:reset": 0,  # their 4.x names
    "raise_event": 1, "fs_subscribe": 1, "fs_unsubscribe": 1, "b2b_trigger_scenario": 1,
    "dlg_push_var": 2, "dfks_set_feature": 4,
}


def _value(text: str) -> Any:
    import json

    stripped = text.strip()
    if stripped[:1] in ("[", "{"):
        try:
            return json.loads(stripped)
        except ValueError as exc:
            raise UsageError(f"not valid JSON: {text!r} ({exc})") from None
    if stripped.lstrip("-").isdigit() and stripped not in ("-",):
        return int(stripped)
    return text


def parse_params(items: list[str], command: str | None = None) -> dict | list | None:
    """Turn command-line words into JSON-RPC params (see the module docstring)."""
    if not items:
        return None
    if len(items) == 1 and items[0].strip()[:1] in ("{", "["):
        value = _value(items[0])
        if not isinstance(value, (dict, list)):
            raise UsageError("params JSON must be an object or an array")
        return value
    named = ["=" in item and not item.startswith("=") for item in items]
    if all(named):
        grouped: dict[str, list[Any]] = {}
        for item in items:
            key, _, raw = item.partition("=")
            grouped.setdefault(key, []).append(_value(raw))
        return {k: v[0] if len(v) == 1 else v for k, v in grouped.items()}
    if any(named):
        raise UsageError("mix of key=value and positional params: use one style (or one JSON string)")
    values = [_value(item) for item in items]
    at = ARRAY_PARAMS.get(command or "")
    if at is not None and len(values) > at:
        values[at:] = [values[at:]]
    return values


def json_params(text: str) -> dict | list:
    """``-j``: strict JSON, an object (named) or an array (positional)."""
    import json

    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"-j: not valid JSON: {text!r} ({exc})") from None
    if not isinstance(value, (dict, list)):
        raise UsageError("-j: the params must be a JSON object or array")
    return value


def build_parser() -> Any:
    import argparse

    from .args import Parser, add_mi_arguments

    parser = Parser(prog=PROG, description="Run one OpenSIPS MI command and print the result as JSON.",
                    epilog="examples:  opensips-mi -t http --url http://127.0.0.1:8888/mi version\n"
                           "           opensips-mi get_statistics statistics='[\"core:\"]'\n"
                           "           opensips-mi log_level level=3",
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    add_mi_arguments(parser)
    parser.add_argument("-s", "--stats", nargs="+", metavar="STAT",
                        help="get_statistics of these statistics or groups (e.g. core: shmem:)")
    parser.add_argument("-j", "--json", metavar="JSON", help="the params as one JSON object or array")
    parser.add_argument("-bc", "--bash-complete", nargs="?", const="commands", metavar="WHAT",
                        help="bash completion: MI command names, 'params' (the options), or an option's choices")
    parser.add_argument("command", metavar="CMD", nargs="?", help="MI command, e.g. version, uptime, get_statistics")
    parser.add_argument("params", metavar="PARAMS", nargs="*", help="key=value ..., values ..., or one JSON string")
    return parser


def request_of(args: Any) -> tuple[str, dict | list | None]:
    """The MI command and params the flags ask for; UsageError when they contradict."""
    if args.stats:
        if args.command or args.json:
            raise UsageError("-s runs get_statistics: give no command and no -j with it")
        return "get_statistics", {"statistics": args.stats}
    if not args.command:
        raise UsageError("give an MI command (or -s STAT..., or -bc)")
    if args.json is not None:
        if args.params:
            raise UsageError("give the params either as -j JSON or as words, not both")
        return args.command, json_params(args.json)
    return args.command, parse_params(args.params, args.command)


def main(argv: list[str] | None = None) -> int:
    return run_main(_main, argv)  # Ctrl+C while starting: exit quietly


def _main(argv: list[str] | None, previous: Any) -> int:
    from opensips.mi import OpenSIPSMICommandError, OpenSIPSMIConnectionError, OpenSIPSMIException

    from .args import complete, fail, mi_from_args
    from .output import safe_json, write_stdout

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.bash_complete is not None:
        def commands() -> list:
            with mi_from_args(args) as mi:
                return mi.execute("which")

        try:
            write_stdout(complete(parser, args.bash_complete, {"commands": commands}) + "\n")
        except BrokenPipeError:
            pass
        return 0
    try:
        command, params = request_of(args)
    except UsageError as exc:
        return fail(PROG, str(exc), 2)
    try:
        mi = mi_from_args(args)
    except (ValueError, OpenSIPSMIException) as exc:
        return fail(PROG, f"bad MI settings: {exc}", 2)
    loud_interrupts(previous)  # the call may create a reply FIFO: let finally blocks clean up
    try:
        result = mi.execute(command, params)
    except OpenSIPSMICommandError as exc:
        return fail(PROG, f"{command}: {exc}")
    except OpenSIPSMIConnectionError as exc:
        return fail(PROG, f"cannot reach OpenSIPS MI ({mi.target}): {exc}")
    except OpenSIPSMIException as exc:
        return fail(PROG, f"{command}: {exc}")
    except KeyboardInterrupt:
        return 130
    finally:
        try:
            mi.close()
        except Exception:  # pragma: no cover - best effort
            pass
    try:
        problem = write_stdout(safe_json(result, indent=4) + "\n")
    except BrokenPipeError:
        return 0
    return fail(PROG, problem) if problem else 0

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
