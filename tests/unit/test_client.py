from __future__ import annotations

import logging

import httpx
import pytest
from pydantic import SecretStr

from kit import signer
from kit.demo import PROJECT
from mrs_iam_sync import models
from mrs_iam_sync.budget import Budget
from mrs_iam_sync.client import MrsClient
from mrs_iam_sync.errors import (
    AuthenticationError,
    BadRequestError,
    ClusterNotFoundError,
    OutcomeUnknownError,
    ServerError,
    SyncInProgressError,
    ThrottledError,
    TransportError,
    UnexpectedResponseError,
)
from mrs_iam_sync.transport import USER_AGENT

from .helpers import (
    AK,
    AUTH_TOKEN,
    BASE,
    ENDPOINT,
    SECURITY_TOKEN,
    SK,
    WHERE,
    FakeClock,
    Script,
    body_of,
    make_settings,
    verify_signature,
)

ACCEPTED = {"state": "synchronizing"}
SIGNED_HEADERS = ("content-type", "host", "user-agent", "x-project-id", "x-sdk-date")
SYNC_ALICE = models.UpdateSyncRequest.of(user_names=["alice"])


def _signed_headers(request: httpx.Request) -> tuple[str, ...]:
    return signer.parse(request.headers["Authorization"]).signed


# -- what goes on the wire ---------------------------------------------------------------------------


def test_update_sync_iam_user_posts_the_sdk_shaped_body_signed(client: MrsClient, script: Script, budget):
    script.json("POST", "iam-sync-user", 202, ACCEPTED)

    body = models.UpdateSyncRequest.of(user_names=["user1", "user2"], group_names=["group1"])
    result = client.update_sync_iam_user(WHERE, body, budget=budget)

    assert result == models.SyncDispatch(state="synchronizing")
    (request,) = script.received
    assert request.method == "POST"
    assert request.url.raw_path == f"{BASE}/iam-sync-user".encode()
    # Same bytes as signing vector V1: the SDK's key order and separators.
    assert request.content == (
        b'{"is_all_sync": false, "group_names": ["group1"], "user_names": ["user1", "user2"]}'
    )
    assert request.headers["Content-Type"] == "application/json;charset=utf-8"
    assert request.headers["X-Project-Id"] == PROJECT
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.headers["Host"] == "mrs.cn-north-4.myhuaweicloud.com"
    assert _signed_headers(request) == SIGNED_HEADERS
    assert verify_signature(request)


def test_a_full_sync_sends_only_the_flag(client: MrsClient, script: Script, budget):
    script.json("POST", "iam-sync-user", 202, ACCEPTED)
    client.update_sync_iam_user(WHERE, models.UpdateSyncRequest.of(is_all_sync=True), budget=budget)
    assert script.received[0].content == b'{"is_all_sync": true}'


def test_update_sync_iam_user_omits_an_empty_list(client: MrsClient, script: Script, budget):
    script.json("POST", "iam-sync-user", 202, ACCEPTED)
    client.update_sync_iam_user(WHERE, models.UpdateSyncRequest.of(group_names=("g",)), budget=budget)
    assert body_of(script.received[0]) == {"is_all_sync": False, "group_names": ["g"]}


def test_cancel_sync_iam_user_sends_delete_with_a_json_body(client: MrsClient, script: Script, budget):
    script.json("DELETE", "iam-sync-user", 202, ACCEPTED)

    body = models.CancelSyncRequest.of(user_names=["user2"], group_names=["group1"])
    result = client.cancel_sync_iam_user(WHERE, body, budget=budget)

    assert result.state == "synchronizing"
    (request,) = script.received
    assert request.method == "DELETE"
    assert request.content == b'{"group_names": ["group1"], "user_names": ["user2"]}'
    assert request.headers["Content-Type"] == "application/json;charset=utf-8"
    assert request.headers["Content-Length"] == str(len(request.content))
    assert _signed_headers(request) == SIGNED_HEADERS
    assert verify_signature(request)


