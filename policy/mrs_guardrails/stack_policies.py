"""The guardrails that need the whole stack at once.

single-owner: within one stack the provider never cancels a principal that another resource still
declares on the cluster, so a principal declared twice only stays until both drop it; across stacks
nothing can tell, and removing it from one stack cancels it under the other. One owner per
principal and cluster keeps removal a one-line change.
"""

from __future__ import annotations

from collections import defaultdict

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from mrs_guardrails.subjects import Stack, SyncTarget
from mrs_iam_sync.inputs import RESOURCE_TYPE


def _targets(args: StackValidationArgs, stack: Stack) -> list[SyncTarget]:
    """The stack's ClusterIamSyncs by name: the engine lists resources in no stable order."""
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
    return sorted(targets, key=lambda target: target.name)


def _single_owner(args: StackValidationArgs, report: ReportViolation) -> None:
    """Report each resource that declares a principal an earlier one (by name) declares on its cluster."""
    owners: dict[tuple[tuple[str, str], str, str], SyncTarget] = {}
    for target in _targets(args, Stack.current()):
        shared: dict[str, list[str]] = defaultdict(list)  # earlier owner's name -> "user 'alice'", ...
        for kind, names in (("user", target.user_names), ("group", target.group_names)):
            for name in names:
                first = owners.setdefault((target.cluster, kind, name), target)
                if first is not target:
                    shared[first.name].append(f"{kind} {name!r}")
        for owner, principals in sorted(shared.items()):
            report(
                f"{target.describe()} declares {', '.join(principals)}, which ClusterIamSync {owner!r} "
                "declares on the same cluster: keep each principal in one resource.",
                target.urn,
            )


SINGLE_OWNER = StackValidationPolicy(
    name="single-owner",
    description="Each user or group is declared by one resource per cluster.",
    validate=_single_owner,
    enforcement_level=EnforcementLevel.ADVISORY,
)
