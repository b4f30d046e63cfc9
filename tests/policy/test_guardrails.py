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
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from mrs_guardrails import POLICIES
from mrs_guardrails.resource_policies import ALLOWED_CLUSTERS, NO_FULL_SYNC, PRINCIPAL_LIMIT, PRINCIPAL_NAMES
from mrs_guardrails.stack_policies import FULL_SYNC_BESIDE_NAMES, SINGLE_OWNER
from mrs_guardrails.subjects import Stack
from mrs_iam_sync.inputs import RESOURCE_TYPE
from mrs_iam_sync.rules import MAX_CANCEL_NAMES
from mrs_iam_sync.unknowns import UNKNOWN_WIRE

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


def judge_stack(
    resources: Sequence[tuple[str, Mapping[str, Any]]],
    policy: StackValidationPolicy = SINGLE_OWNER,
    config: Mapping[str, Any] | None = None,
) -> list[tuple[str, str | None]]:
    """A stack policy's (message, urn) pairs for ClusterIamSyncs given as (name, properties)."""
    args = StackValidationArgs(
        [
            PolicyResource(RESOURCE_TYPE, props, f"urn:{name}", name, no_options(), None, None, [], {})
            for name, props in resources
        ],
        config,
    )
    reports: list[tuple[str, str | None]] = []

    def report(message: str, urn: str | None = None) -> None:
        reports.append((message, urn))

    policy.validate(args, report)
    return reports


def in_stack(monkeypatch: pytest.MonkeyPatch, stack: Stack) -> None:
    monkeypatch.setattr(Stack, "current", classmethod(lambda cls: stack))


def at_preview(props: dict[str, Any]) -> Mapping[str, Any]:
    """``props`` as pulumi-policy hands them to a policy during a preview: behind its unknown-checking
    proxy, with :data:`UNKNOWN_WIRE` where the engine sends an unknown value."""
    proxied: Mapping[str, Any] = unknown_checking_proxy(props)
    return proxied


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


def test_single_owner_treats_a_spelled_out_default_region_as_the_stacks_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    in_stack(monkeypatch, Stack(name="prod", project_id="p1", region="cn-north-4"))
    spelled_out = ("a-first", {"cluster_id": "c1", "region": "cn-north-4", "user_names": ["alice"]})

    same = judge_stack([spelled_out, ("b-second", {"cluster_id": "c1", "user_names": ["alice"]})])
    elsewhere = judge_stack(
        [spelled_out, ("b-second", {"cluster_id": "c1", "region": "cn-east-3", "user_names": ["alice"]})]
    )

    assert same == [
        (
            "ClusterIamSync 'b-second' on cluster 'c1' declares user 'alice', which ClusterIamSync 'a-first' "
            "declares on the same cluster: keep each principal in one resource.",
            "urn:b-second",
        )
    ]
    assert elsewhere == []


def test_single_owner_reports_a_possible_double_owner_when_the_default_region_is_not_known(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The provider's default region may come from HW_REGION_NAME, which the pack does not see.
    in_stack(monkeypatch, Stack(name="prod", project_id="p1", region=None))

    reports = judge_stack(
        [
            ("a-first", {"cluster_id": "c1", "region": "cn-north-4", "user_names": ["alice"]}),
            ("b-second", {"cluster_id": "c1", "user_names": ["alice"]}),
        ]
    )

    assert [message for message, _ in reports] == [
        "ClusterIamSync 'b-second' on cluster 'c1' declares user 'alice', which ClusterIamSync 'a-first' "
        "declares on what may be the same cluster (a default project or region, or a value, is not known "
        "here): keep each principal in one resource."
    ]


def test_at_preview_a_known_name_beside_an_unknown_one_is_judged() -> None:
    props = at_preview({"cluster_id": "c1", "user_names": ["Mallory", UNKNOWN_WIRE]})

    assert judge(PRINCIPAL_NAMES, props) == [
        "ClusterIamSync 'analytics' on cluster 'c1' declares user names that do not match "
        "'[a-z][a-z0-9._-]*' (userPattern): 'Mallory'"
    ]
    assert judge(PRINCIPAL_LIMIT, props, {"maxNames": 1}) == []  # one name known: the update counts both


def test_at_preview_what_is_not_known_is_left_to_the_update_and_the_rest_is_still_judged() -> None:
    unknown_cluster = at_preview({"cluster_id": UNKNOWN_WIRE, "is_all_sync": True})
    unknown_flag = at_preview({"cluster_id": "c9", "is_all_sync": UNKNOWN_WIRE})
    config = {"clusters": {"prod": ["c1"]}}

    assert judge(ALLOWED_CLUSTERS, unknown_cluster, config) == []
    assert judge(NO_FULL_SYNC, unknown_cluster) == [
        "ClusterIamSync 'analytics' on a cluster not known until `pulumi up` sets is_all_sync: true in "
        "stack 'prod'; a full sync hands the cluster every IAM user with an MRS policy and every group, "
        "and is allowed only in exemptStacks: dev. Declare user_names and group_names instead."
    ]
    assert judge(NO_FULL_SYNC, unknown_flag) == []
    assert judge(ALLOWED_CLUSTERS, unknown_flag, config) == [
        "ClusterIamSync 'analytics' on cluster 'c9' (project p1) is not a cluster stack 'prod' may target: "
        "clusters.prod allows c1."
    ]


def test_single_owner_at_preview_judges_the_known_names_of_a_list_holding_an_unknown() -> None:
    reports = judge_stack(
        [
            ("a-first", at_preview({"cluster_id": "c1", "user_names": ["alice", UNKNOWN_WIRE]})),
            ("b-second", at_preview({"cluster_id": "c1", "user_names": [UNKNOWN_WIRE, "alice"]})),
        ]
    )

    assert [urn for _, urn in reports] == ["urn:b-second"]


FULL_SYNC_AND_NAMES: list[tuple[str, Mapping[str, Any]]] = [
    ("everyone", {"cluster_id": "c1", "is_all_sync": True}),
    ("readers", {"cluster_id": "c1", "user_names": ["alice"]}),
    ("writers", {"cluster_id": "c1", "region": "cn-north-4", "group_names": ["ops"]}),
    ("elsewhere", {"cluster_id": "c2", "user_names": ["bob"]}),
]


def test_a_full_sync_beside_named_resources_is_reported_naming_all_of_them_and_the_cluster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    in_stack(monkeypatch, Stack(name="prod", project_id="p1", region="cn-north-4"))

    reports = judge_stack(FULL_SYNC_AND_NAMES, FULL_SYNC_BESIDE_NAMES)

    assert reports == [
        (
            "ClusterIamSync 'everyone' on cluster 'c1' runs a full sync, and ClusterIamSync 'readers', "
            "'writers' declare(s) principals on the same cluster: while it lives, nothing its full sync "
            "brought is cancelled when they stop declaring it. Keep a full sync on a cluster of its own "
            "(exemptStacks lists the stacks where this is expected).",
            "urn:everyone",
        )
    ]
    assert judge_stack(FULL_SYNC_AND_NAMES, FULL_SYNC_BESIDE_NAMES, {"exemptStacks": ["prod"]}) == []
    assert judge_stack(FULL_SYNC_AND_NAMES[:1] + FULL_SYNC_AND_NAMES[3:], FULL_SYNC_BESIDE_NAMES) == []
