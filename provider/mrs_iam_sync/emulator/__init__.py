"""A local emulator of the MRS IAM-synchronisation API, for offline development and tests.

It answers the five endpoints like the real service behind Huawei's API
gateway would: AK/SK signatures and tokens are verified, errors use the
gateway's and MRS's codes, and syncs run as tasks that take time.  Behaviour
the documentation leaves open is configurable (see ``docs/emulator.md``).

Layout, one concern per module:

* ``routes``: method + path -> handler; ``handlers``: the five endpoints;
* ``backend``: state per project and cluster, no HTTP; ``payloads``: request bodies;
* ``auth``: the gateway's authentication; ``errors``: codes and the error body;
* ``faults``: injected failures; ``reqlog``: the request log;
* ``control``: the ``/_emulator/`` API; ``seed`` and ``persistence``: files;
* ``app``: the WSGI pipeline; ``server``: threads and sockets; ``__main__``: the CLI.

In a test::

    with start_emulator(sync_seconds=0) as emulator:
        client = httpx.Client(base_url=emulator.url, auth=...)
"""

from __future__ import annotations

from mrs_iam_sync.emulator.app import ConnectionDropped, EmulatorApp
from mrs_iam_sync.emulator.options import EmulatorOptions
from mrs_iam_sync.emulator.seed import SeedError
from mrs_iam_sync.emulator.server import EmulatorConfig, EmulatorHandle, create_app, start_emulator

__all__ = [
    "ConnectionDropped",
    "EmulatorApp",
    "EmulatorConfig",
    "EmulatorHandle",
    "EmulatorOptions",
    "SeedError",
    "create_app",
    "start_emulator",
]
