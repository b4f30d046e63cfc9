"""diff: what replaces, what updates, and what is no change at all."""

from __future__ import annotations

from typing import Any

import pytest

from kit.demo import PROJECT
from mrs_iam_sync.provider import ClusterIamSyncProvider

from .conftest import CLUSTER, OTHER_CLUSTER

pytestmark = pytest.mark.usefixtures("offline_settings")

OLD_OUTPUTS: dict[str, Any] = {
    "cluster_id": CLUSTER,
    "user_names": ["alice", "bob"],
    "group_names": ["analysts"],
    "is_all_sync": False,
    "project_id": PROJECT,
    "region": "cn-north-4",
    "wait": True,
    "timeout_seconds": 600.0,
    "synced_user_names": ["alice", "bob", "erin"],
    "synced_group_names": ["analysts", "data-engineers"],
    "cluster_sync_complete": True,
    "last_synced_at": "2026-11-28T12:00:00Z",
}


def diff(provider: ClusterIamSyncProvider, **changes: Any):
    news = {"cluster_id": CLUSTER, "user_names": ["alice", "bob"], "group_names": ["analysts"]}
    news.update(changes)
    return provider.diff("id", dict(OLD_OUTPUTS), news)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"user_names": ["bob", "alice"]},
        {"user_names": ["alice", "bob", "alice"]},
        {"project_id": PROJECT},
        {"region": "cn-north-4"},
        {"wait": True, "timeout_seconds": 600},
    ],
    ids=[
        "same",
        "reordered",
        "duplicated",
        "explicit-default-project",
        "explicit-default-region",
        "explicit-defaults",
    ],
)
def test_equivalent_inputs_are_no_change(provider, changes):
    result = diff(provider, **changes)
    assert result.changes is False
    assert result.replaces == []


@pytest.mark.parametrize(
    ("changes", "replaced"),
    [
        ({"cluster_id": OTHER_CLUSTER}, ["cluster_id"]),
        ({"project_id": "ffffffffffffffffffffffffffffffff"}, ["project_id"]),
        ({"region": "cn-east-3"}, ["region"]),
    ],
)
def test_moving_to_another_cluster_project_or_region_replaces(provider, changes, replaced):
    result = diff(provider, **changes)
    assert result.changes is True
    assert result.replaces == replaced


@pytest.mark.parametrize(
    "changes",
    [
        {"user_names": ["alice", "bob", "carol"]},
        {"user_names": ["alice"]},
        {"group_names": []},
        {"group_names": ["analysts", "auditors"]},
        {"wait": False},
        {"timeout_seconds": 60},
    ],
)
def test_changing_the_sets_or_options_updates_in_place(provider, changes):
    result = diff(provider, **changes)
    assert result.changes is True
    assert result.replaces == []


def test_changing_the_default_project_replaces_resources_that_relied_on_it(provider, monkeypatch):
    monkeypatch.setenv("HW_PROJECT_ID", "ffffffffffffffffffffffffffffffff")
    assert diff(provider).replaces == ["project_id"]
