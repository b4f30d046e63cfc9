"""The five IAM-sync endpoints of the emulator, called the way a signed client calls them.

A thin layer over an ``httpx.Client`` (base URL and auth are the client's), so a test can also send
what the real client never would: a raw body, a wrong content type, another cluster.
"""

from __future__ import annotations

import json
from typing import Any, Final

import httpx

from kit.demo import ANALYTICS, PROJECT

JSON_UTF8: Final = {"Content-Type": "application/json;charset=utf-8"}


def cluster_path(
    cluster_id: str = ANALYTICS, project_id: str = PROJECT, suffix: str = "iam-sync-user"
) -> str:
    return f"/v2/{project_id}/clusters/{cluster_id}/{suffix}"


class Api:
    """UpdateSyncIamUser, CancelSyncIamUser, ShowSyncIamUser, ListSyncStatus, ListSyncRequirements."""

    def __init__(self, client: httpx.Client) -> None:
        self.http = client

    def sync(self, body: Any = None, *, cluster: str = ANALYTICS, raw: bytes | None = None) -> httpx.Response:
        return self._write("POST", body, cluster, raw)

    def cancel(
        self, body: Any = None, *, cluster: str = ANALYTICS, raw: bytes | None = None
    ) -> httpx.Response:
        return self._write("DELETE", body, cluster, raw)

    def _write(self, method: str, body: Any, cluster: str, raw: bytes | None) -> httpx.Response:
        content = raw if raw is not None else b"" if body is None else json.dumps(body).encode()
        return self.http.request(method, cluster_path(cluster), content=content, headers=JSON_UTF8)

    def show(self, cluster: str = ANALYTICS) -> httpx.Response:
        return self.http.get(cluster_path(cluster), headers={"Content-Type": "application/json"})

    def status(self, cluster: str = ANALYTICS) -> httpx.Response:
        return self.http.get(cluster_path(cluster, suffix="iam-sync"))

    def synchronous(self, cluster: str = ANALYTICS) -> httpx.Response:
        return self.http.get(cluster_path(cluster, suffix="iam-sync/is-synchronous"))