@pytest.mark.parametrize(
    ("call", "suffix", "body", "expected"),
    [
        (
            "show_sync_iam_user",
            "iam-sync-user",
            {"user_names": ["u"], "group_names": ["g"]},
            models.SyncedPrincipals(user_names=["u"], group_names=["g"]),
        ),
        ("list_sync_status", "iam-sync", {"is_synchronizing": True}, models.SyncTaskStatus(is_synchronizing=True)),
        (
            "list_sync_requirements",
            "iam-sync/is-synchronous",
            {"is_synchronous": False},
            models.ClusterSyncStatus(is_synchronous=False),
        ),
    ],
)
def test_reads_are_signed_gets_without_body(
    client: MrsClient, script: Script, budget, call, suffix, body, expected
):
    script.json("GET", suffix, 200, body)

    result = getattr(client, call)(WHERE, budget=budget)

    assert result == expected
    (request,) = script.received
    assert request.url.raw_path == f"{BASE}/{suffix}".encode()
    assert request.content == b""
    assert request.headers["Content-Type"] == "application/json"
    assert _signed_headers(request) == SIGNED_HEADERS
    assert verify_signature(request)


def test_show_sync_iam_user_treats_missing_lists_as_empty(client: MrsClient, script: Script, budget):
    script.json("GET", "iam-sync-user", 200, {"user_names": ["a"], "something_new": 1})
    assert client.show_sync_iam_user(WHERE, budget=budget) == models.SyncedPrincipals(
        user_names=["a"], group_names=[]
    )


def test_project_override_changes_path_and_project_header(budget):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"is_synchronizing": False})

    other = MrsClient(make_settings(), transport=httpx.MockTransport(handler))
    with other:
        other.list_sync_status(models.ClusterAddress.of(project_id="otherproject", cluster_id="c1"), budget=budget)
    assert seen[0].url.path == "/v2/otherproject/clusters/c1/iam-sync"
    assert seen[0].headers["X-Project-Id"] == "otherproject"
    assert verify_signature(seen[0])


def test_temporary_credentials_sign_the_security_token(client_factory, script: Script, budget):
    client = client_factory(make_settings(security_token=SecretStr(SECURITY_TOKEN)))
    script.json("GET", "iam-sync", 200, {"is_synchronizing": False})
    client.list_sync_status(WHERE, budget=budget)
    request = script.received[0]
    assert request.headers["X-Security-Token"] == SECURITY_TOKEN
    assert "x-security-token" in _signed_headers(request)
    assert verify_signature(request)


def test_token_auth_sends_the_token_and_no_signature(client_factory, script: Script, budget):
    client = client_factory(make_settings(access_key=None, secret_key=None, auth_token=SecretStr(AUTH_TOKEN)))
    script.json("GET", "iam-sync", 200, {"is_synchronizing": False})
    client.list_sync_status(WHERE, budget=budget)
    request = script.received[0]
    assert request.headers["X-Auth-Token"] == AUTH_TOKEN
    assert request.headers["X-Project-Id"] == PROJECT
    assert "Authorization" not in request.headers
    assert "X-Sdk-Date" not in request.headers


def test_endpoint_with_port_and_path_prefix_is_signed_as_sent(budget):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"is_synchronous": True})

    settings = make_settings(endpoint="http://127.0.0.1:8443/prefix")
    with MrsClient(settings, transport=httpx.MockTransport(handler)) as client:
        assert client.list_sync_requirements(WHERE, budget=budget).is_synchronous is True
    assert seen[0].url.raw_path == f"/prefix{BASE}/iam-sync/is-synchronous".encode()
    assert seen[0].headers["Host"] == "127.0.0.1:8443"
    assert verify_signature(seen[0])


def test_unexpected_body_raises_unexpected_response_error(client: MrsClient, script: Script, budget):
    script.json("GET", "iam-sync", 200, {"something": "else"})
    with pytest.raises(UnexpectedResponseError) as caught:
        client.list_sync_status(WHERE, budget=budget)
    assert "is_synchronizing" in str(caught.value)


# -- a success is believed only when it is a well-formed answer ----------------------------------------


