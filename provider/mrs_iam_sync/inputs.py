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

from mrs_iam_sync.principals import NOBODY, Principals
from mrs_iam_sync.rules import (
    CLUSTER_ID_PATTERN,
    CLUSTER_ID_RULE,
    MAX_CANCEL_NAMES,
    PROJECT_ID_PATTERN,
    PROJECT_ID_RULE,
    principal_name_problem,
)
from mrs_iam_sync.unknowns import UNKNOWN_WIRE, holds_unknown, is_unknown

RESOURCE_MODULE: Final = "mrs"
RESOURCE_NAME: Final = "ClusterIamSync"
RESOURCE_TYPE: Final = f"pulumi-python:dynamic/{RESOURCE_MODULE}:{RESOURCE_NAME}"
"""The type token Pulumi gives a dynamic resource of that module and name (plan and policy match on it)."""

UNKNOWN: Final = UNKNOWN_WIRE
"""Kept for importers of 0.1.0; :mod:`mrs_iam_sync.unknowns` is where unknowns are recognised."""

DEFAULT_TIMEOUT_SECONDS: Final = 600.0
MAX_TIMEOUT_SECONDS: Final = 86_400.0
REGION_MAX_LENGTH: Final = 64

OUTPUT_NAMES: Final = (
    "synced_user_names",
    "synced_group_names",
    "cluster_sync_complete",
    "last_synced_at",
    "full_sync_user_names",
    "full_sync_group_names",
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


def _names(field: str, value: object, problems: list[InputProblem]) -> tuple[str, ...]:
    """A set of principal names: a list of non-empty strings, at most MAX_CANCEL_NAMES distinct ones."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        problems.append(InputProblem(field, f"must be a list of names, got {_kind(value)}"))
        return ()
    names: set[str] = set()
    for index, name in enumerate(value):
        if is_unknown(name):
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
    unknown = any(holds_unknown(props.get(name)) for name in INPUT_NAMES)
    known = {name: None if is_unknown(props.get(name)) else props.get(name) for name in INPUT_NAMES}
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
        required=not is_unknown(props.get("cluster_id")),
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


def unknown_inputs(props: Mapping[str, Any]) -> frozenset[str]:
    """The inputs whose value is, or holds, a value not known before ``pulumi up``."""
    return frozenset(name for name in INPUT_NAMES if holds_unknown(props.get(name)))


def _known_text(value: object) -> str | None:
    return value if isinstance(value, str) and value and not is_unknown(value) else None


def _known_names(value: object) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        return frozenset()
    return frozenset(name for name in value if isinstance(name, str) and name and not is_unknown(name))


@dataclass(frozen=True)
class ClusterKey:
    """Which cluster a resource is on, as far as a reader outside the provider can tell.

    ``None`` for the project or region means "the provider's default" (or not known yet). The
    provider resolves those itself; ``plan`` and the guardrails often cannot (the default may come
    from ``HW_*`` variables they do not see), so they compare with :meth:`may_be`: a resource that
    spells the default out is the same cluster as one that leaves it unset, and where it cannot be
    told, two keys may be the same cluster, so that a rule protecting access keeps rather than cancels.
    """

    cluster_id: str | None
    project_id: str | None = None
    region: str | None = None

    def may_be(self, other: ClusterKey) -> bool:
        def agree(mine: str | None, theirs: str | None) -> bool:
            return mine is None or theirs is None or mine == theirs

        return (
            agree(self.cluster_id, other.cluster_id)
            and agree(self.project_id, other.project_id)
            and agree(self.region, other.region)
        )

    def with_defaults(self, *, project_id: str | None, region: str | None) -> ClusterKey:
        """The key with the provider's defaults filled in where the resource left them unset."""
        return ClusterKey(self.cluster_id, self.project_id or project_id, self.region or region)

    def label(self) -> str:
        """The cluster's name in messages: its id, plus the project and region the resource sets itself."""
        where = [f"project {self.project_id}" if self.project_id else "", self.region or ""]
        where = [part for part in where if part]
        name = self.cluster_id or "(not known until pulumi up)"
        return f"{name} ({', '.join(where)})" if where else name


@dataclass(frozen=True)
class Sketch:
    """A resource's properties as far as they are known, read leniently: never an error.

    ``check`` has already refused malformed inputs with its own messages, so ``plan`` and the
    guardrails read what they judge from this, and what is not known yet is said, never guessed.
    """

    cluster: ClusterKey
    principals: Principals
    """The names known now; ``names_unknown`` says whether more will come."""
    names_unknown: bool
    is_all_sync: bool | None
    """None: not known before ``pulumi up``."""
    unknown: frozenset[str]
    """Inputs not (fully) known yet."""
    settings: Mapping[str, Any]
    full_sync_brought: Principals = NOBODY
    """What this resource's own full sync read back when it last ran (outputs only)."""

    @property
    def declares(self) -> Principals:
        return holds(self.principals, self.full_sync_brought, is_all_sync=self.is_all_sync)


SETTING_INPUTS: Final = ("wait", "timeout_seconds")
"""Inputs that change how a resource works, not which principals it syncs."""


def sketch(props: Mapping[str, Any], outputs: Mapping[str, Any] | None = None) -> Sketch:
    """Read a resource's inputs (and, for stored state, its outputs) leniently."""
    outs: Mapping[str, Any] = outputs or {}
    unknown = unknown_inputs(props)
    flag = props.get("is_all_sync")
    is_all_sync = None if is_unknown(flag) else flag is True
    # Stored state resolves the project and region: the outputs say where the resource really went.
    project_id = _known_text(props.get("project_id")) or _known_text(outs.get("project_id"))
    region = _known_text(props.get("region")) or _known_text(outs.get("region"))
    return Sketch(
        cluster=ClusterKey(_known_text(props.get("cluster_id")), project_id, region),
        principals=Principals(_known_names(props.get("user_names")), _known_names(props.get("group_names"))),
        names_unknown=bool(unknown & {"user_names", "group_names"})
        or any(_unreadable_list(props.get(key)) for key in ("user_names", "group_names")),
        is_all_sync=is_all_sync,
        unknown=unknown,
        settings={key: props.get(key) for key in SETTING_INPUTS},
        full_sync_brought=full_sync_brought(outs),
    )


def holds(named: Principals, brought: Principals, *, is_all_sync: bool | None) -> Principals:
    """What a resource protects on its cluster: its names, and under a full sync what that sync brought."""
    return named | brought if is_all_sync else named


def _unreadable_list(value: object) -> bool:
    """A list that is there but cannot be read: a secret (``"[secret]"`` in a preview's JSON)."""
    return value is not None and (isinstance(value, str) or not isinstance(value, Sequence))


def full_sync_brought(outputs: Mapping[str, Any]) -> Principals:
    """The set a resource's own full-sync round read back, as recorded in its outputs (empty before 0.2)."""
    return Principals(
        _known_names(outputs.get("full_sync_user_names")), _known_names(outputs.get("full_sync_group_names"))
    )
