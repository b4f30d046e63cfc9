"""The emulator's behaviour switches: task duration and every open, undocumented choice.

The real service's behaviour is unknown for several situations (see the API
reference, "Open points").  Each such situation is a field here with a
default and at least one alternative, so a client can be tested against every
plausible variant.  None of these defaults was verified against the real
service.  The options can be changed at run time (``PUT /_emulator/settings``)
without restarting; they are not part of the persisted state.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mrs_iam_sync.emulator.validation import first_error

ConcurrentSync = Literal["reject", "queue"]
UnknownNames = Literal["ignore", "reject"]
EmptySync = Literal["reject", "accept"]
AllSyncWithNames = Literal["reject", "allow"]
MissingClusterStatus = Literal[400, 404]


class EmulatorOptions(BaseModel):
    """Immutable; a change produces a new object, so a request sees one consistent set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sync_seconds: float = Field(default=1.0, ge=0.0, le=3600.0)
    """How long a sync or cancel task runs; 0 completes it at the next request."""

    concurrent_sync: ConcurrentSync = "reject"
    """POST/DELETE while a task runs: ``reject`` (409 MRS.0409) or ``queue`` (202, runs afterwards)."""

    unknown_names: UnknownNames = "ignore"
    """Names absent from IAM in a POST: ``ignore`` (skipped by the task) or ``reject`` (400 12000002)."""

    empty_sync: EmptySync = "reject"
    """No names and no ``is_all_sync``: ``reject`` (400 12000002) or ``accept`` (a task that does nothing)."""

    all_sync_with_names: AllSyncWithNames = "reject"
    """``is_all_sync: true`` with names: ``reject`` (400 12000002) or ``allow`` (full sync, names ignored)."""

    missing_cluster_status: MissingClusterStatus = 400
    """HTTP status of error 12000003 for an unknown project or cluster."""

    max_clock_skew_seconds: float = Field(default=900.0, gt=0.0)
    """How far ``X-Sdk-Date`` may be from the emulator clock (the gateway allows 15 minutes)."""

    def updated(self, changes: dict[str, Any]) -> EmulatorOptions:
        """Validate ``changes`` on top of the current values; raises :class:`OptionsError`."""
        merged = {**self.model_dump(), **changes}
        return parse_options(merged)


class OptionsError(ValueError):
    """An option value was refused; the message names the option and the reason."""


def parse_options(values: dict[str, Any]) -> EmulatorOptions:
    try:
        return EmulatorOptions.model_validate(values)
    except ValidationError as exc:
        path, reason = first_error(exc)
        raise OptionsError(f"{path or 'options'}: {reason}") from None
