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
import functools
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final, TypeVar, cast

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    UpdateResult,
)

from mrs_iam_sync.call import ResourceCall, declared, named
from mrs_iam_sync.engine import current_urn
from mrs_iam_sync.errors import ClusterNotFoundError, MrsError, ProvisioningError
from mrs_iam_sync.inputs import (
    INPUT_NAMES,
    REPLACE_ON,
    SyncSpec,
    full_sync_brought,
    parse_inputs,
    sketch,
    unknown_inputs,
)
from mrs_iam_sync.principals import NOBODY, Principals
from mrs_iam_sync.process import ProviderProcess, stack_config_of
from mrs_iam_sync.server_threads import lift_worker_ceiling
from mrs_iam_sync.settings import Settings
from mrs_iam_sync.unknowns import to_wire

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


def _replacing_changes(
    old: SyncSpec, olds: Mapping[str, Any], cluster_id: str, settings: Settings
) -> list[str]:
    """The replacing inputs whose effective value changes (the provider's default resolved on both sides)."""
    new_effective = {"cluster_id": cluster_id, "project_id": settings.project_id, "region": settings.region}
    old_effective = {
        "cluster_id": old.cluster_id,
        "project_id": olds.get("project_id"),
        "region": olds.get("region"),
    }
    return [key for key in REPLACE_ON if new_effective[key] != old_effective[key]]


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
def _rolled_back_on_failure(call: ResourceCall, *, before: Principals) -> Iterator[None]:
    """On failure, take back what this call brought and say what the cluster holds."""
    try:
        yield
    except MrsError as failure:
        summary = call.roll_back(before)
        if summary is not None:
            failure.add_note(summary)
        raise


Method = TypeVar("Method", bound=Callable[..., Any])


