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

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from mrs_emulator.app import ConnectionDropped, EmulatorApp
    from mrs_emulator.options import EmulatorOptions, OptionsError
    from mrs_emulator.seed import SeedError
    from mrs_emulator.server import EmulatorHandle, create_app, start_emulator

EXTRA_MISSING: Final = "mrs_emulator needs the emulator extra: pip install 'pulumi-mrs-iam-sync[emulator]'"
"""What a plain install (no web stack) says instead of a traceback."""

_EXPORTS: Final = {
    "ConnectionDropped": "app",
    "EmulatorApp": "app",
    "EmulatorHandle": "server",
    "EmulatorOptions": "options",
    "OptionsError": "options",
    "SeedError": "seed",
    "create_app": "server",
    "start_emulator": "server",
}
"""Resolved on first use, so that ``mrs-emulator`` can import its CLI and report a missing extra."""

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


def require_web_stack() -> None:
    """Raise ModuleNotFoundError with :data:`EXTRA_MISSING` when the ``emulator`` extra is not installed."""
    try:
        import werkzeug  # noqa: F401, PLC0415 - only to turn a missing extra into a clear message
    except ModuleNotFoundError as missing:
        raise ModuleNotFoundError(EXTRA_MISSING, name=missing.name) from missing


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mrs_emulator' has no attribute {name!r}")
    require_web_stack()
    return getattr(importlib.import_module(f"mrs_emulator.{module}"), name)
