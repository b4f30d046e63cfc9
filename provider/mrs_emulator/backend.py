"""The emulated MRS service's state: IAM directories, clusters and their sync tasks. No HTTP here.

State is keyed by project, then cluster.  One re-entrant lock guards all of
it, so concurrent clients see each operation as atomic.

Tasks are completed lazily: every access to a cluster first applies the
tasks whose finish time (on the emulator :class:`~.clock.Clock`) has passed.
There is no timer thread, so a test that moves the clock sees a completed
task at its very next request, and ``sync_seconds=0`` still yields a task
that exists, then is found finished.

Semantics (documented facts first, emulator choices marked):

* sync of a user also syncs every IAM group the user belongs to (documented);
* users without an MRS policy are skipped, and so are their groups unless
  named explicitly (documented: only policy-bound users are synced; the
  group part is an emulator choice);
* ``is_all_sync`` syncs every user with an MRS policy and every group;
* a sync only adds; a cancel only removes the names it lists, without
  cascading from a user to its groups, and ignores names not synced
  (emulator choices);
* ``is_synchronous`` is false until any task (sync or cancel) has completed
  on the cluster, then true (emulator choice; settable via the control API);
* targets are resolved against IAM when the task is accepted.

With a state file, every change is saved before the operation returns, so
memory and file agree between operations.  A save that fails undoes the
change in memory (back to the last saved state) and raises
:class:`StateNotSaved`: the caller answers with an error, and nothing is
acknowledged that a restart would lose.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from mrs_emulator.clock import Clock, iso_utc
from mrs_emulator.clusters import Cluster, SyncTask, TaskKind
from mrs_emulator.options import EmulatorOptions
from mrs_emulator.payloads import CancelRequest, SyncRequest
from mrs_emulator.persistence import (
    ProjectState,
    StateDocument,
    StateFileError,
    StateStore,
    StateTooLarge,
    StateWriteError,
)
from mrs_emulator.seed import ProjectSeed, Seed

_log = logging.getLogger(__name__)


class BackendError(Exception):
    """A refusal by the service; handlers map each subclass to one HTTP error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ClusterNotFound(BackendError):
    pass


class UnknownNames(BackendError):
    pass


class StateNotSaved(BackendError):
    """The state file could not be written; the change was undone in memory too."""

    def __init__(self, message: str, *, too_large: bool) -> None:
        super().__init__(message)
        self.too_large = too_large
        """The change itself was refused (the file would outgrow its limit): no retry can help."""


class TaskAlreadyRunning(BackendError):
    def __init__(self, cluster_id: str) -> None:
        super().__init__(f"a task is running on cluster {cluster_id}")
        self.cluster_id = cluster_id


@dataclass(frozen=True)
class IamUser:
    name: str
    groups: frozenset[str]
    mrs_policy: bool


@dataclass(frozen=True)
class IamDirectory:
    users: Mapping[str, IamUser]
    groups: frozenset[str]


@dataclass
class Project:
    id: str
    region: str
    iam: IamDirectory
    clusters: dict[str, Cluster]

    @classmethod
    def from_seed(cls, seed: ProjectSeed) -> Project:
        users = {
            user.name: IamUser(name=user.name, groups=frozenset(user.groups), mrs_policy=user.mrs_policy)
            for user in seed.iam.users
        }
        clusters = {
            cluster.id: Cluster(
                id=cluster.id,
                name=cluster.name or cluster.id,
                synced_users=set(cluster.synced.users),
                synced_groups=set(cluster.synced.groups),
                is_synchronous=cluster.is_synchronous,
            )
            for cluster in seed.clusters
        }
        iam = IamDirectory(users=users, groups=frozenset(seed.iam.groups))
        return cls(id=seed.id, region=seed.region, iam=iam, clusters=clusters)


