"""From ``pulumi preview --json`` (plus the engine's event log) to a plan of principals per cluster.

Pulumi shows ``user_names`` as a list diffed by position, and a dynamic provider cannot send a
detailed diff, so the digest's ``diffReasons`` and ``detailedDiff`` are empty for ClusterIamSync.
Everything here is therefore computed from the declared inputs on both sides of each step, as
sets. What the digest holds (CLI 3.274, seen in real runs against the emulator):

* ``steps[]`` with ``op``, ``urn``, ``oldState`` / ``newState`` (``inputs``, ``outputs``) and, for a
  replace, ``replaceReasons`` (``id`` for a forced one). A replace is one ``replace`` step; unchanged
  resources have a ``same`` step only with ``--show-sames``, which ``plan`` passes.
* With ``--refresh``, each refreshed resource first has a ``refresh`` step whose ``oldState`` is the
  state before the refresh (its ``newState`` is not updated without a detailed diff); the ``update``
  or ``create`` step that follows starts from the refreshed state. A principal declared before the
  refresh, gone after it, and still declared by the program is drift that ``pulumi up`` syncs again.
* Errors are ``diagnostics`` with severity ``error``; a failed preview still prints the digest.
* Policy violations are left out of the digest entirely; they are the ``policyEvent`` entries of
  the event log (``--event-log``), which is how Pulumi's own Automation API reads them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Final

from mrs_iam_sync.cli.outcome import CommandFailed, Outcome
from mrs_iam_sync.inputs import REPLACE_ON, RESOURCE_TYPE, SETTING_INPUTS, ClusterKey, holds, sketch
from mrs_iam_sync.planner import Request, plan_cancel
from mrs_iam_sync.principals import NOBODY, Principals
from mrs_iam_sync.sharing import FULL_SYNC_KEEPS, full_syncs_beside_names

CLUSTER_INPUTS: Final = frozenset(REPLACE_ON)
"""Inputs that name the cluster: a change of one replaces the resource on another cluster.

A forced replacement (``pulumi up --replace``) names ``id`` instead and stays on its cluster.
"""
_GENERIC_FAILURE: Final = "error: preview failed"
"""The engine's closing diagnostic of any failed preview; the cause, if any, is another diagnostic."""
_EXCEPTION_PREFIX: Final = re.compile(r"^(?:[A-Za-z_][\w.]*(?:Error|Exception): )+")


class PreviewFailed(CommandFailed):
    """The preview did not produce a plan; the message is one line for a person."""


class Action(StrEnum):
    CREATE = "create"
    RECREATE = "re-create"
    """The resource was gone on refresh (its cluster was not found) and the program still declares it."""
    UPDATE = "update"
    DRIFT = "drift"
    """An update whose only cause is drift found by ``--refresh``."""
    REPLACE = "replace"
    DELETE = "delete"


class FullSync(StrEnum):
    ON = "on"
    OFF = "off"
    KEPT = "kept"
    """The resource goes away but its full sync stays: a full sync has no owner, so nothing is cancelled."""


@dataclass(frozen=True)
class ClusterChange:
    """What one resource does to one cluster. A replacement that moves makes two, one per cluster."""

    resource: str
    cluster: str
    action: Action
    sync: Principals = NOBODY
    resync: Principals = NOBODY
    """Drift: declared, cancelled outside Pulumi, synced again by ``pulumi up``."""
    cancel: Principals = NOBODY
    keep: Principals = NOBODY
    """Would be cancelled, but another resource of the stack still declares them on this cluster, and the
    provider never cancels a principal that a live resource of the deployment declares there."""
    kept_by: tuple[str, ...] = ()
    full_sync: FullSync | None = None
    moved_from: str | None = None
    moved_to: str | None = None
    settings: tuple[str, ...] = ()
    unknown: bool = False
    """Some names are not known before ``pulumi up`` (computed from other resources, or secret)."""
    key: ClusterKey = field(default_factory=lambda: ClusterKey(None), compare=False)
    """The cluster as far as the preview knows it: what "the same cluster" is decided on."""


@dataclass(frozen=True)
class PolicyViolation:
    pack: str
    policy: str
    level: str
    resource: str | None
    description: str
    message: str

    @property
    def blocking(self) -> bool:
        return self.level == "mandatory"