def _raw(status: int, content: bytes) -> httpx.Response:
    return httpx.Response(status, content=content, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        (b"{}", "it answered '{}'"),
        (b"", "it answered an empty body"),
        (b"[]", "body: Input should be an object"),
        (b'"ok"', "it answered '\"ok\"'"),
        (b'{"status": "UP"}', "body: carries neither user_names nor group_names"),
        (b'{"user_names": "alice", "group_names": []}', "user_names: Input should be a valid array"),
        (b'{"user_names": [1]}', "user_names.0: Input should be a valid string"),
        (b'{"user_names": [], "group_names": {"g": 1}}', "group_names: Input should be a valid array"),
    ],
    ids=["empty-object", "empty-body", "array", "string", "other-object", "string-list", "number", "object"],
)
def test_a_listing_that_is_not_show_sync_iam_users_answer_is_refused_naming_the_endpoint(
    client: MrsClient, script: Script, budget, content, shown
):
    script.expect("GET", "iam-sync-user", _raw(200, content))

    with pytest.raises(UnexpectedResponseError) as caught:
        client.show_sync_iam_user(WHERE, budget=budget)

    message = str(caught.value)
    assert message.startswith(
        f"GET {ENDPOINT}{BASE}/iam-sync-user: the endpoint did not answer like the MRS API: 200 "
    )
    assert shown in message
    assert "nothing was concluded from this answer" in message
    assert len(script.received) == 1  # not retried: another attempt would be answered the same


@pytest.mark.parametrize(
    ("body", "users", "groups"),
    [
        ({"user_names": ["u"]}, ["u"], []),
        ({"user_names": None, "group_names": ["g"]}, [], ["g"]),
        ({"group_names": []}, [], []),
        ({"user_names": None, "group_names": None}, [], []),
    ],
    ids=["groups-missing", "users-null", "users-missing", "both-null"],
)
def test_one_missing_or_null_list_reads_as_empty(client: MrsClient, script: Script, budget, body, users, groups):
    script.json("GET", "iam-sync-user", 200, body)

    assert client.show_sync_iam_user(WHERE, budget=budget) == models.SyncedPrincipals(
        user_names=users, group_names=groups
    )


@pytest.mark.parametrize(
    ("call", "suffix", "content"),
    [
        ("list_sync_status", "iam-sync", b'{"is_synchronizing": "false"}'),
        ("list_sync_status", "iam-sync", b'{"is_synchronizing": 0}'),
        ("list_sync_status", "iam-sync", b'{"is_synchronizing": null}'),
        ("list_sync_status", "iam-sync", b""),
        ("list_sync_requirements", "iam-sync/is-synchronous", b'{"is_synchronous": "true"}'),
        ("list_sync_requirements", "iam-sync/is-synchronous", b"{}"),
    ],
)
def test_a_status_flag_must_be_a_json_boolean(client: MrsClient, script: Script, budget, call, suffix, content):
    script.expect("GET", suffix, _raw(200, content))

    with pytest.raises(UnexpectedResponseError, match=f"GET {ENDPOINT}{BASE}/{suffix}: "):
        getattr(client, call)(WHERE, budget=budget)


@pytest.mark.parametrize("content", [b"{}", b""], ids=["empty-object", "empty-body"])
def test_a_dispatch_without_a_state_is_accepted_as_the_reference_allows(
    client: MrsClient, script: Script, budget, content
):
    script.expect("POST", "iam-sync-user", _raw(202, content))

    assert client.update_sync_iam_user(WHERE, SYNC_ALICE, budget=budget) == models.SyncDispatch(state=None)


@pytest.mark.parametrize("content", [b'{"state": 1}', b"[]", b"<html>accepted</html>"])
def test_a_dispatch_of_the_wrong_shape_is_refused(client: MrsClient, script: Script, budget, content):
    script.expect("DELETE", "iam-sync-user", _raw(202, content))

    with pytest.raises(UnexpectedResponseError, match=f"DELETE {ENDPOINT}{BASE}/iam-sync-user: "):
        client.cancel_sync_iam_user(WHERE, models.CancelSyncRequest.of(user_names=["alice"]), budget=budget)


