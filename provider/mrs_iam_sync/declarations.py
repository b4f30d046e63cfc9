"""What the resources of this deployment declare, per cluster: the rule that keeps live access.

A principal that a live resource of the same deployment still declares on a cluster is never
cancelled there, whoever asks. The engine calls ``diff``, ``create`` or ``update`` for every
resource the program declares before it deletes replaced and removed resources, so by the time a
delete runs, this registry holds everything still declared; one rule then covers a replacement
that lands on the same cluster (``--replace`` or a change of region with a pinned endpoint), two
resources declaring one principal, and a principal moving from one resource to another.

Updates are different: the engine runs one resource's update while it may not yet have diffed the
resource declared next. Cancels are decided by a cluster's coordinator only once the engine has
been quiet for a moment (:meth:`Declarations.wait_until_quiet`): a program registers its resources
in one burst, and this closes the gap between one resource's update and its neighbours' diffs.

Across stacks, or across resources that a deployment does not diff (``--target``), nothing can be
known: the README says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from mrs_iam_sync.principals import Principals
from mrs_iam_sync.target import ClusterRef


class Declarations:
    """Owner (a resource id, or a create in flight) -> the principals it declares on one cluster."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._changed = threading.Condition()
        self._by_owner: dict[str, tuple[ClusterRef, Principals]] = {}
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
            self._last_activity = self._monotonic()
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

    def clear(self) -> None:
        with self._changed:
            self._by_owner.clear()
