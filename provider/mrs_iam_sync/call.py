"""``ResourceCall``: one lifecycle call of one resource, with everything it needs and what it did.

It holds the resource's inputs in normal form, its resolved target, its cluster's coordinator and
the one :class:`Budget` its ``timeout_seconds`` grants; converging, reading back, building the
outputs, judging the result and rolling back are its methods, so a lifecycle step reads as a
short sequence of them.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from mrs_iam_sync.budget import Budget
from mrs_iam_sync.coordinator import Ask, Outcome
from mrs_iam_sync.engine import current_urn
from mrs_iam_sync.errors import MrsError, ProvisioningError
from mrs_iam_sync.inputs import SyncSpec
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


def declared(spec: SyncSpec) -> Principals:
    return Principals.of(spec.user_names, spec.group_names)


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

    def __init__(self, process: ProviderProcess, spec: SyncSpec, *, owner: str) -> None:
        self.process = process
        self.spec = spec
        self.owner = owner
        self.target = process.target(spec)
        self.budget = Budget(spec.timeout_seconds)
        self._asks: list[Ask] = []

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
    ) -> Ask:
        """Have the cluster's next round sync and cancel these, and wait for it (within the budget)."""
        ask = Ask(
            owner=self.owner,
            budget=self.budget,
            urn=current_urn(),
            sync=sync,
            cancel=lambda: cancel,
            full_sync=full_sync,
            wait=self.spec.wait,
            wants_outcome=wants_outcome,
            settle_declarations=settle_declarations,
        )
        self._asks.append(ask)
        self.process.coordinator(self.target).run(ask)
        if ask.kept:
            note(
                f"{ask.kept.describe()} stay synced on cluster {self.cluster_id}: another resource of "
                "this deployment still declares them"
            )
        return ask

    def read_back(self) -> Principals:
        """What the cluster has synced now: one GET, no lock, no round (a refresh)."""
        client = self.process.client(self.target.settings)
        return Principals.synced(client.show_sync_iam_user(self.target.cluster.address, budget=self.budget))

    def outputs(self, synced: Principals, *, complete: bool | None, synced_at: str | None) -> dict[str, Any]:
        """The normalized inputs (diff and update see only outputs) plus what the cluster reports."""
        outputs = self.spec.as_inputs()
        outputs.update(
            project_id=self.target.cluster.project_id,
            region=self.target.region,
            synced_user_names=sorted(synced.users),
            synced_group_names=sorted(synced.groups),
            cluster_sync_complete=complete,
            last_synced_at=synced_at,
        )
        return outputs

    def outputs_of(self, ask: Ask, *, previous: Mapping[str, Any]) -> dict[str, Any]:
        outcome: Outcome | None = ask.outcome
        assert outcome is not None and outcome.synced is not None
        synced_at = now_iso() if ask.started_task else previous.get("last_synced_at")
        return self.outputs(outcome.synced, complete=outcome.complete, synced_at=synced_at)

    def verify(self, ask: Ask, wanted: Principals) -> None:
        """Fail, naming every declared principal that did not arrive (the roll-back follows)."""
        if not self.spec.wait:
            return
        assert ask.outcome is not None and ask.outcome.synced is not None
        missing = wanted - ask.outcome.synced
        if missing:
            raise ProvisioningError(_missing_message(self.spec, missing))

    @property
    def attempted(self) -> Principals:
        return Principals.union(ask.attempted for ask in self._asks)

    def roll_back(self) -> str | None:
        """Cancel again what this call's tasks brought, within a grace period of its own; say how it went.

        A failed create or update is never recorded in state: principals it synced would stay on
        the cluster with no resource owning them. The call's own budget may be what ran out, so the
        roll-back gets a fresh one; what it could not finish is named. Returns None when nothing was
        ever requested for this call, so there is nothing to take back.
        """
        grace = Budget(roll_back_grace(self.spec))
        # A round this call stopped waiting for may still be sending for it: let it finish first.
        for ask in self._asks:
            ask.done.wait(timeout=grace.remaining())
        unsettled = any(not ask.done.is_set() for ask in self._asks)
        if not (self.attempted or unsettled):
            return None
        ask = Ask(
            owner=self.owner,
            budget=grace,
            urn=current_urn(),
            # Decided when the round runs: by then every earlier round of this call has ended.
            cancel=lambda: self.attempted,
            wants_outcome=False,
            settle_first=True,
        )
        try:
            self.process.coordinator(self.target).run(ask)
        except MrsError as exc:
            return (
                f"Cancelling what this run had synced ({self.attempted.describe() or 'unknown yet'}) did "
                f"not finish within the {grace.seconds:g} s grace period ({exc}): they may stay synced on "
                f"cluster {self.cluster_id} with no resource owning them; check with `mrs-iam-sync show`, "
                "then cancel or declare them"
            )
        if ask.kept:
            note(
                f"{ask.kept.describe()} stay synced on cluster {self.cluster_id}: another resource of "
                "this deployment still declares them"
            )
        if not ask.cancelled:
            return "Nothing this run started had arrived, so the cluster is as it was."
        return (
            f"The principals this run did sync ({ask.cancelled.describe()}) were cancelled again, "
            "so the cluster is as it was."
        )
