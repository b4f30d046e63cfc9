from __future__ import annotations

import httpx
import pytest

from mrs_iam_sync.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ClusterNotFoundError,
    ConfigurationError,
    InvalidRequestError,
    MrsError,
    PermissionDeniedError,
    ServerError,
    SyncInProgressError,
    SyncTimeoutError,
    ThrottledError,
    TransportError,
    UnexpectedResponseError,
)
from mrs_iam_sync.responses import error_from_response
from mrs_iam_sync.text import scrub

URL = "https://mrs.cn-north-4.myhuaweicloud.com/v2/p1/clusters/c1/iam-sync-user"


def _response(status: int, body: object = None, *, text: str | None = None, **headers: str) -> httpx.Response:
    request = httpx.Request("POST", URL)
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"error_code": "MRS.0011", "error_msg": "first shape"}, "MRS.0011", "first shape"),
        ({"errorCode": "MRS.1", "errorMsg": "camel case"}, "MRS.1", "camel case"),
        ({"code": "MRS.2", "message": "code and message"}, "MRS.2", "code and message"),
        ({"error_code": "MRS.3", "message": "sql api shape"}, "MRS.3", "sql api shape"),
        ({"error": {"error_code": "MRS.00000000", "error_msg": "nested"}}, "MRS.00000000", "nested"),
        ({"outer": {"inner": {"code": "MRS.9", "message": "deep"}}}, "MRS.9", "deep"),
        ({"error_code": 175, "error_msg": "numeric code"}, "175", "numeric code"),
        # The flat pair wins over a nested one, and the SDK's pair order wins over a later pair.
        ({"code": "late", "message": "m", "error_code": "early", "error_msg": "e"}, "early", "e"),
        ({"error": {"code": "N", "message": "n"}, "error_code": "F", "error_msg": "f"}, "F", "f"),
    ],
)
def test_every_documented_body_shape_yields_code_and_message(body, code, message):
    error = error_from_response(_response(400, body))
    assert (error.code, error.message) == (code, message)


def test_unmatched_json_falls_back_to_status_and_raw_text():
    error = error_from_response(_response(400, {"detail": "no pair here"}))
    assert error.code == "400"
    assert error.message == '{"detail":"no pair here"}'


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 501])
def test_an_answer_without_an_error_code_is_not_the_mrs_api_and_names_the_endpoint(status):
    error = error_from_response(_response(status, text="<html><h1>Not Found</h1></html>"))
    expected = ServerError if status >= 500 else UnexpectedResponseError
    assert type(error) is expected
    assert "POST https://mrs.cn-north-4.myhuaweicloud.com/v2/p1/clusters/c1/iam-sync-user" in str(error)
    assert "<h1>Not Found</h1>" in str(error)
    assert not isinstance(error, ClusterNotFoundError)


@pytest.mark.parametrize("code", ["12000003", "0023"])
@pytest.mark.parametrize("status", [400, 404])
def test_only_the_mrs_codes_for_an_unknown_cluster_mean_it_is_gone(status, code):
    error = error_from_response(_response(status, {"error_code": code, "error_msg": "no such cluster"}))
    assert type(error) is ClusterNotFoundError


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error_code": "APIGW.0101", "error_msg": "The API does not exist"}, BadRequestError),
        ({"error_code": "MRS.0404", "error_msg": "not found"}, BadRequestError),
        ({"detail": "Not Found"}, UnexpectedResponseError),
    ],
)
def test_a_404_that_is_not_an_unknown_cluster_code_never_says_the_cluster_is_gone(body, expected):
    assert type(error_from_response(_response(404, body))) is expected


def test_a_refused_token_gets_a_token_hint_not_an_aksk_one():
    request = httpx.Request("GET", URL, headers={"X-Auth-Token": "t"})
    body = {
        "error_code": "APIGW.0301",
        "error_msg": "Incorrect IAM authentication information: decrypt token fail",
    }
    error = error_from_response(httpx.Response(401, json=body, request=request))
    assert isinstance(error, AuthenticationError)
    assert "The IAM token (auth_token) was not accepted" in str(error)
    assert "access key" not in str(error)


