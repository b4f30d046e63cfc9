"""What one round on one cluster sends, decided without I/O, threads or a clock.

A round takes the requests of every lifecycle call waiting for a cluster and runs in two steps:
first the syncs (one POST, or a full sync), then, once their task has ended and the cluster has
been read back, the cancels (one DELETE). Syncing first means a sync that fails never takes
anything away: a request's cancels are sent only when everything it syncs has arrived.

The rules that decide access live here and nowhere else; the coordinator executes these plans
and ``mrs-iam-sync plan`` calls the same functions on what a preview shows:

* a principal that another live resource declares on the cluster is never cancelled (``protected``);
* a principal that any request of the round syncs is never cancelled by another (a move);
* while a full sync is part of the round, nothing it brought back is cancelled;
* a request whose own syncs did not all arrive, or whose time ran out, cancels nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from mrs_iam_sync.budget import Budget
from mrs_iam_sync.principals import NOBODY, Principals

_UNBOUNDED: Final = Budget(float("inf"))


@dataclass(frozen=True)
class Request:
    """What one lifecycle call asks of its cluster's next round; never changed once made."""

    owner: str
    """The resource id (or a create's temporary owner): what others' declarations are keyed by."""
    sync: Principals = NOBODY
    cancel: Principals = NOBODY
    full_sync: bool = False
    wait: bool = True
    """Wait for the round's last task and read the cluster back (``wait: false`` skips both)."""
    wants_outcome: bool = True
    settle_first: bool = False
    """Wait for a running task before deciding: a roll-back must see what that task brought."""
    settle_declarations: bool = False
    """Gather longer before the round: its cancels depend on what neighbours declare."""
    budget: Budget = _UNBOUNDED
    """The call's ``timeout_seconds``: its cancels are not sent once it has run out."""
    urn: str | None = None


@dataclass(frozen=True)
class SyncStep:
    """The first half of a round: what the POST asks for, and on whose behalf."""

    names: Principals
    full_sync: bool
    attempted: Mapping[str, Principals] = field(default_factory=dict)
    """Owner -> the names the POST requests for it (not synced before the round)."""

    @property
    def sends(self) -> bool:
        return bool(self.names) or self.full_sync


@dataclass(frozen=True)
class CancelStep:
    """The second half: the DELETE, and per owner what it cancels and what it keeps."""

    names: Principals
    cancelled: Mapping[str, Principals] = field(default_factory=dict)
    kept: Mapping[str, Principals] = field(default_factory=dict)
    """Owner -> names it asked to cancel that stay, because something else still holds them."""
    held_back: frozenset[str] = frozenset()
    """Owners whose cancels were not sent: their syncs did not all arrive, or their time ran out."""

    @property
    def sends(self) -> bool:
        return bool(self.names)


def plan_sync(requests: Sequence[Request], synced: Principals) -> SyncStep:
    """The POST of a round: every name asked for that the cluster does not have yet, or a full sync."""
    asked = Principals.union(request.sync for request in requests)
    names = asked - synced
    return SyncStep(
        names=names,
        full_sync=any(request.full_sync for request in requests),
        attempted={request.owner: request.sync & names for request in requests},
    )


def cleared_to_cancel(request: Request, synced: Principals, *, now: float) -> bool:
    """A request's cancels go out only once its own syncs are on the cluster and while it still waits."""
    return request.sync <= synced and now < request.budget.ends_at


def plan_cancel(
    requests: Sequence[Request],
    synced: Principals,
    protected: Callable[[str], Principals],
    *,
    now: float = 0.0,
) -> CancelStep:
    """The DELETE of a round, decided on the cluster's state after its syncs.

    ``synced`` is what the cluster has once the sync step ended; ``protected(owner)`` is everything
    that other live resources hold on this cluster (their declarations, and what their full syncs
    brought).
    """
    syncing = Principals.union(request.sync for request in requests)
    full_sync = any(request.full_sync for request in requests)
    held_back = frozenset(
        request.owner
        for request in requests
        if request.cancel and not cleared_to_cancel(request, synced, now=now)
    )
    cancelled: dict[str, Principals] = {}
    kept: dict[str, Principals] = {}
    for request in requests:
        if request.owner in held_back:
            continue
        wanted = request.cancel & synced
        # A full sync in the same round brought (or kept) everything the cluster has: it covers it.
        stays = protected(request.owner) | syncing | (synced if full_sync else NOBODY)
        kept[request.owner] = wanted & stays
        cancelled[request.owner] = wanted - stays
    return CancelStep(
        names=Principals.union(cancelled.values()),
        cancelled=cancelled,
        kept=kept,
        held_back=held_back,
    )
