"""The guardrails' verdicts and messages, through the policies' own validate entry points.

End-to-end behaviour through the CLI is in tests/e2e/test_policy.py; these tests cover what a
preview rarely shows: bad policy config, a stack name that never arrived, other resource types,
and the per-environment config files next to the stack configs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)

from mrs_guardrails import POLICIES
from mrs_guardrails.resource_policies import NO_FULL_SYNC, PRINCIPAL_LIMIT, PRINCIPAL_NAMES
from mrs_guardrails.stack_policies import SINGLE_OWNER
from mrs_guardrails.subjects import Stack
from mrs_iam_sync.inputs import RESOURCE_TYPE
from mrs_iam_sync.rules import MAX_CANCEL_NAMES

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("dev", "staging", "prod")
ENFORCEMENT_LEVELS = {"advisory", "mandatory", "disabled"}


def no_options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def judge(
    policy: ResourceValidationPolicy,
    props: Mapping[str, Any],
    config: Mapping[str, Any] | None = None,
    *,
    resource_type: str = RESOURCE_TYPE,
) -> list[str]:
    """The violation messages ``policy`` reports for one resource named 'analytics'."""
    args = ResourceValidationArgs(
        resource_type, props, "urn:analytics", "analytics", no_options(), None, config
    )
    messages: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        messages.append(message)

    policy.validate(args, report)
    return messages


@pytest.fixture(autouse=True)
def stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Stack, "current", classmethod(lambda cls: Stack(name="prod", project_id="p1")))


def test_a_broken_pattern_in_the_policy_config_is_reported_naming_the_property() -> None:
    messages = judge(PRINCIPAL_NAMES, {"cluster_id": "c1", "user_names": ["alice"]}, {"userPattern": "[a-"})

    assert len(messages) == 1
    assert messages[0].startswith("the policy config of principal-names cannot be used: userPattern is not")
    assert "'[a-'" in messages[0]


def test_a_stack_name_that_never_reached_the_pack_does_not_exempt_a_full_sync(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Stack, "current", classmethod(lambda cls: Stack(name="", project_id=None)))

    messages = judge(NO_FULL_SYNC, {"cluster_id": "c1", "is_all_sync": True}, {"exemptStacks": [""]})

    assert messages == [
        "ClusterIamSync 'analytics' on cluster 'c1' sets is_all_sync: true in a stack whose name the "
        "pack was not told; a full sync hands the cluster every IAM user with an MRS policy "
        "and every group, and is allowed only in exemptStacks: . Declare user_names and group_names instead."
    ]


def test_resources_of_other_types_are_not_judged() -> None:
    props = {"cluster_id": "c1", "is_all_sync": True}

    assert judge(NO_FULL_SYNC, props, resource_type="aws:s3/bucket:Bucket") == []
    assert len(judge(NO_FULL_SYNC, props)) == 1


def test_the_default_limit_is_the_apis_bound_per_list() -> None:
    names = [f"user-{index:04d}" for index in range(MAX_CANCEL_NAMES + 1)]

    assert judge(PRINCIPAL_LIMIT, {"cluster_id": "c1", "user_names": names[:-1]}) == []
    assert judge(PRINCIPAL_LIMIT, {"cluster_id": "c1", "group_names": names}) == [
        f"ClusterIamSync 'analytics' on cluster 'c1' declares {MAX_CANCEL_NAMES + 1} names in group_names; "
        f"at most {MAX_CANCEL_NAMES} are allowed (maxNames). Split them over several resources."
    ]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_config_names_only_known_policies_levels_and_properties(environment: str) -> None:
    config = json.loads((REPO / "stacks" / f"policy.{environment}.json").read_text())
    schemas = {
        policy.name: set(policy.config_schema.properties) if policy.config_schema else set()
        for policy in POLICIES
    }

    for name, value in config.items():
        assert name in schemas, f"{environment}: {name} is not a policy of the pack"
        if isinstance(value, str):
            assert value in ENFORCEMENT_LEVELS
        else:
            assert set(value) - {"enforcementLevel"} <= schemas[name], f"{environment}: {name}"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_allows_exactly_the_clusters_its_stack_declares(environment: str) -> None:
    config = json.loads((REPO / "stacks" / f"policy.{environment}.json").read_text())
    stack = yaml.safe_load((REPO / "stacks" / f"Pulumi.{environment}.yaml").read_text())
    declared = {item["cluster_id"] for item in stack["config"]["mrs-iam-sync:clusters"]}

    clusters = config["allowed-clusters"]["clusters"]
    assert list(clusters) == [environment]
    assert set(clusters[environment]) == declared


def judge_stack(resources: Sequence[tuple[str, Mapping[str, Any]]]) -> list[tuple[str, str | None]]:
    """single-owner's (message, urn) pairs for ClusterIamSyncs given as (name, properties)."""
    args = StackValidationArgs(
        [
            PolicyResource(RESOURCE_TYPE, props, f"urn:{name}", name, no_options(), None, None, [], {})
            for name, props in resources
        ]
    )
    reports: list[tuple[str, str | None]] = []

    def report(message: str, urn: str | None = None) -> None:
        reports.append((message, urn))

    SINGLE_OWNER.validate(args, report)
    return reports


def test_single_owner_names_the_same_resources_whatever_order_the_engine_lists_them_in() -> None:
    resources = [
        ("c-third", {"cluster_id": "c1", "user_names": ["alice"], "group_names": ["ops"]}),
        ("a-first", {"cluster_id": "c1", "user_names": ["alice", "bob"]}),
        ("b-second", {"cluster_id": "c1", "group_names": ["ops"], "user_names": ["bob"]}),
        ("elsewhere", {"cluster_id": "c2", "user_names": ["alice"]}),
    ]

    reports = judge_stack(resources)

    assert reports == judge_stack(list(reversed(resources)))
    assert reports == [
        (
            "ClusterIamSync 'b-second' on cluster 'c1' declares user 'bob', which ClusterIamSync 'a-first' "
            "declares on the same cluster: keep each principal in one resource.",
            "urn:b-second",
        ),
        (
            "ClusterIamSync 'c-third' on cluster 'c1' declares user 'alice', which ClusterIamSync 'a-first' "
            "declares on the same cluster: keep each principal in one resource.",
            "urn:c-third",
        ),
        (
            "ClusterIamSync 'c-third' on cluster 'c1' declares group 'ops', which ClusterIamSync 'b-second' "
            "declares on the same cluster: keep each principal in one resource.",
            "urn:c-third",
        ),
    ]
