"""``mrs-emulator`` / ``python -m mrs_emulator``: run the emulator until SIGTERM or SIGINT.

stdout carries exactly one line, ``mrs-emulator listening on http://HOST:PORT``,
printed once the socket accepts connections, so a script can wait for it and
read the port (``--port 0`` picks a free one).  Everything else goes to
stderr: nothing by default, an access log with ``--verbose``.

Exit status: 0 after a stop (every acknowledged change is in the state file
when ``--state`` is given: each was saved when it was made, so a last save
that fails is only a warning); 2 when the seed, the state file or an option is
refused (one line on stderr naming the file, the field and the reason: a
state file that cannot be read or written, or that another emulator holds)
and when the ``emulator`` extra is not installed (one line naming it); 1 when the address cannot be
bound.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any, Literal, get_args, get_origin

from mrs_emulator import require_web_stack
from mrs_emulator.options import OPTIONS, EmulatorOptions, OptionsError, parse_options
from mrs_emulator.persistence import StateFileError
from mrs_emulator.seed import SeedError

PROG = "mrs-emulator"


def _value_type(annotation: Any) -> tuple[Any, tuple[Any, ...] | None]:
    """The argparse ``type`` and ``choices`` of a field: numbers convert, literals list their values."""
    if get_origin(annotation) is Literal:
        choices = get_args(annotation)
        return type(choices[0]), choices
    if get_origin(annotation) is dict:
        return json.loads, None
    return (annotation if annotation in (int, float) else str), None


def build_parser() -> argparse.ArgumentParser:
    """One flag per :class:`EmulatorOptions` field that has one; names, defaults and help come from there."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Local emulator of the Huawei Cloud MRS IAM-synchronisation API.",
        epilog="Every open-behaviour default is an emulator choice, not verified against the real service.",
    )
    for name, field in EmulatorOptions.model_fields.items():
        option = OPTIONS[name]
        flag = option.flag_for(name)
        if flag is None:
            continue
        value_type, choices = _value_type(field.annotation)
        parser.add_argument(
            flag,
            dest=name,
            type=value_type,
            choices=choices,
            default=option.default_for_command_line(field),
            metavar=option.metavar,
            help=option.help,
        )
    # How this process logs, not a setting of the emulator: the one flag outside EmulatorOptions.
    parser.add_argument("--verbose", "-v", action="store_true", help="access log on stderr")
    return parser


def flag_values(namespace: argparse.Namespace) -> dict[str, Any]:
    """The parsed flags as option values: one left unset whose field has a factory keeps the model's."""
    factory_made = {name for name, field in EmulatorOptions.model_fields.items() if field.default_factory}
    return {
        key: value for key, value in vars(namespace).items() if value is not None or key not in factory_made
    }


def main(argv: Sequence[str] | None = None) -> int:
    values = flag_values(build_parser().parse_args(argv))
    try:
        require_web_stack()
    except ModuleNotFoundError as missing:
        print(f"{PROG}: {missing}", file=sys.stderr)
        return 2
    from mrs_emulator.server import start_emulator  # noqa: PLC0415 - needs the extra checked above
    verbose = values.pop("verbose")
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        options = parse_options(values)
        handle = start_emulator(options)
    except (SeedError, StateFileError, OptionsError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr, flush=True)
        return 2
    except OSError as exc:
        reason = exc.strerror or exc
        print(f"{PROG}: cannot listen on {options.host}:{options.port}: {reason}", file=sys.stderr)
        return 1
    print(f"{PROG} listening on {handle.url}", flush=True)
    while not stop.wait(0.5):
        pass
    handle.stop()
    logging.getLogger("mrs_emulator").info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
