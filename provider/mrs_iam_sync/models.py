"""Request and response bodies of the five IAM-sync operations, with field names as on the wire.

Requests are strict (unknown fields are a bug in our code). Responses ignore
unknown fields and read one missing list as empty, since the service may grow
fields and its edge behaviour is undocumented; but a field of the wrong type, or
an answer without the fields that make it that answer, is refused, because a
success is acted on (a cluster read as empty is a cluster whose principals are
forgotten).
Field order follows the official SDK's models so that the serialised bytes
match what that SDK sends; the server does not care, but comparing captures
with the SDK's becomes trivial.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from mrs_iam_sync.errors import InvalidRequestError
from mrs_iam_sync.rules import (
    CLUSTER_ID_PATTERN,
    CLUSTER_ID_RULE,
    MAX_CANCEL_NAMES,
    NAME_RULE,
    PROJECT_ID_PATTERN,
    PROJECT_ID_RULE,
    principal_name_problem,
)

_Model = TypeVar("_Model", bound=BaseModel)


def _rule(check: Any, kind: str) -> AfterValidator:
    """A validator whose message is the project's own rule text (rules.py), not pydantic's."""

    def validate(value: str) -> str:
        problem = check(value)
        if problem is not None:
            raise PydanticCustomError(kind, problem)
        return value

    return AfterValidator(validate)


def _pattern(pattern: Any, rule: str) -> Any:
    return lambda value: None if pattern.fullmatch(value) else rule


ProjectId = Annotated[StrictStr, _rule(_pattern(PROJECT_ID_PATTERN, PROJECT_ID_RULE), "project_id")]
ClusterId = Annotated[StrictStr, _rule(_pattern(CLUSTER_ID_PATTERN, CLUSTER_ID_RULE), "cluster_id")]
PrincipalName = Annotated[StrictStr, _rule(principal_name_problem, "name")]


def _invalid(exc: ValidationError) -> InvalidRequestError:
    """The first problem, with the field path as the user wrote it (``user_names[1]``)."""
    error = exc.errors(include_url=False)[0]
    location = ""
    for part in error["loc"]:
        location += f"[{part}]" if isinstance(part, int) else (f".{part}" if location else str(part))
    kind = error["type"]
    value = error.get("input") if location else None
    rule = error["msg"]
    if kind == "string_type":
        rule = NAME_RULE
    elif kind == "bool_type":
        rule = "must be true or false"
    elif kind == "too_long":
        rule, value = f"must hold at most {MAX_CANCEL_NAMES} names, got {error['ctx']['actual_length']}", None
    elif kind == "nothing":
        location, rule = rule.split(": ", 1)
    return InvalidRequestError(field=location or "body", rule=rule, value=value)


def build(model: type[_Model], **values: Any) -> _Model:
    """Construct a request model, turning pydantic's refusal into InvalidRequestError (no request sent)."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise _invalid(exc) from None


def _names(field: str, names: Iterable[str] | None) -> list[str] | None:
    """Lists as the API takes them: an empty list is left out, a bare string is refused."""
    if isinstance(names, str | bytes):
        # A bare string is iterable too; it would be sent as one name per character.
        raise InvalidRequestError(
            field=field, rule="must be a list of names, not a single string", value=names
        )
    if names is None:
        return None
    try:
        listed = list(names)
    except TypeError:
        raise InvalidRequestError(field=field, rule="must be a list of names", value=names) from None
    return listed or None


class ClusterAddress(BaseModel):
    """Which cluster a request is about; both ids are checked here, once, before any request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    project_id: ProjectId
    cluster_id: ClusterId

    @classmethod
    def of(cls, *, project_id: object, cluster_id: object) -> ClusterAddress:
        return build(cls, project_id=project_id, cluster_id=cluster_id)


class _RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_bytes(self) -> bytes:
        """Serialise once; these exact bytes are hashed for the signature and then sent.

        ``json.dumps`` with its default separators reproduces the official SDK's
        bytes; httpx's ``json=`` would use other separators and break the
        signature if anyone re-serialised.
        """
        return json.dumps(self.model_dump(exclude_none=True)).encode("utf-8")


class UpdateSyncRequest(_RequestBody):
    """The body of UpdateSyncIamUser; field order as the official SDK's model."""

    is_all_sync: StrictBool = False
    group_names: list[PrincipalName] | None = None
    user_names: list[PrincipalName] | None = None

    @model_validator(mode="after")
    def _names_or_all(self) -> Self:
        if not (self.is_all_sync or self.user_names or self.group_names):
            raise PydanticCustomError(
                "nothing", "user_names/group_names: at least one name is required unless is_all_sync is true"
            )
        return self

    @classmethod
    def of(
        cls, *, user_names: Iterable[str] = (), group_names: Iterable[str] = (), is_all_sync: object = False
    ) -> UpdateSyncRequest:
        return build(
            cls,
            is_all_sync=is_all_sync,
            group_names=_names("group_names", group_names),
            user_names=_names("user_names", user_names),
        )


class CancelSyncRequest(_RequestBody):
    """The body of CancelSyncIamUser: at most MAX_CANCEL_NAMES names per list (documented)."""

    group_names: Annotated[list[PrincipalName], Field(max_length=MAX_CANCEL_NAMES)] | None = None
    user_names: Annotated[list[PrincipalName], Field(max_length=MAX_CANCEL_NAMES)] | None = None

    @model_validator(mode="after")
    def _some_names(self) -> Self:
        if not (self.user_names or self.group_names):
            raise PydanticCustomError("nothing", "user_names/group_names: at least one name is required")
        return self

    @classmethod
    def of(cls, *, user_names: Iterable[str] = (), group_names: Iterable[str] = ()) -> CancelSyncRequest:
        return build(
            cls, group_names=_names("group_names", group_names), user_names=_names("user_names", user_names)
        )


class _ResponseBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SyncDispatch(_ResponseBody):
    """Answer to start and cancel; ``synchronizing`` is the only documented state."""

    state: StrictStr | None = None


class SyncedPrincipals(_ResponseBody):
    """ShowSyncIamUser's answer: one list may be missing or null, but not both keys.

    A proxy or a health page answering ``200 {}`` would otherwise read as "nothing is synced",
    and refresh would forget, and destroy skip, principals that are still on the cluster.
    """

    user_names: list[StrictStr] = Field(default_factory=list)
    group_names: list[StrictStr] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _names_a_list(cls, value: object) -> object:
        if isinstance(value, dict) and not {"user_names", "group_names"} & value.keys():
            raise PydanticCustomError("no_lists", "carries neither user_names nor group_names")
        return value

    @field_validator("user_names", "group_names", mode="before")
    @classmethod
    def _null_is_empty(cls, value: object) -> object:
        # Terraform's data source reads a missing or null list as "nothing synced"; so do we.
        return [] if value is None else value


class SyncTaskStatus(_ResponseBody):
    """Required and strict: guessing ``False`` from a malformed answer could start a second sync."""

    is_synchronizing: StrictBool


class ClusterSyncStatus(_ResponseBody):
    is_synchronous: StrictBool
