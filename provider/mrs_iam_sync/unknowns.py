"""Values a preview does not know yet: how they arrive, and how they go back to the engine.

During ``pulumi preview`` an input computed from another resource (a cluster created in the same
program, a name taken from another resource's output) has no value. The engine sends a sentinel
string on the wire; the Python SDK turns it into a ``pulumi.output.Unknown`` object when it keeps
unknowns (check, diff, previews) and leaves the string where it does not (some SDK versions, and
the JSON of ``pulumi preview --json`` that ``plan`` and the policy pack read). Every reader in this
package (the provider, ``mrs-iam-sync plan``, the guardrails) asks this module, so the two shapes
are recognised in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

UNKNOWN_WIRE: Final = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""The sentinel Pulumi's RPC layer and its JSON documents put where a value is not known yet."""


def is_unknown(value: object) -> bool:
    """True for a value the engine will only know during ``pulumi up``."""
    if isinstance(value, str):
        return value == UNKNOWN_WIRE
    # Recognised by name, so that ``plan`` does not import the SDK just to ask.
    kind = type(value)
    return kind.__name__ == "Unknown" and kind.__module__ == "pulumi.output"


def holds_unknown(value: object) -> bool:
    """True when ``value`` is unknown or a list or object holding an unknown somewhere."""
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(holds_unknown(item) for item in value.values())
    if isinstance(value, Sequence) and not isinstance(value, str):
        return any(holds_unknown(item) for item in value)
    return False


def to_wire(value: Any) -> Any:
    """``value`` with every unknown in the sentinel's string form, which the SDK serializes as unknown.

    ``check`` hands inputs back to the engine; an ``Unknown`` object there would not serialize.
    """
    if is_unknown(value):
        return UNKNOWN_WIRE
    if isinstance(value, Mapping):
        return {key: to_wire(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(item) for item in value]
    return value
