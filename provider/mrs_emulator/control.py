"""The control API under ``/_emulator/``: reset, inspect and bend the emulator from a test.

No authentication, JSON in and out, never recorded in the request log and
never subject to faults, so a test can always see and repair the emulator.
Errors use ``EMULATOR.<status>`` codes, which no real service returns.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from werkzeug.wrappers import Response

from mrs_emulator.backend import ClusterNotFound, StateNotSaved
from mrs_emulator.clock import ClockRangeError, iso_utc
from mrs_emulator.context import EmulatorContext
from mrs_emulator.errors import control_error
from mrs_emulator.faults import FaultSpec
from mrs_emulator.handlers import json_reply
from mrs_emulator.jsonbody import JsonError, parse_json
from mrs_emulator.options import OptionsError
from mrs_emulator.sdk_hmac import SDK_DATE_FORMAT
from mrs_emulator.seed import Name
from mrs_emulator.validation import first_error
from mrs_iam_sync.rules import CLUSTER_ID_PATTERN, CLUSTER_ID_RULE, PROJECT_ID_PATTERN, PROJECT_ID_RULE

_Model = TypeVar("_Model", bound=BaseModel)


@dataclass(frozen=True)
class ControlCall:
    context: EmulatorContext
    content: bytes
    """The request body, already read (and bounded) by the app."""
    args: Mapping[str, str]

    def json_object(self) -> dict[str, Any]:
        """The JSON object in the body; an empty body means ``{}``."""
        try:
            data = parse_json(self.content) if self.content.strip() else {}
        except JsonError as exc:
            raise control_error(400, f"the body {exc}") from None
        if not isinstance(data, dict):
            raise control_error(400, "the body must be a JSON object")
        return data

    def body(self, model: type[_Model]) -> _Model:
        """Parse the JSON body into ``model``."""
        data = self.json_object()
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            path, reason = first_error(exc)
            raise control_error(400, f"{path}: {reason}" if path else reason) from None

    @property
    def cluster_key(self) -> tuple[str, str]:
        return self.args["project_id"], self.args["cluster_id"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClockBody(_Body):
    offset_seconds: float | None = Field(default=None, allow_inf_nan=False, strict=True)
    """Finite, and such that "now" stays in the clock's range (checked by the clock itself)."""
    now: str | None = None
    """An absolute time instead of an offset: ISO 8601, or an X-Sdk-Date such as 20240102T030405Z."""

    @model_validator(mode="after")
    def _one_of(self) -> ClockBody:
        if (self.offset_seconds is None) == (self.now is None):
            raise ValueError("give exactly one of offset_seconds and now")
        return self


class ClusterPatch(_Body):
    """Names unknown to IAM are welcome (drift), but they follow the seed's rule, as the state file's do."""

    synced_users: list[Name] | None = None
    synced_groups: list[Name] | None = None
    is_synchronous: bool | None = None


class ClusterCreate(_Body):
    name: Name | None = None


@contextmanager
def _backend_errors() -> Iterator[None]:
    """A missing cluster is a 404; a change the state file could not take was undone: 503 (or 413)."""
    try:
        yield
    except ClusterNotFound as exc:
        raise control_error(404, exc.message) from None
    except StateNotSaved as exc:
        if exc.too_large:
            raise control_error(413, f"nothing was changed, as {exc.message}") from None
        raise control_error(
            503, f"the state file could not be written, so nothing was changed: {exc.message}"
        ) from None


def health(call: ControlCall) -> Response:
    return json_reply(200, {"status": "ok"})


def reset(call: ControlCall) -> Response:
    with _backend_errors():
        call.context.reset()
    return json_reply(200, {"reset": True})


def list_requests(call: ControlCall) -> Response:
    return json_reply(200, {"requests": call.context.requests.entries()})


def clear_requests(call: ControlCall) -> Response:
    call.context.requests.clear()
    return json_reply(200, {"requests": []})


def list_faults(call: ControlCall) -> Response:
    return json_reply(200, {"faults": call.context.faults.describe()})