def test_non_json_body_is_kept_truncated_on_one_line():
    html = "<html>\n<body>" + "x" * 1000 + "</body></html>"
    error = error_from_response(_response(502, text=html))
    assert isinstance(error, ServerError)
    assert error.code == "502"
    assert len(error.message) == 500
    assert error.message.startswith("<html> | <body>xxx")
    assert error.message.endswith("...")
    assert "\n" not in str(error)


def test_empty_body_gives_status_as_code():
    error = error_from_response(_response(503, text=""))
    assert (error.code, error.message) == ("503", "")


@pytest.mark.parametrize("header", ["X-Request-Id", "x-request-id"])
def test_request_id_comes_from_the_header_in_either_case(header):
    error = error_from_response(_response(500, {"error_code": "E", "error_msg": "m"}, **{header: "req-123"}))
    assert error.request_id == "req-123"


def test_request_id_falls_back_to_the_body():
    body = {"error_code": "APIGW.0301", "error_msg": "m", "request_id": "body-req"}
    assert error_from_response(_response(401, body)).request_id == "body-req"
    nested = {"error": {"error_code": "E", "error_msg": "m", "request_id": "nested-req"}}
    assert error_from_response(_response(400, nested)).request_id == "nested-req"


def test_header_request_id_wins_over_the_body():
    body = {"error_code": "E", "error_msg": "m", "request_id": "body"}
    assert error_from_response(_response(400, body, **{"X-Request-Id": "header"})).request_id == "header"


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, "APIGW.0301", AuthenticationError),
        (401, "APIGW.0307", AuthenticationError),
        (401, "401", AuthenticationError),
        (403, "APIGW.0302", PermissionDeniedError),
        (403, "APIGW.0306", PermissionDeniedError),
        (403, "APIGW.0310", PermissionDeniedError),
        (429, "APIGW.0308", ThrottledError),
        (429, "429", ThrottledError),
        (400, "12000003", ClusterNotFoundError),
        (404, "12000003", ClusterNotFoundError),
        (404, "MRS.0404", BadRequestError),
        (404, "APIGW.0101", BadRequestError),
        (409, "MRS.0409", SyncInProgressError),
        (400, "12000002", BadRequestError),
        (413, "APIGW.0201", BadRequestError),
        (500, "APIGW.0601", ServerError),
        (503, "APIGW.0613", ServerError),
        (302, "302", ApiError),
    ],
)
def test_status_and_code_select_the_exception_class(status, code, expected):
    error = error_from_response(_response(status, {"error_code": code, "error_msg": "m"}))
    assert type(error) is expected
    assert isinstance(error, MrsError)
    assert error.status == status


def test_str_is_a_one_line_summary_with_code_and_request_id():
    response = _response(
        400, {"error_code": "12000002", "error_msg": "The parameter is invalid."}, **{"X-Request-Id": "abc"}
    )
    assert str(error_from_response(response)) == (
        "POST https://mrs.cn-north-4.myhuaweicloud.com/v2/p1/clusters/c1/iam-sync-user: bad request: 12000002 The parameter is invalid. "
        "(HTTP 400, request id abc)"
    )


def test_signature_failure_explains_keys_and_clock():
    error = error_from_response(
        _response(401, {"error_code": "APIGW.0301", "error_msg": "verify aksk signature fail"})
    )
    text = str(error)
    assert "authentication failed: APIGW.0301 verify aksk signature fail (HTTP 401, request id none)" in text
    assert "clock" in text and "15 minutes" in text


def test_expired_token_says_to_get_a_new_one():
    error = error_from_response(
        _response(401, {"error_code": "APIGW.0307", "error_msg": "The token must be updated"})
    )
    assert str(error).endswith(
        "The IAM token has expired or was issued for another region: obtain a new token"
    )


def test_permission_denied_names_the_action_and_policies():
    error = error_from_response(_response(403, {"error_code": "APIGW.0302", "error_msg": "not authorized"}))
    assert "mrs:cluster:syncUser" in str(error)
    assert "MRS FullAccess" in str(error) and "Tenant Administrator" in str(error)


def test_throttled_keeps_retry_after():
    error = error_from_response(
        _response(429, {"error_code": "APIGW.0308", "error_msg": "x"}, **{"Retry-After": "2"})
    )
    assert isinstance(error, ThrottledError)
    assert error.retry_after == 2.0
    assert "the server asked to wait 2 s" in str(error)