def _engine_call(method: Method) -> Method:
    """Every call from the engine: it tells the rounds that the engine is still busy (gathering)."""

    @functools.wraps(method)
    def wrapper(self: Lifecycle, *args: Any) -> Any:
        self.process.declarations.touch()
        return method(self, *args)

    return cast(Method, wrapper)


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

    @_engine_call
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        spec, problems = parse_inputs(news)
        failures = [CheckFailure(p.property, p.reason) for p in problems]
        if spec is not None:
            # Settings are local (no API call): a missing credential fails the preview, not the first `up`.
            _reported("checking provider settings", spec.cluster_id, lambda: self.process.target(spec))
            return CheckResult(spec.as_inputs(), failures)
        if not failures:
            # Some inputs are not known before `pulumi up` (a cluster created in the same program):
            # what is known, the provider settings included, is still checked now.
            known = sketch(news)
            _reported(
                "checking provider settings",
                known.cluster.label(),
                lambda: self.process.settings_for(known.cluster),
            )
        return CheckResult(to_wire(news), failures)

    @_engine_call
    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        new, _ = parse_inputs(news)
        old = _as_spec(olds)
        if new is None:
            return self._diff_with_unknowns(old, olds, news)
        target = _reported("reading provider settings", new.cluster_id, lambda: self.process.target(new))
        # The engine diffs every resource the program still declares before any delete runs.
        self.process.declarations.declare(id_, target.cluster, declared(new, olds))
        replaces = _replacing_changes(old, olds, new.cluster_id, target.settings)
        changed = [key for key in UPDATE_ON if getattr(new, key) != getattr(old, key)]
        return DiffResult(changes=bool(replaces or changed), replaces=replaces, delete_before_replace=False)

    def _diff_with_unknowns(
        self, old: SyncSpec, olds: Mapping[str, Any], news: Mapping[str, Any]
    ) -> DiffResult:
        """A preview where some inputs are not known yet: replace if a replacing one is, else update."""
        unknown = unknown_inputs(news)
        known = sketch(news)
        replaces: list[str] = [key for key in REPLACE_ON if key in unknown]
        if not replaces and known.cluster.cluster_id is not None:
            settings = _reported(
                "reading provider settings",
                known.cluster.cluster_id,
                lambda: self.process.settings_for(known.cluster),
            )
            replaces = _replacing_changes(old, olds, known.cluster.cluster_id, settings)
        changed = [
            key
            for key in UPDATE_ON
            if key in unknown or (key in news and to_wire(news[key]) != getattr(old, key))
        ]
        return DiffResult(
            changes=True if replaces or unknown else bool(changed),
            replaces=replaces,
            delete_before_replace=False,
        )

    @_engine_call
    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = _as_spec(props)
        return _reported("syncing IAM principals", spec.cluster_id, lambda: self._create(spec))

    def _create(self, spec: SyncSpec) -> CreateResult:
        call = ResourceCall(self.process, spec, owner=f"create:{uuid.uuid4().hex}", urn=current_urn())
        wanted = named(spec)
        call.declare(wanted)
        try:
            with _rolled_back_on_failure(call, before=NOBODY):
                result = call.converge(sync=wanted, full_sync=spec.is_all_sync)
                call.verify(result, wanted)
        except BaseException:
            self.process.declarations.withdraw(call.owner)
            raise
        assert result.synced is not None
        # A full sync owns what its own round read back: nothing of it is cancelled while it lives.
        brought = result.synced if spec.is_all_sync else NOBODY
        call.declare(wanted | brought)
        outputs = call.outputs_of(result, previous={}, brought=brought)
        resource_id = f"{call.target.cluster.project_id}/{spec.cluster_id}/{uuid.uuid4().hex[:12]}"
        self.process.declarations.rename(call.owner, resource_id)
        return CreateResult(resource_id, outputs)

    @_engine_call
    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        old, new = _as_spec(olds), _as_spec(news)
        return _reported("updating IAM principals", new.cluster_id, lambda: self._update(id_, old, new, olds))

    def _update(self, id_: str, old: SyncSpec, new: SyncSpec, olds: Mapping[str, Any]) -> UpdateResult:
        call = ResourceCall(self.process, new, owner=id_, urn=current_urn())
        before, after = declared(old, olds), named(new)
        previously_brought = full_sync_brought(olds) if old.is_all_sync and new.is_all_sync else NOBODY
        call.declare(after | previously_brought)
        # Switching a full sync on cancels nothing: the full sync brings every name back anyway.
        cancel = NOBODY if new.is_all_sync else named(old) - after
        if cancel:
            self.process.declarations.prefetch(call.urn)
        full_sync = new.is_all_sync and not old.is_all_sync
        with _rolled_back_on_failure(call, before=before):
            result = call.converge(
                sync=after, cancel=cancel, full_sync=full_sync, settle_declarations=bool(cancel)
            )
            call.verify(result, after)
            if result.held_back:
                raise ProvisioningError(
                    f"the cancels of this update were not sent ({cancel.describe()}): its time ran out first"
                )
        assert result.synced is not None
        brought = result.synced if full_sync else previously_brought
        call.declare(after | brought)
        return UpdateResult(call.outputs_of(result, previous=olds, brought=brought))

    @_engine_call
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        spec = _as_spec(props)
        return _reported("reading IAM principals", spec.cluster_id, lambda: self._read(id_, spec, props))

    def _read(self, id_: str, spec: SyncSpec, props: Mapping[str, Any]) -> ReadResult:
        call = ResourceCall(self.process, spec, owner=id_, urn=current_urn())
        try:
            synced = call.read_back()
        except ClusterNotFoundError:
            return ReadResult(id_="", outs={})
        brought = full_sync_brought(props) if spec.is_all_sync else NOBODY
        outputs = call.outputs(
            synced,
            complete=props.get("cluster_sync_complete"),
            synced_at=props.get("last_synced_at"),
            brought=brought,
        )
        # A declared principal that is gone shows as drift: the stored inputs lose it, the program still
        # declares it, so the next `pulumi up` syncs it again.
        still = named(spec) & synced
        outputs["user_names"] = sorted(still.users)
        outputs["group_names"] = sorted(still.groups)
        # A full sync whose principals went missing reads back as switched off, so that the next
        # preview shows an update and `pulumi up` runs the full sync again.
        if spec.is_all_sync and not brought <= synced:
            outputs["is_all_sync"] = False
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

    @_engine_call
    def delete(self, id_: str, props: dict[str, Any]) -> None:
        spec = _as_spec(props)
        _reported("cancelling IAM principals", spec.cluster_id, lambda: self._delete(id_, spec, props))

    def _delete(self, id_: str, spec: SyncSpec, props: Mapping[str, Any]) -> None:
        call = ResourceCall(self.process, spec, owner=id_, urn=current_urn())
        self.process.declarations.prefetch(call.urn)
        # From now on this resource declares nothing: another delete in flight may cancel what both held.
        self.process.declarations.withdraw(id_)
        try:
            with contextlib.suppress(ClusterNotFoundError):  # the cluster is gone, and its principals with it
                # A full sync has no owner: deleting it cancels nothing.
                call.converge(cancel=named(spec), wants_outcome=False)
        except BaseException:
            call.declare(declared(spec, props))  # it stays in state, so it still declares
            raise


LIFECYCLE: Final = Lifecycle()
