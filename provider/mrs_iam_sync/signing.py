"""Huawei Cloud ``SDK-HMAC-SHA256`` request signing for the client.

The emulator's gateway and the tests' reference signer implement the
algorithm again on their own, so that a bug here fails the tests instead of
being shared by the verifier.  The two ``httpx.Auth`` classes are the only
places that put credentials on a request, so no client method ever signs by
hand.

The algorithm has no key derivation and no date scope: the signature is an
HMAC of the secret key over a hash of the canonical request.  Everything that
the gateway can see differently from what we hashed (a header rewritten by a
library, a body re-serialised, a default port dropped from ``Host``) breaks
the signature, which is why ``AkSkAuth`` signs only values that are final at
signing time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Final
from urllib.parse import parse_qsl, quote, unquote

import httpx
from pydantic import SecretStr

ALGORITHM: Final = "SDK-HMAC-SHA256"
SDK_DATE_FORMAT: Final = "%Y%m%dT%H%M%SZ"
EMPTY_BODY_SHA256: Final = hashlib.sha256(b"").hexdigest()

HEADER_DATE: Final = "X-Sdk-Date"
HEADER_PROJECT: Final = "X-Project-Id"
HEADER_SECURITY_TOKEN: Final = "X-Security-Token"
HEADER_AUTH_TOKEN: Final = "X-Auth-Token"

_UNSIGNED_HEADERS: Final = frozenset(
    {"accept", "accept-encoding", "authorization", "connection", "content-length", "transfer-encoding"}
)
"""Headers whose wire value belongs to the HTTP stack (or to the signature itself), not to us."""

_HTTPX_DEFAULT_USER_AGENT_PREFIX: Final = "python-httpx/"


def _encode(text: str) -> str:
    """RFC 3986 unreserved characters stay; everything else, including ``*`` and space, is escaped."""
    return quote(text, safe="~")


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_uri(path: str) -> str:
    """Normalise the path segment by segment, always ending in ``/`` (only the signed form has it)."""
    segments = unquote(path).split("/")
    uri = "/".join(_encode(segment) for segment in segments)
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """Sort on the raw pairs, as the signer does, so that ``a=10`` precedes ``a=2``."""
    return "&".join(f"{_encode(key)}={_encode(value)}" for key, value in sorted(pairs))


def signable_header_names(headers: Mapping[str, str]) -> list[str]:
    """Names with ``_`` are left out, as the official signer does: many proxies drop such headers."""
    return sorted({name.lower() for name in headers if "_" not in name})


def canonical_request(
    *,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    body: bytes,
) -> str:
    """Build the text whose hash is signed; the verifier must rebuild it byte for byte."""
    by_lower_name = {name.lower(): value for name, value in headers.items()}
    names = [name.lower() for name in signed_headers]
    header_block = "".join(f"{name}:{by_lower_name.get(name, '').strip()}\n" for name in names)
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            header_block,
            ";".join(names),
            _sha256_hex(body),
        ]
    )


def string_to_sign(canonical_request: str, sdk_date: str) -> str:
    return f"{ALGORITHM}\n{sdk_date}\n{_sha256_hex(canonical_request.encode('utf-8'))}"


def compute_signature(secret_key: str, string_to_sign: str) -> str:
    """The secret key is the HMAC key as is: this scheme has no derived or date-scoped key."""
    digest = hmac.new(secret_key.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()


def authorization_header(*, access_key: str, signed_headers: Sequence[str], signature: str) -> str:
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(signed_headers)}, Signature={signature}"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _split_raw_path(url: httpx.URL) -> tuple[str, list[tuple[str, str]]]:
    """Sign what goes on the wire: the raw path and query, not httpx's decoded views of them."""
    raw_path, _, raw_query = url.raw_path.decode("ascii").partition("?")
    return raw_path, parse_qsl(raw_query, keep_blank_values=True)


def _is_ours(name: str, value: str) -> bool:
    """httpx adds its own User-Agent unless we set one; only a value we chose is stable enough to sign."""
    lowered = name.lower()
    if lowered in _UNSIGNED_HEADERS:
        return False
    return not (lowered == "user-agent" and value.startswith(_HTTPX_DEFAULT_USER_AGENT_PREFIX))


class AkSkAuth(httpx.Auth):
    """Sign each request with a permanent or temporary AK/SK pair.

    A request that already carries ``X-Project-Id`` keeps it, so that a call
    aimed at another project than the default one still sends a header that
    matches its path.
    """

    requires_request_body = True

    def __init__(
        self,
        *,
        access_key: str,
        secret_key: SecretStr,
        security_token: SecretStr | None = None,
        project_id: str | None = None,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._access_key = access_key
        self._secret_key = secret_key
        self._security_token = security_token
        self._project_id = project_id
        self._now = now

    def __repr__(self) -> str:
        temporary = self._security_token is not None
        return f"AkSkAuth(access_key='**********', temporary={temporary}, project_id={self._project_id!r})"

    __str__ = __repr__

    def _sdk_date(self) -> str:
        moment = self._now()
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return moment.strftime(SDK_DATE_FORMAT)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        headers = request.headers
        if HEADER_DATE not in headers:
            headers[HEADER_DATE] = self._sdk_date()
        if "Host" not in headers:
            headers["Host"] = request.url.netloc.decode("ascii")
        if self._project_id is not None and HEADER_PROJECT not in headers:
            headers[HEADER_PROJECT] = self._project_id
        if self._security_token is not None:
            headers[HEADER_SECURITY_TOKEN] = self._security_token.get_secret_value()

        ours = {name: value for name, value in headers.items() if _is_ours(name, value)}
        signed = signable_header_names(ours)
        path, query = _split_raw_path(request.url)
        canonical = canonical_request(
            method=request.method,
            path=path,
            query=query,
            headers=ours,
            signed_headers=signed,
            body=request.content,
        )
        signature = compute_signature(
            self._secret_key.get_secret_value(), string_to_sign(canonical, headers[HEADER_DATE])
        )
        headers["Authorization"] = authorization_header(
            access_key=self._access_key, signed_headers=signed, signature=signature
        )
        yield request


class TokenAuth(httpx.Auth):
    """Authenticate with an IAM token instead of a signature; there is nothing to hash."""

    def __init__(self, *, token: SecretStr, project_id: str | None = None) -> None:
        self._token = token
        self._project_id = project_id

    def __repr__(self) -> str:
        return f"TokenAuth(token='**********', project_id={self._project_id!r})"

    __str__ = __repr__

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[HEADER_AUTH_TOKEN] = self._token.get_secret_value()
        if self._project_id is not None and HEADER_PROJECT not in request.headers:
            request.headers[HEADER_PROJECT] = self._project_id
        yield request
