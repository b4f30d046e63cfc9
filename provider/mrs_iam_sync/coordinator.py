"""One IAM-sync task at a time per cluster, shared by every lifecycle call that waits for it.

The API runs one task per cluster, and real tasks take seconds to minutes, so what decides how
long ``pulumi up`` takes is how many tasks run one after another. Each cluster therefore gets a
coordinator whose worker thread runs *rounds*: it gathers what the waiting calls ask for (a round
starts once the engine has been quiet for a moment, so a program's burst of resources lands in
one round), then sends all their cancels as one DELETE and all their syncs as one POST (lists
split at the API's 1000 names), waits for the task, and reads the cluster back once for all of
them. Each call then judges its own principals from that one read-back.

The rule of the revocation issue holds inside a round too: a principal that one call syncs and
another cancels (a user moving between resources) is synced and not cancelled, and nothing a live
resource of the deployment declares is cancelled at all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from mrs_iam_sync.budget import MIN_REQUEST_SECONDS, Budget
from mrs_iam_sync.client import MrsClient
from mrs_iam_sync.declarations import Declarations
from mrs_iam_sync.errors import OperationTimeoutError, SyncInProgressError, SyncTimeoutError
from mrs_iam_sync.models import CancelSyncRequest, UpdateSyncRequest
from mrs_iam_sync.principals import NOBODY, Principals
from mrs_iam_sync.status import Awaited, ClusterWaits, StatusBoard
from mrs_iam_sync.target import ClusterRef

logger = logging.getLogger("mrs_iam_sync.coordinator")

GATHER_QUIET_SECONDS: Final = 0.05
"""A round starts once no lifecycle call has begun for this long: a program's resources, or the
next wave the engine lets through after a task, arrive in a burst milliseconds apart, so one round
takes them all."""
GATHER_WORTH_SECONDS: Final = 0.5
"""Rounds gather only when this cluster's last round took at least this long (and always its first
round): with slow tasks, one more round costs a whole task; with quick ones, waiting costs more."""
SETTLE_QUIET_SECONDS: Final = 0.15
"""A round deciding an update's cancels waits longer: what it protects is access, not time."""
GATHER_MAX_SECONDS: Final = 0.6
"""...and no round waits longer than this for the burst to end."""
POLL_INITIAL_SECONDS: Final = 0.2
POLL_MAX_SECONDS: Final = 1.0
"""Polling a running task: the cap bounds how late its end is noticed, at one GET per second."""
ROUND_OVERRUN_SECONDS: Final = 1.0
"""How long a call whose budget ran out still listens for its round's own verdict."""
ROUND_RESTARTS: Final = 5
"""How often a round starts over after finding a task it did not start (409): each waits for it."""


@dataclass(frozen=True)
class Outcome:
    """What a round leaves for its calls: the cluster's synced set and completion flag afterwards."""

    synced: Principals | None
    complete: bool | None


@dataclass(eq=False)
class Ask:
    """One lifecycle call's wish for the next round, and what the round did for it."""

    owner: str
    budget: Budget
    urn: str | None = None
    """The resource this call serves, for its status while it waits (``engine.current_urn``)."""
    sync: Principals = NOBODY
    cancel: Callable[[], Principals] = Principals
    """Evaluated when the round runs: a roll-back cancels what an earlier round attempted."""
    full_sync: bool = False
    wait: bool = True
    wants_outcome: bool = True
    settle_first: bool = False
    """Wait for a running task to end before deciding: a roll-back must see what that task brought."""
    settle_declarations: bool = False
    """Gather before deciding: an update's cancels, since a neighbour taking them over may not be
    diffed yet (the engine diffs every resource before any delete, not before every update)."""
    attempted: Principals = NOBODY
    """What a sync task was requested for on this call's behalf (sent, whether or not answered)."""
    cancelled: Principals = NOBODY
    kept: Principals = NOBODY
    """Cancels left out because another live resource still declares them."""
    started_task: bool = False
    outcome: Outcome | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class _StartOver(Exception):
    """A task this round did not start was running: the round waited for it and begins again."""


def _private_copy(error: BaseException) -> BaseException:
    """One round's failure reaches several calls; each gets its own copy, so notes do not mix."""
    clone = BaseException.__new__(type(error))
    clone.__dict__.update(error.__dict__)
    clone.args = error.args
    if hasattr(error, "__notes__"):
        clone.__notes__ = list(error.__notes__)
    return clone


