"""ClusterIamSync, the resource a stack declares.

The class only shapes inputs and names outputs; everything it does lives in
``mrs_iam_sync.provider``, which Pulumi serializes by reference.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from mrs_iam_sync.inputs import OUTPUT_NAMES, RESOURCE_MODULE, RESOURCE_NAME
from mrs_iam_sync.provider import ClusterIamSyncProvider


def _as_list(names: Any) -> Any:
    """Sets and tuples become sorted lists (what Pulumi can serialize); Outputs and lists pass through."""
    if isinstance(names, set | frozenset | tuple):
        return sorted(names) if all(isinstance(n, str) for n in names) else list(names)
    return names


class ClusterIamSync(Resource, module=RESOURCE_MODULE, name=RESOURCE_NAME):
    """The IAM users and groups one stack synchronizes into one MRS cluster's Manager.

    The resource owns exactly the principals it declares: it syncs them on
    create, syncs additions and cancels removals on update, and cancels them
    (and only them) on delete. Other principals on the cluster are left alone,
    so several resources may share a cluster. Creating it for principals that
    are already synced adopts them without starting a task.
    """

    cluster_id: pulumi.Output[str]
    user_names: pulumi.Output[list[str]]
    group_names: pulumi.Output[list[str]]
    is_all_sync: pulumi.Output[bool]
    project_id: pulumi.Output[str]
    region: pulumi.Output[str]
    wait: pulumi.Output[bool]
    timeout_seconds: pulumi.Output[float]
    synced_user_names: pulumi.Output[list[str]]
    """Every user the cluster reported as synced after this resource's last sync or refresh."""
    synced_group_names: pulumi.Output[list[str]]
    """Every group the cluster reported; users bring their IAM groups, so this can exceed group_names."""
    cluster_sync_complete: pulumi.Output[bool]
    """The cluster's ``is_synchronous`` flag: it has completed IAM synchronization."""
    last_synced_at: pulumi.Output[str]
    """UTC time (ISO 8601) of the last sync or cancel task this resource started."""

    def __init__(
        self,
        resource_name: str,
        *,
        cluster_id: pulumi.Input[str],
        user_names: pulumi.Input[Iterable[pulumi.Input[str]]] | None = None,
        group_names: pulumi.Input[Iterable[pulumi.Input[str]]] | None = None,
        is_all_sync: pulumi.Input[bool] | None = None,
        project_id: pulumi.Input[str] | None = None,
        region: pulumi.Input[str] | None = None,
        wait: pulumi.Input[bool] | None = None,
        timeout_seconds: pulumi.Input[float] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {
            "cluster_id": cluster_id,
            "user_names": _as_list(user_names),
            "group_names": _as_list(group_names),
            "is_all_sync": is_all_sync,
            "project_id": project_id,
            "region": region,
            "wait": wait,
            "timeout_seconds": timeout_seconds,
        }
        props.update(dict.fromkeys(OUTPUT_NAMES))
        super().__init__(ClusterIamSyncProvider(), resource_name, props, opts)