@pytest.mark.parametrize("value", ["soon", "-1", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_unusable_retry_after_is_ignored(value):
    error = error_from_response(
        _response(429, {"error_code": "APIGW.0308", "error_msg": "x"}, **{"Retry-After": value})
    )
    assert isinstance(error, ThrottledError)
    assert error.retry_after is None


def test_cluster_not_found_names_cluster_project_and_host():
    error = error_from_response(
        _response(400, {"error_code": "12000003", "error_msg": "The cluster does not exist."}),
        cluster_id="c1",
        project_id="p1",
    )
    assert isinstance(error, ClusterNotFoundError)
    assert str(error).endswith(
        "No cluster c1 in project p1 at mrs.cn-north-4.myhuaweicloud.com: check the cluster ID, and that "
        "the region and project ID are the ones the cluster was created in"
    )


def test_unknown_api_404_points_at_endpoint_and_region():
    error = error_from_response(_response(404, {"error_code": "APIGW.0101", "error_msg": "API not found"}))
    assert "check the endpoint and the region" in str(error)


def test_response_without_request_still_maps():
    error = error_from_response(httpx.Response(500, json={"error_code": "E", "error_msg": "m"}))
    assert isinstance(error, ServerError)
    assert error.operation is None
    assert str(error) == "MRS server error: E m (HTTP 500, request id none)"


def test_gateway_canonical_request_is_shown_but_credentials_are_scrubbed():
    canonical = (
        "Incorrect IAM authentication information: verify aksk signature fail,canonicalRequest:"
        "GET|/v2/p/clusters/c/iam-sync/||content-type:application/json|host:h|x-sdk-date:20240102T030405Z|"
        "x-security-token:TEMP-TOKEN-VALUE||content-type;host;x-sdk-date;x-security-token|e3b0"
    )
    error = error_from_response(_response(401, {"error_code": "APIGW.0301", "error_msg": canonical}))
    assert "TEMP-TOKEN-VALUE" not in str(error)
    assert "x-security-token:<redacted>" in error.message
    assert "host:h|x-sdk-date:20240102T030405Z" in error.message


def test_known_secrets_are_scrubbed_from_echoed_text():
    error = error_from_response(
        _response(400, {"error_code": "E", "error_msg": "your key SECRETVALUE is odd"}),
        secrets=["SECRETVALUE"],
    )
    assert error.message == "your key <redacted> is odd"


def test_scrub_blanks_authorization_parts():
    text = "Authorization: SDK-HMAC-SHA256 Access=AKX, SignedHeaders=host, Signature=abc123"
    assert "AKX" not in scrub(text) and "abc123" not in scrub(text)
    assert scrub("Access=AKX, Signature=deadbeef") == "Access=<redacted>, Signature=<redacted>"
    assert scrub("x-auth-token:tok|next") == "x-auth-token:<redacted>|next"


def test_local_errors_carry_their_details():
    invalid = InvalidRequestError(field="cluster_id", rule="must be short", value="x" * 200)
    assert (invalid.field, invalid.rule) == ("cluster_id", "must be short")
    assert str(invalid).startswith("invalid cluster_id 'xxx")
    assert str(invalid).endswith("...: must be short")

    config = ConfigurationError("region is not set", setting="region")
    assert config.setting == "region"
    assert str(config) == "region is not set"

    transport = TransportError(host="h:1", detail="ConnectError: refused", attempts=1)
    assert str(transport).startswith(
        "could not get an answer from h:1 after 1 attempt (ConnectError: refused)"
    )

    timeout = SyncTimeoutError(cluster_id="c1", waited=12.34)
    assert "cluster c1" in str(timeout) and "12.3 s" in str(timeout)


def test_every_class_is_an_mrs_error():
    for cls in (
        ConfigurationError,
        InvalidRequestError,
        ApiError,
        AuthenticationError,
        PermissionDeniedError,
        ThrottledError,
        ClusterNotFoundError,
        SyncInProgressError,
        BadRequestError,
        ServerError,
        UnexpectedResponseError,
        TransportError,
        SyncTimeoutError,
    ):
        assert issubclass(cls, MrsError)
