"""The references the client's signer is tested against are independent of it, and strict enough.

Three signers of SDK-HMAC-SHA256 live in the repository (the client's ``mrs_iam_sync.signing``, the
emulator's verifier ``mrs_emulator.sdk_hmac`` and the test kit's ``kit.signer``), each written from
the published algorithm, and none imports another.  Here all three meet Huawei's own SDK signer on
requests drawn at random (seeded) from awkward paths, queries, headers and bodies, and a client signer
with a planted bug is refused by the emulator, which would have accepted it when it verified with
the client's own functions.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from pydantic import SecretStr

from kit import signer
from kit.api import JSON_UTF8, cluster_path
from kit.demo import DEMO_AK, DEMO_SK, demo_auth, demo_seed
from kit.emulator import LocalEmulator
from kit.signer import SDK_DATE_FORMAT
from mrs_emulator.auth import Authenticator, Identity, ReceivedRequest
from mrs_emulator.clock import Clock
from mrs_emulator.errors import ApiError
from mrs_emulator.seed import load_seed
from mrs_iam_sync import signing
from mrs_iam_sync.signing import AkSkAuth

from .helpers import assert_error

SEED = 20_260_520
CASES = 200
HOST = "mrs.cn-north-4.myhuaweicloud.com"
SDK_DATE = "20240102T030405Z"
PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"

_SEGMENTS = ["v2", PROJECT, "clusters", "c-1", "a b", "x*y", "~t", "ü", "100%", "a+b", "k=v;w", "(x)", ""]
_NAMES = ["a", "b", "A", "limit", "x y", "ü", "a+b", "k~", "*"]
_VALUES = ["", "1", "10", "2", "x y", "ü", "a&b", "=", "*", "~", "a+b"]
_BODIES = [b"", b'{"user_names": ["alice"]}', '{"group_names": ["grüppe"]}'.encode(), b"\x00\xff raw"]


Case = ReceivedRequest
"""A request as it goes on the wire, with the headers it carries when it is signed."""


def _query_pairs(case: Case) -> list[tuple[str, str]]:
    """Decoded, as the SDK takes them; ``+`` never stands for a space here (it is sent as %2B)."""
    items = (item.partition("=") for item in case.raw_query.split("&") if item)
    return [(unquote(name), unquote(value)) for name, _, value in items]


def _encoded(text: str, rng: random.Random) -> str:
    """Percent-encode all but unreserved characters, or leave the sub-delimiters a path may carry."""
    return quote(text, safe=rng.choice(["", "*+=;()!$',@:"]))


def _case(rng: random.Random) -> Case:
    segments = [rng.choice(_SEGMENTS) for _ in range(rng.randint(1, 5))]
    raw_path = "/" + "/".join(_encoded(segment, rng) for segment in segments) + rng.choice(["", "/"])
    pairs = [(rng.choice(_NAMES), rng.choice(_VALUES)) for _ in range(rng.randint(0, 4))]
    raw_query = "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in pairs)
    headers = {"Host": HOST, "X-Sdk-Date": SDK_DATE}
    optional = {
        "Content-Type": rng.choice(["application/json", "application/json;charset=utf-8"]),
        "X-Project-Id": PROJECT,
        "User-Agent": "reference-test/1.0",
        "X-Padded": "  padded value\t",
        "x-MiXeD-Case": "Value",
        "X_Under_Score": "never signed",
    }
    headers.update((name, value) for name, value in optional.items() if rng.random() < 0.5)
    method = rng.choice(["GET", "POST", "DELETE", "PUT"])
    body = b"" if method == "GET" else rng.choice(_BODIES)
    return Case(method=method, raw_path=raw_path, raw_query=raw_query, headers=headers, body=body)


CASE_LIST = [_case(random.Random(SEED + index)) for index in range(CASES)]


def _sdk_authorization(case: Case) -> str:
    """What Huawei's SDK signer (huaweicloudsdkcore) writes: it is given the decoded query pairs."""
    request = SdkRequest(
        case.method,
        schema="https",
        host=HOST,
        resource_path=case.raw_path,
        query_params=_query_pairs(case),
        header_params=dict(case.headers),
        body=case.body,
    )
    credentials = SimpleNamespace(ak=DEMO_AK, sk=DEMO_SK)
    value: str = Signer(credentials).sign(request).header_params["Authorization"]
    return value


def _authenticate(case: Case, authorization: str) -> Identity:
    """The emulator's gateway, its clock at the signing date, on ``case`` as received."""
    moment = datetime.strptime(SDK_DATE, SDK_DATE_FORMAT).replace(tzinfo=UTC)
    gateway = Authenticator(load_seed(demo_seed()), clock=Clock(moment.timestamp() - Clock().now()))
    received = replace(case, headers={**case.headers, "Authorization": authorization})
    return gateway.authenticate(received, project_id=PROJECT)


