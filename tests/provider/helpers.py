"""Plain helpers of the provider tests (the fixtures live in conftest.py)."""

from __future__ import annotations

from typing import Any

from kit.demo import PROJECT
from kit.emulator import LocalEmulator
from mrs_iam_sync.provider import ClusterIamSyncProvider

from .conftest import CLUSTER


def held(emulator: LocalEmulator, cluster: str = CLUSTER) -> tuple[list[str], list[str]]:
    """(users, groups) synced on a cluster right now."""
    state = emulator.backend.cluster_json(PROJECT, cluster)
    return sorted(state["synced_users"]), sorted(state["synced_groups"])


def checked(provider: ClusterIamSyncProvider, **news: Any) -> dict[str, Any]:
    """Inputs as ``check`` normalizes them, asserting that they are valid."""
    result = provider.check({}, news)
    assert result.failures == []
    return dict(result.inputs)


def writes(emulator: LocalEmulator) -> list[tuple[str, str]]:
    """The task-starting requests the emulated API received, as (method, path)."""
    return [
        (entry["method"], entry["path"])
        for entry in emulator.context.requests.entries()
        if entry["method"] != "GET"
    ]
