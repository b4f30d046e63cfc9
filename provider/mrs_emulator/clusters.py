"""A cluster of the emulated service and its sync tasks: the backend's state and, as is, the state file's.

Both types are pydantic models, so the ``--state`` file stores exactly these objects and loads
them back validated: there is no second, record-shaped copy of their fields to keep in step.
Name sets are written sorted, so a state file does not change when nothing in it did.

The field rules are the seed's (cluster ids, non-empty names) plus times that are finite and
renderable, so a state file loads only values the emulator could have produced itself: no
cluster ``../../etc``, no task that finishes at ``NaN`` and stays "synchronizing" forever.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, model_validator

from mrs_emulator.clock import EARLIEST, LAST_RENDERABLE, iso_utc
from mrs_emulator.seed import ClusterId, Name

TASK_HISTORY: Final = 20
"""Completed tasks kept per cluster for the control API; enough to inspect a test's steps."""

TaskKind = Literal["sync", "cancel"]
TaskState = Literal["queued", "running", "completed"]

Timestamp = Annotated[float, Field(allow_inf_nan=False, ge=EARLIEST, le=LAST_RENDERABLE)]
"""Epoch seconds on the emulator clock, within what an ISO date can show."""


class SyncTask(BaseModel):
    """One accepted POST or DELETE; its times are on the emulator clock, in epoch seconds."""

    model_config = ConfigDict(extra="forbid")

    id: Name
    kind: TaskKind
    users: frozenset[Name]
    groups: frozenset[Name]
    accepted_at: Timestamp
    starts_at: Timestamp
    finishes_at: Timestamp
    completed_at: Timestamp | None = None

    @model_validator(mode="after")
    def _in_order(self) -> SyncTask:
        if not self.accepted_at <= self.starts_at <= self.finishes_at:
            raise ValueError("accepted_at <= starts_at <= finishes_at must hold")
        return self

    @field_serializer("users", "groups")
    def _sorted(self, names: frozenset[str]) -> list[str]:
        return sorted(names)

    def state(self, now: float) -> TaskState:
        if self.completed_at is not None:
            return "completed"
        return "running" if now >= self.starts_at else "queued"

    def to_json(self, now: float) -> dict[str, Any]:
        """The control API's view: times as ISO strings, and the state at ``now``."""
        return {
            "id": self.id,
            "kind": self.kind,
            "users": sorted(self.users),
            "groups": sorted(self.groups),
            "state": self.state(now),
            "accepted_at": iso_utc(self.accepted_at),
            "starts_at": iso_utc(self.starts_at),
            "finishes_at": iso_utc(self.finishes_at),
            "completed_at": None if self.completed_at is None else iso_utc(self.completed_at),
        }


class Cluster(BaseModel):
    """Mutable, guarded by the backend's lock."""

    model_config = ConfigDict(extra="forbid")

    id: ClusterId
    name: Name
    synced_users: set[Name] = Field(default_factory=set)
    synced_groups: set[Name] = Field(default_factory=set)
    is_synchronous: bool = False
    tasks: list[SyncTask] = Field(default_factory=list)
    """The last completed tasks, oldest first, then the queued and running ones in the order they run."""

    @field_serializer("synced_users", "synced_groups")
    def _sorted(self, names: set[str]) -> list[str]:
        return sorted(names)

    @property
    def pending(self) -> list[SyncTask]:
        """Queued and running tasks, in order; the last one finishes last."""
        return [task for task in self.tasks if task.completed_at is None]

    def settle(self, now: float) -> bool:
        """Apply every task whose finish time has passed; True if anything changed."""
        changed = False
        for task in self.pending:
            if task.finishes_at > now:
                break
            if task.kind == "sync":
                self.synced_users |= task.users
                self.synced_groups |= task.groups
            else:
                self.synced_users -= task.users
                self.synced_groups -= task.groups
            task.completed_at = task.finishes_at
            self.is_synchronous = True
            changed = True
        if changed:
            self._forget_old_tasks()
        return changed

    def _forget_old_tasks(self) -> None:
        completed = len(self.tasks) - len(self.pending)
        if completed > TASK_HISTORY:
            del self.tasks[: completed - TASK_HISTORY]

    def to_json(self, project_id: str, now: float) -> dict[str, Any]:
        """The control API's view of the cluster (``GET /_emulator/projects/{p}/clusters/{c}``)."""
        return {
            "project_id": project_id,
            "cluster_id": self.id,
            "name": self.name,
            "synced_users": sorted(self.synced_users),
            "synced_groups": sorted(self.synced_groups),
            "is_synchronizing": any(task.completed_at is None for task in self.tasks),
            "is_synchronous": self.is_synchronous,
            "tasks": [task.to_json(now) for task in self.tasks],
        }
