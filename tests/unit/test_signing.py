from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from kit import signer
from kit.demo import PROJECT
from kit.vectors import VECTORS_FILE, load_vectors
from mrs_iam_sync.signing import (
    EMPTY_BODY_SHA256,
    SDK_DATE_FORMAT,
    AkSkAuth,
    TokenAuth,
    authorization_header,
    canonical_query,
    canonical_request,
    canonical_uri,
    signable_header_names,
)

from .helpers import AK, SK, verify_signature

VECTORS = load_vectors()


def _sign_vector(vector: dict[str, Any]) -> str:
    """The pure functions alone (``canonical_request``, ``string_to_sign``, ``compute_signature``)."""
    return signer.sign(
        vector["method"],
        vector["path"],
        {**vector["headers"], "X-Sdk-Date": vector["x_sdk_date"]},
        body=vector["body"].encode("utf-8"),
        query=[(key, value) for key, value in vector["query"]],
        access_key=vector["ak"],
        secret_key=vector["sk"],
    )


def test_vector_file_has_every_documented_vector():
    assert [v["name"][:2] for v in VECTORS] == ["V0", "V1", "V2", "V3", "V4", "V5", "V6"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_pure_functions_reproduce_the_vector_byte_for_byte(vector):
    assert _sign_vector(vector) == vector["expected_authorization"]


def _vector_url(vector: dict[str, Any]) -> str:
    query = canonical_query((key, value) for key, value in vector["query"])
    host = vector["headers"]["Host"]
    return f"https://{host}{vector['path']}" + (f"?{query}" if query else "")


def _fixed_clock(sdk_date: str) -> datetime:
    return datetime.strptime(sdk_date, SDK_DATE_FORMAT).replace(tzinfo=UTC)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_auth_flow_reproduces_the_vector_byte_for_byte(vector):
    headers = {k: v for k, v in vector["headers"].items() if k not in {"Host", "X-Security-Token"}}
    token = vector["headers"].get("X-Security-Token")
    request = httpx.Request(
        vector["method"], _vector_url(vector), headers=headers, content=vector["body"].encode("utf-8")
    )
    auth = AkSkAuth(
        access_key=vector["ak"],
        secret_key=SecretStr(vector["sk"]),
        security_token=SecretStr(token) if token else None,
        now=lambda: _fixed_clock(vector["x_sdk_date"]),
    )
    signed = next(auth.sync_auth_flow(request))
    assert signed.headers["Authorization"] == vector["expected_authorization"]
    assert signed.headers["X-Sdk-Date"] == vector["x_sdk_date"]


def test_canonical_uri_adds_trailing_slash_and_normalises_segments():
    assert canonical_uri("/v2/p/clusters/c/iam-sync-user") == "/v2/p/clusters/c/iam-sync-user/"
    assert canonical_uri("/already/") == "/already/"
    assert canonical_uri("/a%20b/c d/x*~") == "/a%20b/c%20d/x%2A~/"


def test_canonical_query_sorts_raw_pairs_and_encodes_space_as_percent_20():
    assert canonical_query([("b", "x y"), ("a", "2"), ("a", "10")]) == "a=10&a=2&b=x%20y"
    assert canonical_query([]) == ""


def test_signable_header_names_lowercases_sorts_and_skips_underscores():
    names = signable_header_names({"X-Sdk-Date": "d", "Host": "h", "X_Under": "u", "content-type": "c"})
    assert names == ["content-type", "host", "x-sdk-date"]


def test_canonical_request_has_empty_line_after_header_block_and_strips_values():
    text = canonical_request(
        method="get",
        path="/p",
        query=[],
        headers={"HOST": "  h  "},
        signed_headers=["host"],
        body=b"",
    )
    assert text == f"GET\n/p/\n\nhost:h\n\nhost\n{EMPTY_BODY_SHA256}"


def test_authorization_header_has_the_published_form():
    value = authorization_header(access_key="AK", signed_headers=["host", "x-sdk-date"], signature="ab12")
    assert signer.parse(value) == ("AK", ("host", "x-sdk-date"), "ab12")


def test_aksk_auth_converts_aware_clock_to_utc():
    plus8 = timezone(timedelta(hours=8))
    auth = AkSkAuth(
        access_key="AK",
        secret_key=SecretStr("SK"),
        now=lambda: datetime(2024, 1, 2, 11, 4, 5, tzinfo=plus8),
    )
    request = next(auth.sync_auth_flow(httpx.Request("GET", "https://h.example/x")))
    assert request.headers["X-Sdk-Date"] == "20240102T030405Z"


def test_aksk_auth_keeps_a_project_header_already_on_the_request():
    auth = AkSkAuth(access_key="AK", secret_key=SecretStr("SK"), project_id="default")
    request = httpx.Request("GET", "https://h.example/x", headers={"X-Project-Id": "other"})
    assert next(auth.sync_auth_flow(request)).headers["X-Project-Id"] == "other"


def test_request_sent_through_a_client_verifies_from_what_the_transport_received():
    received: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(202, json={"state": "synchronizing"})

    auth = AkSkAuth(
        access_key=AK,
        secret_key=SecretStr(SK),
        security_token=SecretStr("tmp-token"),
        project_id=PROJECT,
    )
    body = b'{"user_names": ["a b", "\\u00fc"]}'
    with httpx.Client(
        transport=httpx.MockTransport(handler), base_url="https://mrs.example.com:8443"
    ) as client:
        client.request(
            "DELETE",
            f"/v2/{PROJECT}/clusters/c%2F1/iam-sync-user",
            content=body,
            headers={"Content-Type": "application/json;charset=utf-8"},
            auth=auth,
        )

    (request,) = received
    # httpx's own headers are sent but not signed: their final value is not ours to promise.
    assert signer.parse(request.headers["Authorization"]).signed == (
        "content-type",
        "host",
        "x-project-id",
        "x-sdk-date",
        "x-security-token",
    )
    assert request.headers["Host"] == "mrs.example.com:8443"
    assert request.content == body
    assert verify_signature(request, SK)
    assert not verify_signature(request, "another-secret")


def test_explicit_user_agent_is_signed_and_httpx_default_is_not():
    auth = AkSkAuth(access_key="AK", secret_key=SecretStr("SK"))
    with httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200))) as client:
        default_ua = client.get("https://h.example/x", auth=auth).request
        ours = client.get("https://h.example/x", auth=auth, headers={"User-Agent": "mine/1"}).request
    assert "user-agent" not in signer.parse(default_ua.headers["Authorization"]).signed
    assert "user-agent" in signer.parse(ours.headers["Authorization"]).signed


