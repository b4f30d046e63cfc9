"""Text we did not write (an answer's body, an exception's message), made fit for a ``pulumi up`` log.

A rejected canonical request can echo signed headers back, and a proxy can answer with a page of
HTML: before such text reaches a message it is flattened to one bounded line and scrubbed of
anything that looks like a credential.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

_REDACTED: Final = "<redacted>"

_CREDENTIAL_HEADER_LINE: Final = re.compile(
    r"(?i)\b(x-security-token|x-auth-token|authorization)(\s*:\s*)[^|\r\n]*"
)
_SIGNATURE_FIELD: Final = re.compile(r"(?i)\b(signature=)[0-9a-f]+")
_ACCESS_FIELD: Final = re.compile(r"(?i)\b(access=)[^,\s|]+")


def scrub(text: str, *, secrets: Iterable[str] = ()) -> str:
    """Remove known secrets and credential-shaped fragments from text we did not write ourselves."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    text = _CREDENTIAL_HEADER_LINE.sub(lambda m: m.group(1) + m.group(2) + _REDACTED, text)
    text = _SIGNATURE_FIELD.sub(lambda m: m.group(1) + _REDACTED, text)
    return _ACCESS_FIELD.sub(lambda m: m.group(1) + _REDACTED, text)


def one_line(text: str, limit: int) -> str:
    """Lines joined with `` | `` and cut to ``limit`` characters, so a message stays one log line."""
    flat = " | ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
