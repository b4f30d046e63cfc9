"""Helpers of the emulator tests beyond the kit (fixtures live in ``conftest``)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from kit.signer import SDK_DATE_FORMAT

OTHER_PROJECT = "ffffffffffffffffffffffffffffffff"
"""A well-formed project id that the demo seed does not have."""


@dataclass
class RawResponse:
    """An answer read off a socket byte by byte, by the tests of the HTTP layer."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


def assert_error(response: httpx.Response, status: int, code: str, message: str | None = None) -> str:
    """Check an error response fully; returns error_msg for further checks."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert len(body["request_id"]) == 32
    if message is not None:
        assert body["error_msg"] == message, body["error_msg"]
    text: str = body["error_msg"]
    return text


def sdk_now(offset_seconds: float = 0.0) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=offset_seconds)
    return moment.strftime(SDK_DATE_FORMAT)


@contextlib.contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """Make ``path`` (a file or a directory) unwritable even for root, then writable again.

    Permission bits do not stop root, which the suite often runs as; the immutable attribute
    does.  Any other user gets read-only permission bits.
    """
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True, capture_output=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True, capture_output=True)
    else:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
