"""The guardrails policy pack (``policy/``), enforced by the real CLI at preview.

Every preview here runs ``pulumi preview --policy-pack policy --policy-pack-config <file>`` as a
pull-request pipeline would, against the test's emulator; the pack runs through the Python
language host in use (the stand-in host where the official one cannot be built). The stack is
named ``e2e``, which no policy treats specially by default: stack-dependent policies are shown to
see that name and the stack's config.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit.pulumi import REPO

from .harness import (
    ANALYTICS,
    PROJECT_ID,
    REGION,
    STACK,
    STREAMING,
    VENV_PYTHON,
    CliResult,
    Emulator,
    Project,
    entry,
)

pytestmark = pytest.mark.e2e

PACK = REPO / "policy"


def write_policy_config(project: Project, config: dict[str, Any]) -> Path:
    """A policy config file such as stacks/policy.<env>.json, for this test's stack."""
    path = project.root / f"policy-{len(list(project.root.glob('policy-*.json')))}.json"
    path.write_text(json.dumps(config))
    return path


def allowed(*clusters: str) -> dict[str, Any]:
    """Policy config letting the e2e stack target ``clusters``: every test needs it to pass allowed-clusters."""
    return {"allowed-clusters": {"clusters": {STACK: list(clusters)}}}


def with_pack(project: Project, config: dict[str, Any]) -> tuple[str, ...]:
    return ("--policy-pack", str(PACK), "--policy-pack-config", str(write_policy_config(project, config)))


def preview(project: Project, config: dict[str, Any]) -> CliResult:
    return project.preview(*with_pack(project, config), check=False)


def up(project: Project, config: dict[str, Any]) -> CliResult:
    return project.up(*with_pack(project, config), check=False)


def assert_refused(result: CliResult, policy: str, *message_parts: str) -> None:
    """The preview failed on a mandatory violation of ``policy`` whose message holds every part."""
    assert result.returncode != 0, result
    assert f"[mandatory]  {policy}  " in result.stdout, result
    for part in message_parts:
        assert part in result.stdout, result


def assert_passes(result: CliResult, *policies: str) -> None:
    """The command succeeded and none of ``policies`` reported anything."""
    assert result.returncode == 0, result
    for policy in policies:
        assert f"]  {policy}  " not in result.stdout, result


# -- no-full-sync ------------------------------------------------------------------------------------


def test_full_sync_is_refused_outside_the_exempt_stacks_and_the_fixed_stack_deploys(
    project: Project, emulator: Emulator
) -> None:
    config = allowed(ANALYTICS)
    project.set_clusters([entry("everyone", ANALYTICS, is_all_sync=True)])

    refused = preview(project, config)

    assert_refused(
        refused,
        "no-full-sync",
        f"ClusterIamSync 'everyone' on cluster '{ANALYTICS}' sets is_all_sync: true in stack 'e2e'",
        "allowed only in exemptStacks: dev.",
    )
    assert emulator.writes() == []

    project.set_clusters([entry("everyone", ANALYTICS, users=["alice"], groups=["analysts"])])
    assert_passes(preview(project, config), "no-full-sync")
    assert_passes(up(project, config), "no-full-sync")
    assert emulator.synced(ANALYTICS) == ({"alice"}, {"analysts", "data-engineers"})


def test_full_sync_previews_in_a_stack_the_policy_config_exempts(project: Project) -> None:
    project.set_clusters([entry("everyone", ANALYTICS, is_all_sync=True)])

    result = preview(project, {**allowed(ANALYTICS), "no-full-sync": {"exemptStacks": ["dev", STACK]}})

    assert_passes(result, "no-full-sync")


# -- allowed-clusters --------------------------------------------------------------------------------


