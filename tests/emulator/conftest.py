"""Fixtures of the emulator suite: the same tests run in process and over a real socket.

``emulator`` (and ``make_emulator`` for non-default options) is parametrized over the two modes of
:class:`kit.emulator.LocalEmulator`:

* ``in-process``: the WSGI app behind ``httpx.WSGITransport``; no socket;
* ``socket``: ``start_emulator()`` on a free port, the emulator's keep-alive HTTP/1.1 server.

Tests talk to either through it: signed API calls (``api()``), the control API (``control``, ``ok``
and the calls built on them), and the backend itself for the rare white-box assertion.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kit.api import Api
from kit.emulator import MODES, LocalEmulator

EmulatorFactory = Callable[..., LocalEmulator]


@pytest.fixture(params=MODES)
def make_emulator(request: pytest.FixtureRequest, local_emulators: EmulatorFactory) -> EmulatorFactory:
    """Build emulators in the parametrized mode; keyword arguments are emulator options."""

    def factory(**options: Any) -> LocalEmulator:
        return local_emulators(request.param, **{"sync_seconds": 0, **options})

    return factory


@pytest.fixture
def emulator(make_emulator: EmulatorFactory) -> LocalEmulator:
    """The demo seed, tasks finishing at once (``sync_seconds=0``)."""
    return make_emulator()


@pytest.fixture
def slow_emulator(make_emulator: EmulatorFactory) -> LocalEmulator:
    """Tasks of 30 s: each runs until the test moves the emulator's clock on."""
    return make_emulator(sync_seconds=30)


@pytest.fixture
def api(emulator: LocalEmulator) -> Api:
    return emulator.api()


@pytest.fixture
def socket_emulator(local_emulators: EmulatorFactory) -> LocalEmulator:
    """For behaviour that only exists with a socket (dropped connections)."""
    return local_emulators("socket", sync_seconds=0)
