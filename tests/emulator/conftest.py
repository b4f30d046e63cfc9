"""Fixtures of the emulator suite: the same tests run in process and over a real socket.

``emulator`` (and ``make_emulator`` for non-default options) is parametrized
over two modes:

* ``in-process``: the WSGI app behind ``httpx.WSGITransport``; no socket;
* ``socket``: ``start_emulator()`` on a free port, the emulator's keep-alive HTTP/1.1 server.

Tests talk to either through :class:`~.helpers.Emulator`: signed API calls
(:meth:`Emulator.api`), the control API (:meth:`Emulator.control`), and the
backend itself for the rare white-box assertion.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mrs_emulator import create_app, start_emulator

from .helpers import IN_PROCESS_BASE, MODES, Api, Emulator

EmulatorFactory = Callable[..., Emulator]


@pytest.fixture(params=MODES)
def make_emulator(request: pytest.FixtureRequest) -> Iterator[EmulatorFactory]:
    """Build emulators in the parametrized mode; keyword arguments go to create_app/start_emulator."""
    mode: str = request.param
    made: list[Emulator] = []

    def factory(**config: Any) -> Emulator:
        config.setdefault("sync_seconds", 0)
        if mode == "in-process":
            emulator = Emulator(mode=mode, app=create_app(**config), base_url=IN_PROCESS_BASE)
        else:
            handle = start_emulator(**config)
            emulator = Emulator(mode=mode, app=handle.app, base_url=handle.url, handle=handle)
        made.append(emulator)
        return emulator

    yield factory
    for emulator in made:
        emulator.close()


@pytest.fixture
def emulator(make_emulator: EmulatorFactory) -> Emulator:
    """The demo seed, tasks finishing at once (``sync_seconds=0``)."""
    return make_emulator()


@pytest.fixture
def api(emulator: Emulator) -> Api:
    return emulator.api()


@pytest.fixture
def socket_emulator() -> Iterator[Emulator]:
    """For behaviour that only exists with a socket (dropped connections)."""
    handle = start_emulator(sync_seconds=0)
    emulator = Emulator(mode="socket", app=handle.app, base_url=handle.url, handle=handle)
    yield emulator
    emulator.close()