def test_a_refused_answer_shows_no_credentials_and_at_most_200_characters_of_the_body(
    client: MrsClient, script: Script, budget
):
    echoed = f'{{"user_names": "{AK} {SK} Authorization: SDK-HMAC-SHA256 x", "pad": "{"x" * 500}"}}'
    script.expect("GET", "iam-sync-user", _raw(200, echoed.encode()))

    with pytest.raises(UnexpectedResponseError) as caught:
        client.show_sync_iam_user(WHERE, budget=budget)

    message = str(caught.value)
    assert AK not in message and SK not in message and "SDK-HMAC" not in message
    assert "<redacted>" in message
    shown = message.split("it answered ", 1)[1].split(" (HTTP 200", 1)[0]
    assert len(shown) <= 200 + 2  # the quotes of its repr


def test_repr_and_close(budget):
    client = MrsClient(make_settings(), transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    assert repr(client) == f"MrsClient(endpoint='{ENDPOINT}', project_id='{PROJECT}')"
    with client:
        pass
    with pytest.raises(RuntimeError):
        client.list_sync_requirements(WHERE, budget=budget)


def test_cancel_sync_iam_user_accepts_exactly_1000_names(client: MrsClient, script: Script, budget):
    script.json("DELETE", "iam-sync-user", 202, ACCEPTED)
    body = models.CancelSyncRequest.of(user_names=[f"u{i}" for i in range(1000)])
    client.cancel_sync_iam_user(WHERE, body, budget=budget)
    assert len(body_of(script.received[0])["user_names"]) == 1000  # type: ignore[index]


# -- retries of reads --------------------------------------------------------------------------------


def test_get_503_then_200_is_retried_once(client: MrsClient, script: Script, clock: FakeClock, budget):
    script.json("GET", "iam-sync", 503, {"error_code": "APIGW.0613", "error_msg": "busy"})
    script.json("GET", "iam-sync", 200, {"is_synchronizing": False})
    assert client.list_sync_status(WHERE, budget=budget).is_synchronizing is False
    assert len(clock.sleeps) == 1
    assert 0.1 <= clock.sleeps[0] <= 0.2  # first equal-jitter delay: between half and all of 0.2 s


def test_get_honours_retry_after(client: MrsClient, script: Script, clock: FakeClock, budget):
    script.json(
        "GET",
        "iam-sync-user",
        429,
        {"error_code": "APIGW.0308", "error_msg": "slow down"},
        **{"Retry-After": "3"},
    )
    script.json("GET", "iam-sync-user", 200, {"user_names": []})
    client.show_sync_iam_user(WHERE, budget=budget)
    assert clock.sleeps == [3.0]


def test_get_backoff_grows_exponentially_with_cap(client_factory, script: Script, clock: FakeClock):
    client = client_factory(make_settings(max_retries=7))
    for _ in range(7):
        script.json("GET", "iam-sync", 500, {"error_code": "MRS.1", "error_msg": "x"})
    script.json("GET", "iam-sync", 200, {"is_synchronizing": False})
    client.list_sync_status(WHERE, budget=Budget(1000, monotonic=clock.monotonic))
    ceilings = [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    assert len(clock.sleeps) == 7
    for delay, ceiling in zip(clock.sleeps, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling


def test_get_gives_up_after_max_retries_with_the_last_error(
    client_factory, script: Script, clock: FakeClock, budget
):
    client = client_factory(make_settings(max_retries=2))
    for code in ("MRS.1", "MRS.2", "MRS.3"):
        script.json("GET", "iam-sync", 500, {"error_code": code, "error_msg": "internal"})
    with pytest.raises(ServerError) as caught:
        client.list_sync_status(WHERE, budget=budget)
    assert caught.value.code == "MRS.3"
    assert len(script.received) == 3
    assert len(clock.sleeps) == 2


def test_get_stops_when_the_budget_would_run_out(client_factory, script: Script, clock: FakeClock):
    client = client_factory(make_settings(max_retries=10))
    script.json(
        "GET", "iam-sync", 429, {"error_code": "APIGW.0308", "error_msg": "x"}, **{"Retry-After": "3"}
    )
    script.json(
        "GET", "iam-sync", 429, {"error_code": "APIGW.0308", "error_msg": "x"}, **{"Retry-After": "3"}
    )
    with pytest.raises(ThrottledError) as caught:
        client.list_sync_status(WHERE, budget=Budget(5, monotonic=clock.monotonic))
    assert caught.value.retry_after == 3.0
    assert clock.sleeps == [3.0]  # a second 3 s wait would end past the 5 s budget


def test_max_retries_zero_means_one_attempt(client_factory, script: Script, clock: FakeClock, budget):
    client = client_factory(make_settings(max_retries=0))
    script.json("GET", "iam-sync", 503, {"error_code": "APIGW.0613", "error_msg": "x"})
    with pytest.raises(ServerError):
        client.list_sync_status(WHERE, budget=budget)
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "error",
    [httpx.ReadTimeout("read timed out"), httpx.ConnectError("refused"), httpx.RemoteProtocolError("eof")],
)
def test_get_retries_transport_errors(client: MrsClient, script: Script, budget, error):
    script.expect("GET", "iam-sync", error)
    script.json("GET", "iam-sync", 200, {"is_synchronizing": True})
    assert client.list_sync_status(WHERE, budget=budget).is_synchronizing is True


def test_transport_errors_exhausted_become_transport_error(client_factory, script: Script, budget):
    client = client_factory(make_settings(max_retries=1))
    script.expect("GET", "iam-sync", httpx.ConnectError("[Errno 111] Connection refused"))
    script.expect("GET", "iam-sync", httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(TransportError) as caught:
        client.list_sync_status(WHERE, budget=budget)
    assert caught.value.attempts == 2
    assert caught.value.host == "mrs.cn-north-4.myhuaweicloud.com"
    assert str(caught.value).startswith(
        "could not get an answer from mrs.cn-north-4.myhuaweicloud.com after 2 attempts "
        "(ConnectError: [Errno 111] Connection refused): check network access"
    )
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_unsupported_protocol_is_not_retried(client: MrsClient, script: Script, clock: FakeClock, budget):
    script.expect("GET", "iam-sync", httpx.UnsupportedProtocol("bad scheme"))
    with pytest.raises(TransportError):
        client.list_sync_status(WHERE, budget=budget)
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"error_code": "12000002", "error_msg": "The parameter is invalid."}, BadRequestError),
        (401, {"error_code": "APIGW.0301", "error_msg": "verify aksk signature fail"}, AuthenticationError),
        (404, {"error_code": "12000003", "error_msg": "The cluster does not exist."}, ClusterNotFoundError),
    ],
)
def test_get_client_errors_are_never_retried(
    client: MrsClient, script: Script, clock, budget, status, body, error
):
    script.json("GET", "iam-sync-user", status, body)
    with pytest.raises(error):
        client.show_sync_iam_user(WHERE, budget=budget)
    assert clock.sleeps == []


