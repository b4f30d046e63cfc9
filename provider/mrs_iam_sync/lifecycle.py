"""What ClusterIamSync does at each step of Pulumi's lifecycle, against the IAM-sync API.

``mrs_iam_sync.provider`` is the thin class Pulumi serializes into state; it
hands every call to ``LIFECYCLE`` here, importing this module (and with it
httpx, pydantic and the client) only in the provider process. Settings are
resolved at call time from the stack config that ``configure`` hands over
(kept at module level, in the provider process only) and from the
environment the CLI passes down, so no credential is ever an attribute of
the pickled provider.

Ownership is non-authoritative: a resource syncs and cancels exactly the
principals it declares and never touches the others on the cluster, so
several resources, and people, can share one cluster.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    UpdateResult,
)

from mrs_iam_sync.client import MrsClient
from mrs_iam_sync.declarations import Declarations
from mrs_iam_sync.errors import ClusterNotFoundError, MrsError, ProvisioningError
from mrs_iam_sync.inputs import SyncSpec, parse_inputs
from mrs_iam_sync.operations import ClusterOperation, ClusterRef, Deadline, Principals, cluster_lock
from mrs_iam_sync.settings import NAMESPACE, STACK_CONFIG_KEYS, Settings, resolve_settings

REPLACE_ON: Final = ("cluster_id", "project_id", "region")
"""A principal set cannot move between clusters; a new cluster means a new resource."""

_stack_config: dict[str, str] = {}
_clients: dict[tuple[str, str], MrsClient] = {}
_clients_guard = threading.Lock()


T = TypeVar("T")


def _stack_config_of(request: ConfigureRequest) -> dict[str, str]:
    values: dict[str, str] = {}
    for key in STACK_CONFIG_KEYS:
        value = request.config.get(f"{NAMESPACE}:{key}")
        if value is None:
            continue
        values[f"{NAMESPACE}:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return values


def current_settings() -> Settings:
    """Provider settings as of now: stack config (from configure) over the environment."""
    return resolve_settings(stack_config=_stack_config, environ=os.environ)


def _client_for(settings: Settings) -> MrsClient:
    """One pooled client per endpoint and project, shared by the provider's worker threads."""
    key = (settings.endpoint, settings.project_id)
    with _clients_guard:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = MrsClient(settings)
        return client


def _as_spec(props: Mapping[str, Any]) -> SyncSpec:
    """The normal form of stored state (old outputs) or of inputs that passed ``check``."""
    spec, problems = parse_inputs(
        {key: props.get(key) for key in props if not key.startswith("__")}, require_principals=False
    )
    if spec is None:
        reasons = "; ".join(f"{p.property} {p.reason}" for p in problems) or "some inputs are not known yet"
        raise ProvisioningError(f"invalid ClusterIamSync inputs: {reasons}")
    return spec


def _target(spec: SyncSpec) -> tuple[Settings, ClusterRef]:
    settings = current_settings().for_target(region=spec.region, project_id=spec.project_id)
    return settings, ClusterRef(settings.endpoint, settings.project_id, spec.cluster_id)


def _reported(action: str, spec: SyncSpec, call: Callable[[], T]) -> T:
    """Run one lifecycle step, turning any failure into a single message that names the cluster."""
    try:
        return call()
    except MrsError as exc:
        # Notes carry what happened afterwards (a roll-back); they belong in the one message too.
        text = " ".join([str(exc).rstrip(".") + ".", *getattr(exc, "__notes__", ())]).rstrip(".")
        raise ProvisioningError(f"{action} on cluster {spec.cluster_id} failed: {text}") from None
    except Exception as exc:
        traceback.print_exc(limit=30, file=sys.stderr)
        raise ProvisioningError(
            f"{action} on cluster {spec.cluster_id} failed with an unexpected {type(exc).__name__}: {exc} "
            "(the traceback is in the provider's output above; please report it)"
        ) from None


ROLL_BACK_MIN_SECONDS: Final = 30.0
ROLL_BACK_MAX_SECONDS: Final = 600.0


def roll_back_grace(spec: SyncSpec) -> float:
    """The time a failed call gets to take back what it brought: as long again as its own budget,
    within 30 s to 10 minutes, so a slow task can still finish and be cancelled, and a failure
    never hangs for long."""
    return min(max(spec.timeout_seconds, ROLL_BACK_MIN_SECONDS), ROLL_BACK_MAX_SECONDS)


def _outputs(
    spec: SyncSpec, call: ClusterOperation, settings: Settings, *, synced_at: str | None
) -> dict[str, Any]:
    """Outputs echo the normalized inputs (diff and update only see outputs) plus what the cluster reports."""
    cluster, client = call.cluster, call.client
    listing = client.list_synced(cluster_id=cluster.cluster_id, project_id=cluster.project_id)
    complete = client.is_synchronous(cluster_id=cluster.cluster_id, project_id=cluster.project_id)
    outputs = spec.as_inputs()
    outputs.update(
        project_id=cluster.project_id,
        region=settings.region,
        synced_user_names=sorted(listing.user_names),
        synced_group_names=sorted(listing.group_names),
        cluster_sync_complete=complete,
        last_synced_at=synced_at,
    )
    return outputs


