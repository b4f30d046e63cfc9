"""The inputs of a ClusterIamSync resource: validation and normal form.

``check`` runs at ``pulumi preview`` time with no API call, so every rule a
user can break is enforced here and reported per field, all at once. The
normal form (sets stored sorted, duplicates collapsed, defaults filled in) is
what ``diff`` compares and what the outputs echo, so that reordering names in
a stack file never shows up as a change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Final

from mrs_iam_sync.rules import (
    CLUSTER_ID_PATTERN,
    CLUSTER_ID_RULE,
    MAX_CANCEL_NAMES,
    PROJECT_ID_PATTERN,
    PROJECT_ID_RULE,
    principal_name_problem,
)

RESOURCE_MODULE: Final = "mrs"
RESOURCE_NAME: Final = "ClusterIamSync"
RESOURCE_TYPE: Final = f"pulumi-python:dynamic/{RESOURCE_MODULE}:{RESOURCE_NAME}"
"""The type token Pulumi gives a dynamic resource of that module and name (plan and policy match on it)."""

UNKNOWN: Final = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""The value Pulumi's RPC layer puts where an input is not known yet (preview of a computed value)."""

DEFAULT_TIMEOUT_SECONDS: Final = 600.0
MAX_TIMEOUT_SECONDS: Final = 86_400.0
REGION_MAX_LENGTH: Final = 64

OUTPUT_NAMES: Final = (
    "synced_user_names",
    "synced_group_names",
    "cluster_sync_complete",
    "last_synced_at",
)
"""Outputs the resource class declares as ``None`` inputs so that they exist as attributes."""

REPLACE_ON: Final = ("cluster_id", "project_id", "region")
"""A principal set cannot move between clusters: changing where it lives means a new resource."""

@dataclass(frozen=True)
class InputProblem:
    """One broken rule, in the shape of a Pulumi ``CheckFailure``."""

    property: str
    reason: str


@dataclass(frozen=True)
class SyncSpec:
    """A resource's inputs in normal form."""

    cluster_id: str
    user_names: tuple[str, ...] = ()
    group_names: tuple[str, ...] = ()
    is_all_sync: bool = False
    project_id: str | None = None
    region: str | None = None
    wait: bool = True
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    def as_inputs(self) -> dict[str, Any]:
        """The inputs as Pulumi stores them: lists, and no key for an unset optional."""
        inputs: dict[str, Any] = {
            "cluster_id": self.cluster_id,
            "user_names": list(self.user_names),
            "group_names": list(self.group_names),
            "is_all_sync": self.is_all_sync,
            "wait": self.wait,
            "timeout_seconds": self.timeout_seconds,
        }
        if self.project_id is not None:
            inputs["project_id"] = self.project_id
        if self.region is not None:
            inputs["region"] = self.region
        return inputs


INPUT_NAMES: Final = tuple(spec_field.name for spec_field in fields(SyncSpec))
"""The resource's inputs, in declaration order: the fields of :class:`SyncSpec`."""


def _kind(value: object) -> str:
    """How a value looks to someone who wrote it in YAML or Python (YAML numbers may arrive as floats)."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value:g}"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "a list"
    return type(value).__name__


def _is_unknown(value: object) -> bool:
    return isinstance(value, str) and value == UNKNOWN


def _names(field: str, value: object, problems: list[InputProblem]) -> tuple[str, ...]:
    """A set of principal names: a list of non-empty strings, at most MAX_CANCEL_NAMES distinct ones."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        problems.append(InputProblem(field, f"must be a list of names, got {_kind(value)}"))
        return ()
    names: set[str] = set()
    for index, name in enumerate(value):
        if _is_unknown(name):
            continue
        if not isinstance(name, str):
            problems.append(
                InputProblem(f"{field}[{index}]", f"must be a non-empty string, got {_kind(name)}")
            )
        elif (problem := principal_name_problem(name)) is not None:
            problems.append(InputProblem(f"{field}[{index}]", problem))
        else:
            names.add(name)
    if len(names) > MAX_CANCEL_NAMES:
        problems.append(
            InputProblem(
                field,
                f"holds {len(names)} names; at most {MAX_CANCEL_NAMES} are allowed, because the API "
                "cancels at most that many per request; split them over several resources",
            )
        )
    return tuple(sorted(names))