# -- retries of task-starting writes -------------------------------------------------------------------


def test_post_after_500_is_never_resent_when_the_cluster_shows_nothing(
    client: MrsClient, script: Script, budget
):
    script.json("POST", "iam-sync-user", 500, {"error_code": "MRS.9999", "error_msg": "internal"})
    script.json("GET", "iam-sync", 200, {"is_synchronizing": False})
    script.json("GET", "iam-sync-user", 200, {"user_names": ["other"], "group_names": []})

    body = models.UpdateSyncRequest.of(user_names=["alice"], group_names=["devs"])
    with pytest.raises(OutcomeUnknownError) as caught:
        client.update_sync_iam_user(WHERE, body, budget=budget)

    assert script.calls == [("POST", "iam-sync-user"), ("GET", "iam-sync"), ("GET", "iam-sync-user")]
    message = str(caught.value)
    assert message.startswith(
        f"the answer to POST {ENDPOINT}{BASE}/iam-sync-user was lost (HTTP 500 MRS.9999)"
    )
    assert "It was not sent again" in message
    assert "run `pulumi refresh` and `pulumi up` to reconcile" in message


def test_post_after_500_is_not_resent_while_the_task_runs(client: MrsClient, script: Script, budget):
    script.json("POST", "iam-sync-user", 500, {"error_code": "MRS.9999", "error_msg": "internal"})
    script.json("GET", "iam-sync", 200, {"is_synchronizing": True})

    result = client.update_sync_iam_user(WHERE, SYNC_ALICE, budget=budget)

    assert result == models.SyncDispatch(state="synchronizing")
    assert script.calls == [("POST", "iam-sync-user"), ("GET", "iam-sync")]


