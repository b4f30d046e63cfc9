"""The guardrails that need the whole stack at once.

single-owner: within one stack the provider never cancels a principal that another resource still
declares on the cluster, so a principal declared twice only stays until both drop it; across stacks
nothing can tell, and removing it from one stack cancels it under the other. One owner per
principal and cluster keeps removal a one-line change.

full-sync-beside-names: the provider keeps everything a live full sync brought, so on a cluster
where a full sync runs beside named resources, a name dropped from them stays synced.

"The same cluster" is :meth:`ClusterKey.may_be` on keys with the stack's defaults filled in: where
the pack cannot tell (a default it does not see, a value not known until ``pulumi up``), two
resources may be on one cluster, and the message says so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from mrs_guardrails.options import Option, OptionError, StringList, config_schema
from mrs_guardrails.subjects import Stack, SyncTarget
from mrs_iam_sync.inputs import RESOURCE_TYPE
from mrs_iam_sync.sharing import FULL_SYNC_KEEPS, full_syncs_beside_names

StackRule = Callable[[list[SyncTarget], Stack, Mapping[str, Any]], Iterator[tuple[str, str]]]
"""Yields (message, urn of the resource it is about)."""


def stack_policy(
    *,
    name: str,
    description: str,
    enforcement_level: EnforcementLevel,
    options: tuple[Option, ...],
    rule: StackRule,
) -> StackValidationPolicy:
    """A CrossGuard stack policy that applies ``rule`` to the stack's ClusterIamSyncs, by name."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        stack = Stack.current()
        targets = [
            SyncTarget.from_properties(
                name=resource.name,
                urn=resource.urn,
                props=resource.props,
                protect=bool(resource.opts.protect),
                stack=stack,
            )
            for resource in args.resources
            if resource.resource_type == RESOURCE_TYPE
        ]
        # The engine lists resources in no stable order; messages must not depend on it.
        targets.sort(key=lambda target: target.name)
        try:
            for message, urn in rule(targets, stack, args.get_config()):
                report(message, urn)
        except OptionError as exc:
            report(f"the policy config of {name} cannot be used: {exc}", None)

    return StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=enforcement_level,
        config_schema=config_schema(*options),
    )


def _on_the_cluster_of(owner: SyncTarget, target: SyncTarget) -> str:
    if owner.cluster == target.cluster:
        return "on the same cluster"
    return "on what may be the same cluster (a default project or region, or a value, is not known here)"


# -- single-owner ----------------------------------------------------------------------------------


def _names(target: SyncTarget, kind: str) -> frozenset[str]:
    """The user or group names ``target`` is known to declare."""
    principals = target.seen.principals
    return principals.users if kind == "user" else principals.groups


def _single_owner(
    targets: list[SyncTarget], stack: Stack, config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    """Each resource that declares a principal an earlier one (by name) may declare on its cluster."""
    for index, target in enumerate(targets):
        earlier = [other for other in targets[:index] if other.cluster.may_be(target.cluster)]
        shared: dict[str, list[str]] = defaultdict(list)  # earlier owner's name -> "user 'alice'", ...
        owners: dict[str, SyncTarget] = {}
        for kind in ("user", "group"):
            for principal in sorted(_names(target, kind)):
                first = next((other for other in earlier if principal in _names(other, kind)), None)
                if first is not None:
                    shared[first.name].append(f"{kind} {principal!r}")
                    owners[first.name] = first
        for owner, principals in sorted(shared.items()):
            yield (
                f"{target.describe()} declares {', '.join(principals)}, which ClusterIamSync {owner!r} "
                f"declares {_on_the_cluster_of(owners[owner], target)}: keep each principal in one resource.",
                target.urn,
            )


SINGLE_OWNER = stack_policy(
    name="single-owner",
    description="Each user or group is declared by one resource per cluster.",
    enforcement_level=EnforcementLevel.ADVISORY,
    options=(),
    rule=_single_owner,
)

# -- full-sync-beside-names ------------------------------------------------------------------------

SHARING_STACKS = StringList(
    "exemptStacks",
    "Stacks where a full sync may share a cluster with resources that declare names, unreported.",
    (),
)


def _full_sync_beside_names(
    targets: list[SyncTarget], stack: Stack, config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    if stack.name and stack.name in SHARING_STACKS.read(config):
        return
    by_name = {target.name: target for target in targets}
    for shared in full_syncs_beside_names(
        (target.name, target.cluster, target.full_sync) for target in targets
    ):
        full_sync = by_name[shared.full_sync]
        named = ", ".join(repr(name) for name in shared.named)
        uncertain = any(by_name[name].cluster != full_sync.cluster for name in shared.named)
        where = "what may be the same cluster" if uncertain else "the same cluster"
        yield (
            f"{full_sync.describe()} runs a full sync, and ClusterIamSync {named} declare(s) principals "
            f"on {where}: {FULL_SYNC_KEEPS}. Keep a full sync on a cluster of its own "
            f"({SHARING_STACKS.key} lists the stacks where this is expected).",
            full_sync.urn,
        )


FULL_SYNC_BESIDE_NAMES = stack_policy(
    name="full-sync-beside-names",
    description="No full sync shares a cluster with resources that declare names.",
    enforcement_level=EnforcementLevel.ADVISORY,
    options=(SHARING_STACKS,),
    rule=_full_sync_beside_names,
)
