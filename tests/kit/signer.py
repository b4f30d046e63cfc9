"""The reference signer of the tests: SDK-HMAC-SHA256 written again from the published algorithm.

It imports nothing from ``mrs_iam_sync`` (nor from the emulator's verifier, ``mrs_emulator.sdk_hmac``):
a reference built on the code under test would agree with its bugs.
``tests/emulator/test_reference_signers.py`` holds it, the emulator's verifier and the client to
Huawei's own SDK signer.

Tests need it to sign what the client never sends (odd signed-header lists, no date, another key) and
to check what a transport received the way a gateway would.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, NamedTuple
from urllib.parse import parse_qsl, quote, unquote

import httpx

from kit.demo import DEMO_AK, DEMO_SK

SDK_DATE_FORMAT: Final = "%Y%m%dT%H%M%SZ"
_SCHEME: Final = "SDK-HMAC-SHA256"
_AUTHORIZATION: Final = re.compile(
    _SCHEME + r" Access=(?P<access>[^,]+), SignedHeaders=(?P<signed>[^,]+), Signature=(?P<signature>\S+)"
)
"""Exactly what a signer writes; a gateway is more lenient, a reference need not be."""


class Authorization(NamedTuple):
    access_key: str
    signed: tuple[str, ...]
    signature: str


def parse(value: str) -> Authorization:
    found = _AUTHORIZATION.fullmatch(value)
    assert found is not None, f"not an {_SCHEME} Authorization header: {value!r}"
    return Authorization(found["access"], tuple(found["signed"].split(";")), found["signature"])


def _rfc3986(text: str) -> str:
    return quote(text, safe="~")


def canonical_query(query: str | Iterable[tuple[str, str]]) -> str:
    """Sorted decoded pairs, each side percent-encoded; also a valid raw query string."""
    pairs = parse_qsl(query, keep_blank_values=True) if isinstance(query, str) else query
    return "&".join(_rfc3986(name) + "=" + _rfc3986(value) for name, value in sorted(pairs))


def canonical_request(
    method: str,
    path: str,
    headers: Mapping[str, str],
    signed: Sequence[str],
    *,
    body: bytes = b"",
    query: str | Iterable[tuple[str, str]] = "",
) -> str:
    """The text whose hash is signed; ``query`` is the raw query string or its (name, value) pairs."""
    segments = [_rfc3986(segment) for segment in unquote(path).split("/")]
    uri = "/".join(segments).removesuffix("/") + "/"
    values = {name.lower(): value.strip() for name, value in headers.items()}
    lines = [method.upper(), uri, canonical_query(query)]
    lines += [f"{name.lower()}:{values.get(name.lower(), '')}" for name in signed]
    lines += ["", ";".join(name.lower() for name in signed), hashlib.sha256(body).hexdigest()]
    return "\n".join(lines)


def signature(
    method: str,
    path: str,
    headers: Mapping[str, str],
    signed: Sequence[str],
    *,
    secret_key: str,
    body: bytes = b"",
    query: str | Iterable[tuple[str, str]] = "",
    date: str | None = None,
) -> str:
    """The hex signature; ``date`` defaults to the request's ``X-Sdk-Date``."""
    text = canonical_request(method, path, headers, signed, body=body, query=query)
    sdk_date = date if date is not None else {k.lower(): v for k, v in headers.items()}.get("x-sdk-date", "")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    mac = hmac.new(secret_key.encode("utf-8"), f"{_SCHEME}\n{sdk_date}\n{digest}".encode(), "sha256")
    return mac.hexdigest()


def sign(
    method: str,
    path: str,
    headers: Mapping[str, str],
    *,
    body: bytes = b"",
    query: str | Iterable[tuple[str, str]] = "",
    access_key: str = DEMO_AK,
    secret_key: str = DEMO_SK,
    signed: Sequence[str] | None = None,
    date: str | None = None,
) -> str:
    """The ``Authorization`` header of a request, by default with the emulator's demo key and every
    header signed but those whose name has a ``_`` (proxies drop them, so signers leave them out)."""
    names = signed if signed is not None else sorted({name.lower() for name in headers if "_" not in name})
    value = signature(method, path, headers, names, secret_key=secret_key, body=body, query=query, date=date)
    return f"{_SCHEME} Access={access_key}, SignedHeaders={';'.join(names)}, Signature={value}"


def verify(request: httpx.Request, secret_key: str) -> bool:
    """Recompute the signature the way a gateway does, from what was actually received."""
    presented = parse(request.headers["Authorization"])
    raw_path, _, raw_query = request.url.raw_path.decode("ascii").partition("?")
    expected = signature(
        request.method,
        raw_path,
        request.headers,
        presented.signed,
        secret_key=secret_key,
        body=request.content,
        query=raw_query,
    )
    return hmac.compare_digest(expected, presented.signature)
