"""Case 1, client overhead: one signed GET and one signed POST through four clients, in rotating rounds.

Each timed POST starts a 0 s task for one user and an untimed cancel follows it, so every POST does
the same work. A second floor and a second ``MrsClient``, on connections of their own, make the
"stock emulator" rows.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from typing import Final

import httpx
from case_signing import BODY, CLUSTER, PATH, USER, presigned
from common import ACCESS_KEY, PROJECT_ID, SECRET_KEY, Row, private_home, provider_env, rotated
from pydantic import SecretStr

from kit.emulator import EmulatorProcess
from mrs_iam_sync.budget import Budget
from mrs_iam_sync.client import MrsClient
from mrs_iam_sync.models import CancelSyncRequest, ClusterAddress, UpdateSyncRequest
from mrs_iam_sync.settings import resolve_settings
from mrs_iam_sync.signing import AkSkAuth
from mrs_iam_sync.transport import CONTENT_TYPE_BODY, CONTENT_TYPE_GET, USER_AGENT

FLOOR: Final = "bare httpx, presigned (floor)"
SDK: Final = "Huawei SDK MrsClient"
LABELS: Final = {"GET": "GET list synced", "POST": "POST start sync"}
# Rows per verb: (measure, wall or cpu, ours, the baseline's name, the baseline).
ROWS: Final = [
    ("reused connection: wall per call (median)", "wall", "ours", FLOOR, "floor"),
    ("reused connection: wall per call (median)", "wall", "ours", SDK, "sdk"),
    ("reused connection: client CPU per call (median)", "cpu", "ours", FLOOR, "floor"),
    ("reused connection: client CPU per call (median)", "cpu", "ours", SDK, "sdk"),
    ("reused connection: client CPU of bare httpx + AkSkAuth", "cpu", "httpx+AkSkAuth", FLOOR, "floor"),
]
STOCK_ROWS: Final = [
    (
        "stock emulator, second set of clients: wall, ours",
        "wall",
        "ours 2",
        FLOOR + " on the same",
        "floor 2",
    ),
    ("stock emulator: wall of the floor", "wall", "floor 2", "the floor on a reused connection", "floor"),
]
GET_TYPE, BODY_TYPE = {"Content-Type": CONTENT_TYPE_GET}, {"Content-Type": CONTENT_TYPE_BODY}
Call = Callable[[], object]


def _ok(response: httpx.Response, status: int = 200) -> None:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.method} answered {response.status_code}: {response.text}")


def _timed(call: Call) -> tuple[float, float]:
    """Wall µs and this thread's CPU µs: the emulator is another process, so CPU is the client's alone."""
    wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
    call()
    return (time.perf_counter_ns() - wall) / 1000, (time.thread_time_ns() - cpu) / 1000


def run(emulator: EmulatorProcess, *, rounds: int = 100, calls: int = 5) -> list[Row]:
    emulator.reset(sync_seconds=0)
    url, host = emulator.url, httpx.URL(emulator.url).netloc.decode()
    where = ClusterAddress.of(project_id=PROJECT_ID, cluster_id=CLUSTER)
    signed: dict[str, dict[str, str]] = {}
    closing = ExitStack()

    def floor() -> tuple[Call, Call]:
        http = closing.enter_context(httpx.Client(base_url=url))
        return (
            lambda: _ok(http.get(PATH, headers=signed["GET"])),
            lambda: _ok(http.post(PATH, content=BODY, headers=signed["POST"]), 202),
        )

    def mrs_client() -> tuple[Call, Call]:
        client = closing.enter_context(MrsClient(resolve_settings(environ=provider_env(url))))
        return (
            lambda: client.show_sync_iam_user(where, budget=Budget(60)),
            lambda: client.update_sync_iam_user(
                where, UpdateSyncRequest.of(user_names=[USER]), budget=Budget(60)
            ),
        )

    auth = AkSkAuth(access_key=ACCESS_KEY, secret_key=SecretStr(SECRET_KEY))
    headers = {"User-Agent": USER_AGENT, "X-Project-Id": PROJECT_ID}
    signing = closing.enter_context(httpx.Client(base_url=url, auth=auth, headers=headers))
    cancel = partial(signing.request, "DELETE", PATH, headers=BODY_TYPE)
    cancel_body = CancelSyncRequest.of(user_names=[USER]).to_bytes()
    with private_home():
        from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: PLC0415 - bench extra
        from huaweicloudsdkmrs.v2 import MrsClient as SdkClient  # noqa: PLC0415
        from huaweicloudsdkmrs.v2 import ShowSyncIamUserRequest, UpdateSyncIamUserRequest  # noqa: PLC0415
        from huaweicloudsdkmrs.v2 import UpdateSyncRequest as SdkBody  # noqa: PLC0415

        credentials = BasicCredentials(ACCESS_KEY, SECRET_KEY, PROJECT_ID)
        sdk = SdkClient.new_builder().with_credentials(credentials).with_endpoints([url]).build()
    clients: dict[str, tuple[Call, Call]] = {
        "floor": floor(),
        "httpx+AkSkAuth": (
            lambda: _ok(signing.get(PATH, headers=GET_TYPE)),
            lambda: _ok(signing.post(PATH, content=BODY, headers=BODY_TYPE), 202),
        ),
        "ours": mrs_client(),
        "sdk": (
            lambda: sdk.show_sync_iam_user(ShowSyncIamUserRequest(cluster_id=CLUSTER)),
            lambda: sdk.update_sync_iam_user(
                UpdateSyncIamUserRequest(cluster_id=CLUSTER, body=SdkBody(user_names=[USER]))
            ),
        ),
        "floor 2": floor(),
        "ours 2": mrs_client(),
    }
    samples: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    with closing:
        for turn in range(rounds + 1):  # round 0 warms every connection and code path up
            signed.update(GET=presigned("GET", host, b""), POST=presigned("POST", host, BODY))
            for name in rotated(list(clients), turn):
                get, post = clients[name]
                gets = [_timed(get) for _ in range(calls)]
                posts = []
                for _ in range(calls):
                    posts.append(_timed(post))
                    _ok(cancel(content=cancel_body), 202)
                if turn:
                    samples[name, "GET"] += gets
                    samples[name, "POST"] += posts
    figures = {
        "wall": {key: statistics.median(wall for wall, _ in values) for key, values in samples.items()},
        "cpu": {key: statistics.median(cpu for _, cpu in values) for key, values in samples.items()},
    }
    row = partial(Row, "1 client")
    rows = [
        row(f"{LABELS[verb]}, {measure}", "µs", figures[of][ours, verb], name, figures[of][base, verb])
        for specs in (ROWS, STOCK_ROWS)
        for verb in LABELS
        for measure, of, ours, name, base in specs
    ]
    handling = statistics.median(e["duration_ms"] * 1000 for e in emulator.log() if e["method"] == "GET")
    measure = "the emulator's own handling of a GET (its request log)"
    return [*rows, row(measure, "µs", handling, "wall of the floor's GET", figures["wall"]["floor", "GET"])]