class EmulatorBackend:
    """All state of the emulated service, safe to share between request threads."""

    def __init__(
        self,
        seed: Seed,
        *,
        clock: Clock,
        options: EmulatorOptions,
        store: StateStore | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._seed = seed
        self.clock = clock
        self._options = options
        self._store = store
        self._saved: dict[str, Any] | None = None
        """The state file's content as last written: what a failed save rolls memory back to."""
        self._projects = self._projects_from_seed()
        if store is not None:
            document = store.load()
            if document is not None:
                self._restore(document)
            try:
                self._persist()  # memory and file agree from the start, and the file is writable
            except StateNotSaved as exc:
                raise StateFileError(f"{store.path}: (file): cannot be written: {exc.message}") from None

    # -- options -----------------------------------------------------------------------------

    @property
    def options(self) -> EmulatorOptions:
        with self._lock:
            return self._options

    def set_options(self, options: EmulatorOptions) -> None:
        with self._lock:
            self._options = options

    # -- the five API operations ----------------------------------------------------------------

    def synced_principals(self, project_id: str, cluster_id: str) -> tuple[list[str], list[str]]:
        with self._lock:
            cluster = self._settled(project_id, cluster_id)
            return sorted(cluster.synced_users), sorted(cluster.synced_groups)

    def is_synchronizing(self, project_id: str, cluster_id: str) -> bool:
        with self._lock:
            return bool(self._settled(project_id, cluster_id).pending)

    def is_synchronous(self, project_id: str, cluster_id: str) -> bool:
        with self._lock:
            return self._settled(project_id, cluster_id).is_synchronous

    def start_sync(self, project_id: str, cluster_id: str, request: SyncRequest) -> SyncTask:
        with self._lock:
            cluster = self._settled(project_id, cluster_id)
            users, groups = self._sync_targets(self._projects[project_id].iam, request)
            return self._enqueue(cluster, "sync", users, groups)

    def start_cancel(self, project_id: str, cluster_id: str, request: CancelRequest) -> SyncTask:
        with self._lock:
            cluster = self._settled(project_id, cluster_id)
            return self._enqueue(cluster, "cancel", request.user_names, request.group_names)

    # -- control operations --------------------------------------------------------------------

    def cluster_json(self, project_id: str, cluster_id: str) -> dict[str, Any]:
        with self._lock:
            cluster = self._settled(project_id, cluster_id)
            return cluster.to_json(project_id, self.clock.now())

    def patch_cluster(
        self,
        project_id: str,
        cluster_id: str,
        *,
        synced_users: Iterable[str] | None = None,
        synced_groups: Iterable[str] | None = None,
        is_synchronous: bool | None = None,
    ) -> dict[str, Any]:
        """Change state behind the API's back (drift); any names are accepted, even unknown ones."""
        with self._lock:
            cluster = self._settled(project_id, cluster_id)
            if synced_users is not None:
                cluster.synced_users = set(synced_users)
            if synced_groups is not None:
                cluster.synced_groups = set(synced_groups)
            if is_synchronous is not None:
                cluster.is_synchronous = is_synchronous
            self._persist()
            return cluster.to_json(project_id, self.clock.now())

    def create_cluster(self, project_id: str, cluster_id: str, *, name: str | None) -> bool:
        """Create an empty cluster; an existing one is kept (and renamed if a name is given).

        Returns True when the cluster was created.
        """
        with self._lock:
            project = self._project(project_id, cluster_id)
            existing = project.clusters.get(cluster_id)
            if existing is not None:
                if name is not None:
                    existing.name = name
                    self._persist()
                return False
            project.clusters[cluster_id] = Cluster(id=cluster_id, name=name or cluster_id)
            self._persist()
            return True

    def delete_cluster(self, project_id: str, cluster_id: str) -> None:
        """Remove a cluster and its tasks, as if it had been deleted in the console."""
        with self._lock:
            project = self._project(project_id, cluster_id)
            if project.clusters.pop(cluster_id, None) is None:
                raise ClusterNotFound(f"No cluster {cluster_id} in project {project_id}.")
            self._persist()

    def reset(self) -> None:
        """Back to the seed, as at a start without a state file (the state file is rewritten)."""
        with self._lock:
            self._projects = self._projects_from_seed()
            self._persist()

    def dump(self) -> list[dict[str, Any]]:
        """Everything, for ``GET /_emulator/state``; there are no secrets in the backend."""
        with self._lock:
            now = self.clock.now()
            changed = False
            for project in self._projects.values():
                for cluster in project.clusters.values():
                    changed = cluster.settle(now) or changed
            if changed:
                self._persist()
            return [
                {
                    "id": project.id,
                    "region": project.region,
                    "iam": {
                        "groups": sorted(project.iam.groups),
                        "users": [
                            {"name": user.name, "groups": sorted(user.groups), "mrs_policy": user.mrs_policy}
                            for user in sorted(project.iam.users.values(), key=lambda user: user.name)
                        ],
                    },
                    "clusters": [cluster.to_json(project.id, now) for cluster in project.clusters.values()],
                }
                for project in self._projects.values()
            ]

    def save(self) -> None:
        """Write the state file now (used on shutdown); a no-op without ``--state``.

        Raises :class:`StateNotSaved` when the file cannot be written.
        """
        with self._lock:
            self._persist()

    def close(self) -> None:
        """Release the state file's lock; the backend answers on, but can no longer save."""
        with self._lock:
            if self._store is not None:
                self._store.close()

    # -- internals -----------------------------------------------------------------------------

    def _projects_from_seed(self) -> dict[str, Project]:
        return {seed.id: Project.from_seed(seed) for seed in self._seed.projects}

    def _project(self, project_id: str, cluster_id: str) -> Project:
        project = self._projects.get(project_id)
        if project is None:
            raise ClusterNotFound(f"Project {project_id} is unknown to the emulator (cluster {cluster_id}).")
        return project

    def _settled(self, project_id: str, cluster_id: str) -> Cluster:
        """The one lookup every operation uses, so a missing cluster is reported alike everywhere."""
        cluster = self._project(project_id, cluster_id).clusters.get(cluster_id)
        if cluster is None:
            raise ClusterNotFound(f"No cluster {cluster_id} in project {project_id}.")
        if cluster.settle(self.clock.now()):
            self._persist()
        return cluster

    def _sync_targets(self, iam: IamDirectory, request: SyncRequest) -> tuple[frozenset[str], frozenset[str]]:
        if request.is_all_sync:
            users = frozenset(name for name, user in iam.users.items() if user.mrs_policy)
            return users, iam.groups
        unknown_users = sorted(request.user_names - iam.users.keys())
        unknown_groups = sorted(request.group_names - iam.groups)
        if (unknown_users or unknown_groups) and self._options.unknown_names == "reject":
            parts = []
            if unknown_users:
                parts.append("users " + _listing(unknown_users))
            if unknown_groups:
                parts.append("groups " + _listing(unknown_groups))
            raise UnknownNames("unknown IAM " + "; ".join(parts))
        users = frozenset(
            name for name in request.user_names if name in iam.users and iam.users[name].mrs_policy
        )
        groups = set(request.group_names & iam.groups)
        for name in users:
            groups |= iam.users[name].groups
        return users, frozenset(groups)

    def _enqueue(
        self, cluster: Cluster, kind: TaskKind, users: frozenset[str], groups: frozenset[str]
    ) -> SyncTask:
        pending = cluster.pending
        if pending and self._options.concurrent_sync == "reject":
            raise TaskAlreadyRunning(cluster.id)
        now = self.clock.now()
        starts_at = max(now, pending[-1].finishes_at) if pending else now
        task = SyncTask(
            id=uuid.uuid4().hex[:16],
            kind=kind,
            users=users,
            groups=groups,
            accepted_at=now,
            starts_at=starts_at,
            finishes_at=starts_at + self._task_seconds(cluster.id),
        )
        cluster.tasks.append(task)
        self._persist()
        return task

    def _task_seconds(self, cluster_id: str) -> float:
        return self._options.cluster_sync_seconds.get(cluster_id, self._options.sync_seconds)

    def _persist(self) -> None:
        """Save everything; on failure, undo in memory what the last save does not hold, and raise."""
        if self._store is None:
            return
        document = StateDocument(
            saved_at=iso_utc(self.clock.now()),
            projects=[
                ProjectState(id=project.id, clusters=list(project.clusters.values()))
                for project in self._projects.values()
            ],
        )
        try:
            self._saved = self._store.save(document)
        except StateWriteError as exc:
            _log.warning("state file %s not written, the change is undone: %s", self._store.path, exc)
            if self._saved is not None:
                self._restore(StateDocument.model_validate(self._saved))
            raise StateNotSaved(str(exc), too_large=isinstance(exc, StateTooLarge)) from None

    def _restore(self, document: StateDocument) -> None:
        for record in document.projects:
            project = self._projects.get(record.id)
            if project is None:
                _log.warning(
                    "state file: project %s is not in the seed any more; its clusters are dropped", record.id
                )
                continue
            project.clusters = {cluster.id: cluster for cluster in record.clusters}


_LISTED: Final = 10
"""Names shown in a message before the rest is counted: a body may name millions."""


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    rest = len(names) - _LISTED
    return shown if rest <= 0 else f"{shown} and {rest} more"
