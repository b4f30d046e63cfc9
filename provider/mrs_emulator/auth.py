"""Gateway-style authentication: an AK/SK signature or an IAM token, checked before MRS sees the request.

AK/SK verification rebuilds the canonical request from what was *received*
(the raw path as sent, the raw query, the received values of the headers the
client declared as signed, the raw body bytes) with :mod:`mrs_emulator.sdk_hmac`,
the algorithm as published and not the client's code, so that the client's
signing bugs fail here.  What this module adds is the gateway's policy around
the signature:

* ``Authorization`` wins when both it and ``X-Auth-Token`` are present (the
  official SDK skips signing when ``Authorization`` is set; emulator choice);
* ``x-sdk-date`` must be among the signed headers, and the date within the
  allowed skew of the emulator clock (15 minutes by default); ``host`` need
  not be signed (the signing guide makes only ``X-Sdk-Date`` mandatory), but
  every header named in ``SignedHeaders`` must be in the request;
* the headers that carry credentials or select them (``Authorization``,
  ``X-Auth-Token``, ``X-Sdk-Date``, ``X-Security-Token``, ``X-Project-Id``)
  may each appear once: two values would leave it open which one counts;
* a temporary access key needs its ``X-Security-Token``, sent *and signed*
  (the SDK always signs it; requiring it is an emulator choice); a permanent
  key must not send one;
* ``X-Project-Id``, when sent, must name the project in the path;
* credentials restricted to projects: other projects get 403 APIGW.0302 for
  an AK, 401 APIGW.0307 for a token (like a token scoped elsewhere).

No message ever contains a secret key, a security token, an auth token or a
signature: canonical requests shown for debugging have those values masked.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal

from pydantic import SecretStr

from mrs_emulator.clock import Clock
from mrs_emulator.errors import authentication_failed, not_authorized, token_must_be_updated
from mrs_emulator.sdk_hmac import (
    ALGORITHM,
    HEADER_DATE,
    SDK_DATE_FORMAT,
    canonical_request,
    expected_signature,
    parse_authorization,
)
from mrs_emulator.seed import Seed

HEADER_PROJECT: Final = "X-Project-Id"
HEADER_SECURITY_TOKEN: Final = "X-Security-Token"
HEADER_AUTH_TOKEN: Final = "X-Auth-Token"

AuthKind = Literal["aksk", "token", "none"]

MASK: Final = "******"
_MASKED_HEADERS: Final = frozenset(
    {"authorization", HEADER_SECURITY_TOKEN.lower(), HEADER_AUTH_TOKEN.lower()}
)
"""Signed-header values that are secrets or carry the signature; masked in any message."""
SINGLE_HEADERS: Final = (
    "Authorization",
    HEADER_AUTH_TOKEN,
    HEADER_DATE,
    HEADER_SECURITY_TOKEN,
    HEADER_PROJECT,
)
"""Headers a request may carry at most once (emulator choice: which of two values would count?)."""


@dataclass(frozen=True)
class ReceivedRequest:
    """What the gateway saw on the wire, before any decoding or routing."""

    method: str
    raw_path: str
    raw_query: str
    headers: Mapping[str, str]
    """Names in any case; :meth:`header` looks them up case-insensitively."""
    body: bytes
    repeated: frozenset[str] = frozenset()
    """Lowercased names of the headers that came more than once (their values arrive joined by ',')."""
    _by_lower_name: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_by_lower_name", {key.lower(): value for key, value in self.headers.items()}
        )

    def header(self, name: str) -> str | None:
        return self._by_lower_name.get(name.lower())


@dataclass(frozen=True)
class Identity:
    """Who the request authenticated as; never holds a secret."""

    kind: AuthKind
    principal: str
    """The access key, or ``token#<index in the seed>``."""


@dataclass(frozen=True)
class _AccessKey:
    access_key: str
    secret_key: SecretStr
    security_token: SecretStr | None
    projects: frozenset[str] | None


@dataclass(frozen=True)
class _Token:
    label: str
    token: SecretStr
    projects: frozenset[str] | None


def presented_kind(request: ReceivedRequest) -> AuthKind:
    """The scheme a request tried, for the request log, whether or not it succeeded."""
    if request.header("Authorization") is not None:
        return "aksk"
    if request.header(HEADER_AUTH_TOKEN) is not None:
        return "token"
    return "none"


