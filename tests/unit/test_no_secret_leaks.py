"""Credentials must never reach a message a person or a log collector can see.

Every scenario below produces exceptions, objects and log records; the test
gathers all of their text and searches it for each credential and for every
signature the client computed.  The fake server is deliberately hostile: it
echoes the credential-bearing request headers back in its error messages.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator

import httpx
import pytest
from pydantic import SecretStr

from kit import signer
from kit.demo import PROJECT
from mrs_iam_sync.budget import Budget
from mrs_iam_sync.client import MrsClient
from mrs_iam_sync.coordinator import wait_until_idle
from mrs_iam_sync.errors import MrsError
from mrs_iam_sync.models import CancelSyncRequest, ClusterAddress, UpdateSyncRequest
from mrs_iam_sync.settings import resolve_settings
from mrs_iam_sync.signing import AkSkAuth, TokenAuth
from mrs_iam_sync.target import ClusterRef

from .helpers import AK, AUTH_TOKEN, ENDPOINT, SECURITY_TOKEN, SK, WHERE, FakeClock, make_settings

CREDENTIALS = (AK, SK, SECURITY_TOKEN, AUTH_TOKEN)


def _echo(request: httpx.Request, owned: tuple[str, ...]) -> str:
    """What a careless gateway might say: every credential header, and the caller's keys, verbatim."""
    token = request.headers.get("X-Security-Token", "")
    return (
        f"bad request; Authorization: {request.headers.get('Authorization', '')}"
        f"|x-security-token:{request.headers.get('X-Security-Token', '')}"
        f"|x-auth-token:{request.headers.get('X-Auth-Token', '')}"
        f"|canonicalRequest:GET|/v2/x/||host:h|x-security-token:{token}|"
        f"|raw {' '.join(owned)}"
    )


def _hostile_handler(
    status: int, code: str, owned: tuple[str, ...], **headers: str
) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        if status == 0:
            raise httpx.ConnectError(_echo(request, owned))
        body = {"error_code": code, "error_msg": _echo(request, owned), "request_id": "r-1"}
        return httpx.Response(status, json=body, headers=headers)

    return handler


SCENARIOS = [
    (401, "APIGW.0301"),
    (401, "APIGW.0307"),
    (403, "APIGW.0302"),
    (404, "12000003"),
    (409, "MRS.0409"),
    (400, "12000002"),
    (429, "APIGW.0308"),
    (500, "MRS.9999"),
    (503, "APIGW.0613"),
    (0, "connect error"),
]

SETTINGS_VARIANTS: dict[str, dict[str, object]] = {
    "aksk": {},
    "temporary": {"security_token": SecretStr(SECURITY_TOKEN)},
    "token": {"access_key": None, "secret_key": None, "auth_token": SecretStr(AUTH_TOKEN)},
}


class Collector:
    def __init__(self) -> None:
        self.texts: list[str] = []
        self.signatures: set[str] = set()

    def add(self, *objects: object) -> None:
        for obj in objects:
            self.texts.extend([str(obj), repr(obj)])

    def add_exception(self, error: BaseException | None) -> None:
        while error is not None:
            self.add(error, *getattr(error, "args", ()))
            self.texts.extend(getattr(error, "__notes__", []))
            self.texts.extend(str(value) for value in vars(error).values())
            # Follow the chain a traceback would print.
            error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)

    def note_request(self, request: httpx.Request) -> None:
        authorization = request.headers.get("Authorization")
        if authorization is not None:
            self.signatures.add(signer.parse(authorization).signature)


@pytest.fixture
def collector(caplog: pytest.LogCaptureFixture) -> Iterator[Collector]:
    collected = Collector()
    with caplog.at_level(logging.DEBUG):
        yield collected
    for record in caplog.records:
        collected.texts.append(record.getMessage())
        collected.texts.append(repr(record.args))
        if record.exc_info:
            collected.add_exception(record.exc_info[1])
    haystack = "\n".join(collected.texts)
    for secret in (*CREDENTIALS, *collected.signatures):
        assert secret not in haystack, f"a credential or signature leaked: ...{secret[-6:]}"
    assert collected.texts  # the scenario really produced something to inspect


def _run_every_operation(client: MrsClient, clock: FakeClock, collector: Collector) -> None:
    operations: list[Callable[[Budget], object]] = [
        lambda budget: client.update_sync_iam_user(
            WHERE, UpdateSyncRequest.of(user_names=["alice"]), budget=budget
        ),
        lambda budget: client.cancel_sync_iam_user(
            WHERE, CancelSyncRequest.of(group_names=["devs"]), budget=budget
        ),
        lambda budget: client.show_sync_iam_user(WHERE, budget=budget),
        lambda budget: client.list_sync_status(WHERE, budget=budget),
        lambda budget: client.list_sync_requirements(WHERE, budget=budget),
    ]
    for operation in operations:
        with pytest.raises(MrsError) as caught:
            operation(Budget(300, monotonic=clock.monotonic))
        collector.add_exception(caught.value)
    with pytest.raises(MrsError) as caught:
        wait_until_idle(
            client, ClusterRef(ENDPOINT, WHERE), budget=Budget(1, monotonic=clock.monotonic), ours=True
        )
    collector.add_exception(caught.value)


