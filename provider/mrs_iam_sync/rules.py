"""Input rules of the MRS IAM-sync API, kept in one place.

The client, the resource's ``check`` and the emulator all validate the same
fields; keeping the patterns here means a rule is changed once and the error
messages of all three agree.
"""

from __future__ import annotations

import re
from typing import Final

PROJECT_ID_PATTERN: Final = re.compile(r"^[A-Za-z0-9]{1,64}$")
PROJECT_ID_RULE: Final = "must be 1 to 64 characters, letters and digits only"

CLUSTER_ID_PATTERN: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CLUSTER_ID_RULE: Final = "must be 1 to 64 characters: letters, digits, '_' and '-' only"

MAX_CANCEL_NAMES: Final = 1000
"""CancelSyncIamUser accepts at most this many names per list (documented)."""

NAME_RULE: Final = "must be a non-empty string"
"""The emulated service checks only this of a name on the wire; the project checks more (below)."""

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


def principal_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be an IAM user or group name, or None when it can.

    IAM holds no name that is blank, padded with whitespace or holding a control character, so a
    task started for one could only fail after the fact; refusing it up front costs no API call.
    """
    if not name.strip():
        return NAME_RULE
    if name != name.strip():
        return f"must not start or end with whitespace: remove it from {name!r}"
    if _CONTROL.search(name):
        return f"must not hold control characters: {name!r}"
    return None