def _pattern_id(
    field: str, value: object, pattern: Any, rule: str, problems: list[InputProblem], *, required: bool
) -> str | None:
    if value is None or value == "":
        if required:
            problems.append(InputProblem(field, f"is required and {rule}"))
        elif value == "":
            problems.append(InputProblem(field, f"{rule}; leave it unset to use the provider's default"))
        return None
    if not isinstance(value, str):
        problems.append(InputProblem(field, f"must be a string ({rule}), got {_kind(value)}"))
        return None
    if not pattern.fullmatch(value):
        problems.append(InputProblem(field, f"{rule}; got {value!r}"))
        return None
    return value


def _flag(field: str, value: object, default: bool, problems: list[InputProblem]) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        problems.append(InputProblem(field, f"must be true or false, got {_kind(value)}"))
        return default
    return value


def _timeout(value: object, problems: list[InputProblem]) -> float:
    if value is None:
        return DEFAULT_TIMEOUT_SECONDS
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(InputProblem("timeout_seconds", f"must be a number of seconds, got {_kind(value)}"))
        return DEFAULT_TIMEOUT_SECONDS
    if not 0 < value <= MAX_TIMEOUT_SECONDS:
        problems.append(
            InputProblem(
                "timeout_seconds", f"must be more than 0 and at most {MAX_TIMEOUT_SECONDS:g}; got {value}"
            )
        )
        return DEFAULT_TIMEOUT_SECONDS
    return float(value)


def _region(value: object, problems: list[InputProblem]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > REGION_MAX_LENGTH:
        problems.append(
            InputProblem("region", f"must be a region id such as 'cn-north-4', got {_kind(value)}")
        )
        return None
    return value


def parse_inputs(
    props: Mapping[str, Any], *, require_principals: bool = True
) -> tuple[SyncSpec | None, list[InputProblem]]:
    """Validate raw resource inputs; return the normal form, or every problem found.

    Values that are not known yet (computed from other resources during a
    preview) are skipped rather than rejected, and in that case no normal form
    is returned: the engine passes the raw inputs through until they resolve.
    ``require_principals`` is off for stored state, where a refresh may have
    found every declared principal gone.
    """
    problems: list[InputProblem] = []
    unknown = any(_is_unknown(props.get(name)) for name in INPUT_NAMES)
    known = {name: None if _is_unknown(props.get(name)) else props.get(name) for name in INPUT_NAMES}
    for extra in sorted(set(props) - set(INPUT_NAMES) - set(OUTPUT_NAMES) - {"__provider"}):
        problems.append(
            InputProblem(extra, f"is not an input of ClusterIamSync (inputs: {', '.join(INPUT_NAMES)})")
        )

    cluster_id = _pattern_id(
        "cluster_id",
        known["cluster_id"],
        CLUSTER_ID_PATTERN,
        CLUSTER_ID_RULE,
        problems,
        required=not _is_unknown(props.get("cluster_id")),
    )
    project_id = _pattern_id(
        "project_id", known["project_id"], PROJECT_ID_PATTERN, PROJECT_ID_RULE, problems, required=False
    )
    user_names = _names("user_names", known["user_names"], problems)
    group_names = _names("group_names", known["group_names"], problems)
    is_all_sync = _flag("is_all_sync", known["is_all_sync"], False, problems)
    wait = _flag("wait", known["wait"], True, problems)
    timeout_seconds = _timeout(known["timeout_seconds"], problems)
    region = _region(known["region"], problems)

    if is_all_sync and (user_names or group_names):
        problems.append(
            InputProblem(
                "is_all_sync",
                "cannot be true while user_names or group_names are set: a full sync brings every IAM "
                "user with an MRS policy and every group, so the lists would mean nothing; "
                "either remove the lists or set is_all_sync to false",
            )
        )
    nothing_declared = not is_all_sync and not user_names and not group_names
    if require_principals and nothing_declared and not unknown and not problems:
        problems.append(
            InputProblem(
                "user_names",
                "declare at least one user or group in user_names or group_names, or set is_all_sync to true",
            )
        )

    if problems or unknown or cluster_id is None:
        return None, problems
    return (
        SyncSpec(
            cluster_id=cluster_id,
            user_names=user_names,
            group_names=group_names,
            is_all_sync=is_all_sync,
            project_id=project_id,
            region=region,
            wait=wait,
            timeout_seconds=timeout_seconds,
        ),
        problems,
    )
