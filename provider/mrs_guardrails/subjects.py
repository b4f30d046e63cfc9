"""What the guardrails look at: a ClusterIamSync as a policy sees it, and the stack it is deployed in.

A resource is read through the package's own resource model (:func:`mrs_iam_sync.inputs.sketch`),
the reading that the provider and ``mrs-iam-sync plan`` use, so the pack judges the names and the
cluster they see. That reading is lenient (``check`` refuses malformed inputs with its own
messages) and says what is not known yet instead of guessing it: at preview a policy judges the
known parts, and the engine runs it again on the resolved values during ``pulumi up``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi
from pulumi_policy.proxy import UnknownValueError

from mrs_iam_sync.inputs import ClusterKey, Sketch, sketch
from mrs_iam_sync.settings import NAMESPACE
from mrs_iam_sync.unknowns import UNKNOWN_WIRE

STACK_VARIABLE: Final = "PULUMI_STACK"
"""Where the language host puts the stack's name for ``pulumi.policy`` (it reads it from there too)."""


@dataclass(frozen=True)
class Stack:
    """The stack a preview or update runs for, as the language host told the policy pack."""

    name: str
    """Empty when the pack was not told (``pulumi policy analyze``, or a host that drops ConfigureStack)."""
    project_id: str | None = None
    """The stack's ``huaweicloud:project_id``: where resources without their own project_id go."""
    region: str | None = None
    """The stack's ``huaweicloud:region``. None: the provider's default is not known here (it may
    come from ``HW_*`` variables the pack does not see), so any region may be it."""

    @classmethod
    def current(cls) -> Stack:
        # The language host passes the stack in PULUMI_STACK; without it pulumi.get_stack() answers
        # a placeholder ('stack') that must not be mistaken for a real stack's name.
        name = pulumi.get_stack() if os.environ.get(STACK_VARIABLE) else ""
        config = pulumi.Config(NAMESPACE)
        # Stack config outranks the variables in the provider's settings, so a value here is the
        # default; an empty one counts as unset there too.
        return cls(
            name=name, project_id=config.get("project_id") or None, region=config.get("region") or None
        )

    def label(self) -> str:
        if self.name:
            return f"stack {self.name!r}"
        return "a stack whose name the pack was not told"


@dataclass(frozen=True)
class SyncTarget:
    """One ClusterIamSync: which principals it declares, as far as they are known, on which cluster."""

    name: str
    urn: str
    seen: Sketch
    cluster: ClusterKey
    """The resource's cluster with the stack's defaults filled in where the resource leaves them unset."""
    protect: bool

    @classmethod
    def from_properties(
        cls, *, name: str, urn: str, props: Mapping[str, Any], protect: bool, stack: Stack
    ) -> SyncTarget:
        seen = sketch(known_parts(props))
        return cls(
            name=name,
            urn=urn,
            seen=seen,
            cluster=seen.cluster.with_defaults(project_id=stack.project_id, region=stack.region),
            protect=protect,
        )

    @property
    def user_names(self) -> tuple[str, ...]:
        """The user names known now, sorted."""
        return tuple(sorted(self.seen.principals.users))

    @property
    def group_names(self) -> tuple[str, ...]:
        """The group names known now, sorted."""
        return tuple(sorted(self.seen.principals.groups))

    @property
    def full_sync(self) -> bool:
        """is_all_sync is true; False also while it is not known (the update judges it then)."""
        return self.seen.is_all_sync is True

    def describe(self) -> str:
        """The subject of every message: the resource and its cluster."""
        cluster_id = self.cluster.cluster_id
        where = f"cluster {cluster_id!r}" if cluster_id else "a cluster not known until `pulumi up`"
        return f"ClusterIamSync {self.name!r} on {where}"


def known_parts(value: object) -> Any:
    """``value`` as plain dicts and lists, each unknown replaced by the sentinel the model recognises.

    pulumi-policy hands policies a proxy that raises on reading an unknown value, and reports the
    whole policy as "can't run during preview" (advisory, whatever its level) when it does. Reading
    through the proxy here, one value at a time, keeps the known parts for the policy to judge.
    """
    if isinstance(value, Mapping):
        return {key: _read(value, key) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_read(value, index) for index in range(len(value))]
    return value


def _read(container: Mapping[Any, Any] | Sequence[Any], key: Any) -> Any:
    try:
        return known_parts(container[key])
    except UnknownValueError:
        return UNKNOWN_WIRE
