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
from mrs_iam_sync.errors import ClusterNotFoundError, MrsError
from mrs_iam_sync.inputs import SyncSpec, parse_inputs
from mrs_iam_sync.operations import ClusterRef, Deadline, Principals, cancel, cluster_lock, sync, sync_all
from mrs_iam_sync.settings import NAMESPACE, STACK_CONFIG_KEYS, Settings, resolve_settings

REPLACE_ON: Final = ("cluster_id", "project_id", "region")
"""A principal set cannot move between clusters; a new cluster means a new resource."""

_stack_config: dict[str, str] = {}
_clients: dict[tuple[str, str], MrsClient] = {}
_clients_guard = threading.Lock()


class ProvisioningError(Exception):
    """A failure reported to the user as one readable message, without a Python traceback."""


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
    except ProvisioningError:
        raise
    except MrsError as exc:
        where = f"cluster {spec.cluster_id}"
        raise ProvisioningError(f"{action} on {where} failed: {exc}") from None
    except Exception as exc:
        traceback.print_exc(limit=30, file=sys.stderr)
        raise ProvisioningError(
            f"{action} on cluster {spec.cluster_id} failed with an unexpected {type(exc).__name__}: {exc} "
            "(the traceback is in the provider's output above; please report it)"
        ) from None


def _outputs(
    spec: SyncSpec, cluster: ClusterRef, settings: Settings, client: MrsClient, *, synced_at: str | None
) -> dict[str, Any]:
    """Outputs echo the normalized inputs (diff and update only see outputs) plus what the cluster reports."""
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


def _missing_message(spec: SyncSpec, missing: Principals, *, rolled_back: Principals) -> str:
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
        + (
            " The principals this run did sync ("
            + ", ".join(sorted(rolled_back.users | rolled_back.groups))
            + ") were cancelled again, so the cluster is as it was."
            if rolled_back
            else ""
        )
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@contextmanager
def _on_cluster(
    spec: SyncSpec, *, lock: bool = True
) -> Iterator[tuple[Settings, ClusterRef, MrsClient, Deadline]]:
    """Everything one lifecycle call needs, under one time budget and, for writes, the cluster's lock."""
    settings, cluster = _target(spec)
    client = _client_for(settings)
    deadline = Deadline(spec.timeout_seconds)
    with ExitStack() as stack:
        stack.enter_context(client.within(deadline.remaining()))  # one budget for both
        if lock:
            stack.enter_context(cluster_lock(cluster, deadline))
        yield settings, cluster, client, deadline


def _verify_or_roll_back(
    spec: SyncSpec,
    *,
    outputs: Mapping[str, Any],
    wanted: Principals,
    started: Principals,
    client: MrsClient,
    cluster: ClusterRef,
    deadline: Deadline,
) -> None:
    """Fail, naming what did not arrive, after cancelling what this call did bring.

    A failed create or update is not recorded in state, so principals it synced would
    otherwise stay on the cluster with no resource owning them.
    """
    if not spec.wait:
        return
    missing = wanted - Principals.of(outputs["synced_user_names"], outputs["synced_group_names"])
    if not missing:
        return
    arrived = started - missing
    if arrived:
        cancel(client, cluster, arrived, deadline=deadline, wait=True)
    raise ProvisioningError(_missing_message(spec, missing, rolled_back=arrived))


class Lifecycle:
    """Lifecycle of one declared set of principals on one MRS cluster."""

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

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        new, _ = parse_inputs(news)
        old = _as_spec(olds)
        if new is None:
            return DiffResult(changes=None)
        settings = _reported("reading provider settings", new, current_settings)
        new_effective = {
            "cluster_id": new.cluster_id,
            "project_id": new.project_id or settings.project_id,
            "region": new.region or settings.region,
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
        declared = Principals.of(spec.user_names, spec.group_names)
        with _on_cluster(spec) as (settings, cluster, client, deadline):
            if spec.is_all_sync:
                sync_all(client, cluster, deadline=deadline, wait=spec.wait)
                started = Principals()
            else:
                started = sync(client, cluster, declared, deadline=deadline, wait=spec.wait)
            outputs = _outputs(spec, cluster, settings, client, synced_at=_now())
            _verify_or_roll_back(
                spec,
                outputs=outputs,
                wanted=declared,
                started=started,
                client=client,
                cluster=cluster,
                deadline=deadline,
            )
        resource_id = f"{cluster.project_id}/{spec.cluster_id}/{uuid.uuid4().hex[:12]}"
        return CreateResult(resource_id, outputs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        old, new = _as_spec(olds), _as_spec(news)
        return _reported("updating IAM principals", new, lambda: self._update(old, new, olds))

    def _update(self, old: SyncSpec, new: SyncSpec, olds: Mapping[str, Any]) -> UpdateResult:
        before = Principals.of(old.user_names, old.group_names)
        after = Principals.of(new.user_names, new.group_names)
        synced_at = olds.get("last_synced_at")
        with _on_cluster(new) as (settings, cluster, client, deadline):
            if cancel(client, cluster, before - after, deadline=deadline, wait=new.wait):
                synced_at = _now()
            started = Principals()
            if new.is_all_sync and not old.is_all_sync:
                sync_all(client, cluster, deadline=deadline, wait=new.wait)
                synced_at = _now()
            else:
                started = sync(client, cluster, after, deadline=deadline, wait=new.wait)
                synced_at = _now() if started else synced_at
            outputs = _outputs(new, cluster, settings, client, synced_at=synced_at)
            _verify_or_roll_back(
                new,
                outputs=outputs,
                wanted=after,
                started=started,
                client=client,
                cluster=cluster,
                deadline=deadline,
            )
        return UpdateResult(outputs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        spec = _as_spec(props)
        return _reported("reading IAM principals", spec, lambda: self._read(id_, spec, props))

    def _read(self, id_: str, spec: SyncSpec, props: Mapping[str, Any]) -> ReadResult:
        try:
            with _on_cluster(spec, lock=False) as (settings, cluster, client, _deadline):
                outputs = _outputs(spec, cluster, settings, client, synced_at=props.get("last_synced_at"))
        except ClusterNotFoundError:
            return ReadResult(id_="", outs={})
        # A declared principal that is gone shows as drift: the stored inputs lose it, the program still
        # declares it, so the next `pulumi up` syncs it again.
        synced = Principals.of(outputs["synced_user_names"], outputs["synced_group_names"])
        still = Principals.of(spec.user_names, spec.group_names) & synced
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

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        spec = _as_spec(props)
        _reported("cancelling IAM principals", spec, lambda: self._delete(spec))

    def _delete(self, spec: SyncSpec) -> None:
        declared = Principals.of(spec.user_names, spec.group_names)
        try:
            with _on_cluster(spec) as (_settings, cluster, client, deadline):
                cancel(client, cluster, declared, deadline=deadline, wait=spec.wait)
        except ClusterNotFoundError:
            return  # the cluster is gone, and its synced principals with it


LIFECYCLE: Final = Lifecycle()
