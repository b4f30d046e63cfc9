"""What ClusterIamSync does at each step of Pulumi's lifecycle, against the IAM-sync API.

``mrs_iam_sync.provider`` is the thin class Pulumi serializes into state; it hands every call to
``LIFECYCLE`` here, importing this module (and with it httpx, pydantic and the client) only in
the provider process. Settings are resolved at call time from the stack config that ``configure``
hands over (kept on the :class:`ProviderProcess`) and from the environment the CLI passes down,
so no credential is ever an attribute of the pickled provider.

Ownership is non-authoritative: a resource syncs and cancels exactly the principals it declares
and never touches the others on the cluster, so several resources, and people, can share one
cluster; and a principal another live resource of the deployment declares is never cancelled.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
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

from mrs_iam_sync.call import ResourceCall, declared
from mrs_iam_sync.errors import ClusterNotFoundError, MrsError, ProvisioningError
from mrs_iam_sync.inputs import INPUT_NAMES, REPLACE_ON, SyncSpec, parse_inputs
from mrs_iam_sync.process import ProviderProcess, stack_config_of
from mrs_iam_sync.server_threads import lift_worker_ceiling

UPDATE_ON: Final = tuple(name for name in INPUT_NAMES if name not in REPLACE_ON)
"""Every other input changes in place: derived, so a new input can never be left out of diff."""

T = TypeVar("T")


def _as_spec(props: Mapping[str, Any]) -> SyncSpec:
    """The normal form of stored state (old outputs) or of inputs that passed ``check``."""
    spec, problems = parse_inputs(
        {key: props.get(key) for key in props if not key.startswith("__")}, require_principals=False
    )
    if spec is None:
        reasons = "; ".join(f"{p.property} {p.reason}" for p in problems) or "some inputs are not known yet"
        raise ProvisioningError(f"invalid ClusterIamSync inputs: {reasons}")
    return spec


def _reported(action: str, cluster_id: str, step: Callable[[], T]) -> T:
    """Run one lifecycle step, turning any failure into a single message that names the cluster."""
    try:
        return step()
    except MrsError as exc:
        # Notes carry what happened afterwards (a roll-back); they belong in the one message too.
        text = " ".join([str(exc).rstrip(".") + ".", *getattr(exc, "__notes__", ())]).rstrip(".")
        raise ProvisioningError(f"{action} on cluster {cluster_id} failed: {text}") from None
    except Exception as exc:
        traceback.print_exc(limit=30, file=sys.stderr)
        raise ProvisioningError(
            f"{action} on cluster {cluster_id} failed with an unexpected {type(exc).__name__}: {exc} "
            "(the traceback is in the provider's output above; please report it)"
        ) from None


@contextmanager
def _rolled_back_on_failure(call: ResourceCall) -> Iterator[None]:
    """On failure, cancel again what this call brought (see ``ResourceCall.roll_back``)."""
    try:
        yield
    except MrsError as failure:
        summary = call.roll_back()
        if summary is not None:
            failure.add_note(summary)
        raise


class Lifecycle:
    """Lifecycle of one declared set of principals on one MRS cluster."""

    def __init__(self) -> None:
        self.process = ProviderProcess()

    def configure(self, req: ConfigureRequest) -> None:
        # Runs once per provider process, before any other call, during preview too: cheap and local.
        self.process.configure(stack_config_of(req.config.get))
        # Our failures are full sentences; Pulumi's dynamic server would print a traceback before
        # them (it answers with traceback.format_exc()). Set here, so only in the provider process.
        sys.tracebacklimit = 0
        # Calls waiting for their cluster's task must not keep other clusters' calls from starting.
        lift_worker_ceiling()

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        self.process.declarations.touch()
        spec, problems = parse_inputs(news)
        failures = [CheckFailure(p.property, p.reason) for p in problems]
        if spec is None:
            return CheckResult(news, failures)
        # Settings are local (no API call): a missing credential fails the preview, not the first `up`.
        _reported("checking provider settings", spec.cluster_id, lambda: self.process.target(spec))
        return CheckResult(spec.as_inputs(), failures)

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        self.process.declarations.touch()
        new, _ = parse_inputs(news)
        old = _as_spec(olds)
        if new is None:
            return DiffResult(changes=None)
        target = _reported("reading provider settings", new.cluster_id, lambda: self.process.target(new))
        # The engine diffs every resource the program still declares before any delete runs.
        self.process.declarations.declare(id_, target.cluster, declared(new))
        new_effective = {
            "cluster_id": new.cluster_id,
            "project_id": target.cluster.project_id,
            "region": target.region,
        }
        old_effective = {
            "cluster_id": old.cluster_id,
            "project_id": olds.get("project_id"),
            "region": olds.get("region"),
        }
        replaces = [key for key in REPLACE_ON if new_effective[key] != old_effective[key]]
        changed = [key for key in UPDATE_ON if getattr(new, key) != getattr(old, key)]
        return DiffResult(changes=bool(replaces or changed), replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        self.process.declarations.touch()
        spec = _as_spec(props)
        return _reported("syncing IAM principals", spec.cluster_id, lambda: self._create(spec))

    def _create(self, spec: SyncSpec) -> CreateResult:
        call = ResourceCall(self.process, spec, owner=f"create:{uuid.uuid4().hex}")
        wanted = declared(spec)
        call.declare(wanted)
        try:
            with _rolled_back_on_failure(call):
                ask = call.converge(sync=wanted, full_sync=spec.is_all_sync)
                outputs = call.outputs_of(ask, previous={})
                call.verify(ask, wanted)
        except BaseException:
            self.process.declarations.withdraw(call.owner)
            raise
        resource_id = f"{call.target.cluster.project_id}/{spec.cluster_id}/{uuid.uuid4().hex[:12]}"
        self.process.declarations.rename(call.owner, resource_id)
        return CreateResult(resource_id, outputs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self.process.declarations.touch()
        old, new = _as_spec(olds), _as_spec(news)
        return _reported("updating IAM principals", new.cluster_id, lambda: self._update(id_, old, new, olds))

    def _update(self, id_: str, old: SyncSpec, new: SyncSpec, olds: Mapping[str, Any]) -> UpdateResult:
        call = ResourceCall(self.process, new, owner=id_)
        before, after = declared(old), declared(new)
        call.declare(after)
        with _rolled_back_on_failure(call):
            ask = call.converge(
                sync=after,
                cancel=before - after,
                full_sync=new.is_all_sync and not old.is_all_sync,
                settle_declarations=bool(before - after),
            )
            outputs = call.outputs_of(ask, previous=olds)
            call.verify(ask, after)
        return UpdateResult(outputs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        self.process.declarations.touch()
        spec = _as_spec(props)
        return _reported("reading IAM principals", spec.cluster_id, lambda: self._read(id_, spec, props))

    def _read(self, id_: str, spec: SyncSpec, props: Mapping[str, Any]) -> ReadResult:
        call = ResourceCall(self.process, spec, owner=id_)
        try:
            synced = call.read_back()
        except ClusterNotFoundError:
            return ReadResult(id_="", outs={})
        outputs = call.outputs(
            synced, complete=props.get("cluster_sync_complete"), synced_at=props.get("last_synced_at")
        )
        # A declared principal that is gone shows as drift: the stored inputs lose it, the program still
        # declares it, so the next `pulumi up` syncs it again.
        still = declared(spec) & synced
        outputs["user_names"] = sorted(still.users)
        outputs["group_names"] = sorted(still.groups)
        # Stored state always carries the resolved project and region, but only what differs from
        # the provider's defaults was declared: stored as inputs, the defaulted ones would show as
        # removed inputs (`- project_id`) in the next preview.
        defaults = {"project_id": (settings := self.process.settings()).project_id, "region": settings.region}
        inputs = {
            key: outputs[key]
            for key in spec.as_inputs()
            if key not in defaults or outputs[key] != defaults[key]
        }
        return ReadResult(id_=id_, outs=outputs, inputs=inputs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self.process.declarations.touch()
        spec = _as_spec(props)
        _reported("cancelling IAM principals", spec.cluster_id, lambda: self._delete(id_, spec))

    def _delete(self, id_: str, spec: SyncSpec) -> None:
        call = ResourceCall(self.process, spec, owner=id_)
        with contextlib.suppress(ClusterNotFoundError):  # the cluster is gone, and its principals with it
            call.converge(cancel=declared(spec), wants_outcome=False)
        self.process.declarations.withdraw(id_)


LIFECYCLE: Final = Lifecycle()
