"""Gateway authentication: SDK signing vectors, tampering, dates, temporary keys, tokens, scopes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from kit import signer
from kit.api import cluster_path
from kit.demo import (
    ANALYTICS,
    AUTH_TOKEN,
    DEMO_AK,
    DEMO_SK,
    PROJECT,
    SECRETS,
    STREAMING,
    TEMP_AK,
    TEMP_SK,
    TEMP_TOKEN,
    demo_auth,
    demo_seed,
    temp_auth,
    token_auth,
)
from kit.signer import SDK_DATE_FORMAT, sign
from kit.vectors import vectors_by_version
from mrs_emulator.auth import Authenticator, Identity, ReceivedRequest
from mrs_emulator.clock import Clock
from mrs_emulator.seed import load_seed
from mrs_iam_sync.signing import AkSkAuth, TokenAuth

from .helpers import OTHER_PROJECT, assert_error, sdk_now

VECTORS = vectors_by_version()
AUTH = "Incorrect IAM authentication information: "
SIGNATURE_FAIL = AUTH + "verify aksk signature fail,canonicalRequest:"


def _vector_seed(vector: dict[str, Any]) -> dict[str, Any]:
    key = {"access_key": vector["ak"], "secret_key": vector["sk"]}
    if "X-Security-Token" in vector["headers"]:
        key["security_token"] = vector["headers"]["X-Security-Token"]
    return demo_seed(credentials={"access_keys": [key]})


def _vector_headers(vector: dict[str, Any]) -> dict[str, str]:
    return {
        **vector["headers"],
        "X-Sdk-Date": vector["x_sdk_date"],
        "Authorization": vector["expected_authorization"],
    }


def _expected_canonical(method: str, path: str, headers: dict[str, str], body: bytes, query: str = "") -> str:
    signed = signer.parse(headers["Authorization"]).signed
    canonical = signer.canonical_request(method, path, headers, signed, body=body, query=query)
    return canonical.replace("\n", "|")


# -- the SDK's own vectors ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["V1", "V2", "V3", "V5", "V6"])
def test_requests_signed_by_the_official_sdk_are_accepted(make_emulator, name):
    vector = VECTORS[name]
    emulator = make_emulator(seed=_vector_seed(vector))
    emulator.ok("PUT", "clock", {"now": vector["x_sdk_date"]})

    response = emulator.client().request(
        vector["method"], vector["path"], content=vector["body"].encode(), headers=_vector_headers(vector)
    )

    assert response.status_code == (200 if vector["method"] == "GET" else 202), response.text
    assert emulator.log()[-1]["auth"] == "aksk"


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_every_vector_verifies_at_the_gateway_layer(name):
    """V0 and V4 use paths and queries the API does not route; the verifier must accept them anyway."""
    vector = VECTORS[name]
    seed = load_seed(_vector_seed(vector))
    moment = datetime.strptime(vector["x_sdk_date"], SDK_DATE_FORMAT).replace(tzinfo=UTC)
    clock = Clock(moment.timestamp() - Clock().now())
    received = ReceivedRequest(
        method=vector["method"],
        raw_path=vector["path"],
        raw_query=signer.canonical_query([(name, value) for name, value in vector["query"]]),
        headers=_vector_headers(vector),
        body=vector["body"].encode(),
    )

    identity = Authenticator(seed, clock=clock).authenticate(
        received, project_id=vector["path"].split("/")[2]
    )

    assert identity == Identity(kind="aksk", principal=vector["ak"])


def test_a_vector_is_refused_once_its_date_is_too_old(make_emulator):
    vector = VECTORS["V2"]
    emulator = make_emulator(seed=_vector_seed(vector))

    response = emulator.client().get(vector["path"], headers=_vector_headers(vector))

    text = assert_error(response, 401, "APIGW.0301")
    assert text.startswith(AUTH + "X-Sdk-Date 20240102T030405Z is ")
    assert text.endswith("at most 15 minutes are allowed")


TAMPERINGS = {
    "body": lambda r: {**r, "body": r["body"].replace("user2", "user3")},
    "path": lambda r: {**r, "path": r["path"].replace(ANALYTICS, STREAMING)},
    "query": lambda r: {**r, "query": "force=true"},
    "signed header": lambda r: {**r, "headers": {**r["headers"], "Content-Type": "application/json"}},
    "date": lambda r: {**r, "headers": {**r["headers"], "X-Sdk-Date": "20240102T030406Z"}},
}


@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_a_tampered_request_is_refused_with_the_canonical_request_received(make_emulator, tampering):
    vector = VECTORS["V1"]
    emulator = make_emulator(seed=_vector_seed(vector))
    emulator.ok("PUT", "clock", {"now": vector["x_sdk_date"]})
    original = {
        "path": vector["path"],
        "query": "",
        "headers": _vector_headers(vector),
        "body": vector["body"],
    }
    sent = TAMPERINGS[tampering](original)
    url = sent["path"] + (f"?{sent['query']}" if sent["query"] else "")

    response = emulator.client().post(url, content=sent["body"].encode(), headers=sent["headers"])

    canonical = _expected_canonical(
        "POST", sent["path"], sent["headers"], sent["body"].encode(), sent["query"]
    )
    assert_error(response, 401, "APIGW.0301", SIGNATURE_FAIL + canonical)
    assert emulator.cluster(ANALYTICS)["tasks"] == []


# -- AK/SK policy --------------------------------------------------------------------------------


def test_every_endpoint_accepts_a_valid_signature(api):
    assert api.sync({"user_names": ["alice"]}).status_code == 202
    assert api.show().status_code == 200
    assert api.status().status_code == 200
    assert api.synchronous().status_code == 200
    assert api.cancel({"user_names": ["alice"]}).status_code == 202


def test_a_request_without_credentials_is_refused(emulator):
    response = emulator.client().get(cluster_path())

    assert_error(
        response,
        401,
        "APIGW.0301",
        AUTH + "the request carries neither an Authorization header (SDK-HMAC-SHA256) nor X-Auth-Token",
    )
    assert emulator.log()[-1]["auth"] == "none"


@pytest.mark.parametrize(
    "value",
    [
        "Bearer abc",
        "SDK-HMAC-SHA256",
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host",
        "SDK-HMAC-SHA256 garbage",
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;;x-sdk-date, Signature=00",
    ],
)
def test_a_garbled_authorization_header_is_refused(emulator, value):
    response = emulator.client().get(
        cluster_path(), headers={"Authorization": value, "X-Sdk-Date": sdk_now()}
    )

    assert_error(
        response,
        401,
        "APIGW.0301",
        AUTH + "the Authorization header is not of the form "
        "'SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...'",
    )


def test_an_unknown_access_key_is_refused(emulator):
    auth = AkSkAuth(access_key="UNKNOWNAK", secret_key=SecretStr(DEMO_SK))

    response = emulator.client(auth=auth).get(cluster_path())

    assert_error(response, 401, "APIGW.0301", AUTH + "Get secretKey failed: access key UNKNOWNAK is unknown")


def test_a_signature_made_with_another_secret_key_is_refused(emulator):
    auth = AkSkAuth(access_key=DEMO_AK, secret_key=SecretStr("not-the-secret"))

    text = assert_error(emulator.client(auth=auth).get(cluster_path()), 401, "APIGW.0301")

    assert text.startswith(SIGNATURE_FAIL + "GET|/v2/")


def test_x_sdk_date_must_be_signed(emulator):
    path = cluster_path()
    host = httpx.URL(emulator.url).netloc.decode()
    headers = {"Host": host, "X-Sdk-Date": sdk_now()}
    headers["Authorization"] = sign("GET", path, headers, signed=["host"])

    response = emulator.client().get(path, headers=headers)

    assert_error(response, 401, "APIGW.0301", AUTH + "x-sdk-date must be one of the SignedHeaders")


def test_a_missing_x_sdk_date_is_refused(emulator):
    path = cluster_path()
    headers = {"Host": httpx.URL(emulator.url).netloc.decode()}
    headers["Authorization"] = sign("GET", path, headers, signed=["host", "x-sdk-date"], date="")

    response = emulator.client().get(path, headers=headers)

    assert_error(response, 401, "APIGW.0301", AUTH + "the X-Sdk-Date header is missing")


@pytest.mark.parametrize("value", ["2024-01-02T03:04:05Z", "20240102T030405", "yesterday"])
def test_a_malformed_x_sdk_date_is_refused(emulator, value):
    path = cluster_path()
    headers = {"Host": httpx.URL(emulator.url).netloc.decode(), "X-Sdk-Date": value}
    headers["Authorization"] = sign("GET", path, headers)

    response = emulator.client().get(path, headers=headers)

    assert_error(
        response,
        401,
        "APIGW.0301",
        AUTH + f"X-Sdk-Date {value!r} is not a UTC time of the form YYYYMMDDTHHMMSSZ",
    )


@pytest.mark.parametrize(("minutes", "accepted"), [(-14, True), (14, True), (-16, False), (16, False)])
def test_x_sdk_date_must_be_within_15_minutes_of_the_gateway_clock(emulator, minutes, accepted):
    moment = datetime.now(UTC) + timedelta(minutes=minutes)
    auth = AkSkAuth(access_key=DEMO_AK, secret_key=SecretStr(DEMO_SK), now=lambda: moment)

    response = emulator.client(auth=auth).get(cluster_path())

    if accepted:
        assert response.status_code == 200, response.text
    else:
        text = assert_error(response, 401, "APIGW.0301")
        direction = "ahead of" if minutes > 0 else "behind"
        assert f" s {direction} the gateway clock (" in text


def test_the_emulator_clock_offset_moves_the_date_window(emulator, api):
    emulator.ok("PUT", "clock", {"offset_seconds": 3600})
    assert_error(api.status(), 401, "APIGW.0301")

    emulator.ok("PUT", "clock", {"offset_seconds": 0})
    assert api.status().status_code == 200


def test_the_allowed_skew_is_configurable(make_emulator):
    emulator = make_emulator(max_clock_skew_seconds=60)
    moment = datetime.now(UTC) - timedelta(minutes=2)
    auth = AkSkAuth(access_key=DEMO_AK, secret_key=SecretStr(DEMO_SK), now=lambda: moment)

    text = assert_error(emulator.client(auth=auth).get(cluster_path()), 401, "APIGW.0301")

    assert text.endswith("at most 1 minutes are allowed")


def test_a_signature_without_host_is_accepted_as_the_signing_guide_allows(emulator):
    path = cluster_path()
    headers = {"Host": httpx.URL(emulator.url).netloc.decode(), "X-Sdk-Date": sdk_now()}
    headers["Authorization"] = sign("GET", path, headers, signed=["x-sdk-date"])

    response = emulator.client().get(path, headers=headers)

    assert response.status_code == 200, response.text


def test_a_signed_header_that_is_not_in_the_request_is_refused(emulator):
    path = cluster_path()
    headers = {"Host": httpx.URL(emulator.url).netloc.decode(), "X-Sdk-Date": sdk_now()}
    headers["Authorization"] = sign(
        "GET", path, {**headers, "X-Absent": ""}, signed=["host", "x-absent", "x-sdk-date"]
    )

    response = emulator.client().get(path, headers=headers)

    assert_error(response, 401, "APIGW.0301", AUTH + "the signed header 'x-absent' is not in the request")


def test_a_signed_header_sent_empty_is_present(emulator):
    path = cluster_path()
    headers = {"Host": httpx.URL(emulator.url).netloc.decode(), "X-Sdk-Date": sdk_now(), "X-Empty": ""}
    headers["Authorization"] = sign("GET", path, headers, signed=["host", "x-empty", "x-sdk-date"])

    response = emulator.client().get(path, headers=headers)

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "name", ["Authorization", "X-Sdk-Date", "X-Project-Id", "X-Auth-Token", "X-Security-Token"]
)
def test_a_credential_header_sent_twice_is_refused(socket_emulator, name):
    client = socket_emulator.client()
    request = client.build_request("GET", cluster_path(), headers={"Content-Type": "application/json"})
    signed = next(temp_auth().auth_flow(request))
    value = signed.headers.get(name, AUTH_TOKEN)
    headers = [(key, item) for key, item in signed.headers.multi_items() if key.lower() != name.lower()]
    signed.headers = httpx.Headers([*headers, (name, value), (name, value)])

    response = client.send(signed)

    assert_error(response, 401, "APIGW.0301", AUTH + f"the request carries more than one {name} header")


# -- temporary credentials -----------------------------------------------------------------------


def test_temporary_credentials_with_their_security_token_are_accepted(emulator):
    api = emulator.api(temp_auth())

    assert api.sync({"user_names": ["bob"]}).status_code == 202
    assert api.show().json()["user_names"] == ["bob"]


def test_temporary_credentials_without_a_security_token_are_refused(emulator):
    auth = AkSkAuth(access_key=TEMP_AK, secret_key=SecretStr(TEMP_SK))

    response = emulator.client(auth=auth).get(cluster_path())

    assert_error(
        response,
        401,
        "APIGW.0301",
        AUTH + f"access key {TEMP_AK} is temporary and requires the X-Security-Token header",
    )


def test_a_security_token_of_another_key_is_refused(emulator):
    response = emulator.api(temp_auth(token="someone-elses-token")).status()

    assert_error(
        response,
        401,
        "APIGW.0301",
        AUTH + f"the X-Security-Token does not belong to the temporary access key {TEMP_AK}",
    )


class _AddAfterSigning(httpx.Auth):
    """Sign first, then add a header: the header is sent but not signed."""

    def __init__(self, inner: httpx.Auth, name: str, value: str) -> None:
        self.inner, self.name, self.value = inner, name, value

    def auth_flow(self, request):
        flow = self.inner.auth_flow(request)
        signed = next(flow)
        signed.headers[self.name] = self.value
        yield signed


def test_a_security_token_must_be_signed(emulator):
    auth = _AddAfterSigning(
        AkSkAuth(access_key=TEMP_AK, secret_key=SecretStr(TEMP_SK)), "X-Security-Token", TEMP_TOKEN
    )

    response = emulator.client(auth=auth).get(cluster_path())

    assert_error(response, 401, "APIGW.0301", AUTH + "x-security-token must be one of the SignedHeaders")


def test_a_permanent_key_must_not_send_a_security_token(emulator):
    auth = AkSkAuth(access_key=DEMO_AK, secret_key=SecretStr(DEMO_SK), security_token=SecretStr("x"))

    response = emulator.client(auth=auth).get(cluster_path())

    assert_error(
        response,
        401,
        "APIGW.0301",
        AUTH + f"X-Security-Token was sent with the permanent access key {DEMO_AK}",
    )


# -- project header and scopes -------------------------------------------------------------------


@pytest.mark.parametrize("auth", [demo_auth(OTHER_PROJECT), token_auth()], ids=["aksk", "token"])
def test_x_project_id_must_match_the_path(emulator, auth):
    if isinstance(auth, TokenAuth):
        auth = TokenAuth(token=SecretStr(AUTH_TOKEN), project_id=OTHER_PROJECT)

    response = emulator.client(auth=auth).get(cluster_path())

    assert_error(
        response,
        401,
        "APIGW.0301",
        AUTH + f"X-Project-Id '{OTHER_PROJECT}' does not match the project '{PROJECT}' in the path",
    )


def test_requests_without_x_project_id_are_accepted(emulator):
    assert emulator.api(demo_auth(project_id=None)).status().status_code == 200


def _two_projects(**credentials: Any) -> dict[str, Any]:
    seed = demo_seed(credentials=credentials)
    seed["projects"].append({"id": OTHER_PROJECT, "region": "cn-east-3", "clusters": [{"id": "other-1"}]})
    return seed


def test_an_access_key_restricted_to_projects_gets_403_elsewhere(make_emulator):
    key = {"access_key": DEMO_AK, "secret_key": DEMO_SK, "projects": [PROJECT]}
    emulator = make_emulator(seed=_two_projects(access_keys=[key]))

    allowed = emulator.api().status()
    denied = emulator.client(auth=demo_auth(OTHER_PROJECT)).get(
        cluster_path("other-1", OTHER_PROJECT, "iam-sync")
    )

    assert allowed.status_code == 200
    assert_error(
        denied,
        403,
        "APIGW.0302",
        f"The IAM user is not authorized to access the API: access key {DEMO_AK} is not allowed in "
        f"project {OTHER_PROJECT} (required action mrs:cluster:syncUser)",
    )


def test_a_token_scoped_to_another_project_must_be_updated(make_emulator):
    emulator = make_emulator(seed=_two_projects(tokens=[{"token": AUTH_TOKEN, "projects": [PROJECT]}]))
    auth = TokenAuth(token=SecretStr(AUTH_TOKEN), project_id=OTHER_PROJECT)

    response = emulator.client(auth=auth).get(cluster_path("other-1", OTHER_PROJECT, "iam-sync"))

    assert_error(
        response,
        401,
        "APIGW.0307",
        f"The token must be updated: the token is not scoped to project {OTHER_PROJECT}",
    )
    assert emulator.api(token_auth()).status().status_code == 200


# -- tokens --------------------------------------------------------------------------------------


def test_every_endpoint_accepts_a_seeded_token(emulator):
    api = emulator.api(token_auth())

    assert api.sync({"user_names": ["alice"]}).status_code == 202
    assert api.show().json()["user_names"] == ["alice"]
    assert api.status().status_code == 200
    assert api.synchronous().status_code == 200
    assert api.cancel({"user_names": ["alice"]}).status_code == 202
    assert {entry["auth"] for entry in emulator.log()} == {"token"}


def test_an_unknown_token_is_refused(emulator):
    response = emulator.api(token_auth("forged-token")).status()

    assert_error(response, 401, "APIGW.0301", AUTH + "decrypt token fail")


def test_a_valid_signature_wins_over_a_bogus_token(emulator):
    response = emulator.client(auth=demo_auth()).get(
        cluster_path(suffix="iam-sync"), headers={"X-Auth-Token": "bogus"}
    )

    assert response.status_code == 200


# -- nothing secret leaks ------------------------------------------------------------------------


def test_no_secret_or_signature_appears_in_error_messages_or_the_request_log(emulator):
    responses = []
    # A failing signature whose canonical request holds a signed security token...
    auth = temp_auth()
    client = emulator.client()
    request = client.build_request("GET", cluster_path(), headers={"Content-Type": "application/json"})
    signed = next(auth.auth_flow(request))
    signed.headers["X-Sdk-Date"] = sdk_now(1)  # breaks the signature after the fact
    responses.append(client.send(signed))
    # ... and one that declared the Authorization header itself as signed.
    path = cluster_path()
    headers = {"Host": httpx.URL(emulator.url).netloc.decode(), "X-Sdk-Date": sdk_now()}
    headers["Authorization"] = sign(
        "GET", path, headers, signed=["authorization", "host", "x-sdk-date"]
    )
    responses.append(client.get(path, headers=headers))
    responses.append(emulator.api(temp_auth(token=TEMP_TOKEN + "x")).status())
    responses.append(emulator.api(token_auth(AUTH_TOKEN + "x")).status())
    signatures = [r.request.headers.get("Authorization", "").rpartition("Signature=")[2] for r in responses]

    assert [r.status_code for r in responses] == [401] * 4
    for text in [r.text for r in responses] + [json.dumps(emulator.log())]:
        for secret in (*SECRETS, *(s for s in signatures if s)):
            assert secret not in text
    assert "x-security-token:******" in responses[0].text
    assert "authorization:******" in responses[1].text
