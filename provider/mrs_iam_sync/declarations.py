"""What the resources of this deployment declare, per cluster: the rule that keeps live access.

A principal that a live resource of the same deployment still declares on a cluster is never
cancelled there, whoever asks. The engine calls ``diff``, ``create`` or ``update`` for every
resource the program declares before it deletes replaced and removed resources, so by the time a
delete runs, this registry holds everything still declared; one rule then covers a replacement
that lands on the same cluster (``--replace`` or a change of region with a pinned endpoint), two
resources declaring one principal, and a principal moving from one resource to another.

Updates are different: the engine runs one resource's update while it may not yet have diffed the
resource declared next, so a cancel inside an update first waits until declarations have been quiet
for a moment (:meth:`Declarations.wait_until_quiet`): a program registers its resources in one
burst, and this closes the gap between one resource's update and its neighbours' diffs.

Across stacks, or across resources that a deployment does not diff (``--target``), nothing can be
known: the README says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

from mrs_iam_sync.operations import ClusterRef, Deadline, Principals

QUIET_SECONDS: Final = 0.3
"""How long no resource may have been declared before an update's cancel goes out.

Far longer than the milliseconds between two registrations of one program, and paid only by
updates that remove principals.
"""


class Declarations:
    """Owner (a resource id, or a create in flight) -> the principals it declares on one cluster."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._changed = threading.Condition()
        self._by_owner: dict[str, tuple[ClusterRef, Principals]] = {}
        self._last_declared = monotonic()

    def declare(self, owner: str, cluster: ClusterRef, principals: Principals) -> None:
        """Record (or replace) what ``owner`` declares; the latest call for an owner wins."""
        with self._changed:
            self._by_owner[owner] = (cluster, principals)
            self._last_declared = self._monotonic()
            self._changed.notify_all()

    def rename(self, owner: str, new_owner: str) -> None:
        """A create that succeeded declares under the id the engine will use from now on."""
        with self._changed:
            if owner in self._by_owner:
                self._by_owner[new_owner] = self._by_owner.pop(owner)

    def withdraw(self, owner: str) -> None:
        """Forget ``owner``: a failed create or a deleted resource declares nothing any more."""
        with self._changed:
            self._by_owner.pop(owner, None)

    def declared_by_others(self, cluster: ClusterRef, *, owner: str) -> Principals:
        """Everything declared on ``cluster`` by any owner but ``owner``."""
        with self._changed:
            held = [
                principals
                for other, (where, principals) in self._by_owner.items()
                if other != owner and where == cluster
            ]
        return Principals.union(held)

    def wait_until_quiet(self, deadline: Deadline, *, quiet: float = QUIET_SECONDS) -> None:
        """Return once no declaration arrived for ``quiet`` seconds, or when the deadline is near."""
        with self._changed:
            while True:
                left_quiet = quiet - (self._monotonic() - self._last_declared)
                if left_quiet <= 0 or deadline.remaining() <= left_quiet:
                    return
                self._changed.wait(timeout=left_quiet)

    def clear(self) -> None:
        with self._changed:
            self._by_owner.clear()
