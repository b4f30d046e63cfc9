"""Lifting the four-call ceiling of Pulumi's Python dynamic-provider server, for this provider only.

Pulumi's server (``python -m pulumi.dynamic``) serves every call on a ``ThreadPoolExecutor`` with
four workers, created as a local variable of its ``main()``, and a dynamic ``create`` must hold its
worker until it returns outputs. A call waiting for its cluster's task therefore blocks one of
four workers, so at most four resources make progress at once, whatever the clusters. With real
tasks taking seconds to minutes, that, not the API, would decide how long ``pulumi up`` takes.

There is no setting for it, so the provider raises the pool's limit in place, once, when the
provider process configures it: it finds ``main()``'s frame on the main thread (where the server
waits forever), reads its ``server`` local, and raises the ``max_workers`` of the executor behind
it (``ThreadPoolExecutor`` reads that attribute on every submit, and starts threads lazily, so the
raise costs nothing until calls arrive), then starts threads for calls already queued behind the
four (a destroy sends all its deletes at once). Every step checks what it finds; if Pulumi's internals
ever differ, nothing is changed, one line says so on stderr, and the provider keeps working with
today's four workers, only slower with many slow clusters.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from typing import Final

from mrs_iam_sync.engine import engine_parallel, is_server_code

WORKERS: Final = 64
"""The least the server gets; more when the engine may send more at once (``wanted_workers``)."""
WORKERS_VARIABLE: Final = "MRS_IAM_SYNC_PROVIDER_THREADS"
"""Overrides the default; 0 leaves Pulumi's server exactly as it is."""


def _server_main_frame() -> FrameType | None:
    """The frame of ``pulumi/dynamic/__main__.py``'s ``main()``, if this process is that server."""
    for frame in sys._current_frames().values():
        current: FrameType | None = frame
        while current is not None:
            if is_server_code(current.f_code, "main"):
                return current
            current = current.f_back
    return None


def _executor_of(frame: FrameType) -> ThreadPoolExecutor | None:
    server = frame.f_locals.get("server")
    state = getattr(server, "_state", None)
    pool = getattr(state, "thread_pool", None)
    if isinstance(pool, ThreadPoolExecutor) and isinstance(getattr(pool, "_max_workers", None), int):
        return pool
    return None


def wanted_workers(environ: Mapping[str, str] = os.environ) -> int:
    """``MRS_IAM_SYNC_PROVIDER_THREADS``, else at least as many as the engine sends at once.

    The engine's limit is ``PULUMI_PARALLEL`` (or four per CPU) unless ``--parallel`` is given: a
    thread fewer than the engine's slots would leave calls queued behind waiting ones.
    """
    configured = environ.get(WORKERS_VARIABLE, "").strip()
    return int(configured) if configured.isdigit() else max(WORKERS, engine_parallel(environ))


def lift_worker_ceiling(workers: int | None = None) -> int | None:
    """Let the dynamic-provider server run ``workers`` calls at once; return the limit now in force.

    Returns None, changing nothing, when this process is not Pulumi's dynamic-provider server as
    this module knows it (tests, an official or future Pulumi whose server differs).
    """
    target = wanted_workers() if workers is None else workers
    frame = _server_main_frame()
    if frame is None:
        return None
    pool = _executor_of(frame)
    if pool is None:
        print(
            "mrs-iam-sync: Pulumi's dynamic-provider server is not built as expected; keeping its own "
            "worker limit (calls beyond it wait, which only slows down stacks with many slow clusters)",
            file=sys.stderr,
            flush=True,
        )
        return None
    pool._max_workers = max(pool._max_workers, target)
    # Calls that arrived before this one (a destroy starts with all its deletes at once) wait in
    # the pool's queue; a pool starts threads only on submit, so start theirs now.
    adjust = getattr(pool, "_adjust_thread_count", None)
    queue = getattr(pool, "_work_queue", None)
    if callable(adjust) and queue is not None:
        for _ in range(queue.qsize()):
            adjust()
    return pool._max_workers