def test_post_after_502_is_not_resent_when_a_requested_name_arrived(
    client: MrsClient, script: Script, budget
):
    script.json(
        "POST", "iam-sync-user", 502, {"error_code": "APIGW.0201", "error_msg": "backend unavailable"}
    )
    script.json("GET", "iam-sync", 200, {"is_synchronizing": False})
    # bob arrived, devs did not: the task ran (and failed for devs, which the read-back will report).
    script.json("GET", "iam-sync-user", 200, {"user_names": ["alice", "bob"], "group_names": ["ops"]})

    body = models.UpdateSyncRequest.of(user_names=["bob"], group_names=["devs"])
    result = client.update_sync_iam_user(WHERE, body, budget=budget)

    assert result == models.SyncDispatch(state=None)


def test_post_read_timeout_checks_before_resending(client: MrsClient, script: Script, budget):
    script.expect("POST", "iam-sync-user", httpx.ReadTimeout("timed out"))
    script.json("GET", "iam-sync", 200, {"is_synchronizing": True})
    assert client.update_sync_iam_user(WHERE, SYNC_ALICE, budget=budget).state == "synchronizing"


def test_post_connect_error_is_resent_without_checking(client: MrsClient, script: Script, budget):
    script.expect("POST", "iam-sync-user", httpx.ConnectError("refused"))
    script.json("POST", "iam-sync-user", 202, ACCEPTED)
    client.update_sync_iam_user(WHERE, SYNC_ALICE, budget=budget)
    assert script.calls == [("POST", "iam-sync-user"), ("POST", "iam-sync-user")]


def test_post_429_is_resent_without_checking(client: MrsClient, script: Script, clock: FakeClock, budget):
    script.json(
        "POST", "iam-sync-user", 429, {"error_code": "APIGW.0308", "error_msg": "x"}, **{"Retry-After": "1"}
    )
    script.json("POST", "iam-sync-user", 202, ACCEPTED)
    client.update_sync_iam_user(WHERE, SYNC_ALICE, budget=budget)
    assert script.calls == [("POST", "iam-sync-user"), ("POST", "iam-sync-user")]
    assert clock.sleeps == [1.0]


def test_post_400_is_never_retried(client: MrsClient, script: Script, clock: FakeClock, budget):
    script.json(
        "POST", "iam-sync-user", 400, {"error_code": "12000002", "error_msg": "The parameter is invalid."}
    )
    with pytest.raises(BadRequestError):
        client.update_sync_iam_user(WHERE, SYNC_ALICE, budget=budget)
    assert clock.sleeps == []


def test_post_409_reports_the_running_task(client: MrsClient, script: Script, budget):
    script.json("POST", "iam-sync-user", 409, {"error_code": "MRS.0409", "error_msg": "sync in progress"})
    with pytest.raises(SyncInProgressError, match="Another IAM sync task is running"):
        client.update_sync_iam_user(WHERE, SYNC_ALICE, budget=budget)


def test_full_sync_after_500_is_never_resent(client: MrsClient, script: Script, budget):
    script.json("POST", "iam-sync-user", 500, {"error_code": "MRS.9999", "error_msg": "internal"})
    script.json("GET", "iam-sync", 200, {"is_synchronizing": False})
    with pytest.raises(OutcomeUnknownError):  # a full sync names nobody: nothing on the cluster can show it
        client.update_sync_iam_user(WHERE, models.UpdateSyncRequest.of(is_all_sync=True), budget=budget)
    assert script.calls == [("POST", "iam-sync-user"), ("GET", "iam-sync")]


def test_delete_after_500_is_done_when_a_requested_name_left(client: MrsClient, script: Script, budget):
    script.json("DELETE", "iam-sync-user", 500, {"error_code": "MRS.9999", "error_msg": "internal"})
    script.json("GET", "iam-sync", 200, {"is_synchronizing": False})
    script.json("GET", "iam-sync-user", 200, {"user_names": ["bob"], "group_names": ["devs"]})
    body = models.CancelSyncRequest.of(user_names=["alice"], group_names=["devs"])
    assert client.cancel_sync_iam_user(WHERE, body, budget=budget).state is None


