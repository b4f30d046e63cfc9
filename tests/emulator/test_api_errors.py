"""Refusals of the emulated API: routing, body size, malformed input, unexpected failures."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kit.api import JSON_UTF8, cluster_path
from kit.demo import ANALYTICS, AUTH_TOKEN, PROJECT, demo_auth
from mrs_emulator.app import MAX_BODY_BYTES

from .helpers import assert_error

INVALID = "The parameter is invalid: "


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[1, 2]", "the request body must be a JSON object"),
        (b'"alice"', "the request body must be a JSON object"),
        (b"\xff\xfe", "the request body is not UTF-8"),
        (b'{"user_names": "alice"}', "user_names must be a list of strings"),
        (b'{"group_names": {"a": 1}}', "group_names must be a list of strings"),
        (b'{"user_names": ["alice", 3]}', "user_names[1] must be a non-empty string"),
        (b'{"user_names": ["alice", ""]}', "user_names[1] must be a non-empty string"),
        (b'{"is_all_sync": "yes"}', "is_all_sync must be a boolean"),
        (b'{"is_all_sync": 1}', "is_all_sync must be a boolean"),
    ],
)
def test_a_malformed_sync_body_is_refused_with_12000002(api, raw, message):
    assert_error(api.sync(raw=raw), 400, "12000002", INVALID + message)


def test_invalid_json_is_refused_with_12000002_and_the_parser_reason(api):
    text = assert_error(api.sync(raw=b'{"user_names": ['), 400, "12000002")

    assert text.startswith(INVALID + "the request body is not valid JSON (")


@pytest.mark.parametrize("field", ["user_names", "group_names"])
def test_cancel_accepts_at_most_1000_names_per_list(api, field):
    api.sync({"is_all_sync": True})
    names = [f"name-{index}" for index in range(1001)]

    assert_error(
        api.cancel({field: names}),
        400,
        "12000002",
        INVALID + f"{field} has 1001 entries; at most 1000 are accepted per list",
    )
    assert api.cancel({field: names[:1000]}).status_code == 202


def test_a_malformed_cancel_body_is_refused_with_12000002(api):
    assert_error(
        api.cancel(raw=b'{"user_names": [null]}'),
        400,
        "12000002",
        INVALID + "user_names[0] must be a non-empty string",
    )


@pytest.mark.parametrize(
    ("project_id", "cluster_id", "message"),
    [
        ("0a1b-not-hex", ANALYTICS, "project_id must be 1 to 64 characters, letters and digits only"),
        ("p" * 65, ANALYTICS, "project_id must be 1 to 64 characters, letters and digits only"),
        (PROJECT, "a%20b", "cluster_id must be 1 to 64 characters: letters, digits, '_' and '-' only"),
        (PROJECT, "c" * 65, "cluster_id must be 1 to 64 characters: letters, digits, '_' and '-' only"),
    ],
)
def test_malformed_path_ids_are_refused_with_12000002(emulator, project_id, cluster_id, message):
    api = emulator.api(demo_auth(project_id=None))

    response = api.http.get(f"/v2/{project_id}/clusters/{cluster_id}/iam-sync")

    assert_error(response, 400, "12000002", INVALID + message)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/{p}/clusters/{c}/iam-syn"),
        ("GET", "/v3/{p}/clusters/{c}/iam-sync"),
        ("GET", "/v2/{p}/clusters/{c}/iam-sync-user/"),
        ("GET", "/"),
        ("PUT", "/v2/{p}/clusters/{c}/iam-sync-user"),
        ("PATCH", "/v2/{p}/clusters/{c}/iam-sync-user"),
        ("POST", "/v2/{p}/clusters/{c}/iam-sync"),
        ("DELETE", "/v2/{p}/clusters/{c}/iam-sync/is-synchronous"),
    ],
)
def test_unknown_paths_and_wrong_methods_are_unknown_apis(emulator, method, path):
    path = path.format(p=PROJECT, c=ANALYTICS)
    client = emulator.client()  # unauthenticated: routing comes before authentication

    response = client.request(method, path)

    assert_error(
        response,
        404,
        "APIGW.0101",
        f"The API does not exist or has not been published in the environment: {method} {path}",
    )


def test_head_is_not_an_api_even_on_a_get_path(emulator):
    response = emulator.client().head(cluster_path(suffix="iam-sync"))

    assert response.status_code == 404
    assert response.headers["X-Request-Id"]


def test_a_body_over_12_mb_is_refused_by_the_gateway(api):
    response = api.sync(raw=b" " * (MAX_BODY_BYTES + 1))

    assert_error(
        response,
        413,
        "APIGW.0201",
        f"Request entity too large: the gateway accepts bodies of at most {MAX_BODY_BYTES} bytes",
    )


def test_a_body_of_exactly_12_mb_passes_the_gateway(api):
    body = b'{"user_names": ["alice"]}'
    response = api.sync(raw=body + b" " * (MAX_BODY_BYTES - len(body)))

    assert response.status_code == 202


def test_a_chunked_body_over_12_mb_is_refused_too(socket_emulator):
    api = socket_emulator.api()

    def chunks() -> Iterator[bytes]:
        for _ in range(13):
            yield b" " * (1024 * 1024)

    response = api.http.request("POST", cluster_path(), content=chunks(), headers=JSON_UTF8)

    assert_error(response, 413, "APIGW.0201")


def test_an_unexpected_failure_is_a_500_without_traceback(emulator, api, monkeypatch, caplog):
    def explode(*args, **kwargs):
        raise RuntimeError("unexpected detail that must stay in the log")

    monkeypatch.setattr(emulator.backend, "synced_principals", explode)

    with caplog.at_level(logging.ERROR, logger="mrs_emulator"):
        response = api.show()

    request_id = response.headers["X-Request-Id"]
    assert_error(
        response, 500, "APIGW.0601", f"Internal server error: unexpected error, request id {request_id}"
    )
    assert "Traceback" not in response.text and "unexpected detail" not in response.text
    assert any(record.exc_info and request_id in record.getMessage() for record in caplog.records)
    assert emulator.log()[-1]["status"] == 500


@pytest.mark.parametrize(
    "call",
    [
        lambda emulator: emulator.api().show(),
        lambda emulator: emulator.api().sync({}),
        lambda emulator: emulator.client().get(cluster_path()),
        lambda emulator: emulator.client().get("/nowhere"),
        lambda emulator: emulator.control("GET", "requests"),
        lambda emulator: emulator.control("GET", "nowhere"),
        lambda emulator: emulator.control("POST", "faults", {"kind": "bogus"}),
    ],
)
def test_every_response_carries_a_request_id(emulator, call):
    response: httpx.Response = call(emulator)

    request_id = response.headers["X-Request-Id"]
    assert len(request_id) == 32 and int(request_id, 16) >= 0
    if response.status_code >= 400:
        assert response.json()["request_id"] == request_id


def test_request_ids_are_unique(api):
    ids = {api.status().headers["X-Request-Id"] for _ in range(20)}

    assert len(ids) == 20


# -- hostile bodies and leniencies decided strict (docs/emulator.md, "Leniencies") ----------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[" * 1000 + b"]" * 1000, "the request body nests arrays or objects deeper than 64 levels"),
        (
            b'{"user_names": ' + b"[" * 100_000,
            "the request body nests arrays or objects deeper than 64 levels",
        ),
        (
            b'{"user_names": ["alice"], "x": NaN}',
            "the request body is not valid JSON (NaN is not a JSON value)",
        ),
        (b'{"x": 1e400}', "the request body is not valid JSON (a number is too large for a double)"),
        (b'{"x": -Infinity}', "the request body is not valid JSON (-Infinity is not a JSON value)"),
    ],
    ids=["deep-array", "deep-unclosed", "nan", "overflowing-number", "infinity"],
)
def test_hostile_json_is_refused_with_12000002(api, raw, message):
    assert_error(api.sync(raw=raw), 400, "12000002", INVALID + message)
    assert_error(api.cancel(raw=raw), 400, "12000002", INVALID + message)


def test_a_hundred_thousand_unknown_names_are_refused_with_a_short_message(make_emulator):
    api = make_emulator(unknown_names="reject").api()
    names = [f"ghost-{index}" for index in range(100_000)]

    text = assert_error(api.sync({"user_names": names}), 400, "12000002")

    assert text.endswith(" and 99990 more")
    assert len(text) < 300


def _raw_answer(url: str, request: bytes) -> tuple[int, dict[str, Any]]:
    address = httpx.URL(url)
    with socket.create_connection((address.host, address.port), timeout=3) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data or not data.endswith(b"}"):
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("get", cluster_path(suffix="iam-sync"), "APIGW.0101"),
        ("Post", cluster_path(), "APIGW.0101"),
        ("get", "/_emulator/health", "EMULATOR.0404"),
    ],
)
def test_method_names_are_case_sensitive(socket_emulator, method, path, code):
    request = f"{method} {path} HTTP/1.1\r\nHost: h\r\nX-Auth-Token: {AUTH_TOKEN}\r\n\r\n".encode()

    status, body = _raw_answer(socket_emulator.url, request)

    assert (status, body["error_code"]) == (404, code)


@pytest.mark.parametrize(
    ("path", "code"),
    [
        (f"/v2/{PROJECT}/clusters%2F{ANALYTICS}/iam-sync", "APIGW.0101"),
        (f"/v2/{PROJECT}/clusters/{ANALYTICS}%2fiam-sync", "APIGW.0101"),
        (f"/v2/{PROJECT}/clusters/a%2Fb/iam-sync", "APIGW.0101"),
        ("/_emulator%2Fhealth", "EMULATOR.0404"),
    ],
)
def test_an_encoded_slash_never_splits_a_path_segment(socket_emulator, path, code):
    request = f"GET {path} HTTP/1.1\r\nHost: h\r\nX-Auth-Token: {AUTH_TOKEN}\r\n\r\n".encode()

    status, body = _raw_answer(socket_emulator.url, request)

    assert (status, body["error_code"]) == (404, code)


def test_other_percent_encoded_characters_are_decoded_for_routing(socket_emulator):
    path = cluster_path(suffix="iam-sync").replace("clusters", "cluster%73")
    request = f"GET {path} HTTP/1.1\r\nHost: h\r\nX-Auth-Token: {AUTH_TOKEN}\r\n\r\n".encode()

    status, body = _raw_answer(socket_emulator.url, request)

    assert (status, body) == (200, {"is_synchronizing": False})
