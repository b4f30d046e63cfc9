"""``mrs-iam-sync plan`` and ``show`` through the real CLI: they run pulumi and read the emulator themselves.

The four-change plan is compared whole, in every format, with the renderings saved under
tests/data/plan, and the README's example must be that same real output. Set
MRS_IAM_SYNC_UPDATE_README=1 to write the example into the README instead of comparing it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from kit.pulumi import REPO
from mrs_iam_sync.cli.outcome import Outcome

from .harness import (
    ANALYTICS,
    PROJECT_ID,
    REGION,
    SANDBOX,
    SANDBOX_FOREIGN,
    Emulator,
    Project,
    entry,
    provider_config,
)
from .plan_scenarios import (
    FORMATS,
    FOUR_AFTER,
    FOUR_BEFORE,
    GOLDEN_COMMIT,
    deploy_then_drift,
    expected_rendering,
)

pytestmark = pytest.mark.e2e

README = REPO / "README.md"
README_EXAMPLE = re.compile(
    r"(<!-- plan-example:begin -->\n```markdown\n)(?P<plan>.*?)(```\n<!-- plan-example:end -->)", re.S
)


def readme_example() -> str:
    found = README_EXAMPLE.search(README.read_text())
    assert found, "README.md has no <!-- plan-example:begin/end --> block"
    return found["plan"]


def write_readme_example(plan: str) -> None:
    text = README.read_text()
    README.write_text(README_EXAMPLE.sub(lambda m: m[1] + plan + m[3], text, count=1))


def test_one_change_of_each_kind_renders_exactly_as_expected_in_every_format(project: Project) -> None:
    project.set_clusters(FOUR_BEFORE)
    project.up()
    project.set_clusters(FOUR_AFTER)

    results = {
        form: project.mrs_iam_sync("plan", "--format", form, "--commit", GOLDEN_COMMIT) for form in FORMATS
    }

    for form, result in results.items():
        assert (result.returncode, result.stderr) == (Outcome.CHANGES, ""), result
        assert result.stdout == expected_rendering(form), form
    if os.environ.get("MRS_IAM_SYNC_UPDATE_README") == "1":
        write_readme_example(results["markdown"].stdout)
    assert readme_example() == results["markdown"].stdout


def test_a_user_cancelled_out_of_band_is_drift_to_sync_again_and_nothing_else(
    project: Project, emulator: Emulator
) -> None:
    deploy_then_drift(project, emulator)

    result = project.mrs_iam_sync("plan", "--refresh")

    assert result.returncode == Outcome.CHANGES, result
    assert result.stdout == (
        "mrs-iam-sync plan for stack e2e\n"
        "\n"
        f"{ANALYTICS}\n"
        "  analytics (drift found by refresh): sync again user ivan (cancelled outside Pulumi)\n"
        "\n"
        "Total for stack e2e: 1 resource changes on 1 cluster: sync 1 user again after drift.\n"
    )
    for unrelated in ("project", "region", PROJECT_ID, REGION):
        assert unrelated not in result.stdout


def test_without_drift_a_refresh_plan_says_no_changes(project: Project) -> None:
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi"], groups=["ops"])])
    project.up()

    result = project.mrs_iam_sync("plan", "--refresh")

    assert (result.returncode, result.stderr) == (Outcome.NO_CHANGES, ""), result
    assert result.stdout == "mrs-iam-sync plan for stack e2e\n\nTotal for stack e2e: no changes.\n"


def test_with_the_api_down_a_refresh_plan_is_an_error_in_one_line(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi"])])
    project.up()
    emulator.stop()

    result = project.mrs_iam_sync("plan", "--refresh")

    assert result.returncode == Outcome.ERROR, result
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(
        f"mrs-iam-sync plan: error: analytics: reading IAM principals on cluster {ANALYTICS} failed: "
        "could not get an answer from 127.0.0.1:"
    ), result.stderr


def test_a_mandatory_policy_violation_is_shown_with_the_plan_and_exits_with_its_own_code(
    project: Project,
) -> None:
    project.set_clusters([entry("archive", SANDBOX, groups=["guests"])])
    project.up()
    project.set_clusters([entry("archive", SANDBOX, is_all_sync=True)])

    result = project.mrs_iam_sync("plan", "--", "--policy-pack", str(REPO / "policy"))

    assert result.returncode == Outcome.POLICY_VIOLATION, result
    assert "Policy violations: pulumi up will refuse these changes:\n" in result.stdout
    assert "  mandatory mrs-iam-sync-guardrails/no-full-sync on archive: " in result.stdout
    assert "  archive (update): FULL SYNC ON\n" in result.stdout


def test_show_lists_what_each_declared_cluster_has_and_never_a_credential(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters(
        [entry("sandbox", SANDBOX, users=["heidi"]), entry("analytics", ANALYTICS, users=["judy"])]
    )

    result = project.mrs_iam_sync("show")

    assert (result.returncode, result.stderr) == (Outcome.NO_CHANGES, ""), result
    assert result.stdout == (
        f"Synced on {emulator.url}, project {PROJECT_ID}:\n"
        f"  sandbox    {SANDBOX}\n"
        "    users:  erin\n"
        "    groups: data-engineers, ops\n"
        f"  analytics  {ANALYTICS}\n"
        "    users:  -\n"
        "    groups: -\n"
    )
    for credential in (emulator.credentials.access_key, emulator.credentials.secret_key):
        assert credential not in result.output


def test_show_as_config_pasted_into_a_new_stack_adopts_without_starting_a_sync_task(
    project: Project, emulator: Emulator
) -> None:
    shown = project.mrs_iam_sync("show", "--cluster", SANDBOX, "--as-config")
    assert shown.returncode == Outcome.NO_CHANGES, shown
    assert yaml.safe_load(shown.stdout) == {
        "mrs-iam-sync:clusters": [
            {
                "name": SANDBOX,
                "cluster_id": SANDBOX,
                "user_names": SANDBOX_FOREIGN["users"],
                "group_names": SANDBOX_FOREIGN["groups"],
            }
        ]
    }

    project.stack_file.write_text(project.stack_file_text() + shown.stdout)  # pasted under config:
    emulator.clear_log()
    project.up()

    assert [item for item in emulator.log() if item["method"] in ("POST", "DELETE")] == []
    assert emulator.synced(SANDBOX) == (set(SANDBOX_FOREIGN["users"]), set(SANDBOX_FOREIGN["groups"]))
    assert list(project.resources()) == [SANDBOX]
    assert project.mrs_iam_sync("plan").returncode == Outcome.NO_CHANGES


CODE_PROGRAM = f"""\
from mrs_iam_sync import ClusterIamSync

