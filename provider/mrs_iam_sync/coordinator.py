"""One IAM-sync task at a time per cluster, shared by every lifecycle call that waits for it.

The API runs one task per cluster, and real tasks take seconds to minutes, so what decides how
long ``pulumi up`` takes is how many tasks run one after another. Each cluster therefore gets a
coordinator that runs *rounds*: every request waiting when a round starts goes into it, the round
executes what :mod:`mrs_iam_sync.planner` decides (the syncs as one POST, then the cancels as one
DELETE, lists split at the API's 1000 names), waits for the tasks, and reads the cluster back once
for all of them. Each call then judges its own principals from that one read-back.

A request is a frozen value and its answer a ``Future``: the thread that runs a round never
changes what a call asked. Rounds run on a worker thread that starts each round once the engine
has been quiet for a moment (so a program's burst of resources lands in one round); tests can
instead run rounds themselves with :meth:`ClusterCoordinator.run_round`, so that what goes into a
round is decided by what is pending, not by a clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Final

from mrs_iam_sync.budget import MIN_REQUEST_SECONDS, Budget
from mrs_iam_sync.client import MrsClient
from mrs_iam_sync.errors import (
    MrsError,
    OperationTimeoutError,
    SyncInProgressError,
    SyncTimeoutError,
)
from mrs_iam_sync.models import CancelSyncRequest, UpdateSyncRequest
from mrs_iam_sync.planner import CancelStep, Request, plan_cancel, plan_sync
from mrs_iam_sync.principals import NOBODY, Principals
from mrs_iam_sync.status import Awaited, ClusterWaits, StatusBoard
from mrs_iam_sync.target import ClusterRef

logger = logging.getLogger("mrs_iam_sync.coordinator")

GATHER_QUIET_SECONDS: Final = 0.05
"""A round starts once no lifecycle call has begun for this long: a program's resources, or the
next wave the engine lets through after a task, arrive in a burst milliseconds apart."""
GATHER_WORTH_SECONDS: Final = 0.5
"""Rounds gather only when this cluster's last round took at least this long (and always its first
round): with slow tasks, one more round costs a whole task; with quick ones, waiting costs more."""
SETTLE_QUIET_SECONDS: Final = 0.15
"""A round deciding cancels waits longer: what it protects is access, not time."""
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
class Result:
    """What a round did for one request, and what the cluster had afterwards."""

    synced: Principals | None = None
    complete: bool | None = None
    attempted: Principals = NOBODY
    """What a sync task was requested for on this request's behalf (sent, whether or not answered)."""
    cancelled: Principals = NOBODY
    kept: Principals = NOBODY
    """Cancels left out because another live resource, or a full sync, still holds them."""
    held_back: bool = False
    """Its cancels were not sent: its syncs did not all arrive, or its time ran out first."""
    started_task: bool = False
    error: MrsError | None = None


Protection = Callable[[Request, Principals], Principals]
"""(request, the names it would cancel) -> what other live resources hold on the cluster; may raise."""


class _StartOver(Exception):
    """A task this round did not start was running: the round waited for it and begins again."""


class _Round:
    """The bookkeeping of one round: what was sent for whom, kept for each request's Result."""

    def __init__(self, requests: Sequence[Request]) -> None:
        self.requests = requests
        self.attempted: dict[str, Principals] = {}
        self.cancel_step = CancelStep(names=NOBODY)
        self.errors: dict[str, MrsError] = {}
        self.synced: Principals | None = None
        self.complete: bool | None = None
        self.full_sync_sent = False

    def result(self, request: Request, error: MrsError | None) -> Result:
        attempted = self.attempted.get(request.owner, NOBODY)
        cancelled = self.cancel_step.cancelled.get(request.owner, NOBODY)
        return Result(
            synced=self.synced,
            complete=self.complete,
            attempted=attempted,
            cancelled=cancelled,
            kept=self.cancel_step.kept.get(request.owner, NOBODY),
            held_back=request.owner in self.cancel_step.held_back,
            started_task=bool(attempted or cancelled or (request.full_sync and self.full_sync_sent)),
            error=self.errors.get(request.owner, error),
        )


