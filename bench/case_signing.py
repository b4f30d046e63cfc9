"""Case 2, signing: µs per SDK-HMAC-SHA256 signature, in three forms, interleaved in rounds.

* **bare functions** (the floor): ``signable_header_names`` + ``canonical_request`` +
  ``string_to_sign`` + ``compute_signature`` + ``authorization_header`` on ready-made values: the
  hashing and string building that any signer must do.
* **AkSkAuth**: our ``httpx.Auth`` on a prepared ``httpx.Request`` (one ``next(auth_flow(request))``):
  adds the date header, reads the raw path and query off the URL, picks the headers to sign.
* **Huawei SDK signer**: ``huaweicloudsdkcore.signer.Signer.sign`` on an ``SdkRequest`` with the same
  method, path, headers and body, for scale.

Each batch signs fresh requests (built before the timer starts, so construction is not counted);
the figure is the median over batches of batch time / batch size.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from common import ACCESS_KEY, PROJECT_ID, SECRET_KEY, Row, median, private_home
from pydantic import SecretStr

from mrs_iam_sync.client import CONTENT_TYPE_BODY, CONTENT_TYPE_GET, USER_AGENT
from mrs_iam_sync.models import UpdateSyncRequest
from mrs_iam_sync.signing import (
    SDK_DATE_FORMAT,
    AkSkAuth,
    authorization_header,
    canonical_request,
    compute_signature,
    signable_header_names,
    string_to_sign,
)

CASE = "2 signing"
HOST = "127.0.0.1:8470"
PATH = f"/v2/{PROJECT_ID}/clusters/bench-cluster-00/iam-sync-user"
BODY = UpdateSyncRequest.of(user_names=["u000"]).to_bytes()


def _headers(method: str) -> dict[str, str]:
    return {
        "User-Agent": USER_AGENT,
        "Content-Type": CONTENT_TYPE_GET if method == "GET" else CONTENT_TYPE_BODY,
        "X-Project-Id": PROJECT_ID,
    }


def _batch_us(prepare: Callable[[], Callable[[], object]], size: int) -> float:
    """µs per signature over one batch; ``prepare`` builds the batch's inputs outside the timer."""
    sign_all = prepare()
    started = time.perf_counter_ns()
    sign_all()
    return (time.perf_counter_ns() - started) / 1000 / size


def run(*, rounds: int = 15, size: int = 1000) -> tuple[list[Row], dict[str, float]]:
    auth = AkSkAuth(access_key=ACCESS_KEY, secret_key=SecretStr(SECRET_KEY))
    with private_home():
        from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: PLC0415 - bench extra
        from huaweicloudsdkcore.sdk_request import SdkRequest  # noqa: PLC0415
        from huaweicloudsdkcore.signer.signer import Signer  # noqa: PLC0415
    sdk_signer = Signer(BasicCredentials(ACCESS_KEY, SECRET_KEY, PROJECT_ID))

    def bare(method: str) -> Callable[[], Callable[[], object]]:
        body = b"" if method == "GET" else BODY

        def prepare() -> Callable[[], object]:
            headers = {**_headers(method), "Host": HOST}
            headers["X-Sdk-Date"] = datetime.now(UTC).strftime(SDK_DATE_FORMAT)

            def sign_all() -> None:
                for _ in range(size):
                    signed = signable_header_names(headers)
                    canonical = canonical_request(
                        method=method, path=PATH, query=[], headers=headers, signed_headers=signed, body=body
                    )
                    signature = compute_signature(
                        SECRET_KEY, string_to_sign(canonical, headers["X-Sdk-Date"])
                    )
                    authorization_header(access_key=ACCESS_KEY, signed_headers=signed, signature=signature)

            return sign_all

        return prepare

    def ours(method: str) -> Callable[[], Callable[[], object]]:
        body = None if method == "GET" else BODY

        def prepare() -> Callable[[], object]:
            requests = [
                httpx.Request(method, f"http://{HOST}{PATH}", headers=_headers(method), content=body)
                for _ in range(size)
            ]

            def sign_all() -> None:
                for request in requests:
                    next(auth.auth_flow(request))

            return sign_all

        return prepare

    def sdk(method: str) -> Callable[[], Callable[[], object]]:
        body = b"" if method == "GET" else BODY

        def prepare() -> Callable[[], object]:
            requests = [
                SdkRequest(
                    method=method,
                    schema="http",
                    host=HOST,
                    resource_path=PATH,
                    query_params=[],
                    header_params=_headers(method),
                    body=body,
                )
                for _ in range(size)
            ]

            def sign_all() -> None:
                for request in requests:
                    sdk_signer.sign(request)

            return sign_all

        return prepare

    plan = [
        (name, method, factory(method))
        for method in ("GET", "POST")
        for name, factory in (("bare", bare), ("AkSkAuth", ours), ("sdk", sdk))
    ]
    samples: dict[tuple[str, str], list[float]] = {(name, method): [] for name, method, _ in plan}
    for round_index in range(rounds + 1):  # round 0 warms up
        shift = round_index % len(plan)
        for name, method, prepare in plan[shift:] + plan[:shift]:
            value = _batch_us(prepare, size)
            if round_index:
                samples[name, method].append(value)
    med = {f"{name} {method}": median(values) for (name, method), values in samples.items()}
    rows: list[Row] = []
    for method, label in (("GET", "GET (empty body)"), ("POST", f"POST ({len(BODY)}-byte body)")):
        ours_us = med[f"AkSkAuth {method}"]
        rows.append(
            Row.compare(
                CASE,
                f"AkSkAuth on a prepared httpx request, {label}",
                "µs/signature",
                ours_us,
                "bare canonical_request + HMAC functions",
                med[f"bare {method}"],
            )
        )
        rows.append(
            Row.compare(
                CASE,
                f"AkSkAuth on a prepared httpx request, {label}",
                "µs/signature",
                ours_us,
                "Huawei SDK Signer.sign",
                med[f"sdk {method}"],
            )
        )
    return rows, med