class ClusterCoordinator:
    """The rounds of one cluster; ``run`` is called from any number of provider threads at once."""

    def __init__(
        self,
        cluster: ClusterRef,
        client: MrsClient,
        declarations: Declarations,
        *,
        status: StatusBoard | None = None,
    ) -> None:
        self.cluster = cluster
        self.client = client
        self._declarations = declarations
        self._lock = threading.Lock()
        self._pending: list[Ask] = []
        self._worker: threading.Thread | None = None
        self._last_round_seconds: float | None = None
        """None before the first round, which always gathers."""
        # Status while waiting: the only state of it here, set by the worker for its own use.
        silent = StatusBoard(clock=time.monotonic, send=lambda _urn, _text: None)
        self._waits = ClusterWaits(status or silent, cluster.cluster_id)
        self._round_asks: list[Ask] = []
        self._task = Awaited.RUNNING_TASK

    # -- the calls' side ---------------------------------------------------------------------------

    def run(self, ask: Ask) -> Outcome:
        """Queue ``ask`` for the next round and wait for that round, within the ask's own budget."""
        self._waits.queued(ask.urn)
        try:
            return self._run(ask)
        finally:
            self._waits.ended(ask.urn)

    def _run(self, ask: Ask) -> Outcome:
        with self._lock:
            self._pending.append(ask)
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._work, name=f"mrs-iam-sync {self.cluster.cluster_id}", daemon=True
                )
                self._worker.start()
        if not ask.done.wait(timeout=ask.budget.remaining()):
            with self._lock:
                never_started = ask in self._pending
                if never_started:
                    self._pending.remove(ask)
            # A round runs on its most patient member's budget, at least this one's: when that ran
            # out too, the round's own failure says best what was still going on.
            if never_started or not ask.done.wait(timeout=ROUND_OVERRUN_SECONDS):
                raise SyncTimeoutError(
                    cluster_id=self.cluster.cluster_id, waited=ask.budget.seconds, ours=not never_started
                )
        if ask.error is not None:
            raise _private_copy(ask.error)
        assert ask.outcome is not None
        return ask.outcome

    # -- the worker's side -------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._lock:
                settle = any(ask.settle_declarations for ask in self._pending)
                last = self._last_round_seconds
            if settle or last is None or last >= GATHER_WORTH_SECONDS:
                quiet = SETTLE_QUIET_SECONDS if settle else GATHER_QUIET_SECONDS
                self._declarations.wait_until_quiet(quiet=quiet, at_most=GATHER_MAX_SECONDS)
            with self._lock:
                batch, self._pending = self._pending, []
                if not batch:
                    self._worker = None
                    return
            started = time.monotonic()
            try:
                self._round(batch)
            except BaseException as exc:  # every waiting call must hear of it, whatever it is
                for ask in batch:
                    ask.error = exc
            finally:
                with self._lock:
                    self._last_round_seconds = time.monotonic() - started
                for ask in batch:
                    ask.done.set()

    def _round(self, batch: list[Ask]) -> None:
        # The round may run as long as its most patient member; the others stop waiting on their own.
        budget = max((ask.budget for ask in batch), key=lambda each: each.ends_at)
        self._round_asks = batch
        for _ in range(ROUND_RESTARTS):
            try:
                self._try_round(batch, budget)
                return
            except _StartOver:
                continue
        raise SyncInProgressError(
            status=409,
            code="MRS.0409",
            message=f"other IAM-sync tasks kept starting on cluster {self.cluster.cluster_id}",
        )

    def _try_round(self, batch: list[Ask], budget: Budget) -> None:
        where = self.cluster.address
        if any(ask.settle_first for ask in batch):
            self._wait_until_idle(budget, ours=True)
        synced = Principals.synced(self.client.show_sync_iam_user(where, budget=budget))
        syncing = Principals.union(ask.sync for ask in batch)
        cancels = Principals()
        for ask in batch:
            wanted = ask.cancel() & synced
            ask.kept = wanted & self._declarations.declared_by_others(self.cluster, owner=ask.owner)
            # Moving a principal between resources of one round: it is synced, never cancelled.
            ask.cancelled = wanted - ask.kept - syncing
            cancels = cancels | ask.cancelled
        full_sync = any(ask.full_sync for ask in batch)
        to_sync = syncing - synced
        for ask in batch:
            ask.attempted = ask.attempted | (ask.sync & to_sync)
        logger.debug(
            "round on %s: %d calls, cancel [%s], sync [%s]%s",
            self.cluster.cluster_id,
            len(batch),
            cancels.describe(),
            to_sync.describe(),
            ", full sync" if full_sync else "",
        )
        bodies: list[UpdateSyncRequest | CancelSyncRequest] = [
            CancelSyncRequest.of(**chunk.names) for chunk in cancels.chunks()
        ]
        if full_sync:
            bodies.append(UpdateSyncRequest.of(is_all_sync=True))
        else:
            bodies += [UpdateSyncRequest.of(**chunk.names) for chunk in to_sync.chunks()]
        for index, body in enumerate(bodies):
            self._start(body, budget, wait_first=index > 0)
        started = bool(bodies)
        for ask in batch:
            ask.started_task = bool(ask.cancelled or (ask.sync & to_sync) or (full_sync and ask.full_sync))
        if started and any(ask.wait for ask in batch):
            self._wait_until_idle(budget, ours=True)
        outcome = Outcome(synced=None, complete=None)
        if any(ask.wants_outcome for ask in batch):
            if started:
                synced = Principals.synced(self.client.show_sync_iam_user(where, budget=budget))
            complete = self.client.list_sync_requirements(where, budget=budget).is_synchronous
            outcome = Outcome(synced=synced, complete=complete)
        for ask in batch:
            ask.outcome = outcome

    def _start(
        self, body: UpdateSyncRequest | CancelSyncRequest, budget: Budget, *, wait_first: bool
    ) -> None:
        """Start one task; a task already running (ours, or someone else's) is waited for first."""
        if wait_first:
            self._wait_until_idle(budget, ours=True)
        where = self.cluster.address
        try:
            if isinstance(body, CancelSyncRequest):
                self.client.cancel_sync_iam_user(where, body, budget=budget)
            else:
                self.client.update_sync_iam_user(where, body, budget=budget)
            self._task = Awaited.CANCEL_TASK if isinstance(body, CancelSyncRequest) else Awaited.SYNC_TASK
        except SyncInProgressError:
            # Someone else's task, or one left by an interrupted run that may be doing our work
            # already: wait for it, then decide the work again from what the cluster shows.
            self._wait_until_idle(budget, ours=False)
            raise _StartOver from None

    def _wait_until_idle(self, budget: Budget, *, ours: bool) -> float:
        asks = self._round_asks
        awaited = self._task if ours else Awaited.FOREIGN_TASK
        self._waits.task((ask.urn for ask in asks), awaited, shared_by=len({ask.owner for ask in asks}))
        return wait_until_idle(self.client, self.cluster, budget=budget, ours=ours)


