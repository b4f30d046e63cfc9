"""Shared test helpers (plain functions and classes; the fixtures live in conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr

from kit import signer
from kit.demo import ANALYTICS, PROJECT, REGION
from kit.vectors import vectors_by_version
from mrs_iam_sync.models import ClusterAddress
from mrs_iam_sync.settings import Settings

_VECTOR = vectors_by_version()["V3"]
"""The SDK's signing vectors use one key pair; the unit tests use it too (V3 adds a security token)."""
AK: str = _VECTOR["ak"]
SK: str = _VECTOR["sk"]
SECURITY_TOKEN: str = _VECTOR["headers"]["X-Security-Token"]
AUTH_TOKEN = "MIIEXAMPLE-auth-token-value-xyz"
CLUSTER = ANALYTICS
ENDPOINT = f"https://mrs.{REGION}.myhuaweicloud.com"
BASE = f"/v2/{PROJECT}/clusters/{CLUSTER}"
WHERE = ClusterAddress.of(project_id=PROJECT, cluster_id=CLUSTER)
"""The cluster every scripted request is about; ``Script`` expects paths under ``BASE``."""


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "region": REGION,
        "project_id": PROJECT,
        "access_key": AK,
        "secret_key": SecretStr(SK),
        "endpoint": ENDPOINT,
        "max_retries": 3,
    }
    values.update(overrides)
    return Settings.model_validate(values)


def verify_signature(request: httpx.Request, secret_key: str = SK) -> bool:
    """Recompute the signature the way a gateway does, from what was actually received."""
    return signer.verify(request, secret_key)


Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


@dataclass
class Script:
    """Expected requests in order, each with its canned reply; anything unexpected fails the test."""

    steps: list[tuple[str, str, Reply]] = field(default_factory=list)
    received: list[httpx.Request] = field(default_factory=list)

    def expect(self, method: str, suffix: str, reply: Reply) -> Script:
        self.steps.append((method, suffix, reply))
        return self

    def json(self, method: str, suffix: str, status: int, body: object, **headers: str) -> Script:
        return self.expect(method, suffix, httpx.Response(status, json=body, headers=headers))

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        assert self.steps, f"unexpected extra request {request.method} {request.url.path}"
        method, suffix, reply = self.steps.pop(0)
        assert (request.method, request.url.path) == (method, f"{BASE}/{suffix}")
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            return reply(request)
        return reply

    @property
    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.path.removeprefix(BASE + "/")) for r in self.received]

    def assert_done(self) -> None:
        assert not self.steps, f"expected requests never made: {self.steps}"


@dataclass
class FakeClock:
    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def body_of(request: httpx.Request) -> object:
    return json.loads(request.content)
