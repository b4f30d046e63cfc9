"""A local emulator of the MRS IAM-synchronisation API, for offline development and tests.

It answers the five endpoints like the real service behind Huawei's API
gateway would: AK/SK signatures and tokens are verified, errors use the
gateway's and MRS's codes, and syncs run as tasks that take time.  Behaviour
the documentation leaves open is configurable (see ``docs/emulator.md``).

A package of its own, beside ``mrs_iam_sync``, which never imports it: a stack
installs the resource without any web server.  The emulator needs the
``emulator`` extra (``pip install 'pulumi-mrs-iam-sync[emulator]'``); it shares
``mrs_iam_sync.signing`` and ``mrs_iam_sync.rules`` with the client, so the
two cannot disagree about canonical requests or id formats.

Layout, one concern per module:

* ``options``: every setting, declared once; ``__main__``: the CLI built from it;
* ``routes``: method + path -> handler; ``handlers``: the five endpoints;
* ``backend``: state per project and cluster, no HTTP; ``clusters``: a cluster and its tasks;
* ``payloads``: request bodies; ``jsonbody``: untrusted JSON within bounds; ``auth``: the gateway's
  authentication; ``sdk_hmac``: the signature it recomputes, its own code, not the client's;
* ``errors``: codes and the error body; ``faults``: injected failures; ``reqlog``: the request log;
* ``control``: the ``/_emulator/`` API; ``seed`` and ``persistence``: files;
* ``app``: the WSGI pipeline; ``wsgi_server``: keep-alive HTTP/1.1 over sockets;
  ``server``: assembly and the running handle.

In a test::

    with start_emulator(sync_seconds=0) as emulator:
        client = httpx.Client(base_url=emulator.url, auth=...)
"""

from __future__ import annotations

try:
    import werkzeug  # noqa: F401 - only to turn a missing extra into a clear message
except ModuleNotFoundError as missing:
    raise ModuleNotFoundError(
        "mrs_emulator needs the emulator extra: pip install 'pulumi-mrs-iam-sync[emulator]'",
        name=missing.name,
    ) from missing

from mrs_emulator.app import ConnectionDropped, EmulatorApp
from mrs_emulator.options import EmulatorOptions, OptionsError
from mrs_emulator.seed import SeedError
from mrs_emulator.server import EmulatorHandle, create_app, start_emulator

__all__ = [
    "ConnectionDropped",
    "EmulatorApp",
    "EmulatorHandle",
    "EmulatorOptions",
    "OptionsError",
    "SeedError",
    "create_app",
    "start_emulator",
]
