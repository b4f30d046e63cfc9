"""Case 2, signing: µs per signature of our ``AkSkAuth``, of a bare signer on ready values (the floor)
and of the Huawei SDK's signer, in batches of inputs built outside the timer, in rotating rounds."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Final

import httpx
from common import ACCESS_KEY, CLUSTERS, PROJECT_ID, SECRET_KEY, USERS, Row, median, private_home, rotated
from pydantic import SecretStr

from kit import signer
from mrs_iam_sync import signing
from mrs_iam_sync.models import UpdateSyncRequest
from mrs_iam_sync.transport import CONTENT_TYPE_BODY, CONTENT_TYPE_GET, USER_AGENT

HOST, CLUSTER, USER = "127.0.0.1:8470", CLUSTERS[0], USERS[0]
PATH = f"/v2/{PROJECT_ID}/clusters/{CLUSTER}/iam-sync-user"
BODY = UpdateSyncRequest.of(user_names=[USER]).to_bytes()
BASELINES = {"bare": "bare signer (the test kit's) on ready values", "sdk": "Huawei SDK Signer.sign"}


def _headers(method: str) -> dict[str, str]:
    content_type = CONTENT_TYPE_GET if method == "GET" else CONTENT_TYPE_BODY
    return {"User-Agent": USER_AGENT, "Content-Type": content_type, "X-Project-Id": PROJECT_ID}


def _dated(method: str, host: str) -> dict[str, str]:
    return {
        **_headers(method),
        "Host": host,
        "X-Sdk-Date": datetime.now(UTC).strftime(signing.SDK_DATE_FORMAT),
    }


BARE: Final = partial(signer.sign, query=(), access_key=ACCESS_KEY, secret_key=SECRET_KEY)
"""The floor, the test kit's reference signer: the Authorization header from ready values, without
an httpx request around them."""


def presigned(method: str, host: str, body: bytes) -> dict[str, str]:
    """Headers signed now, exactly those our client sends (case 1's floor)."""
    headers = _dated(method, host)
    return {**headers, "Authorization": BARE(method, PATH, headers, body=body)}


def run(*, rounds: int = 15, size: int = 1000) -> list[Row]:
    auth = signing.AkSkAuth(access_key=ACCESS_KEY, secret_key=SecretStr(SECRET_KEY))
    with private_home():
        from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: PLC0415 - bench extra
        from huaweicloudsdkcore.sdk_request import SdkRequest  # noqa: PLC0415
        from huaweicloudsdkcore.signer.signer import Signer  # noqa: PLC0415

        sdk = Signer(BasicCredentials(ACCESS_KEY, SECRET_KEY, PROJECT_ID))

    def batch(variant: str, method: str) -> list[Callable[[], object]]:
        """``size`` signings ready to run: their inputs are built here, outside the timer."""
        body = b"" if method == "GET" else BODY
        if variant == "bare":
            bare = partial(BARE, method, PATH, body=body)
            return [partial(bare, _dated(method, HOST)) for _ in range(size)]
        if variant == "AkSkAuth":
            request = partial(httpx.Request, method, f"http://{HOST}{PATH}", content=body or None)
            return [partial(next, auth.auth_flow(request(headers=_headers(method)))) for _ in range(size)]
        fields = {"schema": "http", "host": HOST, "resource_path": PATH, "query_params": [], "body": body}
        return [
            partial(sdk.sign, SdkRequest(method, header_params=_headers(method), **fields))
            for _ in range(size)
        ]

    plan = [(variant, method) for variant in ("bare", "AkSkAuth", "sdk") for method in ("GET", "POST")]
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in plan}
    for turn in range(rounds + 1):  # round 0 warms up
        for key in rotated(plan, turn):
            signings = batch(*key)
            started = time.perf_counter_ns()
            for sign in signings:
                sign()
            if turn:
                samples[key].append((time.perf_counter_ns() - started) / 1000 / size)
    us = {key: median(values) for key, values in samples.items()}
    rows = []
    for method, label in (("GET", "GET (empty body)"), ("POST", f"POST ({len(BODY)}-byte body)")):
        for base, name in BASELINES.items():
            measure = f"AkSkAuth on a prepared httpx request, {label}"
            rows.append(
                Row("2 signing", measure, "µs/signature", us["AkSkAuth", method], name, us[base, method])
            )
    return rows
