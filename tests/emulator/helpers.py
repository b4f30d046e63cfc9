"""Values and helpers shared by the emulator tests (fixtures live in ``conftest``)."""

from __future__ import annotations

import contextlib
import json
import os
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import yaml
from pydantic import SecretStr

from mrs_emulator import EmulatorApp
from mrs_emulator.server import EmulatorHandle
from mrs_iam_sync import signing
from mrs_iam_sync.signing import AkSkAuth, TokenAuth

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
ANALYTICS = "f7f45c04-4303-411c-9b71-d2cb730dd162"
STREAMING = "3c1e9a52-8d47-4f0b-a6e2-5b9d0c7f1e24"
SANDBOX = "b6a0d1f3-2e4c-4a8b-9f57-0c3d2e1a4b68"
OTHER_PROJECT = "ffffffffffffffffffffffffffffffff"

DEMO_AK = "EMULATORDEMOAK000001"
DEMO_SK = "emulator-demo-secret-key--not-a-real-secret"
TEMP_AK = "EMULATORTEMPAK000001"
TEMP_SK = "emulator-temp-secret-key--not-a-real-secret"
TEMP_TOKEN = "emulator-demo-security-token"
AUTH_TOKEN = "emulator-demo-auth-token"
SECRETS = (DEMO_SK, TEMP_SK, TEMP_TOKEN, AUTH_TOKEN)

JSON_UTF8 = {"Content-Type": "application/json;charset=utf-8"}
IN_PROCESS_BASE = "http://mrs.cn-north-4.myhuaweicloud.com"

MODES = ("in-process", "socket")


def cluster_path(
    cluster_id: str = ANALYTICS, project_id: str = PROJECT, suffix: str = "iam-sync-user"
) -> str:
    return f"/v2/{project_id}/clusters/{cluster_id}/{suffix}"


def demo_auth(project_id: str | None = PROJECT) -> AkSkAuth:
    return AkSkAuth(access_key=DEMO_AK, secret_key=SecretStr(DEMO_SK), project_id=project_id)


def temp_auth(token: str = TEMP_TOKEN) -> AkSkAuth:
    return AkSkAuth(
        access_key=TEMP_AK, secret_key=SecretStr(TEMP_SK), security_token=SecretStr(token), project_id=PROJECT
    )


def token_auth(token: str = AUTH_TOKEN) -> TokenAuth:
    return TokenAuth(token=SecretStr(token), project_id=PROJECT)


def demo_seed(**changes: Any) -> dict[str, Any]:
    """The demo seed as a mapping, with top-level ``changes`` (tests build variants from it)."""
    text = resources.files("mrs_emulator").joinpath("demo-seed.yaml").read_text()
    seed: dict[str, Any] = yaml.safe_load(text)
    seed.update(changes)
    return seed


_SHARED_TLS = ssl.create_default_context()
"""Plain HTTP only; one shared context spares every client from reloading the CA bundle (~20 ms)."""


@dataclass
class Emulator:
    """One emulator under test, whichever the transport."""

    mode: str
    app: EmulatorApp
    base_url: str
    handle: EmulatorHandle | None = None
    _clients: list[httpx.Client] = field(default_factory=list)

    def client(self, auth: httpx.Auth | None = None, **kwargs: Any) -> httpx.Client:
        if self.handle is None:
            transport: httpx.BaseTransport = httpx.WSGITransport(app=self.app)
            client = httpx.Client(transport=transport, base_url=self.base_url, auth=auth, **kwargs)
        else:
            client = httpx.Client(base_url=self.base_url, auth=auth, timeout=10, verify=_SHARED_TLS, **kwargs)
        self._clients.append(client)
        return client

    def api(self, auth: httpx.Auth | None = None) -> Api:
        return Api(self.client(auth=auth if auth is not None else demo_auth()))

    def control(self, method: str, path: str, body: Any = None) -> httpx.Response:
        client = self._clients[0] if self._clients else self.client()
        content = None if body is None else json.dumps(body).encode()
        return client.request(method, f"/_emulator/{path}", content=content, auth=None)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = self.control(method, path, body)
        assert response.is_success, response.text
        return response.json()

    def cluster(self, cluster_id: str = ANALYTICS) -> dict[str, Any]:
        state: dict[str, Any] = self.ok("GET", f"projects/{PROJECT}/clusters/{cluster_id}")
        return state

    def log(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.ok("GET", "requests")["requests"]
        return entries

    def advance(self, seconds: float) -> None:
        """Move the emulator clock forward, finishing tasks without sleeping."""
        offset = self.ok("GET", "clock")["offset_seconds"]
        self.ok("PUT", "clock", {"offset_seconds": offset + seconds})

    @property
    def backend(self) -> Any:
        return self.app.context.backend

    def close(self) -> None:
        for client in self._clients:
            client.close()
        if self.handle is not None:
            self.handle.stop()
        else:
            self.app.close()


def _content(body: Any, raw: bytes | None) -> bytes:
    if raw is not None:
        return raw
    return b"" if body is None else json.dumps(body).encode()


class Api:
    """The five endpoints, as a signed client calls them."""

    def __init__(self, client: httpx.Client) -> None:
        self.http = client

    def sync(self, body: Any = None, *, cluster: str = ANALYTICS, raw: bytes | None = None) -> httpx.Response:
        return self.http.request(
            "POST", cluster_path(cluster), content=_content(body, raw), headers=JSON_UTF8
        )

    def cancel(
        self, body: Any = None, *, cluster: str = ANALYTICS, raw: bytes | None = None
    ) -> httpx.Response:
        return self.http.request(
            "DELETE", cluster_path(cluster), content=_content(body, raw), headers=JSON_UTF8
        )

    def show(self, cluster: str = ANALYTICS) -> httpx.Response:
        return self.http.get(cluster_path(cluster), headers={"Content-Type": "application/json"})

    def status(self, cluster: str = ANALYTICS) -> httpx.Response:
        return self.http.get(cluster_path(cluster, suffix="iam-sync"))

    def synchronous(self, cluster: str = ANALYTICS) -> httpx.Response:
        return self.http.get(cluster_path(cluster, suffix="iam-sync/is-synchronous"))


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


VECTORS_PATH = Path(__file__).parents[1] / "data" / "signing-vectors.json"
"""The SDK-generated signing vectors, shared with the client's tests (outside the repository)."""


def load_vectors() -> dict[str, dict[str, Any]]:
    document = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    return {vector["name"].split("-", 1)[0]: vector for vector in document["vectors"]}


def authorization(
    method: str,
    path: str,
    headers: dict[str, str],
    *,
    body: bytes = b"",
    query: str = "",
    access_key: str = DEMO_AK,
    secret_key: str = DEMO_SK,
    signed: list[str] | None = None,
    date: str | None = None,
) -> str:
    """Sign by hand, for requests AkSkAuth would never produce (odd signed-header lists, no date)."""
    names = signed if signed is not None else signing.signable_header_names(headers)
    canonical = signing.canonical_request(
        method=method,
        path=path,
        query=parse_qsl(query, keep_blank_values=True),
        headers=headers,
        signed_headers=names,
        body=body,
    )
    sdk_date = date if date is not None else headers.get("X-Sdk-Date", "")
    signature = signing.compute_signature(secret_key, signing.string_to_sign(canonical, sdk_date))
    return signing.authorization_header(access_key=access_key, signed_headers=names, signature=signature)


def sdk_now(offset_seconds: float = 0.0) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=offset_seconds)
    return moment.strftime(signing.SDK_DATE_FORMAT)


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
