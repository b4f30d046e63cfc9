"""The stack program's reading of mrs-iam-sync:clusters: every problem of every entry, in one error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from mrs_iam_sync.stack import read_clusters

from .conftest import CLUSTER


@pytest.fixture
def clusters_config() -> Iterator[Any]:
    def set_clusters(value: object) -> pulumi.Config:
        pulumi.runtime.set_all_config({"mrs-iam-sync:clusters": json.dumps(value)})
        return pulumi.Config("mrs-iam-sync")

    yield set_clusters
    pulumi.runtime.set_all_config({})


def error_lines(config: pulumi.Config) -> list[str]:
    with pytest.raises(pulumi.RunError) as raised:
        read_clusters(config)
    return [line.strip("- ").strip() for line in str(raised.value).splitlines()[1:]]


def test_a_valid_list_is_returned_as_written(clusters_config):
    entries = [{"name": "a", "cluster_id": CLUSTER, "user_names": ["alice"]}]
    assert read_clusters(clusters_config(entries)) == entries


def test_field_problems_of_every_entry_are_listed_together(clusters_config):
    lines = error_lines(
        clusters_config(
            [
                {"name": "first", "cluster_id": "bad id", "user_names": ["alice"]},
                {"name": "second", "cluster_id": CLUSTER, "user_names": "bob", "is_all_sync": True},
            ]
        )
    )
    assert any(line.startswith("mrs-iam-sync:clusters[0] (first).cluster_id ") for line in lines)
    assert any(
        line.startswith("mrs-iam-sync:clusters[1] (second).user_names must be a list") for line in lines
    )


def test_shape_problems_name_the_entry_and_key(clusters_config):
    lines = error_lines(
        clusters_config([{"cluster_id": CLUSTER}, "just a string", {"name": "x", "cluster": CLUSTER}])
    )
    assert (
        "mrs-iam-sync:clusters[0].name must be a non-empty string: it names the resource in the stack"
        in lines
    )
    assert any(line.startswith("mrs-iam-sync:clusters[1] must be an object") for line in lines)
    assert any(line.startswith("mrs-iam-sync:clusters[2].cluster is not a known key") for line in lines)


def test_duplicate_names_are_refused(clusters_config):
    entry = {"name": "same", "cluster_id": CLUSTER, "user_names": ["alice"]}
    lines = error_lines(clusters_config([entry, entry]))
    assert lines == ["mrs-iam-sync:clusters has the name 'same' more than once"]


def test_a_non_list_is_refused(clusters_config):
    with pytest.raises(pulumi.RunError, match="must be a list of objects, got dict"):
        read_clusters(clusters_config({"name": "x"}))


def test_protect_must_be_a_boolean(clusters_config):
    entries = [{"name": "a", "cluster_id": CLUSTER, "user_names": ["alice"], "protect": "yes"}]
    assert error_lines(clusters_config(entries)) == ["mrs-iam-sync:clusters[0].protect must be true or false"]


def test_protect_is_accepted_beside_the_inputs(clusters_config):
    entries = [{"name": "a", "cluster_id": CLUSTER, "user_names": ["alice"], "protect": True}]
    assert read_clusters(clusters_config(entries)) == entries
