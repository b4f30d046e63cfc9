"""What the resources of this stack declare, per cluster: the rule that keeps live access.

A principal that another live resource of the stack declares on a cluster is never cancelled
there, whoever asks. Two sources say what is declared:

* this run's **registry**: the engine calls ``diff``, ``create`` or ``update`` for every resource
  the program declares before it deletes replaced and removed resources, and each such call
  records what its resource declares (a delete records that it declares nothing any more);
* the stack's **checkpoint** (:mod:`mrs_iam_sync.checkpoint`), for resources this run never saw:
  a targeted run (``--target``, ``--exclude``) does not diff them, yet they still declare what
  their state says. It is read only when the registry alone would let a cancel through.

A live full-sync resource declares what its own full sync brought (recorded in its outputs), so
nothing it brought is cancelled by another resource while it lives.

Updates are decided once the engine has been quiet for a moment (:meth:`Declarations.wait_until_quiet`):
a program registers its resources in one burst, and that closes most of the gap between one
resource's update and its neighbours' diffs. A resource registered much later (its inputs wait
for another resource) is not seen in time: the README states that limit.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

from mrs_iam_sync.checkpoint import CheckpointSource, StoredResource
from mrs_iam_sync.errors import CheckpointUnreadableError, ProtectionUnknownError
from mrs_iam_sync.inputs import Sketch
from mrs_iam_sync.principals import NOBODY, Principals
from mrs_iam_sync.target import ClusterRef

Locate = Callable[[Sketch], ClusterRef]
"""Where a stored resource's calls would go, resolved as the provider resolves a live one."""


class Declarations:
    """Owner (a resource id, or a create in flight) -> what it declares on which cluster."""

    def __init__(
        self, checkpoint: CheckpointSource, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._checkpoint = checkpoint
        self._monotonic = monotonic
        self._changed = threading.Condition()
        self._by_owner: dict[str, tuple[ClusterRef, Principals]] = {}
        self._seen: set[str] = set()
        """Every owner this run recorded, withdrawn ones included: the checkpoint never overrides them."""
        self._last_activity = monotonic()

    def touch(self) -> None:
        """A lifecycle call began: the engine is still busy with the program's resources."""
        with self._changed:
            self._last_activity = self._monotonic()
            self._changed.notify_all()

    def declare(self, owner: str, cluster: ClusterRef, principals: Principals) -> None:
        """Record (or replace) what ``owner`` declares; the latest call for an owner wins."""
        with self._changed:
            self._by_owner[owner] = (cluster, principals)
            self._seen.add(owner)
            self._last_activity = self._monotonic()
            self._changed.notify_all()

    def rename(self, owner: str, new_owner: str) -> None:
        """A create that succeeded declares under the id the engine will use from now on."""
        with self._changed:
            if owner in self._by_owner:
                self._by_owner[new_owner] = self._by_owner.pop(owner)
                self._seen.add(new_owner)

    def withdraw(self, owner: str) -> None:
        """``owner`` declares nothing any more: a failed create, or a resource being deleted."""
        with self._changed:
            self._by_owner.pop(owner, None)
            self._seen.add(owner)

    def prefetch(self, urn: str | None) -> None:
        """A call that may cancel is coming: start reading the checkpoint, so its round need not wait."""
        self._checkpoint.prefetch(urn)

    def warm(self, urn: str | None) -> None:
        """Wait for the checkpoint read (a round about to cancel gathers its neighbours meanwhile)."""
        with contextlib.suppress(CheckpointUnreadableError):
            self._checkpoint.resources(urn)

    def live_holdings(self, cluster: ClusterRef, *, owner: str) -> Principals:
        """What the resources this run has seen, ``owner`` aside, declare on ``cluster``."""
        with self._changed:
            held = [
                principals
                for other, (where, principals) in self._by_owner.items()
                if other != owner and where == cluster
            ]
        return Principals.union(held)

    def held_by_others(
        self, cluster: ClusterRef, *, owner: str, wanted: Principals, urn: str | None, locate: Locate
    ) -> Principals:
        """Everything other resources of the stack hold on ``cluster``, as far as ``wanted`` needs it.

        The checkpoint is read only when this run's registry leaves some of ``wanted`` unprotected;
        raises ProtectionUnknownError when it cannot be read, so that nothing is cancelled blindly.
        """
        live = self.live_holdings(cluster, owner=owner)
        if not wanted - live:
            return live
        try:
            stored = self._checkpoint.resources(urn)
        except CheckpointUnreadableError as exc:
            raise ProtectionUnknownError(
                cluster_id=cluster.cluster_id, names=(wanted - live).describe(), reason=str(exc)
            ) from None
        with self._changed:
            unseen = [resource for resource in stored if resource.resource_id not in self._seen]
        held = [live]
        for resource in unseen:
            if resource.resource_id == owner:
                continue
            held.append(self._stored_holding(resource, cluster, wanted - live, locate))
        return Principals.union(held)

    @staticmethod
    def _stored_holding(
        resource: StoredResource, cluster: ClusterRef, wanted: Principals, locate: Locate
    ) -> Principals:
        declared = resource.declared
        if not resource.readable:
            raise ProtectionUnknownError(
                cluster_id=cluster.cluster_id,
                names=wanted.describe(),
                reason=f"resource {resource.name!r} keeps secret values in the state, which cannot be read",
            )
        if declared.cluster.cluster_id != cluster.cluster_id:
            return NOBODY
        return declared.declares if locate(declared) == cluster else NOBODY

    def wait_until_quiet(self, *, quiet: float, at_most: float) -> None:
        """Return once no lifecycle call began for ``quiet`` seconds, or after ``at_most`` seconds."""
        give_up_at = self._monotonic() + at_most
        with self._changed:
            while True:
                now = self._monotonic()
                left_quiet = quiet - (now - self._last_activity)
                if left_quiet <= 0 or now >= give_up_at:
                    return
                self._changed.wait(timeout=min(left_quiet, give_up_at - now))
