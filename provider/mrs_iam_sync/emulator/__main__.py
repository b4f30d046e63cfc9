"""``mrs-emulator`` / ``python -m mrs_iam_sync.emulator``: run the emulator until SIGTERM or SIGINT.

stdout carries exactly one line, ``mrs-emulator listening on http://HOST:PORT``,
printed once the socket accepts connections, so a script can wait for it and
read the port (``--port 0`` picks a free one).  Everything else goes to
stderr: nothing by default, an access log with ``--verbose``.

Exit status: 0 after a clean stop (state saved when ``--state`` is given);
2 when the seed, the state file or an option is refused (one line on stderr
naming the file, the field and the reason); 1 when the address cannot be
bound.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import get_args

from mrs_iam_sync.emulator.options import (
    AllSyncWithNames,
    ConcurrentSync,
    EmptySync,
    OptionsError,
    UnknownNames,
)
from mrs_iam_sync.emulator.persistence import StateFileError
from mrs_iam_sync.emulator.reqlog import DEFAULT_LIMIT
from mrs_iam_sync.emulator.seed import SeedError
from mrs_iam_sync.emulator.server import DEFAULT_HOST, start_emulator

PROG = "mrs-emulator"
DEFAULT_PORT = 8470


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Local emulator of the Huawei Cloud MRS IAM-synchronisation API.",
        epilog="Every open-behaviour default is an emulator choice, not verified against the real service.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default %(default)s)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="port to listen on; 0 picks a free one (default %(default)s)",
    )
    parser.add_argument(
        "--seed", metavar="FILE", help="seed file, .yaml/.yml or .json (default: the demo seed)"
    )
    parser.add_argument(
        "--state", metavar="FILE", help="keep cluster state in FILE across restarts (default: memory only)"
    )
    parser.add_argument(
        "--sync-seconds",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="how long a sync or cancel task runs; 0 = done at the next request (default %(default)s)",
    )
    parser.add_argument(
        "--concurrent-sync",
        choices=get_args(ConcurrentSync),
        default="reject",
        help="POST/DELETE while a task runs: 409 MRS.0409, or queue the task (default %(default)s)",
    )
    parser.add_argument(
        "--unknown-names",
        choices=get_args(UnknownNames),
        default="ignore",
        help="names unknown to IAM in a POST: skipped, or 400 12000002 (default %(default)s)",
    )
    parser.add_argument(
        "--empty-sync",
        choices=get_args(EmptySync),
        default="reject",
        help="POST/DELETE naming nothing: 400 12000002, or accept a no-op task (default %(default)s)",
    )
    parser.add_argument(
        "--all-sync-with-names",
        choices=get_args(AllSyncWithNames),
        default="reject",
        help="is_all_sync=true together with names: 400 12000002, or a full sync (default %(default)s)",
    )
    parser.add_argument(
        "--missing-cluster-status",
        type=int,
        choices=(400, 404),
        default=400,
        help="HTTP status of 12000003 'The cluster does not exist.' (default %(default)s)",
    )
    parser.add_argument(
        "--max-clock-skew",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="how far X-Sdk-Date may be from the emulator clock (default %(default)s)",
    )
    parser.add_argument(
        "--request-log-size",
        type=int,
        default=DEFAULT_LIMIT,
        metavar="N",
        help="entries kept by GET /_emulator/requests (default %(default)s)",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="access log on stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        handle = start_emulator(
            host=args.host,
            port=args.port,
            seed=args.seed,
            state_file=args.state,
            sync_seconds=args.sync_seconds,
            concurrent_sync=args.concurrent_sync,
            unknown_names=args.unknown_names,
            empty_sync=args.empty_sync,
            all_sync_with_names=args.all_sync_with_names,
            missing_cluster_status=args.missing_cluster_status,
            max_clock_skew_seconds=args.max_clock_skew,
            request_log_size=args.request_log_size,
        )
    except (SeedError, StateFileError, OptionsError, ValueError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr, flush=True)
        return 2
    except OSError as exc:
        print(f"{PROG}: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"{PROG} listening on {handle.url}", flush=True)
    while not stop.wait(0.5):
        pass
    try:
        handle.stop()
    except OSError as exc:
        print(f"{PROG}: stopped, but the state file could not be saved: {exc}", file=sys.stderr)
        return 1
    logging.getLogger("mrs_iam_sync.emulator").info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