@dataclass(frozen=True)
class Plan:
    stack: str
    changes: tuple[ClusterChange, ...] = ()
    violations: tuple[PolicyViolation, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def outcome(self) -> Outcome:
        if any(violation.blocking for violation in self.violations):
            return Outcome.POLICY_VIOLATION
        return Outcome.CHANGES if self.changes else Outcome.NO_CHANGES

    def by_cluster(self) -> list[tuple[str, list[ClusterChange]]]:
        clusters: dict[str, list[ClusterChange]] = {}
        for change in self.changes:
            clusters.setdefault(change.cluster, []).append(change)
        return [(cluster, clusters[cluster]) for cluster in sorted(clusters)]


@dataclass(frozen=True)
class _Declared:
    """One side of a step: what a ClusterIamSync declares there (read by the resource model)."""

    key: ClusterKey
    """Which cluster, for deciding "the same cluster" (resolved from outputs where asked)."""
    label: ClusterKey
    """Which cluster, as the resource spells it (inputs only): how the plan names it."""
    principals: Principals
    full_sync: bool
    holds: Principals
    """What it protects on its cluster: its names, or under a full sync what that sync brought."""
    full_sync_unread: bool = False
    """A full sync whose brought set is not recorded yet: it covers whatever the cluster has."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    unknown: bool = False

    def cluster(self) -> str:
        """The cluster's name in the plan: its id, plus the project and region the resource sets itself."""
        return self.label.label()


def _declared(state: Mapping[str, Any], *, resolved: bool = False) -> _Declared:
    """A step's side; ``resolved`` reads the project and region the resource really used (its outputs)."""
    inputs: Mapping[str, Any] = state.get("inputs") or {}
    outputs: Mapping[str, Any] = state.get("outputs") or {}
    seen = sketch(inputs)
    stored = sketch(inputs, outputs)
    recorded = stored.full_sync_brought
    full_sync = seen.is_all_sync is True
    return _Declared(
        key=stored.cluster if resolved else seen.cluster,
        label=seen.cluster,
        principals=seen.principals,
        full_sync=full_sync,
        holds=holds(seen.principals, recorded, is_all_sync=full_sync),
        full_sync_unread=full_sync and not recorded,
        settings=seen.settings,
        unknown=seen.names_unknown,
    )


def _resolved_cluster(state: Mapping[str, Any]) -> str:
    """An old resource's cluster with the project and region it really used (its outputs)."""
    return _declared(state, resolved=True).key.label()


def resource_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _create(name: str, new: _Declared, before_refresh: _Declared | None) -> ClusterChange:
    resync = new.principals & before_refresh.principals if before_refresh else NOBODY
    return ClusterChange(
        resource=name,
        cluster=new.cluster(),
        action=Action.RECREATE if before_refresh else Action.CREATE,
        sync=new.principals - resync,
        resync=resync,
        full_sync=FullSync.ON if new.full_sync else None,
        unknown=new.unknown,
        key=new.key,
    )


def _update(
    name: str, old: _Declared, new: _Declared, before_refresh: _Declared | None, *, action: Action
) -> ClusterChange | None:
    added = new.principals - old.principals
    resync = added & before_refresh.principals if before_refresh else NOBODY
    full_sync = None
    if new.full_sync != old.full_sync:
        full_sync = FullSync.ON if new.full_sync else FullSync.OFF
    change = ClusterChange(
        resource=name,
        cluster=new.cluster(),
        action=action,
        sync=added - resync,
        resync=resync,
        # Switching a full sync on cancels nothing: it brings every name back anyway.
        cancel=NOBODY if new.full_sync else old.principals - new.principals,
        full_sync=full_sync,
        settings=tuple(key for key in SETTING_INPUTS if old.settings.get(key) != new.settings.get(key)),
        unknown=new.unknown,
        key=new.key,
    )
    if action is Action.UPDATE and not (change.sync or change.cancel or full_sync or change.settings):
        if not resync:
            return None  # e.g. only the stored project_id/region differ: nothing happens on any cluster
        return ClusterChange(
            resource=name,
            cluster=change.cluster,
            action=Action.DRIFT,
            resync=resync,
            unknown=new.unknown,
            key=new.key,
        )
    return change


def _delete(
    name: str, old: _Declared, cluster: str | None = None, moved_to: str | None = None
) -> ClusterChange:
    return ClusterChange(
        resource=name,
        cluster=cluster or old.cluster(),
        action=Action.REPLACE if moved_to else Action.DELETE,
        cancel=NOBODY if old.full_sync else old.principals,
        full_sync=FullSync.KEPT if old.full_sync else None,
        moved_to=moved_to,
        unknown=old.unknown,
        key=old.key,
    )


def _replace(
    name: str, step: Mapping[str, Any], old: _Declared, new: _Declared, before_refresh: _Declared | None
) -> list[ClusterChange]:
    """A replacement on another cluster cancels on the old one and syncs on the new; on the same cluster
    it is an update (the provider keeps principals that are declared on both sides)."""
    old_cluster, new_cluster = old.cluster(), new.cluster()
    moved = bool(CLUSTER_INPUTS & set(step.get("replaceReasons") or ())) or old_cluster != new_cluster
    if not moved:
        change = _update(name, old, new, before_refresh, action=Action.REPLACE)
        return [change] if change else []
    if old_cluster == new_cluster:  # the provider's default project or region changed
        old_cluster = _resolved_cluster(step["oldState"])
        new_cluster = f"{new.key.cluster_id} (the provider's default project and region)"
    gone = _delete(name, old, cluster=old_cluster, moved_to=new_cluster)
    arrived = ClusterChange(
        resource=name,
        cluster=new_cluster,
        action=Action.REPLACE,
        sync=new.principals,
        full_sync=FullSync.ON if new.full_sync else None,
        moved_from=old_cluster,
        unknown=new.unknown,
        key=new.key,
    )
    return [gone, arrived]


def _changes(step: Mapping[str, Any], before_refresh: _Declared | None) -> list[ClusterChange]:
    op, name = step.get("op"), resource_name(step["urn"])
    old = _declared(step["oldState"], resolved=True) if step.get("oldState") else None
    new = _declared(step["newState"]) if step.get("newState") else None
    if op == "create" and new:
        return [_create(name, new, before_refresh)]
    if op == "update" and old and new:
        change = _update(name, old, new, before_refresh, action=Action.UPDATE)
        return [change] if change else []
    if op == "replace" and old and new:
        return _replace(name, step, old, new, before_refresh)
    if op == "delete" and old:
        return [_delete(name, old)]
    return []  # same, refresh, read, and the halves of a replace the digest also lists in verbose mode


_DECLARING_OPS: Final = frozenset({"same", "create", "update", "replace"})


def _declared_after(steps: Iterable[Mapping[str, Any]]) -> list[tuple[str, _Declared]]:
    """(resource, what it declares) once ``pulumi up`` is done, for every resource that stays.

    Unchanged resources are in the digest only when the preview ran with ``--show-sames`` (which
    ``plan`` passes); a targeted preview lists the resources it does not step as ``same`` too.
    """
    return [
        (resource_name(step["urn"]), _declared(step["newState"], resolved=step.get("op") == "same"))
        for step in steps
        if step.get("op") in _DECLARING_OPS and step.get("newState")
    ]


def _keep_still_declared(change: ClusterChange, after: Sequence[tuple[str, _Declared]]) -> ClusterChange:
    """The provider's own rule (the planner's): nothing another live resource may hold there is cancelled.

    Which cluster a resource is on is compared with :meth:`ClusterKey.may_be`: where the preview
    cannot tell (a default it does not see, a value not known yet), it keeps rather than cancels.
    """
    if not change.cancel:
        return change
    others = [(name, who) for name, who in after if name != change.resource and who.key.may_be(change.key)]

    def held(who: _Declared) -> Principals:
        return change.cancel if who.full_sync_unread else who.holds

    step = plan_cancel(
        [Request(owner=change.resource, cancel=change.cancel)],
        synced=change.cancel,  # what the cluster has at run time is read then; assume all of it is there
        protected=lambda _owner: Principals.union(held(who) for _, who in others),
    )
    keep = step.kept.get(change.resource, NOBODY)
    if not keep:
        return change
    kept_by = tuple(sorted(name for name, who in others if held(who) & keep))
    return replace(change, cancel=step.cancelled.get(change.resource, NOBODY), keep=keep, kept_by=kept_by)


def _shared_full_sync_warnings(after: Sequence[tuple[str, _Declared]]) -> tuple[str, ...]:
    """A full sync and named resources on one cluster: the names are owned, the full sync is not."""
    declared = dict(after)
    return tuple(
        f"{shared.full_sync} runs a full sync on cluster {declared[shared.full_sync].cluster()}, which "
        f"{', '.join(shared.named)} also declare(s) principals on: {FULL_SYNC_KEEPS}"
        for shared in full_syncs_beside_names((name, who.key, who.full_sync) for name, who in after)
    )


def _is_ours(step: Mapping[str, Any]) -> bool:
    urn = step.get("urn")
    return isinstance(urn, str) and urn.split("::")[2:3] == [RESOURCE_TYPE]


def _stack_of(steps: Sequence[Mapping[str, Any]]) -> str:
    for step in steps:
        urn = step.get("urn", "")
        if isinstance(urn, str) and urn.startswith("urn:pulumi:"):
            return urn.split("::", 1)[0].removeprefix("urn:pulumi:")
    return "(unknown stack)"


def one_line(message: str) -> str:
    """A diagnostic as one readable line: no severity prefix, no exception class, no line breaks."""
    text = " ".join(message.split())
    text = text.removeprefix("error: ").removeprefix("Preview failed: ")
    return _EXCEPTION_PREFIX.sub("", text)


def _failure(diagnostics: Iterable[Mapping[str, Any]]) -> str | None:
    """The cause of a failed preview in one line, or None when nothing but policies failed it."""
    errors = [d for d in diagnostics if d.get("severity") == "error"]
    specific = [d for d in errors if " ".join(str(d.get("message", "")).split()) != _GENERIC_FAILURE]
    if not specific:
        return None
    first = specific[0]
    where = f"{resource_name(first['urn'])}: " if first.get("urn") else ""
    others = len(specific) - 1
    more = f" (and {others} more error{'s' if others > 1 else ''})" if others else ""
    return where + one_line(str(first.get("message", ""))) + more


def policy_violations(events: Iterable[Mapping[str, Any]]) -> tuple[PolicyViolation, ...]:
    """The ``policyEvent`` entries of an engine event log, in order, without repeats."""
    found: dict[PolicyViolation, None] = {}
    for event in events:
        policy = event.get("policyEvent")
        if not isinstance(policy, Mapping):
            continue
        lines = str(policy.get("message", "")).strip().splitlines()
        urn = policy.get("resourceUrn")
        violation = PolicyViolation(
            pack=str(policy.get("policyPackName", "")),
            policy=str(policy.get("policyName", "")),
            level=str(policy.get("enforcementLevel", "")),
            resource=resource_name(urn) if isinstance(urn, str) and urn else None,
            description=lines[0].strip() if lines else "",
            message=" ".join(line.strip() for line in lines[1:] if line.strip()),
        )
        found[violation] = None
    return tuple(found)


def parse_event_log(text: str) -> Iterator[Mapping[str, Any]]:
    """The events of an ``--event-log`` file (one JSON object per line; a torn last line is skipped)."""
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, Mapping):
            yield event