def _missing_message(spec: SyncSpec, missing: Principals) -> str:
    parts = []
    if missing.users:
        parts.append(
            "users "
            + ", ".join(sorted(missing.users))
            + " (does each exist in IAM and hold an MRS policy such as "
            "MRS FullAccess, MRS CommonOperations or MRS ReadOnlyAccess? only such users are synchronized)"
        )
    if missing.groups:
        parts.append("groups " + ", ".join(sorted(missing.groups)) + " (does each exist in IAM?)")
    return (
        f"the sync task on cluster {spec.cluster_id} finished, but these declared principals did not arrive: "
        + "; ".join(parts)
        + ". Fix them in IAM and run `pulumi up` again, or remove them from the resource."
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _note(text: str) -> None:
    """The provider's stderr reaches the user through the CLI: for what a user should know but did not ask."""
    print(f"mrs-iam-sync: {text}", file=sys.stderr, flush=True)


@contextmanager
def _on_cluster(spec: SyncSpec, *, lock: bool = True) -> Iterator[tuple[Settings, ClusterOperation]]:
    """Everything one lifecycle call needs, under one time budget and, for writes, the cluster's lock."""
    settings, cluster = _target(spec)
    client = _client_for(settings)
    deadline = Deadline(spec.timeout_seconds)
    with ExitStack() as stack:
        stack.enter_context(client.within(deadline.remaining()))  # one budget for both
        if lock:
            stack.enter_context(cluster_lock(cluster, deadline))
        yield settings, ClusterOperation(client, cluster, deadline)


class Lifecycle:
    """Lifecycle of one declared set of principals on one MRS cluster."""

    def __init__(self) -> None:
        self.declarations = Declarations()

    def configure(self, req: ConfigureRequest) -> None:
        # Runs once per provider process, before any other call, during preview too: cheap and local.
        _stack_config.clear()
        _stack_config.update(_stack_config_of(req))
        # Our failures are full sentences; Pulumi's dynamic server would print a traceback before them.
        sys.tracebacklimit = 0

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        spec, problems = parse_inputs(news)
        failures = [CheckFailure(p.property, p.reason) for p in problems]
        if spec is None:
            return CheckResult(news, failures)
        # Settings are local (no API call): a missing credential fails the preview, not the first `up`.
        _reported("checking provider settings", spec, lambda: _target(spec))
        return CheckResult(spec.as_inputs(), failures)

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        new, _ = parse_inputs(news)
        old = _as_spec(olds)
        if new is None:
            return DiffResult(changes=None)
        settings, cluster = _reported("reading provider settings", new, lambda: _target(new))
        # The engine diffs every resource the program still declares before any delete runs.
        self.declarations.declare(id_, cluster, _declared(new))
        new_effective = {
            "cluster_id": new.cluster_id,
            "project_id": settings.project_id,
            "region": settings.region,
        }
        old_effective = {
            "cluster_id": old.cluster_id,
            "project_id": olds.get("project_id"),
            "region": olds.get("region"),
        }
        replaces = [key for key in REPLACE_ON if new_effective[key] != old_effective[key]]
        changed = [
            key
            for key in ("user_names", "group_names", "is_all_sync", "wait", "timeout_seconds")
            if getattr(new, key) != getattr(old, key)
        ]
        return DiffResult(
            changes=bool(replaces or changed),
            replaces=replaces,
            delete_before_replace=False,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = _as_spec(props)
        return _reported("syncing IAM principals", spec, lambda: self._create(spec))

    def _create(self, spec: SyncSpec) -> CreateResult:
        declared = _declared(spec)
        owner = f"create:{uuid.uuid4().hex}"
        self.declarations.declare(owner, _target(spec)[1], declared)
        try:
            with _on_cluster(spec) as (settings, call), self._rolled_back_on_failure(spec, call, owner):
                if spec.is_all_sync:
                    call.sync_all(wait=spec.wait)
                else:
                    call.sync(declared, wait=spec.wait)
                outputs = _outputs(spec, call, settings, synced_at=_now())
                self._verify(spec, outputs, wanted=declared)
        except BaseException:
            self.declarations.withdraw(owner)
            raise
        resource_id = f"{call.cluster.project_id}/{spec.cluster_id}/{uuid.uuid4().hex[:12]}"
        self.declarations.rename(owner, resource_id)
        return CreateResult(resource_id, outputs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        old, new = _as_spec(olds), _as_spec(news)
        return _reported("updating IAM principals", new, lambda: self._update(id_, old, new, olds))

    def _update(self, id_: str, old: SyncSpec, new: SyncSpec, olds: Mapping[str, Any]) -> UpdateResult:
        before, after = _declared(old), _declared(new)
        synced_at = olds.get("last_synced_at")
        with _on_cluster(new) as (settings, call), self._rolled_back_on_failure(new, call, id_):
            self.declarations.declare(id_, call.cluster, after)
            removed = before - after
            if removed:
                # A neighbour that takes these principals over may not be diffed yet: let the
                # program's registrations settle before deciding what may go.
                self.declarations.wait_until_quiet(call.deadline)
                removed = self._not_declared_elsewhere(removed, call.cluster, owner=id_)
            if call.cancel(removed, wait=new.wait):
                synced_at = _now()
            if new.is_all_sync and not old.is_all_sync:
                call.sync_all(wait=new.wait)
                synced_at = _now()
            elif call.sync(after, wait=new.wait):
                synced_at = _now()
            outputs = _outputs(new, call, settings, synced_at=synced_at)
            self._verify(new, outputs, wanted=after)
        return UpdateResult(outputs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        spec = _as_spec(props)
        return _reported("reading IAM principals", spec, lambda: self._read(id_, spec, props))

    def _read(self, id_: str, spec: SyncSpec, props: Mapping[str, Any]) -> ReadResult:
        try:
            with _on_cluster(spec, lock=False) as (settings, call):
                outputs = _outputs(spec, call, settings, synced_at=props.get("last_synced_at"))
        except ClusterNotFoundError:
            return ReadResult(id_="", outs={})
        # A declared principal that is gone shows as drift: the stored inputs lose it, the program still
        # declares it, so the next `pulumi up` syncs it again.
        synced = Principals.of(outputs["synced_user_names"], outputs["synced_group_names"])
        still = _declared(spec) & synced
        outputs["user_names"] = sorted(still.users)
        outputs["group_names"] = sorted(still.groups)
        inputs = {key: outputs[key] for key in spec.as_inputs()}
        # Only what differs from the provider's defaults counts as declared: a defaulted project or
        # region stored as an input would show up as a removed input in later previews.
        defaults = current_settings()
        for key, default in (("project_id", defaults.project_id), ("region", defaults.region)):
            if outputs[key] != default:
                inputs[key] = outputs[key]
        return ReadResult(id_=id_, outs=outputs, inputs=inputs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        spec = _as_spec(props)
        _reported("cancelling IAM principals", spec, lambda: self._delete(id_, spec))

    def _delete(self, id_: str, spec: SyncSpec) -> None:
        try:
            with _on_cluster(spec) as (_settings, call):
                wanted_gone = self._not_declared_elsewhere(_declared(spec), call.cluster, owner=id_)
                call.cancel(wanted_gone, wait=spec.wait)
        except ClusterNotFoundError:
            pass  # the cluster is gone, and its synced principals with it
        self.declarations.withdraw(id_)

    # -- the rules shared by the steps -------------------------------------------------------------

    def _not_declared_elsewhere(
        self, principals: Principals, cluster: ClusterRef, *, owner: str
    ) -> Principals:
        """Drop what another live resource of this deployment still declares on the cluster."""
        kept = principals & self.declarations.declared_by_others(cluster, owner=owner)
        if kept:
            _note(
                f"{kept.describe()} stay synced on cluster {cluster.cluster_id}: another resource of "
                "this deployment still declares them"
            )
        return principals - kept

    def _verify(self, spec: SyncSpec, outputs: Mapping[str, Any], *, wanted: Principals) -> None:
        """Fail, naming every declared principal that did not arrive (the roll-back follows)."""
        if not spec.wait:
            return
        missing = wanted - Principals.of(outputs["synced_user_names"], outputs["synced_group_names"])
        if missing:
            raise ProvisioningError(_missing_message(spec, missing))

    @contextmanager
    def _rolled_back_on_failure(self, spec: SyncSpec, call: ClusterOperation, owner: str) -> Iterator[None]:
        """On failure, cancel again what this call brought, within a grace period of its own.

        A failed create or update is never recorded in state: principals it synced would stay on
        the cluster with no resource owning them. The call's own budget may be what ran out, so the
        roll-back gets a fresh one (``roll_back_grace``); what it could not finish is named.
        """
        try:
            yield
        except MrsError as failure:
            if call.attempted:
                failure.add_note(self._roll_back(spec, call, owner))
            raise

    def _roll_back(self, spec: SyncSpec, call: ClusterOperation, owner: str) -> str:
        grace = roll_back_grace(spec)
        call.deadline = Deadline(grace)
        brought = Principals()
        try:
            with call.client.within(grace):
                call.wait_until_idle(ours=True)
                brought = call.attempted & call.synced_now()
                brought = self._not_declared_elsewhere(brought, call.cluster, owner=owner)
                call.cancel(brought, wait=True)
        except MrsError as exc:
            left = call.attempted.describe()
            return (
                f"Cancelling what this run had synced ({left}) did not finish within the {grace:g} s "
                f"grace period ({exc}): they may stay synced on cluster {spec.cluster_id} with no "
                "resource owning them; check with `mrs-iam-sync show` and cancel them, or declare them"
            )
        if not brought:
            return "Nothing this run started had arrived, so the cluster is as it was."
        return (
            f"The principals this run did sync ({brought.describe()}) were cancelled again, "
            "so the cluster is as it was."
        )


def _declared(spec: SyncSpec) -> Principals:
    return Principals.of(spec.user_names, spec.group_names)


LIFECYCLE: Final = Lifecycle()