def add_fault(call: ControlCall) -> Response:
    fault = call.context.faults.add(call.body(FaultSpec))
    return json_reply(201, {"id": fault.id})


def clear_faults(call: ControlCall) -> Response:
    call.context.faults.clear()
    return json_reply(200, {"faults": []})


def delete_fault(call: ControlCall) -> Response:
    fault_id = call.args["fault_id"]
    if not call.context.faults.remove(fault_id):
        raise control_error(404, f"no fault {fault_id}")
    return json_reply(200, {"deleted": fault_id})


def _clock_json(call: ControlCall) -> dict[str, Any]:
    clock = call.context.clock
    return {"offset_seconds": clock.offset_seconds, "now": iso_utc(clock.now())}


def show_clock(call: ControlCall) -> Response:
    return json_reply(200, _clock_json(call))


def set_clock(call: ControlCall) -> Response:
    """The clock checks the value before taking it, so a refused one leaves it as it was."""
    body = call.body(ClockBody)
    clock = call.context.clock
    try:
        if body.offset_seconds is not None:
            clock.set_offset(body.offset_seconds)
        elif body.now is not None:
            clock.set_now(_parse_time(body.now))
    except ClockRangeError as exc:
        field = "offset_seconds" if body.offset_seconds is not None else "now"
        raise control_error(400, f"{field}: {exc}") from None
    return json_reply(200, _clock_json(call))


def _parse_time(text: str) -> float:
    """Epoch seconds of an X-Sdk-Date or an ISO 8601 time (UTC when it names no zone)."""
    try:
        return datetime.strptime(text, SDK_DATE_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()
    except (ValueError, OverflowError):
        raise control_error(400, f"now: {text[:64]!r} is neither ISO 8601 nor YYYYMMDDTHHMMSSZ") from None


def show_settings(call: ControlCall) -> Response:
    return json_reply(200, call.context.backend.options.live_settings())


def update_settings(call: ControlCall) -> Response:
    changes = call.json_object()
    backend = call.context.backend
    try:
        options = backend.options.with_live_settings(changes)
    except OptionsError as exc:
        raise control_error(400, str(exc)) from None
    backend.set_options(options)
    return json_reply(200, options.live_settings())


def show_state(call: ControlCall) -> Response:
    context = call.context
    with _backend_errors():
        projects = context.backend.dump()
    return json_reply(
        200,
        {
            "projects": projects,
            "options": context.backend.options.live_settings(),
            "clock": _clock_json(call),
            "faults": context.faults.describe(),
        },
    )


def show_cluster(call: ControlCall) -> Response:
    with _backend_errors():
        return json_reply(200, call.context.backend.cluster_json(*call.cluster_key))


def patch_cluster(call: ControlCall) -> Response:
    body = call.body(ClusterPatch)
    with _backend_errors():
        view = call.context.backend.patch_cluster(
            *call.cluster_key,
            synced_users=body.synced_users,
            synced_groups=body.synced_groups,
            is_synchronous=body.is_synchronous,
        )
    return json_reply(200, view)


def create_cluster(call: ControlCall) -> Response:
    project_id, cluster_id = call.cluster_key
    if not PROJECT_ID_PATTERN.match(project_id):
        raise control_error(400, f"project_id {PROJECT_ID_RULE}")
    if not CLUSTER_ID_PATTERN.match(cluster_id):
        raise control_error(400, f"cluster_id {CLUSTER_ID_RULE}")
    body = call.body(ClusterCreate)
    backend = call.context.backend
    with _backend_errors():
        created = backend.create_cluster(project_id, cluster_id, name=body.name)
        return json_reply(201 if created else 200, backend.cluster_json(project_id, cluster_id))


def delete_cluster(call: ControlCall) -> Response:
    with _backend_errors():
        call.context.backend.delete_cluster(*call.cluster_key)
    project_id, cluster_id = call.cluster_key
    return json_reply(200, {"deleted": {"project_id": project_id, "cluster_id": cluster_id}})
