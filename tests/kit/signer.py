"""The reference signer of the tests: SDK-HMAC-SHA256 by hand, on ``mrs_iam_sync.signing``'s functions.

``AkSkAuth`` is what the client signs with; tests need to sign what it never sends (odd signed-header
lists, no date, another key) and to check what a transport received the way a gateway would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import parse_qsl

import httpx

from kit.demo import DEMO_AK, DEMO_SK
from mrs_iam_sync import signing


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
    """The hex signature; ``query`` is the raw query string or its (name, value) pairs, ``date``
    defaults to the request's ``X-Sdk-Date``."""
    pairs = parse_qsl(query, keep_blank_values=True) if isinstance(query, str) else query
    text = signing.canonical_request(
        method=method, path=path, query=pairs, headers=headers, signed_headers=signed, body=body
    )
    sdk_date = date if date is not None else headers.get("X-Sdk-Date", "")
    return signing.compute_signature(secret_key, signing.string_to_sign(text, sdk_date))


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
    signable header signed."""
    names = signed if signed is not None else signing.signable_header_names(headers)
    value = signature(method, path, headers, names, secret_key=secret_key, body=body, query=query, date=date)
    return signing.authorization_header(access_key=access_key, signed_headers=names, signature=value)


def verify(request: httpx.Request, secret_key: str) -> bool:
    """Recompute the signature the way a gateway does, from what was actually received."""
    parsed = signing.parse_authorization(request.headers["Authorization"])
    assert parsed is not None
    raw_path, _, raw_query = request.url.raw_path.decode("ascii").partition("?")
    expected = signature(
        request.method,
        raw_path,
        request.headers,
        parsed.signed_headers,
        secret_key=secret_key,
        body=request.content,
        query=raw_query,
    )
    return expected == parsed.signature
