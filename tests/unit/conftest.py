from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import httpx
import pytest

from mrs_iam_sync.budget import Budget
from mrs_iam_sync.client import MrsClient
from mrs_iam_sync.settings import Settings

from .helpers import FakeClock, Script, make_settings


@pytest.fixture
def script() -> Iterator[Script]:
    recorded = Script()
    yield recorded
    recorded.assert_done()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def budget(clock: FakeClock) -> Budget:
    """A generous budget on the fake clock; a test about running out of time makes its own."""
    return Budget(300, monotonic=clock.monotonic)


@pytest.fixture
def client_factory(script: Script, clock: FakeClock) -> Iterator[Callable[..., MrsClient]]:
    clients: list[MrsClient] = []

    def build(settings: Settings | None = None) -> MrsClient:
        client = MrsClient(
            settings or make_settings(),
            transport=httpx.MockTransport(script.handler),
            sleep=clock.sleep,
            rng=random.Random(7),
        )
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def client(client_factory: Callable[..., MrsClient]) -> MrsClient:
    return client_factory()