def test_token_auth_sets_token_and_project_and_no_signature():
    auth = TokenAuth(token=SecretStr("tok-123"), project_id="p1")
    request = next(auth.sync_auth_flow(httpx.Request("GET", "https://h.example/x")))
    assert request.headers["X-Auth-Token"] == "tok-123"
    assert request.headers["X-Project-Id"] == "p1"
    assert "Authorization" not in request.headers


def test_auth_reprs_hide_credentials():
    aksk = AkSkAuth(
        access_key="AKVALUE", secret_key=SecretStr("SKVALUE"), security_token=SecretStr("STVALUE")
    )
    token = TokenAuth(token=SecretStr("TOKVALUE"))
    text = repr(aksk) + str(aksk) + repr(token) + str(token)
    for secret in ("AKVALUE", "SKVALUE", "STVALUE", "TOKVALUE"):
        assert secret not in text


def test_the_vectors_in_the_repository_are_the_reference_ones():
    """tests/data holds a copy so that a clone alone can run the suite; it must not drift from the spec."""
    reference = Path(__file__).parents[3] / "shared" / "reference" / "signing-vectors.json"
    ours = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    assert len(ours["vectors"]) == 7
    if reference.is_file():  # beside the repository on developer machines and in CI
        assert ours == json.loads(reference.read_text(encoding="utf-8"))
