"""Case 1, client overhead: one signed GET and one signed POST through four clients, side by side.

* **floor**: bare ``httpx.Client`` on a reused connection, sending headers that were signed before the
  timed loop (precomputed once per round with ``mrs_iam_sync.signing``, so they stay inside the
  gateway's 15-minute date window). It is the cost of the HTTP round trip and the emulator alone.
* **httpx + AkSkAuth**: the same, but signing each request with our ``httpx.Auth``; the step from the
  floor to this variant is the in-situ price of signing.
* **ours**: ``MrsClient.show_sync_iam_user`` / ``update_sync_iam_user`` (validation, signing, error mapping,
  pydantic parsing of the answer).
* **Huawei SDK**: ``huaweicloudsdkmrs`` ``MrsClient`` with ``BasicCredentials`` and ``with_endpoints``,
  building the request model per call as a user would.

The POST starts a sync of one user on a cluster; the emulator runs with ``sync_seconds`` 0, so the task
is finished by the next request, and an untimed cancel of that user follows every timed POST, so each
POST is valid and does the same work. Variants are interleaved in rounds, in a rotated order, so that
drift (other processes, CPU frequency) lands on all of them alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from common import (
    ACCESS_KEY,
    PROJECT_ID,
    SECRET_KEY,
    Emulator,
    Row,
    median,
    private_home,
    provider_env,
)
from pydantic import SecretStr

from mrs_iam_sync.budget import Budget
from mrs_iam_sync.client import MrsClient
from mrs_iam_sync.models import CancelSyncRequest, ClusterAddress, UpdateSyncRequest
from mrs_iam_sync.settings import resolve_settings
from mrs_iam_sync.signing import (
    SDK_DATE_FORMAT,
    AkSkAuth,
    authorization_header,
    canonical_request,
    compute_signature,
    signable_header_names,
    string_to_sign,
)
from mrs_iam_sync.transport import CONTENT_TYPE_BODY, CONTENT_TYPE_GET, USER_AGENT

CASE = "1 client"
CLUSTER = "bench-cluster-00"
USER = "u000"
PATH = f"/v2/{PROJECT_ID}/clusters/{CLUSTER}/iam-sync-user"
POST_BODY = UpdateSyncRequest.of(user_names=[USER]).to_bytes()
CANCEL_BODY = CancelSyncRequest.of(user_names=[USER]).to_bytes()


def _presigned(method: str, host: str, body: bytes) -> dict[str, str]:
    """Headers signed now, for the floor: the exact header set our client sends, minus per-call work."""
    headers = {
        "Host": host,
        "User-Agent": USER_AGENT,
        "Content-Type": CONTENT_TYPE_GET if method == "GET" else CONTENT_TYPE_BODY,
        "X-Project-Id": PROJECT_ID,
        "X-Sdk-Date": datetime.now(UTC).strftime(SDK_DATE_FORMAT),
    }
    signed = signable_header_names(headers)
    canonical = canonical_request(
        method=method, path=PATH, query=[], headers=headers, signed_headers=signed, body=body
    )
    signature = compute_signature(SECRET_KEY, string_to_sign(canonical, headers["X-Sdk-Date"]))
    headers["Authorization"] = authorization_header(
        access_key=ACCESS_KEY, signed_headers=signed, signature=signature
    )
    return headers


@dataclass
class _Variant:
    name: str
    get: Callable[[], object]
    post: Callable[[], object]
    closers: list[Callable[[], None]] = field(default_factory=list)
    samples: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: {"GET": [], "POST": []})

    def typical(self, verb: str, which: int) -> float:
        return median(sample[which] for sample in self.samples[verb])


def _ok(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.method} answered {response.status_code}: {response.text}")


def _timed(call: Callable[[], object]) -> tuple[float, float]:
    """Wall µs and the calling thread's CPU µs of one call.

    The emulator is another process, so the CPU time of this thread is the client-side cost alone
    (building, signing, sending, parsing), without the server's share of the round trip.
    """
    wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
    call()
    return (time.perf_counter_ns() - wall) / 1000, (time.thread_time_ns() - cpu) / 1000


def _variants(
    emulator: Emulator, presigned: dict[str, dict[str, str]]
) -> tuple[list[_Variant], Callable[[], None]]:
    """The four clients aimed at one emulator, and an untimed cancel that undoes a timed POST."""
    url = emulator.url
    floor_http = httpx.Client(base_url=url)

    def floor_get() -> None:
        _ok(floor_http.request("GET", PATH, headers=presigned["GET"]), 200)

    def floor_post() -> None:
        _ok(floor_http.request("POST", PATH, content=POST_BODY, headers=presigned["POST"]), 202)

    signing_http = httpx.Client(
        base_url=url,
        auth=AkSkAuth(access_key=ACCESS_KEY, secret_key=SecretStr(SECRET_KEY)),
        headers={"User-Agent": USER_AGENT, "X-Project-Id": PROJECT_ID},
    )

    def signing_get() -> None:
        _ok(signing_http.request("GET", PATH, headers={"Content-Type": CONTENT_TYPE_GET}), 200)

    def signing_post() -> None:
        response = signing_http.request(
            "POST", PATH, content=POST_BODY, headers={"Content-Type": CONTENT_TYPE_BODY}
        )
        _ok(response, 202)

    ours = MrsClient(resolve_settings(environ=provider_env(url)))

    where = ClusterAddress.of(project_id=PROJECT_ID, cluster_id=CLUSTER)

    def ours_get() -> None:
        ours.show_sync_iam_user(where, budget=Budget(60))

    def ours_post() -> None:
        ours.update_sync_iam_user(where, UpdateSyncRequest.of(user_names=[USER]), budget=Budget(60))

    with private_home():
        from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: PLC0415 - bench-only
        from huaweicloudsdkmrs.v2 import MrsClient as SdkMrsClient  # noqa: PLC0415

        sdk = (
            SdkMrsClient.new_builder()
            .with_credentials(BasicCredentials(ACCESS_KEY, SECRET_KEY, PROJECT_ID))
            .with_endpoints([url])
            .build()
        )
    from huaweicloudsdkmrs.v2 import (  # noqa: PLC0415 - the bench extra is only needed here
        ShowSyncIamUserRequest,
        UpdateSyncIamUserRequest,
        UpdateSyncRequest,
    )

    def sdk_get() -> None:
        sdk.show_sync_iam_user(ShowSyncIamUserRequest(cluster_id=CLUSTER))

    def sdk_post() -> None:
        body = UpdateSyncRequest(user_names=[USER])
        sdk.update_sync_iam_user(UpdateSyncIamUserRequest(cluster_id=CLUSTER, body=body))

    def cancel() -> None:
        response = signing_http.request(
            "DELETE", PATH, content=CANCEL_BODY, headers={"Content-Type": CONTENT_TYPE_BODY}
        )
        _ok(response, 202)

    variants = [
        _Variant("floor", floor_get, floor_post, closers=[floor_http.close]),
        _Variant("httpx+AkSkAuth", signing_get, signing_post, closers=[signing_http.close]),
        _Variant("ours", ours_get, ours_post, closers=[ours.close]),
        _Variant("sdk", sdk_get, sdk_post),
    ]
    return variants, cancel


@dataclass
class Measured:
    """Median (wall µs, client CPU µs) per variant and verb against one emulator."""

    medians: dict[tuple[str, str], tuple[float, float]]
    server_handling_us: float | None

    def wall(self, variant: str, verb: str) -> float:
        return self.medians[variant, verb][0]

    def cpu(self, variant: str, verb: str) -> float:
        return self.medians[variant, verb][1]


def measure(emulators: dict[str, Emulator], *, rounds: int = 100, calls: int = 5) -> dict[str, Measured]:
    """Time every variant against every emulator, interleaved in rounds with a rotating order."""
    presigned: dict[str, dict[str, dict[str, str]]] = {name: {} for name in emulators}
    sets: dict[str, tuple[list[_Variant], Callable[[], None]]] = {}
    for name, emulator in emulators.items():
        emulator.reset(sync_seconds=0)
        sets[name] = _variants(emulator, presigned[name])
    plan = [(name, variant) for name, (variants, _) in sets.items() for variant in variants]
    try:
        for round_index in range(rounds + 1):  # round 0 warms every connection and code path up
            for name, emulator in emulators.items():
                host = httpx.URL(emulator.url).netloc.decode("ascii")
                presigned[name]["GET"] = _presigned("GET", host, b"")
                presigned[name]["POST"] = _presigned("POST", host, POST_BODY)
            shift = round_index % len(plan)
            for name, variant in plan[shift:] + plan[:shift]:
                cancel = sets[name][1]
                get_times = [_timed(variant.get) for _ in range(calls)]
                post_times = []
                for _ in range(calls):
                    post_times.append(_timed(variant.post))
                    cancel()
                if round_index:
                    variant.samples["GET"] += get_times
                    variant.samples["POST"] += post_times
    finally:
        for variants, _ in sets.values():
            for variant in variants:
                for close in variant.closers:
                    close()
    results: dict[str, Measured] = {}
    for name, emulator in emulators.items():
        server_ms = [e["duration_ms"] for e in emulator.requests() if e["method"] in {"GET", "POST"}]
        results[name] = Measured(
            medians={
                (variant.name, verb): (variant.typical(verb, 0), variant.typical(verb, 1))
                for variant in sets[name][0]
                for verb in ("GET", "POST")
            },
            server_handling_us=median(server_ms) * 1000 if server_ms else None,
        )
    return results


FLOOR = "bare httpx, presigned (floor)"
SDK = "Huawei SDK MrsClient"
LABELS = {"GET": "GET list synced", "POST": "POST start sync"}


def run(
    reused: Emulator, stock: Emulator, *, rounds: int = 100, calls: int = 5
) -> tuple[list[Row], dict[str, Measured]]:
    """Rows: on a reused connection (the specified floor), then a second set of clients on ``stock``.

    The stock ``mrs-emulator`` keeps connections alive, so ``run.py`` passes it as both: the second
    set's rows then read about 1.0x the first set's (they once showed the connect per request of a
    server that closed every connection), and their distance from 1.0x is this run's noise.
    """
    results = measure({"reused": reused, "stock": stock}, rounds=rounds, calls=calls)
    reused, per_request = results["reused"], results["stock"]
    rows: list[Row] = []
    for verb, label in LABELS.items():
        for kind, pick in (("wall", Measured.wall), ("client CPU", Measured.cpu)):
            ours, floor, sdk = (pick(reused, name, verb) for name in ("ours", "floor", "sdk"))
            measure_name = f"{label}, reused connection: {kind} per call (median)"
            rows.append(Row.compare(CASE, measure_name, "µs", ours, FLOOR, floor))
            rows.append(Row.compare(CASE, measure_name, "µs", ours, SDK, sdk))
        rows.append(
            Row.compare(
                CASE,
                f"{label}, reused connection: client CPU of bare httpx + AkSkAuth",
                "µs",
                reused.cpu("httpx+AkSkAuth", verb),
                FLOOR,
                reused.cpu("floor", verb),
            )
        )
    for verb, label in LABELS.items():
        rows.append(
            Row.compare(
                CASE,
                f"{label}, stock emulator, second set of clients: wall, ours",
                "µs",
                per_request.wall("ours", verb),
                FLOOR + " on the same",
                per_request.wall("floor", verb),
            )
        )
        rows.append(
            Row.compare(
                CASE,
                f"{label}, stock emulator: wall of the floor",
                "µs",
                per_request.wall("floor", verb),
                "the floor on a reused connection",
                reused.wall("floor", verb),
            )
        )
    return rows, results