class Authenticator:
    """Checks credentials from the seed; immutable, so it needs no lock."""

    def __init__(self, seed: Seed, *, clock: Clock) -> None:
        self._clock = clock
        self._access_keys = {
            entry.access_key: _AccessKey(
                access_key=entry.access_key,
                secret_key=entry.secret_key,
                security_token=entry.security_token,
                projects=None if entry.projects is None else frozenset(entry.projects),
            )
            for entry in seed.credentials.access_keys
        }
        self._tokens = tuple(
            _Token(
                label=f"token#{index}",
                token=entry.token,
                projects=None if entry.projects is None else frozenset(entry.projects),
            )
            for index, entry in enumerate(seed.credentials.tokens)
        )

    def authenticate(
        self, request: ReceivedRequest, *, project_id: str, max_skew_seconds: float = 900.0
    ) -> Identity:
        """Return the identity or raise the gateway's :class:`~.errors.ApiError`."""
        for name in SINGLE_HEADERS:
            if name.lower() in request.repeated:
                raise authentication_failed(f"the request carries more than one {name} header")
        kind = presented_kind(request)
        if kind == "aksk":
            identity = self._verify_signature(request, project_id, max_skew_seconds)
        elif kind == "token":
            identity = self._verify_token(request, project_id)
        else:
            raise authentication_failed(
                f"the request carries neither an Authorization header ({ALGORITHM}) nor X-Auth-Token"
            )
        sent_project = request.header(HEADER_PROJECT)
        if sent_project is not None and sent_project.strip() != project_id:
            raise authentication_failed(
                f"X-Project-Id {sent_project.strip()!r} does not match the project {project_id!r} in the path"
            )
        return identity

    def _verify_signature(self, request: ReceivedRequest, project_id: str, max_skew: float) -> Identity:
        parsed = parse_authorization((request.header("Authorization") or "").strip())
        if parsed is None:
            raise authentication_failed(
                f"the Authorization header is not of the form '{ALGORITHM} Access=..., "
                "SignedHeaders=..., Signature=...'"
            )
        credential = self._access_keys.get(parsed.access_key)
        if credential is None:
            raise authentication_failed(f"Get secretKey failed: access key {parsed.access_key} is unknown")
        signed = tuple(name.lower() for name in parsed.signed_headers)
        sdk_date = self._checked_date(request, signed, max_skew)
        for name in signed:
            if request.header(name) is None:
                raise authentication_failed(f"the signed header {name[:64]!r} is not in the request")
        received = [(name, request.header(name) or "") for name in signed]
        expected = expected_signature(
            secret_key=credential.secret_key.get_secret_value(),
            sdk_date=sdk_date,
            canonical=_canonical(request, received),
        )
        if not hmac.compare_digest(expected.encode("ascii"), parsed.signature.encode("utf-8")):
            shown = _canonical(
                request, [(name, MASK if name in _MASKED_HEADERS else value) for name, value in received]
            )
            raise authentication_failed(
                "verify aksk signature fail,canonicalRequest:" + shown.replace("\n", "|")
            )
        self._check_security_token(request, credential, signed)
        if credential.projects is not None and project_id not in credential.projects:
            raise not_authorized(f"access key {credential.access_key} is not allowed in project {project_id}")
        return Identity(kind="aksk", principal=credential.access_key)

    def _checked_date(self, request: ReceivedRequest, signed: tuple[str, ...], max_skew: float) -> str:
        if HEADER_DATE.lower() not in signed:
            raise authentication_failed("x-sdk-date must be one of the SignedHeaders")
        value = (request.header(HEADER_DATE) or "").strip()
        if not value:
            raise authentication_failed("the X-Sdk-Date header is missing")
        try:
            moment = datetime.strptime(value, SDK_DATE_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise authentication_failed(
                f"X-Sdk-Date {value!r} is not a UTC time of the form YYYYMMDDTHHMMSSZ"
            ) from None
        skew = moment.timestamp() - self._clock.now()
        if abs(skew) > max_skew:
            minutes = max_skew / 60
            raise authentication_failed(
                f"X-Sdk-Date {value} is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} the "
                f"gateway clock ({self._clock.now_datetime().strftime(SDK_DATE_FORMAT)}); "
                f"at most {minutes:g} minutes are allowed"
            )
        return value

    def _check_security_token(
        self, request: ReceivedRequest, credential: _AccessKey, signed: tuple[str, ...]
    ) -> None:
        sent = request.header(HEADER_SECURITY_TOKEN)
        if credential.security_token is None:
            if sent is not None:
                raise authentication_failed(
                    f"X-Security-Token was sent with the permanent access key {credential.access_key}"
                )
            return
        if sent is None:
            raise authentication_failed(
                f"access key {credential.access_key} is temporary and requires the X-Security-Token header"
            )
        if HEADER_SECURITY_TOKEN.lower() not in signed:
            raise authentication_failed("x-security-token must be one of the SignedHeaders")
        if not hmac.compare_digest(
            sent.strip().encode("utf-8"), credential.security_token.get_secret_value().encode("utf-8")
        ):
            raise authentication_failed(
                f"the X-Security-Token does not belong to the temporary access key {credential.access_key}"
            )

    def _verify_token(self, request: ReceivedRequest, project_id: str) -> Identity:
        sent = (request.header(HEADER_AUTH_TOKEN) or "").strip().encode("utf-8")
        match = None
        for candidate in self._tokens:
            # Compare against every token so the time taken does not tell which one came close.
            if hmac.compare_digest(sent, candidate.token.get_secret_value().encode("utf-8")):
                match = candidate
        if match is None:
            raise authentication_failed("decrypt token fail")
        if match.projects is not None and project_id not in match.projects:
            raise token_must_be_updated(f"the token is not scoped to project {project_id}")
        return Identity(kind="token", principal=match.label)


def _canonical(request: ReceivedRequest, signed: list[tuple[str, str]]) -> str:
    return canonical_request(
        method=request.method,
        raw_path=request.raw_path,
        raw_query=request.raw_query,
        signed=signed,
        body=request.body,
    )
