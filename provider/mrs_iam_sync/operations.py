"""Bringing a cluster's synced set to what a resource declares, one asynchronous task at a time.

The API runs one IAM-sync task per cluster; a second one started while the
first runs is rejected (or, on some services, silently overlaps). The
provider's gRPC server runs several calls at once, and several resources may
name the same cluster, so every task-starting call here holds that cluster's
lock from "wait until idle" to "task finished". Everything a user asked to
wait for shares one deadline, set by the resource's ``timeout_seconds``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypedDict, TypeVar

from mrs_iam_sync.client import MrsClient
from mrs_iam_sync.errors import ClusterBusyError, SyncInProgressError
from mrs_iam_sync.models import SyncedPrincipals

Work = TypeVar("Work")


class ClusterAddress(TypedDict):
    cluster_id: str
    project_id: str


class PrincipalNames(TypedDict):
    user_names: list[str]
    group_names: list[str]


@dataclass(frozen=True)
class ClusterRef:
    """Where a cluster lives: the endpoint, the project and its id (the key of its lock)."""

    endpoint: str
    project_id: str
    cluster_id: str

    @property
    def address(self) -> ClusterAddress:
        """The keyword arguments every client call takes to name this cluster."""
        return {"cluster_id": self.cluster_id, "project_id": self.project_id}


class Deadline:
    """The time left for one provider call; every wait inside the call draws on it."""

    def __init__(self, seconds: float, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._ends_at = monotonic() + seconds
        self.seconds = seconds

    def remaining(self) -> float:
        return max(0.0, self._ends_at - self._monotonic())


_locks: dict[ClusterRef, threading.Lock] = {}
_locks_guard = threading.Lock()


@contextmanager
def cluster_lock(cluster: ClusterRef, deadline: Deadline) -> Iterator[None]:
    """Hold the cluster's lock, so that no two calls of this process start overlapping tasks."""
    with _locks_guard:
        lock = _locks.setdefault(cluster, threading.Lock())
    if not lock.acquire(timeout=deadline.remaining()):
        raise ClusterBusyError(
            f"waited {deadline.seconds:g} s for another operation of this deployment on cluster "
            f"{cluster.cluster_id} to finish; raise timeout_seconds or lower --parallel"
        )
    try:
        yield
    finally:
        lock.release()


@dataclass(frozen=True)
class Principals:
    """Users and groups, as sets."""

    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    @classmethod
    def of(cls, users: Collection[str], groups: Collection[str]) -> Principals:
        return cls(frozenset(users), frozenset(groups))

    @classmethod
    def synced(cls, listing: SyncedPrincipals) -> Principals:
        return cls.of(listing.user_names, listing.group_names)

    @classmethod
    def union(cls, sets: Iterable[Principals]) -> Principals:
        users: set[str] = set()
        groups: set[str] = set()
        for each in sets:
            users |= each.users
            groups |= each.groups
        return cls(frozenset(users), frozenset(groups))

    def describe(self) -> str:
        """For messages: sorted names, users first."""
        return ", ".join([*sorted(self.users), *sorted(self.groups)])

    @property
    def names(self) -> PrincipalNames:
        """The keyword arguments of start_sync and cancel_sync, sorted so requests are reproducible."""
        return {"user_names": sorted(self.users), "group_names": sorted(self.groups)}

    def __bool__(self) -> bool:
        return bool(self.users or self.groups)

    def __sub__(self, other: Principals) -> Principals:
        return Principals(self.users - other.users, self.groups - other.groups)

    def __and__(self, other: Principals) -> Principals:
        return Principals(self.users & other.users, self.groups & other.groups)

    def __or__(self, other: Principals) -> Principals:
        return Principals(self.users | other.users, self.groups | other.groups)


class ClusterOperation:
    """The work of one lifecycle call on one cluster: its client, its one time budget, and its record.

    ``attempted`` collects every principal a sync task was requested for, whether or not the answer
    arrived: when the call fails, that is what a roll-back may have to take away again, since a
    failed create or update is never recorded in state and nothing else would own it.
    """

    def __init__(self, client: MrsClient, cluster: ClusterRef, deadline: Deadline) -> None:
        self.client = client
        self.cluster = cluster
        self.deadline = deadline
        self.attempted = Principals()

    def synced_now(self) -> Principals:
        return Principals.synced(self.client.list_synced(**self.cluster.address))

    def wait_until_idle(self, *, ours: bool) -> None:
        self.client.wait_until_idle(**self.cluster.address, timeout=self.deadline.remaining(), ours=ours)

    def _run_task(
        self, *, wait: bool, todo: Callable[[], Work], start: Callable[[Work], object]
    ) -> Work:
        """Start a task once the cluster is idle, for the work still left at that moment; maybe wait for it.

        The work is decided only after the cluster is idle: a task still running from an interrupted
        run may be doing it already, and sending it again would start a second, redundant task.
        Returns the work the task was started for (falsy when nothing was left to do).
        """
        while True:
            self.wait_until_idle(ours=False)
            work = todo()
            if not work:
                return work
            try:
                start(work)
                break
            except SyncInProgressError:  # someone else started a task in between: wait for it too
                if self.deadline.remaining() <= 0:
                    raise
        if wait:
            self.wait_until_idle(ours=True)
        return work

    def sync(self, principals: Principals, *, wait: bool) -> Principals:
        """Sync the given principals that are not synced yet; return those a task was started for."""
        if not principals:
            return principals  # nothing declared here: not even a look at the cluster

        def start(missing: Principals) -> None:
            self.attempted = self.attempted | missing
            self.client.start_sync(**self.cluster.address, **missing.names)

        return self._run_task(wait=wait, todo=lambda: principals - self.synced_now(), start=start)

    def sync_all(self, *, wait: bool) -> None:
        """Run a full sync: every IAM user with an MRS policy and every group."""
        self._run_task(
            wait=wait,
            todo=lambda: True,
            start=lambda _: self.client.start_sync(**self.cluster.address, is_all_sync=True),
        )

    def cancel(self, principals: Principals, *, wait: bool) -> Principals:
        """Cancel the given principals still synced, and no others; return those a task was started for."""
        if not principals:
            return principals
        return self._run_task(
            wait=wait,
            todo=lambda: principals & self.synced_now(),
            start=lambda present: self.client.cancel_sync(**self.cluster.address, **present.names),
        )