@pytest.mark.parametrize("case", CASE_LIST, ids=[f"case{index}" for index in range(CASES)])
def test_the_sdk_the_kit_signer_the_emulator_and_the_client_agree(case: Case) -> None:
    expected = _sdk_authorization(case)

    by_kit = signer.sign(case.method, case.raw_path, case.headers, body=case.body, query=case.raw_query)
    identity = _authenticate(case, expected)
    url = f"https://{HOST}{case.raw_path}" + (f"?{case.raw_query}" if case.raw_query else "")
    unsigned = {name: value for name, value in case.headers.items() if name not in {"Host", "X-Sdk-Date"}}
    request = httpx.Request(case.method, url, headers=unsigned, content=case.body)
    moment = datetime.strptime(SDK_DATE, SDK_DATE_FORMAT).replace(tzinfo=UTC)
    auth = AkSkAuth(access_key=DEMO_AK, secret_key=SecretStr(DEMO_SK), now=lambda: moment)
    by_client = next(auth.sync_auth_flow(request)).headers["Authorization"]

    assert by_kit == expected
    assert identity == Identity(kind="aksk", principal=DEMO_AK)
    assert request.url.raw_path.decode() == url.removeprefix(f"https://{HOST}")  # httpx sent it as is
    assert by_client == expected


def test_the_random_requests_reach_the_awkward_corners() -> None:
    """The agreement above means something only if the draws cover what signers get wrong."""
    paths = "".join(case.raw_path for case in CASE_LIST)
    queries = [case.raw_query for case in CASE_LIST]
    headers = [case.headers for case in CASE_LIST]

    for token in ("%20", "%C3%BC", "%25", "*", "%2A", "+", "%2B", "//", "("):
        assert token in paths
    assert any(query.count("&") >= 3 for query in queries)
    assert any(case.body and case.method != "GET" and b"\xff" in case.body for case in CASE_LIST)
    assert any("X_Under_Score" in header and "X-Padded" in header for header in headers)
    assert any(not case.raw_path.endswith("/") for case in CASE_LIST)


# -- a signing bug is caught ---------------------------------------------------------------------

Mutation = Callable[[Callable[..., Any]], Callable[..., Any]]
BUGS: dict[str, tuple[str, Mutation]] = {
    "canonical URI without its trailing slash": (
        "canonical_uri",
        lambda original: lambda path: original(path).rstrip("/"),
    ),
    "query pairs in the order sent": (
        "canonical_query",
        lambda original: lambda pairs: "&".join(f"{name}={value}" for name, value in pairs),
    ),
    "body left out of the hash": (
        "canonical_request",
        lambda original: lambda **request: original(**{**request, "body": b""}),
    ),
    "a date-scoped string to sign": (
        "string_to_sign",
        lambda original: lambda canonical, sdk_date: original(canonical, sdk_date[:8]),
    ),
    "signature in upper-case hex": (
        "compute_signature",
        lambda original: lambda secret_key, text: original(secret_key, text).upper(),
    ),
}


def _send(emulator: LocalEmulator) -> httpx.Response:
    """A POST with a body and an unsorted query: every step of the algorithm has something to do."""
    client = emulator.client(auth=demo_auth())
    return client.post(cluster_path() + "?b=2&a=1", json={"user_names": ["alice"]}, headers=JSON_UTF8)


def test_the_unmutated_client_is_accepted(emulator: LocalEmulator) -> None:
    response = _send(emulator)

    assert response.status_code == 202, response.text
    assert signer.verify(response.request, DEMO_SK)


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_a_client_signer_with_a_bug_is_refused_by_the_emulator_and_the_kit(
    emulator: LocalEmulator, monkeypatch: pytest.MonkeyPatch, bug: str
) -> None:
    name, mutation = BUGS[bug]
    monkeypatch.setattr(signing, name, mutation(getattr(signing, name)))

    response = _send(emulator)

    text = assert_error(response, 401, "APIGW.0301")
    assert "verify aksk signature fail" in text
    assert not signer.verify(response.request, DEMO_SK)


def test_the_emulator_verifier_raises_the_gateway_error_for_a_wrong_signature() -> None:
    """The same refusal without HTTP: a signature off by one hex digit."""
    case = CASE_LIST[0]
    good = _sdk_authorization(case)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")

    with pytest.raises(ApiError) as refused:
        _authenticate(case, bad)

    assert refused.value.status == 401 and refused.value.code == "APIGW.0301"
