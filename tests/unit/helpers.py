"""Shared test helpers (plain functions and classes; the fixtures live in conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import httpx
from pydantic import SecretStr

from mrs_iam_sync.models import ClusterAddress
from mrs_iam_sync.settings import Settings
from mrs_iam_sync.signing import canonical_request, compute_signature, parse_authorization, string_to_sign

AK = "HWTESTAK0123456789AB"
SK = "hwTestSecretKey0123456789abcdefghijklmnOP"
SECURITY_TOKEN = "EXAMPLE-SECURITY-TOKEN-abc123"
AUTH_TOKEN = "MIIEXAMPLE-auth-token-value-xyz"
PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
CLUSTER = "f7f45c04-4303-411c-9b71-d2cb730dd162"
ENDPOINT = "https://mrs.cn-north-4.myhuaweicloud.com"
BASE = f"/v2/{PROJECT}/clusters/{CLUSTER}"
WHERE = ClusterAddress.of(project_id=PROJECT, cluster_id=CLUSTER)
"""The cluster every scripted request is about; ``Script`` expects paths under ``BASE``."""


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "region": "cn-north-4",
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
    parsed = parse_authorization(request.headers["Authorization"])
    assert parsed is not None
    raw_path, _, raw_query = request.url.raw_path.decode("ascii").partition("?")
    canonical = canonical_request(
        method=request.method,
        path=raw_path,
        query=parse_qsl(raw_query, keep_blank_values=True),
        headers=request.headers,
        signed_headers=parsed.signed_headers,
        body=request.content,
    )
    signature = compute_signature(secret_key, string_to_sign(canonical, request.headers["X-Sdk-Date"]))
    return signature == parsed.signature


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
