"""Request and response bodies of the five IAM-sync operations, with field names as on the wire.

Requests are strict (unknown fields are a bug in our code); responses are
lenient (unknown fields are ignored and a missing list is an empty list), since
the service may grow fields and its error and edge behaviour is undocumented.
Field order follows the official SDK's models so that the serialised bytes
match what that SDK sends; the server does not care, but comparing captures
with the SDK's becomes trivial.
"""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, field_validator

from mrs_iam_sync.rules import MAX_CANCEL_NAMES

Name = Annotated[str, StringConstraints(strict=True, min_length=1)]


class _RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_bytes(self) -> bytes:
        """Serialise once; these exact bytes are hashed for the signature and then sent.

        ``json.dumps`` with its default separators reproduces the official SDK's
        bytes; httpx's ``json=`` would use other separators and break the
        signature if anyone re-serialised.
        """
        return json.dumps(self.model_dump(exclude_none=True)).encode("utf-8")


class StartSyncRequest(_RequestBody):
    is_all_sync: StrictBool | None = None
    group_names: list[Name] | None = None
    user_names: list[Name] | None = None


class CancelSyncRequest(_RequestBody):
    group_names: Annotated[list[Name], Field(max_length=MAX_CANCEL_NAMES)] | None = None
    user_names: Annotated[list[Name], Field(max_length=MAX_CANCEL_NAMES)] | None = None


class _ResponseBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SyncDispatch(_ResponseBody):
    """Answer to start and cancel; ``synchronizing`` is the only documented state."""

    state: str | None = None


class SyncedPrincipals(_ResponseBody):
    user_names: list[str] = Field(default_factory=list)
    group_names: list[str] = Field(default_factory=list)

    @field_validator("user_names", "group_names", mode="before")
    @classmethod
    def _null_is_empty(cls, value: object) -> object:
        # Terraform's data source reads a missing or null list as "nothing synced"; so do we.
        return [] if value is None else value


class SyncTaskStatus(_ResponseBody):
    """Required field: guessing ``False`` on a malformed answer could start a second, concurrent sync."""

    is_synchronizing: bool


class ClusterSyncStatus(_ResponseBody):
    is_synchronous: bool