class ClusterCoordinator:
    """The rounds of one cluster; ``submit`` is called from any number of provider threads at once."""

    def __init__(
        self,
        cluster: ClusterRef,
        client: MrsClient,
        protection: Protection,
        *,
        quiet: Callable[[float, float], None] | None = None,
        warm: Callable[[str | None], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        autostart: bool = True,
        status: StatusBoard | None = None,
    ) -> None:
        """``quiet(seconds, at_most)`` waits for the engine to go quiet before a round (gathering);
        ``warm(urn)`` waits for what deciding cancels needs (the checkpoint) before a round that
        cancels, so the deletes arriving meanwhile share it; with ``autostart`` off no worker thread
        runs and rounds run only through ``run_round``."""
        self.cluster = cluster
        self.client = client
        self._protection = protection
        self._quiet = quiet
        self._warm = warm
        self._monotonic = monotonic
        self._autostart = autostart
        self._lock = threading.Lock()
        self._pending: list[tuple[Request, Future[Result]]] = []
        self._worker: threading.Thread | None = None
        self._last_round_seconds: float | None = None
        """None before the first round, which always gathers."""
        # Status while waiting (shown next to each resource); only the rounds' thread changes these.
        silent = StatusBoard(clock=monotonic, send=lambda _urn, _text: None)
        self._waits = ClusterWaits(status or silent, cluster.cluster_id)
        self._round_requests: Sequence[Request] = ()
        self._task = Awaited.RUNNING_TASK

    # -- the calls' side ---------------------------------------------------------------------------

    def submit(self, request: Request) -> Future[Result]:
        """Queue ``request`` for the next round; its Future resolves when that round ends."""
        future: Future[Result] = Future()
        self._waits.queued(request.urn)
        future.add_done_callback(lambda _done: self._waits.ended(request.urn))
        with self._lock:
            self._pending.append((request, future))
            if self._autostart and self._worker is None:
                self._worker = threading.Thread(
                    target=self._work, name=f"mrs-iam-sync {self.cluster.cluster_id}", daemon=True
                )
                self._worker.start()
        return future

    def pending(self) -> int:
        """Requests waiting for the next round (a withdrawn one no longer waits)."""
        with self._lock:
            return sum(not future.cancelled() for _, future in self._pending)

    # -- the rounds ----------------------------------------------------------------------------------

    def run_round(self) -> bool:
        """Run one round with every request pending now; False when there was none."""
        with self._lock:
            taken, self._pending = self._pending, []
        batch = [(request, future) for request, future in taken if future.set_running_or_notify_cancel()]
        if not batch:
            return False
        started = self._monotonic()
        state = _Round([request for request, _ in batch])
        error: MrsError | None = None
        try:
            self._round(state)
        except MrsError as exc:
            error = exc
        except Exception as exc:  # every waiting call must hear of it, whatever it is
            error = MrsError(
                f"unexpected {type(exc).__name__} in the round on cluster {self.cluster.cluster_id}: {exc}"
            )
            logger.exception("round on %s failed", self.cluster.cluster_id)
        finally:
            with self._lock:
                self._last_round_seconds = self._monotonic() - started
        for request, future in batch:
            future.set_result(state.result(request, error))
        return True

    def _work(self) -> None:
        while True:
            with self._lock:
                settle = any(request.cancel or request.settle_declarations for request, _ in self._pending)
                last = self._last_round_seconds
            if self._quiet is not None and (settle or last is None or last >= GATHER_WORTH_SECONDS):
                self._quiet(SETTLE_QUIET_SECONDS if settle else GATHER_QUIET_SECONDS, GATHER_MAX_SECONDS)
            if settle and self._warm is not None:
                with self._lock:
                    urn = next((request.urn for request, _ in self._pending if request.urn), None)
                self._warm(urn)
            with self._lock:
                if not self._pending:
                    self._worker = None
                    return
            self.run_round()

    def _round(self, state: _Round) -> None:
        # The round may run as long as its most patient member; the others stop waiting on their own.
        budget = max((request.budget for request in state.requests), key=lambda each: each.ends_at)
        for _ in range(ROUND_RESTARTS):
            try:
                self._try_round(state, budget)
                return
            except _StartOver:
                continue
        raise SyncInProgressError(
            status=409,
            code="MRS.0409",
            message=f"other IAM-sync tasks kept starting on cluster {self.cluster.cluster_id}",
        )

    def _try_round(self, state: _Round, budget: Budget) -> None:
        requests = self._round_requests = state.requests
        where = self.cluster.address
        if any(request.settle_first for request in requests):
            self._wait_until_idle(budget, ours=True)
        synced = Principals.synced(self.client.show_sync_iam_user(where, budget=budget))
        ran_task = False

        sync_step = plan_sync(requests, synced)
        for owner, names in sync_step.attempted.items():
            state.attempted[owner] = state.attempted.get(owner, NOBODY) | names
        if sync_step.sends:
            bodies = (
                [UpdateSyncRequest.of(is_all_sync=True)]
                if sync_step.full_sync
                else [UpdateSyncRequest.of(**chunk.names) for chunk in sync_step.names.chunks()]
            )
            for index, body in enumerate(bodies):
                self._start(body, budget, wait_first=index > 0)
            state.full_sync_sent = state.full_sync_sent or sync_step.full_sync
            ran_task = True

        cancelling = [request for request in requests if request.cancel]
        if cancelling:
            if ran_task:  # the cancels are decided on what the syncs really brought
                self._wait_until_idle(budget, ours=True)
                synced = Principals.synced(self.client.show_sync_iam_user(where, budget=budget))
            state.cancel_step = self._plan_cancel(state, cancelling, synced)
            for index, chunk in enumerate(state.cancel_step.names.chunks()):
                self._start(CancelSyncRequest.of(**chunk.names), budget, wait_first=ran_task or index > 0)
                ran_task = True
        logger.debug(
            "round on %s: %d calls, sync [%s]%s, cancel [%s]",
            self.cluster.cluster_id,
            len(requests),
            sync_step.names.describe(),
            ", full sync" if sync_step.full_sync else "",
            state.cancel_step.names.describe(),
        )
        if ran_task and any(request.wait for request in requests):
            self._wait_until_idle(budget, ours=True)
        if any(request.wants_outcome for request in requests):
            if ran_task:
                synced = Principals.synced(self.client.show_sync_iam_user(where, budget=budget))
            state.synced = synced
            state.complete = self.client.list_sync_requirements(where, budget=budget).is_synchronous

    def _plan_cancel(self, state: _Round, cancelling: Sequence[Request], synced: Principals) -> CancelStep:
        """The planner's DELETE; a request whose protection cannot be judged fails alone."""
        protected: dict[str, Principals] = {}
        judged: list[Request] = []
        for request in cancelling:
            try:
                protected[request.owner] = self._protection(request, request.cancel & synced)
                judged.append(request)
            except MrsError as exc:
                state.errors[request.owner] = exc
        # The others cancel nothing; they are there because what they sync is never cancelled.
        others = [request for request in state.requests if not request.cancel]
        return plan_cancel(
            [*judged, *others],
            synced,
            lambda owner: protected.get(owner, NOBODY),
            now=self._monotonic(),
        )

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

    def _wait_until_idle(self, budget: Budget, *, ours: bool) -> None:
        requests = self._round_requests
        awaited = self._task if ours else Awaited.FOREIGN_TASK
        shared_by = len({request.owner for request in requests})
        self._waits.task((request.urn for request in requests), awaited, shared_by=shared_by)
        wait_until_idle(self.client, self.cluster, budget=budget, ours=ours)


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
