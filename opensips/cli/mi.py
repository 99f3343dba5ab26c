"""``opensips-mi``: run one MI command and print its result as pretty JSON.

    opensips-mi [MI flags] CMD [PARAMS...]

PARAMS are ``key=value`` pairs (named; a repeated key becomes a list), plain
values (positional), or one JSON object/array. A value that is an integer
or starts with ``[``/``{`` is sent as JSON, anything else as a string.
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


def parse_params(items: list[str]) -> dict | list | None:
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
    return [_value(item) for item in items]


def build_parser() -> Any:
    import argparse

    from .args import Parser, add_mi_arguments

    parser = Parser(prog=PROG, description="Run one OpenSIPS MI command and print the result as JSON.",
                    epilog="examples:  opensips-mi -t http --url http://127.0.0.1:8888/mi version\n"
                           "           opensips-mi get_statistics statistics='[\"core:\"]'\n"
                           "           opensips-mi log_level level=3",
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    add_mi_arguments(parser)
    parser.add_argument("command", metavar="CMD", help="MI command, e.g. version, uptime, get_statistics")
    parser.add_argument("params", metavar="PARAMS", nargs="*", help="key=value ..., values ..., or one JSON string")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_main(_main, argv)  # Ctrl+C while starting: exit quietly


def _main(argv: list[str] | None, previous: Any) -> int:
    from opensips.mi import OpenSIPSMICommandError, OpenSIPSMIConnectionError, OpenSIPSMIException

    from .args import fail, mi_from_args
    from .output import safe_json, write_stdout

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        params = parse_params(args.params)
    except UsageError as exc:
        return fail(PROG, str(exc), 2)
    try:
        mi = mi_from_args(args)
    except (ValueError, OpenSIPSMIException) as exc:
        return fail(PROG, f"bad MI settings: {exc}", 2)
    loud_interrupts(previous)  # the call may create a reply FIFO: let finally blocks clean up
    try:
        result = mi.execute(args.command, params)
    except OpenSIPSMICommandError as exc:
        return fail(PROG, f"{args.command}: {exc}")
    except OpenSIPSMIConnectionError as exc:
        return fail(PROG, f"cannot reach OpenSIPS MI ({mi.target}): {exc}")
    except OpenSIPSMIException as exc:
        return fail(PROG, f"{args.command}: {exc}")
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
