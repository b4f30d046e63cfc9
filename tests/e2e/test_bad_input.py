"""Bad input is refused by ``pulumi preview``, every problem at once, before any API call.

The engine stops at the first resource whose ``check`` fails, so the stack program validates
every entry of ``mrs-iam-sync:clusters`` with the same rules first: one preview lists every
problem of every entry.
"""

from __future__ import annotations

import re

import pytest

from .harness import ANALYTICS, CliResult, Emulator, Project, assert_failed, entry

pytestmark = pytest.mark.e2e



def problems_of(result: CliResult, resource: str) -> dict[str, str]:
    """The problems the CLI reported for one clusters entry: property -> reason."""
    pattern = re.compile(
        rf"^\s*- mrs-iam-sync:clusters\[\d+\] \({re.escape(resource)}\)\.(\S+) (.*)$",
        re.MULTILINE,
    )
    return {match.group(1): match.group(2) for match in pattern.finditer(result.stdout)}


def assert_refused_without_a_request(result: CliResult, emulator: Emulator, project: Project) -> None:
    assert_failed(result)
    assert emulator.log() == []
    assert project.resources() == {}


def test_preview_lists_every_broken_input_rule_of_a_resource_and_sends_no_request(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters(
        [
            {
                "name": "broken",
                "cluster_id": "not a cluster id!",
                "project_id": "project-with-dashes",
                "user_names": ["", "   ", 5, "alice"],
                "group_names": [f"group-{index:04d}" for index in range(1001)],
                "is_all_sync": True,
            }
        ]
    )

    result = project.preview(check=False)

    problems = problems_of(result, "broken")
    assert problems.keys() == {
        "cluster_id",
        "project_id",
        "user_names[0]",
        "user_names[1]",
        "user_names[2]",
        "group_names",
        "is_all_sync",
    }, result
    assert "letters, digits, '_' and '-' only; got 'not a cluster id!'" in problems["cluster_id"]
    assert "letters and digits only; got 'project-with-dashes'" in problems["project_id"]
    assert problems["user_names[0]"] == "must be a non-empty string"
    assert problems["user_names[1]"] == "must be a non-empty string"
    assert problems["user_names[2]"].startswith("must be a non-empty string, got ")
    assert problems["group_names"].startswith("holds 1001 names; at most 1000 are allowed")
    assert problems["is_all_sync"].startswith("cannot be true while user_names or group_names are set")
    assert_refused_without_a_request(result, emulator, project)


def test_preview_lists_every_value_of_the_wrong_type_in_a_cluster_entry_and_sends_no_request(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters(
        [
            {
                "name": "mistyped",
                "cluster_id": 42,
                "user_names": "alice",
                "group_names": {"ops": True},
                "is_all_sync": "no",
                "wait": "yes",
                "timeout_seconds": "ten minutes",
                "region": 4,
            }
        ]
    )

    result = project.preview(check=False)

    problems = problems_of(result, "mistyped")
    assert problems.pop("cluster_id").startswith("must be a string"), result
    assert problems == {
        "user_names": "must be a list of names, got 'alice'",
        "group_names": "must be a list of names, got an object",
        "is_all_sync": "must be true or false, got 'no'",
        "wait": "must be true or false, got 'yes'",
        "timeout_seconds": "must be a number of seconds, got 'ten minutes'",
        "region": "must be a region id such as 'cn-north-4', got the number 4",
    }, result
    assert_refused_without_a_request(result, emulator, project)


def test_preview_lists_the_problems_of_every_broken_entry_at_once(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters(
        [
            {"name": "first", "cluster_id": "bad id!", "user_names": ["alice"]},
            {"name": "fine", "cluster_id": ANALYTICS, "user_names": ["alice"]},
            {"name": "third", "cluster_id": ANALYTICS, "user_names": [""]},
        ]
    )

    result = project.preview(check=False)

    assert problems_of(result, "first").keys() == {"cluster_id"}, result
    assert problems_of(result, "third") == {"user_names[0]": "must be a non-empty string"}, result
    assert problems_of(result, "fine") == {}
    assert_refused_without_a_request(result, emulator, project)


def test_preview_lists_every_malformed_cluster_entry_and_sends_no_request(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters(
        [
            {"cluster_id": ANALYTICS, "user_names": ["judy"]},
            {"name": "", "cluster_id": ANALYTICS},
            {"name": "team", "cluster_id": ANALYTICS, "user_names": ["heidi"], "colour": "red"},
            {"name": "team", "cluster_id": ANALYTICS, "user_names": ["ivan"]},
        ]
    )

    result = project.preview(check=False)

    assert "invalid stack config:" in result.stdout, result
    for problem in (
        "mrs-iam-sync:clusters[0].name must be a non-empty string",
        "mrs-iam-sync:clusters[1].name must be a non-empty string",
        "mrs-iam-sync:clusters[2].colour is not a known key",
        "mrs-iam-sync:clusters has the name 'team' more than once",
    ):
        assert problem in result.stdout, result
    assert_refused_without_a_request(result, emulator, project)


@pytest.mark.parametrize(
    "clusters",
    [{"name": "analytics", "cluster_id": ANALYTICS}, ["analytics"]],
    ids=["an object", "a list of strings"],
)
def test_preview_refuses_clusters_config_that_is_not_a_list_of_objects(
    project: Project, emulator: Emulator, clusters: object
) -> None:
    project.set_config({"mrs-iam-sync:clusters": clusters})

    result = project.preview(check=False)

    assert "configuration key 'clusters' must be of type 'array<object>'" in result.output, result
    assert_refused_without_a_request(result, emulator, project)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "huaweicloud:max_retries",
            "many",
            "max_retries from stack config huaweicloud:max_retries must be a non-negative integer, "
            "got 'many'",
        ),
        (
            "huaweicloud:insecure",
            "maybe",
            "insecure from stack config huaweicloud:insecure must be true or false, got 'maybe'",
        ),
        (
            "huaweicloud:endpoints",
            ["http://127.0.0.1:1"],
            "huaweicloud:endpoints must be a JSON object, not list",
        ),
    ],
)
def test_preview_refuses_a_provider_setting_of_the_wrong_type_naming_its_key(
    project: Project, emulator: Emulator, key: str, value: object, message: str
) -> None:
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi"])])
    project.set_config({key: value})

    result = project.preview(check=False)

    assert message in result.stdout, result
    assert_refused_without_a_request(result, emulator, project)
