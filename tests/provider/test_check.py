"""check: every rule, reported per field, all at once, with no API call."""

from __future__ import annotations

from typing import Any

import pytest

from kit.demo import PROJECT
from mrs_iam_sync.errors import ProvisioningError
from mrs_iam_sync.inputs import UNKNOWN
from mrs_iam_sync.provider import ClusterIamSyncProvider

from .conftest import CLUSTER

pytestmark = pytest.mark.usefixtures("offline_settings")


def failures_of(provider: ClusterIamSyncProvider, news: dict[str, Any]) -> dict[str, str]:
    result = provider.check({}, news)
    return {failure.property: failure.reason for failure in result.failures}


@pytest.mark.parametrize(
    ("news", "field", "reason_part"),
    [
        ({"user_names": ["alice"]}, "cluster_id", "is required"),
        ({"cluster_id": "", "user_names": ["alice"]}, "cluster_id", "is required"),
        ({"cluster_id": "has space", "user_names": ["alice"]}, "cluster_id", "letters, digits, '_' and '-'"),
        ({"cluster_id": "x" * 65, "user_names": ["alice"]}, "cluster_id", "1 to 64 characters"),
        ({"cluster_id": 42, "user_names": ["alice"]}, "cluster_id", "got the number 42"),
        (
            {"cluster_id": CLUSTER, "project_id": "not-hex!", "user_names": ["a"]},
            "project_id",
            "letters and digits",
        ),
        ({"cluster_id": CLUSTER, "project_id": "", "user_names": ["a"]}, "project_id", "leave it unset"),
        (
            {"cluster_id": CLUSTER, "user_names": "alice"},
            "user_names",
            "must be a list of names, got 'alice'",
        ),
        ({"cluster_id": CLUSTER, "user_names": ["alice", ""]}, "user_names[1]", "non-empty string"),
        ({"cluster_id": CLUSTER, "user_names": ["alice", "  "]}, "user_names[1]", "non-empty string"),
        ({"cluster_id": CLUSTER, "group_names": [7]}, "group_names[0]", "got the number 7"),
        ({"cluster_id": CLUSTER, "user_names": [f"u{i}" for i in range(1001)]}, "user_names", "at most 1000"),
        (
            {"cluster_id": CLUSTER, "user_names": ["a"], "is_all_sync": True},
            "is_all_sync",
            "cannot be true while",
        ),
        ({"cluster_id": CLUSTER, "user_names": ["a"], "is_all_sync": "yes"}, "is_all_sync", "true or false"),
        ({"cluster_id": CLUSTER, "user_names": ["a"], "wait": 1}, "wait", "true or false"),
        (
            {"cluster_id": CLUSTER, "user_names": ["a"], "timeout_seconds": 0},
            "timeout_seconds",
            "more than 0",
        ),
        (
            {"cluster_id": CLUSTER, "user_names": ["a"], "timeout_seconds": "10"},
            "timeout_seconds",
            "number of seconds",
        ),
        ({"cluster_id": CLUSTER, "user_names": ["a"], "region": ""}, "region", "region id"),
        ({"cluster_id": CLUSTER}, "user_names", "declare at least one user or group"),
        ({"cluster_id": CLUSTER, "user_names": ["a"], "colour": "blue"}, "colour", "is not an input"),
    ],
)
def test_each_rule_is_reported_on_its_field(provider, news, field, reason_part):
    failures = failures_of(provider, news)
    assert field in failures, failures
    assert reason_part in failures[field]


def test_every_bad_field_is_reported_at_once(provider):
    failures = failures_of(
        provider,
        {
            "cluster_id": "bad id",
            "project_id": "bad-project",
            "user_names": [""],
            "group_names": "g",
            "wait": "no",
        },
    )
    assert set(failures) == {"cluster_id", "project_id", "user_names[0]", "group_names", "wait"}


def test_exactly_one_thousand_names_are_allowed(provider):
    assert failures_of(provider, {"cluster_id": CLUSTER, "user_names": [f"u{i}" for i in range(1000)]}) == {}


def test_names_are_normalized_to_sorted_sets(provider):
    result = provider.check(
        {}, {"cluster_id": CLUSTER, "user_names": ["bob", "alice", "bob"], "group_names": ["g"]}
    )
    assert result.failures == []
    assert result.inputs["user_names"] == ["alice", "bob"]
    assert result.inputs["group_names"] == ["g"]
    assert result.inputs["is_all_sync"] is False
    assert result.inputs["wait"] is True
    assert result.inputs["timeout_seconds"] == 600.0
    assert "project_id" not in result.inputs


def test_full_sync_alone_is_valid(provider):
    assert failures_of(provider, {"cluster_id": CLUSTER, "is_all_sync": True}) == {}


def test_unknown_values_during_preview_are_not_failures(provider):
    result = provider.check(
        {}, {"cluster_id": UNKNOWN, "user_names": ["alice", UNKNOWN], "project_id": PROJECT}
    )
    assert result.failures == []


def test_missing_credentials_fail_check_with_where_to_set_them(provider, monkeypatch):
    monkeypatch.delenv("HW_ACCESS_KEY")
    monkeypatch.delenv("HW_SECRET_KEY")
    with pytest.raises(ProvisioningError) as raised:
        provider.check({}, {"cluster_id": CLUSTER, "user_names": ["alice"]})
    message = str(raised.value)
    assert "access_key" in message or "HW_ACCESS_KEY" in message
