"""The guardrails judged one ClusterIamSync at a time.

Each rule is a generator of violation messages over a :class:`SyncTarget`, its :class:`Stack` and
the policy's config; :func:`resource_policy` turns it into a CrossGuard policy that looks at
ClusterIamSync resources only. Every message starts with the resource and its cluster and names
the offending value, and the policy config property that would change the verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from mrs_guardrails.options import (
    Count,
    ListsByStack,
    Option,
    OptionError,
    Pattern,
    StringList,
    config_schema,
)
from mrs_guardrails.subjects import Stack, SyncTarget
from mrs_iam_sync.inputs import RESOURCE_TYPE
from mrs_iam_sync.rules import MAX_CANCEL_NAMES

Rule = Callable[[SyncTarget, Stack, Mapping[str, Any]], Iterator[str]]
"""A rule judges what is known: a value that is not known at preview is judged when ``pulumi up``
resolves it, because the engine runs the pack again on every resource it is about to change."""


def resource_policy(
    *,
    name: str,
    description: str,
    enforcement_level: EnforcementLevel,
    options: tuple[Option, ...],
    rule: Rule,
) -> ResourceValidationPolicy:
    """A CrossGuard resource policy that applies ``rule`` to every ClusterIamSync."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type != RESOURCE_TYPE:
            return
        stack = Stack.current()
        target = SyncTarget.from_properties(
            name=args.name, urn=args.urn, props=args.props, protect=bool(args.opts.protect), stack=stack
        )
        try:
            for message in rule(target, stack, args.get_config()):
                report(message, None)
        except OptionError as exc:
            report(f"the policy config of {name} cannot be used: {exc}", None)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=enforcement_level,
        config_schema=config_schema(*options),
    )


def _listed(values: tuple[str, ...]) -> str:
    return ", ".join(values) if values else "none"


# -- no-full-sync ----------------------------------------------------------------------------------

FULL_SYNC_STACKS = StringList(
    "exemptStacks",
    "Stacks where is_all_sync may be true; every other stack refuses it.",
    ("dev",),
)


def _no_full_sync(target: SyncTarget, stack: Stack, config: Mapping[str, Any]) -> Iterator[str]:
    exempt = FULL_SYNC_STACKS.read(config)
    # A stack whose name never reached the pack is exempt from nothing.
    if target.full_sync and not (stack.name and stack.name in exempt):
        yield (
            f"{target.describe()} sets is_all_sync: true in {stack.label()}; a full sync hands the "
            f"cluster every IAM user with an MRS policy and every group, and is allowed only in "
            f"{FULL_SYNC_STACKS.key}: {_listed(exempt)}. Declare user_names and group_names instead."
        )


NO_FULL_SYNC = resource_policy(
    name="no-full-sync",
    description="is_all_sync is refused outside the stacks that allow it.",
    enforcement_level=EnforcementLevel.MANDATORY,
    options=(FULL_SYNC_STACKS,),
    rule=_no_full_sync,
)

# -- allowed-clusters ------------------------------------------------------------------------------

CLUSTERS_BY_STACK = ListsByStack(
    "clusters",
    "Stack name -> the cluster ids that stack may target; a stack that is not listed may target none.",
)


def _allowed_clusters(target: SyncTarget, stack: Stack, config: Mapping[str, Any]) -> Iterator[str]:
    allowed = CLUSTERS_BY_STACK.read(config)
    cluster_id = target.cluster.cluster_id
    if cluster_id is None or (stack.name and cluster_id in allowed.get(stack.name, ())):
        return
    where = f" (project {target.cluster.project_id})" if target.cluster.project_id else ""
    if stack.name and stack.name in allowed:
        listing = f"{CLUSTERS_BY_STACK.key}.{stack.name} allows {_listed(allowed[stack.name])}"
    else:
        listing = f"{CLUSTERS_BY_STACK.key} has no entry for {stack.name or 'it'}, so it may target none"
    yield f"{target.describe()}{where} is not a cluster {stack.label()} may target: {listing}."


ALLOWED_CLUSTERS = resource_policy(
    name="allowed-clusters",
    description="A stack targets only the clusters its policy config lists.",
    enforcement_level=EnforcementLevel.MANDATORY,
    options=(CLUSTERS_BY_STACK,),
    rule=_allowed_clusters,
)

# -- principal-names -------------------------------------------------------------------------------

CONVENTION = "[a-z][a-z0-9._-]*"
"""Lower case, starting with a letter: the names this project's stacks use."""
USER_PATTERN = Pattern("userPattern", "Regular expression every user name must match whole.", CONVENTION)
GROUP_PATTERN = Pattern("groupPattern", "Regular expression every group name must match whole.", CONVENTION)


def _principal_names(target: SyncTarget, stack: Stack, config: Mapping[str, Any]) -> Iterator[str]:
    for kind, names, option in (
        ("user", target.user_names, USER_PATTERN),
        ("group", target.group_names, GROUP_PATTERN),
    ):
        pattern = option.read(config)
        offending = tuple(repr(name) for name in names if not pattern.fullmatch(name))
        if offending:
            yield (
                f"{target.describe()} declares {kind} names that do not match {pattern.pattern!r} "
                f"({option.key}): {', '.join(offending)}"
            )


PRINCIPAL_NAMES = resource_policy(
    name="principal-names",
    description="User and group names follow the naming convention.",
    enforcement_level=EnforcementLevel.ADVISORY,
    options=(USER_PATTERN, GROUP_PATTERN),
    rule=_principal_names,
)

# -- principal-limit -------------------------------------------------------------------------------

MAX_NAMES = Count(
    "maxNames",
    "Most names one resource may declare in user_names, and in group_names (the API's bound per list).",
    MAX_CANCEL_NAMES,
)


def _principal_limit(target: SyncTarget, stack: Stack, config: Mapping[str, Any]) -> Iterator[str]:
    limit = MAX_NAMES.read(config)
    for field, names in (("user_names", target.user_names), ("group_names", target.group_names)):
        if len(names) > limit:
            yield (
                f"{target.describe()} declares {len(names)} names in {field}; at most {limit} are "
                f"allowed ({MAX_NAMES.key}). Split them over several resources."
            )


PRINCIPAL_LIMIT = resource_policy(
    name="principal-limit",
    description="A resource declares a bounded number of principals per list.",
    enforcement_level=EnforcementLevel.MANDATORY,
    options=(MAX_NAMES,),
    rule=_principal_limit,
)

# -- protect-in-prod -------------------------------------------------------------------------------

PROTECTED_STACKS = StringList("stacks", "Stacks whose ClusterIamSync resources must be protected.", ("prod",))


def _protect_in_prod(target: SyncTarget, stack: Stack, config: Mapping[str, Any]) -> Iterator[str]:
    if stack.name in PROTECTED_STACKS.read(config) and not target.protect:
        yield (
            f"{target.describe()} is not protected in {stack.label()}: a `pulumi destroy` or a removed "
            "entry would cancel its principals on the cluster. Set the protect resource option."
        )


PROTECT_IN_PROD = resource_policy(
    name="protect-in-prod",
    description="ClusterIamSync resources of production stacks carry the protect option.",
    enforcement_level=EnforcementLevel.ADVISORY,
    options=(PROTECTED_STACKS,),
    rule=_protect_in_prod,
)
