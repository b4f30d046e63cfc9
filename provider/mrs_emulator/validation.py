"""How pydantic's refusals are reported by the emulator: one ``path: reason`` pair, no input echoed.

Seeds, state files, options and control-API bodies all report the first
problem this way.  Inputs are never echoed, because a seed holds secrets.
"""

from __future__ import annotations

from pydantic import ValidationError

_PREFIXES = ("Value error, ", "Assertion failed, ")


def format_location(location: tuple[int | str, ...]) -> str:
    """``("projects", 0, "id")`` -> ``projects[0].id``."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def first_error(exc: ValidationError) -> tuple[str, str]:
    """The field path (empty for the whole object) and the reason of the first error."""
    error = exc.errors(include_input=False, include_url=False)[0]
    reason = error["msg"]
    for prefix in _PREFIXES:
        reason = reason.removeprefix(prefix)
    return format_location(tuple(error["loc"])), reason
