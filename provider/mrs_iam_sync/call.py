"""``ResourceCall``: one lifecycle call of one resource, with everything it needs and what it did.

It holds the resource's inputs in normal form, its resolved target, its cluster's coordinator and
the one :class:`Budget` its ``timeout_seconds`` grants; converging, reading back, building the
outputs, judging the result and rolling back are its methods, so a lifecycle step reads as a
short sequence of them.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any, Final

from mrs_iam_sync.budget import Budget
from mrs_iam_sync.coordinator import ROUND_OVERRUN_SECONDS, Result
from mrs_iam_sync.errors import MrsError, ProvisioningError, QueuedTimeoutError, SyncTimeoutError
from mrs_iam_sync.inputs import SyncSpec, full_sync_brought, holds
from mrs_iam_sync.planner import Request
from mrs_iam_sync.principals import NOBODY, Principals
from mrs_iam_sync.process import ProviderProcess

ROLL_BACK_MIN_SECONDS: Final = 30.0
ROLL_BACK_MAX_SECONDS: Final = 600.0


def roll_back_grace(spec: SyncSpec) -> float:
    """The time a failed call gets to take back what it brought: as long again as its own budget,
    within 30 s to 10 minutes, so a slow task can still finish and be cancelled, and a failure
    never hangs for long."""
    return min(max(spec.timeout_seconds, ROLL_BACK_MIN_SECONDS), ROLL_BACK_MAX_SECONDS)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def note(text: str) -> None:
    """The provider's stderr reaches the user through the CLI: for what a user should know but did not ask."""
    print(f"mrs-iam-sync: {text}", file=sys.stderr, flush=True)


def named(spec: SyncSpec) -> Principals:
    """The principals a resource names in its lists (none under a full sync)."""
    return Principals.of(spec.user_names, spec.group_names)


def declared(spec: SyncSpec, outputs: Mapping[str, Any] | None = None) -> Principals:
    """What a resource holds on its cluster: its names, and under a full sync what that sync brought."""
    return holds(named(spec), full_sync_brought(outputs or {}), is_all_sync=spec.is_all_sync)


def _private_copy(error: MrsError) -> MrsError:
    """One round's failure reaches several calls; each raises its own copy, so notes do not mix."""
    clone = BaseException.__new__(type(error))
    clone.__dict__.update(error.__dict__)
    clone.args = error.args
    if hasattr(error, "__notes__"):
        clone.__notes__ = list(error.__notes__)
    return clone


def settle(future: Future[Result], budget: Budget, *, cluster_id: str) -> Result:
    """Wait for a request's round within ``budget``; an unstarted request is withdrawn when it runs out."""
    try:
        return future.result(timeout=budget.remaining())
    except TimeoutError:
        if future.cancel():  # never taken into a round: nothing was sent for it
            raise QueuedTimeoutError(cluster_id=cluster_id, waited=budget.seconds) from None
    # A round runs on its most patient member's budget, at least this one's: when that ran out
    # too, the round's own failure says best what was still going on.
    try:
        return future.result(timeout=ROUND_OVERRUN_SECONDS)
    except TimeoutError:
        raise SyncTimeoutError(cluster_id=cluster_id, waited=budget.seconds, ours=True) from None


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