def wait_until_idle(client: MrsClient, cluster: ClusterRef, *, budget: Budget, ours: bool) -> float:
    """Poll until no task runs on the cluster; return the seconds waited.

    Writes return as soon as a task is dispatched, so anything that reads the synced set
    afterwards waits here first. ``ours`` says whose task is awaited, for the message when the
    budget runs out: the task is known to be running then, so that is what it says, never a
    network problem.
    """
    started = budget.monotonic()
    interval = POLL_INITIAL_SECONDS
    seen_running = False
    while True:
        try:
            running = client.list_sync_status(cluster.address, budget=budget).is_synchronizing
        except OperationTimeoutError:
            if not seen_running:
                raise  # no poll was ever answered: the budget's story, not the task's
            raise SyncTimeoutError(
                cluster_id=cluster.cluster_id, waited=budget.monotonic() - started, ours=ours
            ) from None
        seen_running = running
        waited = budget.monotonic() - started
        if not running:
            return waited
        left = budget.remaining()
        if left < 2 * MIN_REQUEST_SECONDS:  # no room left for one more answered poll
            raise SyncTimeoutError(cluster_id=cluster.cluster_id, waited=waited, ours=ours)
        # Wake up early enough that the last poll still has time to be answered.
        client.sleep(min(interval, left - 1.5 * MIN_REQUEST_SECONDS))
        interval = min(interval * 2, POLL_MAX_SECONDS)