@pytest.mark.parametrize("variant", list(SETTINGS_VARIANTS))
@pytest.mark.parametrize(("status", "code"), SCENARIOS, ids=[code for _, code in SCENARIOS])
def test_error_scenarios_leak_nothing(collector: Collector, variant, status, code):
    settings = make_settings(max_retries=1, **SETTINGS_VARIANTS[variant])
    credentials = (settings.access_key, settings.secret_key, settings.security_token, settings.auth_token)
    owned = tuple(secret.get_secret_value() for secret in credentials if secret is not None)
    inner = _hostile_handler(status, code, owned, **{"Retry-After": "0"})

    def handler(request: httpx.Request) -> httpx.Response:
        collector.note_request(request)
        return inner(request)

    clock = FakeClock()
    client = MrsClient(
        settings,
        transport=httpx.MockTransport(handler),
        sleep=clock.sleep,
        rng=random.Random(1),
    )
    with client:
        _run_every_operation(client, clock, collector)
    collector.add(settings, client, client._transport._http.auth, settings.describe_sources())
    if variant != "token":
        assert collector.signatures  # the check below really had signatures to look for


def test_unexpected_body_and_timeouts_leak_nothing(collector: Collector):
    replies = iter([{"is_synchronizing": "garbage"}, {"is_synchronizing": True}, {"is_synchronizing": True}])

    def handler(request: httpx.Request) -> httpx.Response:
        collector.note_request(request)
        return httpx.Response(200, json=next(replies))

    clock = FakeClock()
    settings = make_settings(security_token=SecretStr(SECURITY_TOKEN))
    cluster = ClusterRef(ENDPOINT, WHERE)
    with MrsClient(settings, transport=httpx.MockTransport(handler), sleep=clock.sleep) as client:
        for call in (
            lambda: client.list_sync_status(WHERE, budget=Budget(300, monotonic=clock.monotonic)),
            lambda: wait_until_idle(
                client, cluster, budget=Budget(0.1, monotonic=clock.monotonic), ours=True
            ),
            lambda: client.update_sync_iam_user(
                ClusterAddress.of(project_id=PROJECT, cluster_id="bad/cluster"),
                UpdateSyncRequest.of(user_names=["x"]),
                budget=Budget(300, monotonic=clock.monotonic),
            ),
            lambda: client.cancel_sync_iam_user(
                WHERE, CancelSyncRequest.of(user_names=[""]), budget=Budget(300, monotonic=clock.monotonic)
            ),
        ):
            with pytest.raises(MrsError) as caught:
                call()
            collector.add_exception(caught.value)


def _keys(**values: str) -> dict[str, str]:
    return {f"huaweicloud:{key}": value for key, value in values.items()}


@pytest.mark.parametrize(
    ("stack", "environ"),
    [
        (_keys(access_key=AK), {}),
        (_keys(secret_key=SK), {}),
        (_keys(security_token=SECURITY_TOKEN), {}),
        (_keys(access_key=AK, secret_key=SK, auth_token=AUTH_TOKEN), {}),
        ({}, {"HW_ACCESS_KEY": AK, "HW_SECRET_KEY": SK, "HW_AUTH_TOKEN": AUTH_TOKEN}),
        (_keys(access_key=AK, secret_key=SK, project_id="bad-project"), {}),
        (_keys(access_key=AK, secret_key=SK, max_retries="x"), {}),
        (_keys(access_key=AK, secret_key=SK), {"HW_REGION_NAME": ""}),
    ],
)
def test_configuration_errors_leak_nothing(collector: Collector, stack, environ):
    env = {"HW_REGION_NAME": "cn-north-4", "HW_PROJECT_ID": PROJECT, **environ}
    with pytest.raises(MrsError) as caught:
        resolve_settings(stack_config=stack, environ=env)
    collector.add_exception(caught.value)


def test_resolved_settings_and_auth_objects_leak_nothing(collector: Collector):
    env = {
        "HW_REGION_NAME": "cn-north-4",
        "HW_PROJECT_ID": PROJECT,
        "HW_ACCESS_KEY": AK,
        "HW_SECRET_KEY": SK,
        "HW_SECURITY_TOKEN": SECURITY_TOKEN,
    }
    settings = resolve_settings(environ=env)
    token_settings = resolve_settings(stack_config=_keys(auth_token=AUTH_TOKEN), environ=env)
    collector.add(
        settings,
        token_settings,
        settings.for_target(region="cn-east-3"),
        settings.describe_sources(),
        settings.model_dump(),
        token_settings.model_dump_json(),
        AkSkAuth(access_key=AK, secret_key=SecretStr(SK), security_token=SecretStr(SECURITY_TOKEN)),
        TokenAuth(token=SecretStr(AUTH_TOKEN), project_id=PROJECT),
    )