class ResourceCall:
    """One create, update, read or delete of one resource."""

    def __init__(self, process: ProviderProcess, spec: SyncSpec, *, owner: str, urn: str | None) -> None:
        self.process = process
        self.spec = spec
        self.owner = owner
        self.urn = urn
        self.target = process.target(spec)
        self.budget = Budget(spec.timeout_seconds)
        self._futures: list[Future[Result]] = []

    @property
    def cluster_id(self) -> str:
        return self.spec.cluster_id

    def declare(self, principals: Principals) -> None:
        self.process.declarations.declare(self.owner, self.target.cluster, principals)

    def converge(
        self,
        *,
        sync: Principals = NOBODY,
        cancel: Principals = NOBODY,
        full_sync: bool = False,
        wants_outcome: bool = True,
        settle_declarations: bool = False,
    ) -> Result:
        """Have the cluster's next round sync and cancel these, and wait for it (within the budget)."""
        request = Request(
            owner=self.owner,
            sync=sync,
            cancel=cancel,
            full_sync=full_sync,
            wait=self.spec.wait,
            wants_outcome=wants_outcome,
            settle_declarations=settle_declarations,
            budget=self.budget,
            urn=self.urn,
        )
        future = self.process.coordinator(self.target).submit(request)
        self._futures.append(future)
        result = settle(future, self.budget, cluster_id=self.cluster_id)
        self._note_kept(result)
        if result.error is not None:
            raise _private_copy(result.error)
        return result

    def _note_kept(self, result: Result) -> None:
        if result.kept:
            note(
                f"{result.kept.describe()} stay synced on cluster {self.cluster_id}: another resource of "
                "this stack, or a live full sync, still holds them"
            )

    def read_back(self) -> Principals:
        """What the cluster has synced now: one GET, no lock, no round (a refresh)."""
        client = self.process.client(self.target.settings)
        return Principals.synced(client.show_sync_iam_user(self.target.cluster.address, budget=self.budget))

    def outputs(
        self,
        synced: Principals,
        *,
        complete: bool | None,
        synced_at: str | None,
        brought: Principals = NOBODY,
    ) -> dict[str, Any]:
        """The normalized inputs (diff and update see only outputs) plus what the cluster reports."""
        outputs = self.spec.as_inputs()
        outputs.update(
            project_id=self.target.cluster.project_id,
            region=self.target.region,
            synced_user_names=sorted(synced.users),
            synced_group_names=sorted(synced.groups),
            cluster_sync_complete=complete,
            last_synced_at=synced_at,
            full_sync_user_names=sorted(brought.users),
            full_sync_group_names=sorted(brought.groups),
        )
        return outputs

    def outputs_of(
        self, result: Result, *, previous: Mapping[str, Any], brought: Principals
    ) -> dict[str, Any]:
        assert result.synced is not None
        synced_at = now_iso() if result.started_task else previous.get("last_synced_at")
        return self.outputs(result.synced, complete=result.complete, synced_at=synced_at, brought=brought)

    def verify(self, result: Result, wanted: Principals) -> None:
        """Fail, naming every declared principal that did not arrive (the roll-back follows)."""
        if not self.spec.wait:
            return
        assert result.synced is not None
        missing = wanted - result.synced
        if missing:
            raise ProvisioningError(_missing_message(self.spec, missing))

    def roll_back(self, before: Principals) -> str | None:
        """Cancel again what this call's tasks brought, within a grace period of its own; say what the
        cluster holds afterwards, compared with ``before`` (what the stack's state still declares).

        A failed create or update is never recorded in state: principals it synced would stay on
        the cluster with no resource owning them. The call's own budget may be what ran out, so the
        roll-back gets a fresh one. Returns None when nothing was ever sent for this call.
        """
        grace = Budget(roll_back_grace(self.spec))
        results: list[Result] = []
        for future in self._futures:
            if future.cancelled():
                continue
            try:
                results.append(future.result(timeout=grace.remaining()))
            except TimeoutError:
                return (
                    f"Its round on cluster {self.cluster_id} was still running after the "
                    f"{grace.seconds:g} s grace period, so what it synced could not be cancelled again: "
                    "check with `mrs-iam-sync show`, then cancel or declare what you find"
                )
        attempted = Principals.union(result.attempted for result in results)
        if not attempted and not any(result.cancelled for result in results):
            return None  # nothing this call sent changed the cluster; its own error says what happened
        request = Request(owner=self.owner, cancel=attempted, settle_first=True, budget=grace, urn=self.urn)
        try:
            result = settle(
                self.process.coordinator(self.target).submit(request), grace, cluster_id=self.cluster_id
            )
            if result.error is not None:
                raise result.error
        except MrsError as exc:
            return (
                f"Cancelling what this run had synced ({attempted.describe() or 'nothing'}) did not finish "
                f"within the {grace.seconds:g} s grace period ({exc}): they may stay synced on cluster "
                f"{self.cluster_id} with no resource owning them; check with `mrs-iam-sync show`, then "
                "cancel or declare them"
            )
        self._note_kept(result)
        assert result.synced is not None
        return _after_failure(self.cluster_id, before, attempted, result)


def _after_failure(cluster_id: str, before: Principals, attempted: Principals, result: Result) -> str:
    """What the cluster holds after a failed call's roll-back, read back, never assumed."""
    assert result.synced is not None
    lost = before - result.synced
    stayed = (attempted & result.synced) - result.kept
    parts = []
    if result.cancelled:
        parts.append(
            f"The principals this run did sync ({result.cancelled.describe()}) were cancelled again."
        )
    if stayed:
        parts.append(
            f"{stayed.describe()} could not be cancelled again and stay synced with no resource owning them."
        )
    if lost:
        parts.append(
            f"{lost.describe()} are no longer synced on cluster {cluster_id} although the stack's state "
            "still declares them: run `pulumi refresh`, then `pulumi up`, to sync them again."
        )
    elif before:
        parts.append(
            f"Cluster {cluster_id} holds everything the stack's state declares for this resource "
            f"({before.describe()})."
        )
    else:
        parts.append(f"Nothing this run sent stays on cluster {cluster_id}.")
    return " ".join(parts)
