"""What the guardrails look at: a ClusterIamSync as a policy sees it, and the stack it is deployed in.

A policy reads resource properties leniently: the provider's ``check`` already refuses malformed
inputs with its own messages, so a guardrail only needs the values it judges and must not fail on
a property it does not understand.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi

from mrs_iam_sync.settings import NAMESPACE

STACK_VARIABLE: Final = "PULUMI_STACK"
"""Where the language host puts the stack's name for ``pulumi.policy`` (it reads it from there too)."""


@dataclass(frozen=True)
class Stack:
    """The stack a preview or update runs for, as the language host told the policy pack."""

    name: str
    """Empty when the pack was not told (``pulumi policy analyze``, or a host that drops ConfigureStack)."""
    project_id: str | None
    """The stack's ``huaweicloud:project_id``: where resources without their own project_id go."""

    @classmethod
    def current(cls) -> Stack:
        # The language host passes the stack in PULUMI_STACK; without it pulumi.get_stack() answers
        # a placeholder ('stack') that must not be mistaken for a real stack's name.
        name = pulumi.get_stack() if os.environ.get(STACK_VARIABLE) else ""
        return cls(name=name, project_id=pulumi.Config(NAMESPACE).get("project_id"))

    def label(self) -> str:
        if self.name:
            return f"stack {self.name!r}"
        return "a stack whose name the pack was not told"


@dataclass(frozen=True)
class SyncTarget:
    """One ClusterIamSync: which principals it declares on which cluster."""

    name: str
    urn: str
    cluster_id: str
    project_id: str | None
    """The resource's own project_id, else its stack's; None when neither says."""
    user_names: tuple[str, ...]
    group_names: tuple[str, ...]
    is_all_sync: bool
    protect: bool

    @classmethod
    def from_properties(
        cls, *, name: str, urn: str, props: Mapping[str, Any], protect: bool, stack: Stack
    ) -> SyncTarget:
        project_id = props.get("project_id")
        return cls(
            name=name,
            urn=urn,
            cluster_id=str(props.get("cluster_id") or ""),
            project_id=project_id if isinstance(project_id, str) and project_id else stack.project_id,
            user_names=_names(props.get("user_names")),
            group_names=_names(props.get("group_names")),
            is_all_sync=props.get("is_all_sync") is True,
            protect=protect,
        )

    @property
    def cluster(self) -> tuple[str, str]:
        """What makes two resources point at the same cluster: project and cluster id."""
        return self.project_id or "", self.cluster_id

    def describe(self) -> str:
        """The subject of every message: the resource and its cluster."""
        return f"ClusterIamSync {self.name!r} on cluster {self.cluster_id!r}"


def _names(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        return ()
    return tuple(sorted({name for name in value if isinstance(name, str)}))