def test_delete_after_500_is_never_resent_when_every_name_is_still_synced(
    client: MrsClient, script: Script, budget
):
    script.json("DELETE", "iam-sync-user", 500, {"error_code": "MRS.9999", "error_msg": "internal"})
    script.json("GET", "iam-sync", 200, {"is_synchronizing": False})
    script.json("GET", "iam-sync-user", 200, {"user_names": [], "group_names": ["devs"]})
    with pytest.raises(OutcomeUnknownError, match="the answer to DELETE "):
        client.cancel_sync_iam_user(WHERE, models.CancelSyncRequest.of(group_names=["devs"]), budget=budget)
    assert [call for call in script.calls if call[0] == "DELETE"] == [("DELETE", "iam-sync-user")]


def test_post_500_with_no_retries_left_still_looks_before_failing(client_factory, script: Script, budget):
    client = client_factory(make_settings(max_retries=0))
    script.json("POST", "iam-sync-user", 500, {"error_code": "MRS.9999", "error_msg": "internal"})
    script.json("GET", "iam-sync", 200, {"is_synchronizing": True})
    assert client.update_sync_iam_user(WHERE, SYNC_ALICE, budget=budget).state == "synchronizing"


def test_a_policy_less_user_whose_answer_was_lost_starts_one_task_not_two(
    client: MrsClient, script: Script, budget
):
    # The task ran at once and skipped dave (no MRS policy); the cluster shows nothing of it.
    script.expect("POST", "iam-sync-user", httpx.RemoteProtocolError("Server disconnected"))
    script.json("GET", "iam-sync", 200, {"is_synchronizing": False})
    script.json("GET", "iam-sync-user", 200, {"user_names": [], "group_names": []})
    with pytest.raises(OutcomeUnknownError, match=r"\(RemoteProtocolError: Server disconnected\)"):
        client.update_sync_iam_user(WHERE, models.UpdateSyncRequest.of(user_names=["dave"]), budget=budget)
    assert [call for call in script.calls if call[0] == "POST"] == [("POST", "iam-sync-user")]


def test_post_read_timeout_with_nothing_visible_is_an_unknown_outcome(client_factory, script: Script, budget):
    client = client_factory(make_settings(max_retries=0))
    script.expect("POST", "iam-sync-user", httpx.ReadTimeout("timed out"))
    script.json("GET", "iam-sync", 200, {"is_synchronizing": False})
    script.json("GET", "iam-sync-user", 200, {"group_names": []})
    with pytest.raises(OutcomeUnknownError, match=r"was lost \(ReadTimeout: timed out\)"):
        client.update_sync_iam_user(WHERE, SYNC_ALICE, budget=budget)


def test_failed_check_reports_the_original_error_with_a_note(client: MrsClient, script: Script, budget):
    script.json("POST", "iam-sync-user", 500, {"error_code": "MRS.9999", "error_msg": "internal"})
    script.json("GET", "iam-sync", 403, {"error_code": "APIGW.0302", "error_msg": "not authorized"})
    with pytest.raises(ServerError) as caught:
        client.update_sync_iam_user(WHERE, SYNC_ALICE, budget=budget)
    assert caught.value.code == "MRS.9999"
    assert any("also failed" in note and "APIGW.0302" in note for note in caught.value.__notes__)


# -- logging ---------------------------------------------------------------------------------------------


def test_debug_log_has_method_path_status_attempt_and_no_headers(
    client: MrsClient, script: Script, budget, caplog
):
    script.json("GET", "iam-sync", 503, {"error_code": "APIGW.0613", "error_msg": "x"})
    script.json("GET", "iam-sync", 200, {"is_synchronizing": False})
    with caplog.at_level(logging.DEBUG, logger="mrs_iam_sync.client"):
        client.list_sync_status(WHERE, budget=budget)
    lines = [r.getMessage() for r in caplog.records if r.name == "mrs_iam_sync.client"]
    assert lines[0].startswith(f"GET {BASE}/iam-sync -> 503 (attempt 1, ")
    assert any(line.startswith(f"GET {BASE}/iam-sync -> 200 (attempt 2, ") for line in lines)
    assert not any("Authorization" in line or "SDK-HMAC" in line for line in lines)
