"""SDK-HMAC-SHA256 as the gateway recomputes it, written from the published APIG signing algorithm.

Deliberately independent of the client's signer (``mrs_iam_sync.signing``): a gateway that
canonicalised with the client's own functions would accept whatever those functions get wrong,
and the emulator is what the client's tests are checked against.  The steps, as the signing guide
publishes them:

1. canonical request: the method; the path, percent-decoded, then every segment encoded again and
   a ``/`` at the end; the query pairs, decoded, sorted, encoded and joined with ``&``; one
   ``name:value`` line per signed header (lowercased name, trimmed value) in the order of
   ``SignedHeaders``; that list joined with ``;``; the hex SHA-256 of the body;
2. string to sign: the algorithm, the ``X-Sdk-Date`` and the hex SHA-256 of the canonical request,
   one per line;
3. signature: the hex HMAC-SHA256 of the string to sign, keyed with the secret key as it is (no
   derived or date-scoped key).

"Encoded" is RFC 3986: only letters, digits and ``-._~`` stay; every other UTF-8 byte is ``%XX``.
"""

from __future__ import annotations

import hashlib
import hmac
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote, unquote_plus

ALGORITHM: Final = "SDK-HMAC-SHA256"
SDK_DATE_FORMAT: Final = "%Y%m%dT%H%M%SZ"
HEADER_DATE: Final = "X-Sdk-Date"

_UNRESERVED: Final = frozenset(string.ascii_letters + string.digits + "-._~")


@dataclass(frozen=True)
class Presented:
    """What an ``Authorization`` header claims: who signed, which headers, and the signature."""

    access_key: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> Presented | None:
    """``None`` for anything malformed: to a gateway every garbled header is the same 401."""
    scheme = ALGORITHM + " "
    if not value.startswith(scheme):
        return None
    fields: dict[str, str] = {}
    for item in value[len(scheme) :].split(","):
        name, equals, field_value = item.strip().partition("=")
        if not equals:
            return None
        fields[name] = field_value
    access_key, signed, signature = (fields.get(key, "") for key in ("Access", "SignedHeaders", "Signature"))
    names = tuple(signed.split(";"))
    if not (access_key and signature and all(names)):
        return None
    return Presented(access_key=access_key, signed_headers=names, signature=signature)


def _encoded(text: str) -> str:
    return "".join(
        char if char in _UNRESERVED else "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
        for char in text
    )


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical_path(raw_path: str) -> str:
    # Decoding the whole path first means an encoded '/' separates segments like a plain one.
    path = "/".join(_encoded(segment) for segment in unquote(raw_path).split("/"))
    return path if path.endswith("/") else path + "/"


def _canonical_query(raw_query: str) -> str:
    """``+`` reads as a space, as form encoding has it; a name without ``=`` has an empty value."""
    pairs = []
    for item in raw_query.split("&"):
        if item:
            name, _, item_value = item.partition("=")
            pairs.append((unquote_plus(name), unquote_plus(item_value)))
    return "&".join(f"{_encoded(name)}={_encoded(item_value)}" for name, item_value in sorted(pairs))


def canonical_request(
    *, method: str, raw_path: str, raw_query: str, signed: Sequence[tuple[str, str]], body: bytes
) -> str:
    """The text of step 1 from what was received; ``signed`` holds (lowercased name, value) pairs
    in the order the ``Authorization`` header lists them."""
    header_lines = "".join(f"{name}:{value.strip()}\n" for name, value in signed)
    names = ";".join(name for name, _ in signed)
    parts = (method.upper(), _canonical_path(raw_path), _canonical_query(raw_query), header_lines, names)
    return "\n".join((*parts, _sha256_hex(body)))


def expected_signature(*, secret_key: str, sdk_date: str, canonical: str) -> str:
    """Steps 2 and 3."""
    to_sign = f"{ALGORITHM}\n{sdk_date}\n{_sha256_hex(canonical.encode('utf-8'))}"
    return hmac.new(secret_key.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
