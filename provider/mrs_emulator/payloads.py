"""Request bodies of UpdateSyncIamUser (POST) and CancelSyncIamUser (DELETE), as the service reads them.

One rule for every malformed body, chosen because these checks belong to the
MRS service rather than the gateway: invalid JSON, a non-object body, a
wrong type, an empty name or a list over the cancel limit all give
**400 error_code 12000002** ("The parameter is invalid: ..."), with the
field and the reason in the message.  Only a body over the gateway's size
limit is refused by the gateway (413 APIGW.0201, see ``app``).

Unknown top-level fields are ignored, as the SDK's own models ignore fields
they do not know.  An empty body (the SDK sends none when the model is
omitted) reads as ``{}``.  ``null`` for a field means "absent".  Repeated
names count once.  Bodies nested deeper than :data:`~.jsonbody.MAX_DEPTH` levels, ``NaN`` and
numbers too large for a double are invalid JSON here (see :mod:`~.jsonbody`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mrs_emulator.errors import invalid_parameter
from mrs_emulator.jsonbody import JsonError, parse_json
from mrs_emulator.options import EmulatorOptions
from mrs_iam_sync.rules import MAX_CANCEL_NAMES, NAME_RULE


@dataclass(frozen=True)
class SyncRequest:
    is_all_sync: bool
    user_names: frozenset[str]
    group_names: frozenset[str]


@dataclass(frozen=True)
class CancelRequest:
    user_names: frozenset[str]
    group_names: frozenset[str]


def parse_sync_request(body: bytes, options: EmulatorOptions) -> SyncRequest:
    document = _json_object(body)
    is_all_sync = document.get("is_all_sync")
    if is_all_sync is None:
        is_all_sync = False
    elif not isinstance(is_all_sync, bool):
        raise invalid_parameter("is_all_sync must be a boolean")
    users = _names(document, "user_names")
    groups = _names(document, "group_names")
    named = bool(users or groups)
    if is_all_sync and named and options.all_sync_with_names == "reject":
        raise invalid_parameter(
            "is_all_sync=true synchronizes every user and group and cannot be combined with "
            "user_names or group_names; send either is_all_sync=true or the lists"
        )
    if not is_all_sync and not named and options.empty_sync == "reject":
        raise invalid_parameter(
            "nothing to synchronize: give user_names and/or group_names, or set is_all_sync=true"
        )
    return SyncRequest(is_all_sync=is_all_sync, user_names=users, group_names=groups)


def parse_cancel_request(body: bytes, options: EmulatorOptions) -> CancelRequest:
    document = _json_object(body)
    users = _names(document, "user_names", limit=MAX_CANCEL_NAMES)
    groups = _names(document, "group_names", limit=MAX_CANCEL_NAMES)
    if not (users or groups) and options.empty_sync == "reject":
        raise invalid_parameter("nothing to cancel: give user_names and/or group_names")
    return CancelRequest(user_names=users, group_names=groups)


def _json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        document = parse_json(body)
    except JsonError as exc:
        detail = f" ({exc.detail})" if exc.detail and exc.problem != "is not UTF-8" else ""
        raise invalid_parameter(f"the request body {exc.problem}{detail}") from None
    if not isinstance(document, dict):
        raise invalid_parameter("the request body must be a JSON object")
    return document


def _names(document: dict[str, Any], field: str, *, limit: int | None = None) -> frozenset[str]:
    value = document.get(field)
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise invalid_parameter(f"{field} must be a list of strings")
    if limit is not None and len(value) > limit:
        raise invalid_parameter(f"{field} has {len(value)} entries; at most {limit} are accepted per list")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise invalid_parameter(f"{field}[{index}] {NAME_RULE}")
    return frozenset(value)