def test_a_cluster_the_stack_may_not_target_is_refused_until_the_policy_config_allows_it(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters([entry("streams", STREAMING, users=["bob"])])
    # The cluster is allowed, but for another stack: the policy must judge by this stack's name.
    elsewhere = {"allowed-clusters": {"clusters": {STACK: [ANALYTICS], "prod": [STREAMING]}}}

    refused = preview(project, elsewhere)

    assert_refused(
        refused,
        "allowed-clusters",
        # The project id comes from the stack's huaweicloud:project_id: the pack sees the stack config.
        f"ClusterIamSync 'streams' on cluster '{STREAMING}' (project {PROJECT_ID}) is not a cluster "
        f"stack 'e2e' may target: clusters.e2e allows {ANALYTICS}.",
    )

    config = allowed(ANALYTICS, STREAMING)
    assert_passes(preview(project, config), "allowed-clusters")
    assert_passes(up(project, config), "allowed-clusters")
    assert emulator.synced(STREAMING)[0] == {"bob"}


def test_a_stack_missing_from_the_allowed_clusters_config_may_target_no_cluster(project: Project) -> None:
    project.set_clusters([entry("analytics", ANALYTICS, users=["alice"])])

    result = preview(project, {"allowed-clusters": {"clusters": {"prod": [ANALYTICS]}}})

    assert_refused(
        result,
        "allowed-clusters",
        f"ClusterIamSync 'analytics' on cluster '{ANALYTICS}'",
        "clusters has no entry for e2e, so it may target none.",
    )


# -- principal-limit ---------------------------------------------------------------------------------


def test_more_names_than_the_configured_limit_are_refused_and_the_trimmed_stack_deploys(
    project: Project, emulator: Emulator
) -> None:
    config = {**allowed(ANALYTICS), "principal-limit": {"maxNames": 2}}
    project.set_clusters([entry("analytics", ANALYTICS, users=["alice", "bob", "carol"])])

    refused = preview(project, config)

    assert_refused(
        refused,
        "principal-limit",
        f"ClusterIamSync 'analytics' on cluster '{ANALYTICS}' declares 3 names in user_names; "
        "at most 2 are allowed (maxNames).",
    )

    project.set_clusters([entry("analytics", ANALYTICS, users=["alice", "bob"])])
    assert_passes(preview(project, config), "principal-limit")
    assert_passes(up(project, config), "principal-limit")
    assert emulator.synced(ANALYTICS)[0] == {"alice", "bob"}


# -- principal-names (advisory) ----------------------------------------------------------------------


def test_names_against_the_convention_are_reported_without_blocking_preview_or_update(
    project: Project, emulator: Emulator
) -> None:
    config = {**allowed(ANALYTICS), "principal-names": {"userPattern": "[a-k][a-z]*"}}
    project.set_clusters([entry("analytics", ANALYTICS, users=["alice", "mallory"])])
    warning = (
        f"ClusterIamSync 'analytics' on cluster '{ANALYTICS}' declares user names that do not match "
        "'[a-k][a-z]*' (userPattern): 'mallory'"
    )

    previewed = preview(project, config)
    updated = up(project, config)

    for result in (previewed, updated):
        assert result.returncode == 0, result
        assert "[advisory]  principal-names  " in result.stdout, result
        assert warning in result.stdout, result
    assert emulator.synced(ANALYTICS)[0] == {"alice", "mallory"}


# -- single-owner ------------------------------------------------------------------------------------

TWO_OWNERS = [
    entry("first", ANALYTICS, users=["alice", "bob"]),
    entry("second", ANALYTICS, users=["alice", "carol"]),
]
DOUBLE_ALICE = (
    f"ClusterIamSync 'second' on cluster '{ANALYTICS}' declares user 'alice', which ClusterIamSync "
    "'first' declares on the same cluster"
)


def test_a_user_declared_by_two_resources_on_one_cluster_is_a_warning_by_default(project: Project) -> None:
    project.set_clusters(TWO_OWNERS)

    result = preview(project, allowed(ANALYTICS))

    assert result.returncode == 0, result
    assert "[advisory]  single-owner  " in result.stdout, result
    assert DOUBLE_ALICE in result.stdout, result


def test_a_user_declared_by_two_resources_on_one_cluster_is_refused_where_configured_mandatory(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters(TWO_OWNERS)

    result = preview(project, {**allowed(ANALYTICS), "single-owner": "mandatory"})

    assert_refused(result, "single-owner", DOUBLE_ALICE)
    assert emulator.writes() == []


def test_the_same_user_on_two_clusters_is_not_reported(project: Project) -> None:
    project.set_clusters(
        [entry("analytics", ANALYTICS, users=["alice"]), entry("streams", STREAMING, users=["alice"])]
    )

    result = preview(project, {**allowed(ANALYTICS, STREAMING), "single-owner": "mandatory"})

    assert_passes(result, "single-owner")


def test_a_spelled_out_default_region_is_the_same_cluster_as_none(project: Project) -> None:
    # The stack's huaweicloud:region is REGION: both resources are on the one cluster.
    project.set_clusters(
        [
            entry("first", ANALYTICS, users=["alice"], region=REGION),
            entry("second", ANALYTICS, users=["alice"]),
        ]
    )

    result = preview(project, {**allowed(ANALYTICS), "single-owner": "mandatory"})

    assert_refused(result, "single-owner", f"ClusterIamSync 'second' on cluster '{ANALYTICS}' declares user 'alice'")


# -- full-sync-beside-names (advisory) ---------------------------------------------------------------


def test_a_full_sync_beside_named_resources_is_reported_naming_them_and_the_cluster(project: Project) -> None:
    project.set_clusters(
        [entry("everyone", ANALYTICS, is_all_sync=True), entry("readers", ANALYTICS, users=["alice"])]
    )

    result = preview(project, {**allowed(ANALYTICS), "no-full-sync": {"exemptStacks": [STACK]}})

    assert result.returncode == 0, result
    assert "[advisory]  full-sync-beside-names  " in result.stdout, result
    assert (
        f"ClusterIamSync 'everyone' on cluster '{ANALYTICS}' runs a full sync, and ClusterIamSync 'readers' "
        "declare(s) principals on the same cluster" in result.stdout
    ), result


# -- protect-in-prod (advisory) ----------------------------------------------------------------------


def test_unprotected_resources_are_reported_only_in_the_stacks_the_config_names(project: Project) -> None:
    project.set_clusters([entry("analytics", ANALYTICS, users=["alice"])])

    by_default = preview(project, allowed(ANALYTICS))
    named = preview(project, {**allowed(ANALYTICS), "protect-in-prod": {"stacks": ["prod", STACK]}})

    assert_passes(by_default, "protect-in-prod")
    assert named.returncode == 0, named
    assert "[advisory]  protect-in-prod  " in named.stdout, named
    assert (
        f"ClusterIamSync 'analytics' on cluster '{ANALYTICS}' is not protected in stack 'e2e'" in named.stdout
    ), named


def test_an_entry_with_protect_satisfies_protect_in_prod(project: Project) -> None:
    project.set_clusters([entry("analytics", ANALYTICS, users=["alice"], protect=True)])

    result = preview(project, {**allowed(ANALYTICS), "protect-in-prod": {"stacks": [STACK]}})

    assert_passes(result, "protect-in-prod")


# -- unknown values at preview -----------------------------------------------------------------------

LATE_NAME_PROGRAM = '''\
"""One ClusterIamSync whose last user name is another resource's output: unknown at preview."""

import pulumi
from pulumi.dynamic import CreateResult, Resource, ResourceProvider

from mrs_iam_sync import ClusterIamSync


class _Echo(ResourceProvider):
    def create(self, props):
        return CreateResult(id_=props["text"], outs={"text": props["text"], "echoed": props["text"]})


class Echo(Resource):
    """Test-only: ``echoed`` is ``text`` once created, and unknown before."""

    echoed: pulumi.Output[str]

    def __init__(self, name, text):
        super().__init__(_Echo(), name, {"text": text, "echoed": None})


config = pulumi.Config()
late = Echo("late-name", config.require("late_user"))
ClusterIamSync(
    "analytics",
    cluster_id=config.require("cluster"),
    user_names=[*config.require_object("users"), late.echoed],
    timeout_seconds=60,
)
'''
A_TO_K = {**allowed(ANALYTICS), "principal-names": {"enforcementLevel": "mandatory", "userPattern": "[a-k][a-z]*"}}
"""principal-names made mandatory, refusing 'mallory'."""
CANNOT_RUN = "can't run policy"
"""How pulumi-policy says it skipped a whole policy at preview because of an unknown value."""


LATE_NAME_PROJECT = """\
name: mrs-iam-sync
runtime:
  name: python
  options:
    toolchain: pip
    virtualenv: .venv
stackConfigDir: stacks
"""
"""The harness's project under its name (the stack exists under it), without its config schema."""


def late_name_stack(project: Project, *, users: list[str], late_user: str) -> None:
    (project.dir / "Pulumi.yaml").write_text(LATE_NAME_PROJECT)
    (project.dir / "__main__.py").write_text(LATE_NAME_PROGRAM)
    project.set_config(
        {"mrs-iam-sync:cluster": ANALYTICS, "mrs-iam-sync:users": users, "mrs-iam-sync:late_user": late_user}
    )


def test_a_known_name_beside_an_unknown_one_is_judged_at_preview(project: Project) -> None:
    late_name_stack(project, users=["alice", "mallory"], late_user="heidi")

    result = preview(project, A_TO_K)

    assert_refused(
        result,
        "principal-names",
        f"ClusterIamSync 'analytics' on cluster '{ANALYTICS}' declares user names that do not match "
        "'[a-k][a-z]*' (userPattern): 'mallory'",
    )
    assert CANNOT_RUN not in result.stdout, result


def test_a_violation_hidden_behind_an_unknown_at_preview_stops_the_update(
    project: Project, emulator: Emulator
) -> None:
    late_name_stack(project, users=["alice"], late_user="mallory")

    previewed = preview(project, A_TO_K)
    updated = project.run("up", "--yes", "--non-interactive", *with_pack(project, A_TO_K), check=False)

    # The preview judges what it knows ('alice'), neither crashing nor skipping the policy...
    assert_passes(previewed, "principal-names")
    assert CANNOT_RUN not in previewed.stdout, previewed
    # ...and the update, which knows the name, refuses it before the resource is created.
    assert_refused(updated, "principal-names", "(userPattern): 'mallory'")
    assert "analytics" not in project.resources()
    assert emulator.synced(ANALYTICS)[0] == set()


# -- the pack as installed with the package ------------------------------------------------------------


def installed_pack(project: Project, *args: str) -> Path:
    """What a consumer repository passes to --policy-pack: ``mrs-iam-sync policy-pack`` from its venv."""
    result = project.mrs_iam_sync("policy-pack", *args)
    assert result.returncode == 0, result
    return Path(result.stdout.strip())


def test_the_shipped_pack_runs_with_the_python_on_path_or_pinned_to_the_cli_s_virtualenv(
    project: Project, tmp_path: Path
) -> None:
    project.set_clusters([entry("analytics", ANALYTICS, users=["alice"])])
    config = write_policy_config(project, {"allowed-clusters": {"clusters": {STACK: [STREAMING]}}})
    refusal = f"ClusterIamSync 'analytics' on cluster '{ANALYTICS}' (project {PROJECT_ID}) is not a cluster"
    shipped = installed_pack(project)
    pinned = installed_pack(project, "--pin", str(tmp_path / "pinned-pack"))
    assert "virtualenv" not in yaml.safe_load((shipped / "PulumiPolicy.yaml").read_text())["runtime"]["options"]
    without_venv = project.env["PATH"]

    # An activated virtualenv: the language host's python3 is the one with the package.
    project.env["PATH"] = f"{VENV_PYTHON.parent}{os.pathsep}{without_venv}"
    on_path = project.preview("--policy-pack", str(shipped), "--policy-pack-config", str(config), check=False)
    # Not activated: the pinned copy names the virtualenv itself.
    project.env["PATH"] = without_venv
    pinned_run = project.preview("--policy-pack", str(pinned), "--policy-pack-config", str(config), check=False)

    for result in (on_path, pinned_run):
        assert_refused(result, "allowed-clusters", refusal)
