"""Fixtures of every suite, built on the test kit (``tests/kit``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from kit.emulator import LocalEmulator
from kit.environment import CREDENTIAL_PREFIXES


@pytest.fixture(autouse=True)
def _no_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's credentials, region or endpoint must never reach a test."""
    for name in list(os.environ):
        if name.startswith(CREDENTIAL_PREFIXES):
            monkeypatch.delenv(name)


@pytest.fixture
def local_emulators() -> Iterator[Callable[..., LocalEmulator]]:
    """Start emulators in this process, ``(mode="socket", **options) -> LocalEmulator``; all closed
    when the test ends."""
    started: list[LocalEmulator] = []

    def start(mode: str = "socket", **options: object) -> LocalEmulator:
        emulator = LocalEmulator.start(mode, **options)
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.close()
