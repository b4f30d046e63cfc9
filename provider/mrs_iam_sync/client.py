"""``MrsClient``: the five IAM-sync operations, one thin method each, named as Huawei names them.

Everything a request needs beyond its path and body (signing, retries, the time budget, error
mapping, and what to do when a write's answer is lost) lives in :mod:`mrs_iam_sync.transport`;
ids and names are checked once, by the request models (:mod:`mrs_iam_sync.models`). Adding an
endpoint is therefore a model, a path and a method here.

Docs and SDK disagree on two names: the SDK's ``ListSyncStatus`` is the docs'
ListClusterSyncTaskStatus ("is a task running?"), and its ``ListSyncRequirements`` is the docs'
ListClusterSyncStatus ("has the cluster completed IAM sync?"). The methods follow the SDK.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar, Unpack
from urllib.parse import quote

from pydantic import BaseModel

from mrs_iam_sync.budget import Budget
from mrs_iam_sync.models import (
    CancelSyncRequest,
    ClusterAddress,
    ClusterSyncStatus,
    SyncDispatch,
    SyncedPrincipals,
    SyncTaskStatus,
    UpdateSyncRequest,
)
from mrs_iam_sync.settings import Settings
from mrs_iam_sync.transport import Transport, TransportOptions

STATE_SYNCHRONIZING: Final = "synchronizing"
"""The one documented ``state`` of a dispatched task."""

_Model = TypeVar("_Model", bound=BaseModel)


def _path(where: ClusterAddress, suffix: str) -> str:
    return f"/v2/{quote(where.project_id, safe='')}/clusters/{quote(where.cluster_id, safe='')}/{suffix}"


class MrsClient:
    """Synchronous client of one endpoint; Pulumi calls dynamic providers synchronously, so no async twin.

    Every call takes the :class:`Budget` it may spend; ``transport``, ``sleep`` and ``rng`` are
    injectable so that tests exercise retries and waiting without a network or a clock.
    """

    def __init__(self, settings: Settings, **options: Unpack[TransportOptions]) -> None:
        self.settings = settings
        self._transport = Transport(settings, **options)
        self.sleep = self._transport.sleep

    def __repr__(self) -> str:
        return f"MrsClient(endpoint={self.settings.endpoint!r}, project_id={self.settings.project_id!r})"

    def __enter__(self) -> MrsClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    # -- the five operations ------------------------------------------------------------------------

    def update_sync_iam_user(
        self, where: ClusterAddress, body: UpdateSyncRequest, *, budget: Budget
    ) -> SyncDispatch:
        """POST .../iam-sync-user: start syncing the named users (with their IAM groups) and groups.

        The caller names only principals not synced yet, so if the answer is lost, one of them
        having arrived shows the task ran.
        """
        wanted_users, wanted_groups = set(body.user_names or ()), set(body.group_names or ())

        def arrived(synced: SyncedPrincipals) -> bool:
            return bool(wanted_users & set(synced.user_names) or wanted_groups & set(synced.group_names))

        return self._write("POST", where, body.to_bytes(), budget, None if body.is_all_sync else arrived)

    def cancel_sync_iam_user(
        self, where: ClusterAddress, body: CancelSyncRequest, *, budget: Budget
    ) -> SyncDispatch:
        """DELETE .../iam-sync-user, with a body: start removing exactly the named (synced) principals."""
        named_users, named_groups = set(body.user_names or ()), set(body.group_names or ())

        def left(synced: SyncedPrincipals) -> bool:
            return bool(named_users - set(synced.user_names) or named_groups - set(synced.group_names))

        return self._write("DELETE", where, body.to_bytes(), budget, left)

    def show_sync_iam_user(self, where: ClusterAddress, *, budget: Budget) -> SyncedPrincipals:
        """GET .../iam-sync-user: the users and groups synced now (a missing list reads as empty)."""
        return self._read(SyncedPrincipals, where, "iam-sync-user", budget)

    def list_sync_status(self, where: ClusterAddress, *, budget: Budget) -> SyncTaskStatus:
        """GET .../iam-sync: whether an IAM sync task runs on the cluster now."""
        return self._read(SyncTaskStatus, where, "iam-sync", budget)

    def list_sync_requirements(self, where: ClusterAddress, *, budget: Budget) -> ClusterSyncStatus:
        """GET .../iam-sync/is-synchronous: whether the cluster has completed IAM synchronization."""
        return self._read(ClusterSyncStatus, where, "iam-sync/is-synchronous", budget)

    # -- plumbing ------------------------------------------------------------------------------------

    def _read(self, model: type[_Model], where: ClusterAddress, suffix: str, budget: Budget) -> _Model:
        response = self._transport.read(where, _path(where, suffix), budget=budget)
        return self._transport.decode(model, response, where)

    def _write(
        self,
        method: str,
        where: ClusterAddress,
        body: bytes,
        budget: Budget,
        took_effect: Callable[[SyncedPrincipals], bool] | None,
    ) -> SyncDispatch:
        def look(budget: Budget) -> SyncDispatch | None:
            """What the lost answer stood for, when the cluster shows it; None when it cannot tell."""
            if self.list_sync_status(where, budget=budget).is_synchronizing:
                return SyncDispatch(state=STATE_SYNCHRONIZING)
            if took_effect is None:  # a full sync names nobody, so nothing on the cluster can show it ran
                return None
            return (
                SyncDispatch(state=None)
                if took_effect(self.show_sync_iam_user(where, budget=budget))
                else None
            )

        outcome = self._transport.write(
            method, where, _path(where, "iam-sync-user"), body, budget=budget, look=look
        )
        if isinstance(outcome, SyncDispatch):
            return outcome
        return self._transport.decode(SyncDispatch, outcome, where)
