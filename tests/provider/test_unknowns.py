"""Inputs not known at preview (a cluster created in the same program, a name from another output).

The SDK hands check and diff ``pulumi.output.Unknown`` objects (the pinned wheel) or the wire
sentinel (other versions, and JSON documents); both must pass check, be handed back to the engine
in a form it serializes as unknown, and make diff say replace or update. No API call is made.
"""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.output import Unknown

from kit.demo import PROJECT
from mrs_iam_sync.errors import ProvisioningError
from mrs_iam_sync.provider import ClusterIamSyncProvider
from mrs_iam_sync.unknowns import UNKNOWN_WIRE

from .conftest import CLUSTER
from .test_diff import OLD_OUTPUTS

pytestmark = pytest.mark.usefixtures("offline_settings")

UNKNOWN: Any = Unknown()  # type: ignore[no-untyped-call]
"""What the pinned SDK hands check and diff for a value not known yet."""

SHAPES = pytest.mark.parametrize("unknown", [UNKNOWN, UNKNOWN_WIRE], ids=["object", "sentinel"])


@SHAPES
@pytest.mark.parametrize(
    "news",
    [
        {"cluster_id": "?", "user_names": ["alice"]},
        {"cluster_id": CLUSTER, "user_names": ["alice", "?"]},
        {"cluster_id": CLUSTER, "user_names": "?"},
        {"cluster_id": CLUSTER, "user_names": ["alice"], "project_id": "?", "region": "?"},
        {"cluster_id": CLUSTER, "is_all_sync": "?"},
        {"cluster_id": CLUSTER, "user_names": ["alice"], "wait": "?", "timeout_seconds": "?"},
    ],
    ids=["cluster", "one-name", "whole-list", "project-region", "full-sync", "settings"],
)
def test_check_passes_unknowns_through_in_the_wire_form(
    provider: ClusterIamSyncProvider, unknown: Any, news: dict[str, Any]
) -> None:
    given = {
        key: (
            unknown
            if value == "?"
            else [unknown if n == "?" else n for n in value]
            if isinstance(value, list)
            else value
        )
        for key, value in news.items()
    }

    result = provider.check({}, given)

    assert result.failures == []
    for key, value in news.items():
        if value == "?":
            assert result.inputs[key] == UNKNOWN_WIRE
        elif isinstance(value, list) and "?" in value:
            assert result.inputs[key] == [UNKNOWN_WIRE if n == "?" else n for n in value]


def test_check_still_refuses_what_is_known_to_be_wrong(provider: ClusterIamSyncProvider) -> None:
    result = provider.check(
        {}, {"cluster_id": UNKNOWN, "user_names": ["alice", " bob", UNKNOWN], "region": 7}
    )
    assert {failure.property for failure in result.failures} == {"user_names[1]", "region"}


def test_check_validates_the_provider_settings_even_when_the_cluster_is_unknown(
    provider: ClusterIamSyncProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HW_ACCESS_KEY")
    monkeypatch.delenv("HW_SECRET_KEY")
    with pytest.raises(ProvisioningError, match=r"access_key|HW_ACCESS_KEY"):
        provider.check({}, {"cluster_id": UNKNOWN, "user_names": ["alice"]})


@pytest.mark.parametrize("key", ["cluster_id", "project_id", "region"])
def test_diff_replaces_when_a_replacing_input_is_unknown(provider: ClusterIamSyncProvider, key: str) -> None:
    news = {
        "cluster_id": CLUSTER,
        "user_names": ["alice", "bob"],
        "group_names": ["analysts"],
        key: UNKNOWN,
    }
    result = provider.diff("id", dict(OLD_OUTPUTS), news)
    assert result.changes is True
    assert result.replaces == [key]


@pytest.mark.parametrize(
    "changes", [{"user_names": UNKNOWN}, {"group_names": ["analysts", UNKNOWN]}, {"wait": UNKNOWN}]
)
def test_diff_updates_in_place_when_only_lists_or_settings_are_unknown(
    provider: ClusterIamSyncProvider, changes: dict[str, Any]
) -> None:
    news = {
        "cluster_id": CLUSTER,
        "user_names": ["alice", "bob"],
        "group_names": ["analysts"],
        "project_id": PROJECT,
    }
    news.update(changes)
    result = provider.diff("id", dict(OLD_OUTPUTS), news)
    assert result.changes is True
    assert result.replaces == []


def test_diff_with_an_unknown_name_and_a_new_known_cluster_replaces(provider: ClusterIamSyncProvider) -> None:
    news = {"cluster_id": "another-cluster", "user_names": ["alice", UNKNOWN]}
    result = provider.diff("id", dict(OLD_OUTPUTS), news)
    assert result.replaces == ["cluster_id"]