def build_plan(
    digest: Mapping[str, Any],
    events: Iterable[Mapping[str, Any]] = (),
    *,
    stack: str | None = None,
) -> Plan:
    """The plan of one stack's preview; raises PreviewFailed when the preview did not get that far."""
    steps: list[Mapping[str, Any]] = [s for s in digest.get("steps") or [] if isinstance(s, Mapping)]
    diagnostics = [d for d in digest.get("diagnostics") or [] if isinstance(d, Mapping)]
    violations = policy_violations(events)
    failure = _failure(diagnostics)
    if failure is not None:
        raise PreviewFailed(failure)
    failed = any(d.get("severity") == "error" for d in diagnostics)
    if failed and not any(violation.blocking for violation in violations):
        raise PreviewFailed(
            "the preview failed without naming a cause; if a policy pack ran, give its event log "
            "(--policy-events), or run `pulumi preview` without --json to see why"
        )
    ours = [step for step in steps if _is_ours(step)]
    before_refresh = {
        step["urn"]: _declared(step["oldState"])
        for step in ours
        if step.get("op") == "refresh" and step.get("oldState")
    }
    after = _declared_after(ours)
    changes = [
        _keep_still_declared(change, after)
        for step in ours
        for change in _changes(step, before_refresh.get(step["urn"]))
    ]
    changes.sort(key=lambda change: (change.cluster, change.resource))
    return Plan(
        stack=stack or _stack_of(steps),
        changes=tuple(changes),
        violations=violations,
        warnings=_shared_full_sync_warnings(after),
    )
