"""How the CLI writes things for people (Markdown for a PR comment, plain text) and for programs (JSON).

Markdown and text say the same sentences; only the markup differs, so both are produced by one
function parameterised by a :class:`Style`. Names are always listed sorted, never by position.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from mrs_iam_sync.cli.preview import Action, ClusterChange, FullSync, Plan, PolicyViolation
from mrs_iam_sync.principals import Principals

COMMENT_BUDGET: Final = 60_000
"""GitHub refuses comments over 65,536 characters; leave room for what a workflow adds."""

MARKER_PREFIX: Final = "<!-- mrs-iam-sync plan: stack "
"""First line of the Markdown: a workflow finds its earlier comment for the stack by it."""

FULL_SYNC_MEANING: Final = (
    "every IAM user with an MRS policy and every IAM group is synced, and none of them is cancelled "
    "when the resource goes"
)


@dataclass(frozen=True)
class Style:
    code: Callable[[str], str]
    strong: Callable[[str], str]
    loud: Callable[[str], str]
    """For what must not be missed: full sync switched on, policy violations."""
    prose: Callable[[str], str]
    """Free text from elsewhere (policy messages hold names from the pull request): never markup."""


MARKDOWN: Final = Style(
    code=lambda text: f"``{text}``" if "`" in text else f"`{text}`",
    strong=lambda text: f"**{text}**",
    loud=lambda text: f"**{text.upper()}**",
    prose=lambda text: text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
)
TEXT: Final = Style(
    code=lambda text: text, strong=lambda text: text, loud=lambda text: text.upper(), prose=lambda text: text
)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def name_list(names: Iterable[str], noun: str, style: Style) -> str:
    """``users `a`, `b``` / ``user `a```: the noun agrees with the count."""
    ordered = sorted(names)
    noun = noun if len(ordered) == 1 else f"{noun}s"
    return f"{noun} " + ", ".join(style.code(name) for name in ordered)


def principals(who: Principals, style: Style) -> str:
    parts = []
    if who.users:
        parts.append(name_list(who.users, "user", style))
    if who.groups:
        parts.append(name_list(who.groups, "group", style))
    return " and ".join(parts)


def _action(change: ClusterChange, style: Style) -> str:
    if change.moved_to:
        return f"replace, moves to {style.code(change.moved_to)}"
    if change.moved_from:
        return f"replace, moved from {style.code(change.moved_from)}"
    return {
        Action.RECREATE: "re-create: it was not found on refresh",
        Action.DRIFT: "drift found by refresh",
        Action.REPLACE: "replace, same cluster",
    }.get(change.action, str(change.action))


def _effects(change: ClusterChange, style: Style) -> str:
    parts = []
    if change.full_sync is FullSync.ON:
        parts.append(style.loud("full sync on"))
    if change.sync:
        parts.append(f"{style.strong('sync')} {principals(change.sync, style)}")
    if change.resync:
        parts.append(
            f"{style.strong('sync again')} {principals(change.resync, style)} (cancelled outside Pulumi)"
        )
    if change.cancel:
        parts.append(f"{style.strong('cancel')} {principals(change.cancel, style)}")
    if change.keep:
        owners = ", ".join(style.code(name) for name in change.kept_by)
        parts.append(f"{style.strong('keep')} {principals(change.keep, style)} (still declared by {owners})")
    if change.full_sync is FullSync.OFF:
        parts.append(
            f"{style.loud('full sync off')} (what it synced stays; only the listed principals are owned)"
        )
    if change.full_sync is FullSync.KEPT:
        parts.append("nothing is cancelled: a full sync has no owner")
    if change.settings:
        parts.append("settings change: " + ", ".join(style.code(key) for key in change.settings))
    if change.unknown:
        parts.append(f"some names are not known until {style.code('pulumi up')}")
    return "; ".join(parts) or "no principal changes"


def change_line(change: ClusterChange, style: Style) -> str:
    return f"{style.code(change.resource)} ({_action(change, style)}): {_effects(change, style)}"


def _count(changes: Sequence[ClusterChange], pick: Callable[[ClusterChange], Principals]) -> tuple[int, int]:
    return sum(len(pick(c).users) for c in changes), sum(len(pick(c).groups) for c in changes)


def total_line(plan: Plan, style: Style) -> str:
    """The one-line total of a stack."""
    label = style.strong(f"Total for stack {style.code(plan.stack)}:")
    if not plan.changes:
        return f"{label} no changes."
    resources = len({change.resource for change in plan.changes})
    clusters = len({change.cluster for change in plan.changes})
    parts = []
    for verb, pick, suffix in (
        ("sync", lambda c: c.sync, ""),
        ("sync", lambda c: c.resync, " again after drift"),
        ("cancel", lambda c: c.cancel, ""),
    ):
        users, groups = _count(plan.changes, pick)
        counted = [plural(users, "user") if users else "", plural(groups, "group") if groups else ""]
        if users or groups:
            parts.append(f"{verb} " + " and ".join(part for part in counted if part) + suffix)
    for state in (FullSync.ON, FullSync.OFF):
        switched = sum(1 for change in plan.changes if change.full_sync is state)
        if switched:
            parts.append(f"full sync {state.value.upper()} on {plural(switched, 'cluster')}")
    effects = "; ".join(parts) or "no principal changes"
    return (
        f"{label} {plural(resources, 'resource')} {'changes' if resources == 1 else 'change'} "
        f"on {plural(clusters, 'cluster')}: {effects}."
    )


def _violation_line(violation: PolicyViolation, style: Style) -> str:
    where = f" on {style.code(violation.resource)}" if violation.resource else ""
    joint = " " if violation.description.endswith((".", "!", "?", ":")) else ": "
    detail = f"{joint}{violation.message}" if violation.message else ""
    return (
        f"{style.strong(violation.level)} {style.code(violation.pack + '/' + violation.policy)}{where}: "
        + style.prose(violation.description + detail)
    )


def _violations_heading(plan: Plan, style: Style) -> str:
    if any(violation.blocking for violation in plan.violations):
        return f"Policy violations: {style.code('pulumi up')} will refuse these changes"
    return "Policy warnings (advisory)"


def _full_sync_alerts(plan: Plan, style: Style) -> list[str]:
    return [
        f"{style.loud('full sync switched on')} for {style.code(change.resource)} on cluster "
        f"{style.code(change.cluster)}: {FULL_SYNC_MEANING}."
        for change in plan.changes
        if change.full_sync is FullSync.ON
    ] + [f"{warning}." for warning in plan.warnings]


def _markdown_head(stack: str, commit: str | None) -> list[str]:
    head = [f"{MARKER_PREFIX}{stack} -->", f"### mrs-iam-sync plan for stack {MARKDOWN.code(stack)}", ""]
    return [*head, f"Computed for commit {commit}.", ""] if commit else head


def markdown(plan: Plan, *, commit: str | None = None) -> str:
    """The plan as a PR comment: a marker line, alerts first, one section per cluster, the total last."""
    head = _markdown_head(plan.stack, commit)
    if plan.violations:
        kind = "CAUTION" if any(v.blocking for v in plan.violations) else "WARNING"
        head += [f"> [!{kind}]", f"> {MARKDOWN.strong(_violations_heading(plan, MARKDOWN))}", ">"]
        head += [f"> - {_violation_line(v, MARKDOWN)}" for v in plan.violations]
        head.append("")
    alerts = _full_sync_alerts(plan, MARKDOWN)
    if alerts:
        head += ["> [!WARNING]", *(f"> {alert}" for alert in alerts), ""]
    sections = [
        [f"#### Cluster {MARKDOWN.code(cluster)}", *(f"- {change_line(c, MARKDOWN)}" for c in changes), ""]
        for cluster, changes in plan.by_cluster()
    ]
    tail = [total_line(plan, MARKDOWN)]
    return _within_budget(plan.stack, head, sections, tail)


def _within_budget(stack: str, head: list[str], sections: list[list[str]], tail: list[str]) -> str:
    def join(parts: list[list[str]]) -> str:
        return "\n".join(line for part in parts for line in part) + "\n"

    shown = list(sections)
    while shown and len(join([head, *shown, tail])) > COMMENT_BUDGET:
        shown.pop()
    if len(shown) < len(sections):
        left_out = len(sections) - len(shown)
        note = [
            f"_{plural(left_out, 'more cluster')} not shown: the comment would exceed GitHub's size "
            f"limit. `mrs-iam-sync plan --stack {stack}` shows the whole plan._",
            "",
        ]
        return join([head, *shown, note, tail])
    return join([head, *sections, tail])


def text(plan: Plan, *, commit: str | None = None) -> str:
    lines = [f"mrs-iam-sync plan for stack {plan.stack}" + (f" (commit {commit})" if commit else ""), ""]
    if plan.violations:
        lines.append(_violations_heading(plan, TEXT) + ":")
        lines += [f"  {_violation_line(v, TEXT)}" for v in plan.violations]
        lines.append("")
    alerts = _full_sync_alerts(plan, TEXT)
    if alerts:
        lines += [f"!! {alert}" for alert in alerts] + [""]
    for cluster, changes in plan.by_cluster():
        lines.append(cluster)
        lines += [f"  {change_line(change, TEXT)}" for change in changes]
        lines.append("")
    lines.append(total_line(plan, TEXT))
    return "\n".join(lines) + "\n"


def _principals_json(who: Principals) -> dict[str, list[str]]:
    return {"users": sorted(who.users), "groups": sorted(who.groups)}


def _change_json(change: ClusterChange) -> dict[str, Any]:
    return {
        "resource": change.resource,
        "action": change.action.value,
        "sync": _principals_json(change.sync),
        "sync_again_after_drift": _principals_json(change.resync),
        "cancel": _principals_json(change.cancel),
        "keep": _principals_json(change.keep),
        "kept_by": list(change.kept_by),
        "full_sync": change.full_sync.value if change.full_sync else None,
        "moved_from": change.moved_from,
        "moved_to": change.moved_to,
        "settings": list(change.settings),
        "names_unknown": change.unknown,
        "cluster_known": change.key.cluster_id is not None,
    }


def as_json(plan: Plan, *, commit: str | None = None) -> str:
    document = {
        "stack": plan.stack,
        "commit": commit,
        "outcome": plan.outcome.name.lower(),
        "exit_code": plan.outcome.value,
        "total": total_line(plan, TEXT),
        "warnings": list(plan.warnings),
        "policy_violations": [
            {
                "pack": v.pack,
                "policy": v.policy,
                "level": v.level,
                "resource": v.resource,
                "description": v.description,
                "message": v.message,
            }
            for v in plan.violations
        ],
        "clusters": [
            {"cluster": cluster, "changes": [_change_json(change) for change in changes]}
            for cluster, changes in plan.by_cluster()
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def markdown_failure(stack: str, message: str, *, commit: str | None = None) -> str:
    """A comment that replaces the stack's earlier plan when no plan could be computed."""
    lines = _markdown_head(stack, commit)
    lines += ["> [!CAUTION]", f"> The plan could not be computed: {MARKDOWN.prose(message)}"]
    return "\n".join(lines) + "\n"


def json_failure(stack: str, message: str, *, commit: str | None = None) -> str:
    document = {"stack": stack, "commit": commit, "outcome": "error", "error": message}
    return json.dumps(document, indent=2) + "\n"


def text_failure(stack: str, message: str, *, commit: str | None = None) -> str:
    return ""  # the message goes to stderr, as for every command


RENDERERS: Final = {"markdown": markdown, "text": text, "json": as_json}
"""``--format`` choices, each a function (plan, commit=...) -> str."""
FAILURE_RENDERERS: Final = {"markdown": markdown_failure, "text": text_failure, "json": json_failure}
"""What stdout holds when the plan failed, per ``--format``: a PR comment still says so."""