ClusterIamSync("lake", cluster_id="{ANALYTICS}", user_names=["heidi"], group_names=["ops"], timeout_seconds=60)
ClusterIamSync("sandbox", cluster_id="{SANDBOX}", user_names=["judy"], timeout_seconds=60)
"""
"""A program that declares its resources in code, as a consumer repository does, not in stack config."""


def declare_in_code(project: Project, program: str) -> None:
    """Make ``project`` a consumer's: ``program`` as its program, and a Pulumi.yaml without this
    repository's ``clusters`` config schema (the project name stays: the stack belongs to it)."""
    (project.dir / "Pulumi.yaml").write_text(
        "name: mrs-iam-sync\n"
        "runtime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: .venv\n"
        "stackConfigDir: stacks\n"
    )
    (project.dir / "__main__.py").write_text(program)


def test_show_and_plan_read_a_stack_declared_in_code_from_another_directory(
    project: Project, emulator: Emulator, tmp_path: Path, pulumi_bin_dir: Path
) -> None:
    declare_in_code(project, CODE_PROGRAM)
    project.up()
    elsewhere = project.root

    shown = project.mrs_iam_sync("show", "--stack", "e2e", "-C", str(project.dir), cwd=elsewhere)
    as_code = project.mrs_iam_sync(
        "show", "--stack", "e2e", "--cwd", str(project.dir), "--as-code", cwd=elsewhere
    )
    not_a_project = project.mrs_iam_sync("show", "--stack", "e2e", cwd=elsewhere)
    plan = project.mrs_iam_sync("plan", "--stack", "e2e", "-C", str(project.dir), cwd=elsewhere)

    assert (shown.returncode, shown.stderr) == (Outcome.NO_CHANGES, ""), shown
    assert shown.stdout == (
        f"Synced on {emulator.url}, project {PROJECT_ID}:\n"
        f"  lake     {ANALYTICS}\n"
        "    users:  heidi\n"
        "    groups: ops\n"
        f"  sandbox  {SANDBOX}\n"
        "    users:  erin, judy\n"
        "    groups: data-engineers, ops\n"
    )
    assert not_a_project.returncode == Outcome.ERROR, not_a_project
    assert (plan.returncode, plan.stderr) == (Outcome.NO_CHANGES, ""), plan
    assert as_code.returncode == Outcome.NO_CHANGES, as_code
    compile(as_code.stdout, "show --as-code", "exec")

    # The declarations, as the program of a new stack, adopt what is synced without starting a task.
    adopter = Project(tmp_path / "adopter", pulumi_bin_dir)
    try:
        adopter.set_config(provider_config(emulator))
        declare_in_code(adopter, as_code.stdout)
        emulator.clear_log()
        adopter.up()
    finally:
        adopter.reap()
    assert [item for item in emulator.log() if item["method"] in ("POST", "DELETE")] == []
    assert sorted(adopter.resources()) == ["lake", "sandbox"]
    assert emulator.synced(SANDBOX) == ({"erin", "judy"}, {"data-engineers", "ops"})


def test_show_of_a_new_stack_without_clusters_says_so_in_one_line(project: Project) -> None:
    declare_in_code(project, CODE_PROGRAM)

    result = project.mrs_iam_sync("show", "-C", str(project.dir), cwd=project.root)

    assert (result.returncode, result.stdout) == (Outcome.ERROR, ""), result
    assert result.stderr == (
        "mrs-iam-sync show: error: the stack declares no clusters: no mrs-iam-sync:clusters in its config "
        "and no ClusterIamSync in its state; name some with --cluster\n"
    )
