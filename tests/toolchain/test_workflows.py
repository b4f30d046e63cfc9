"""The GitHub workflows pass actionlint as ``make lint`` runs it, and actionlint would catch a broken one.

actionlint comes from toolchain/get-actionlint.sh: an installed one, or a build from the Go module
proxy cached outside the checkout (the first run of these tests may build it).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from kit.environment import bare_path

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
GET_ACTIONLINT = REPO / "toolchain" / "get-actionlint.sh"
SCRIPT_TOOLS = ("bash", "dirname", "sed", "sort", "head", "readlink")
"""What get-actionlint.sh needs besides actionlint and Go."""


def lint_workflows(*files: Path) -> subprocess.CompletedProcess[str]:
    """The Makefile's own recipe, on the given files."""
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), "lint-workflows", "WORKFLOWS=" + " ".join(map(str, files))],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_four_workflows_pass_actionlint() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))

    result = lint_workflows(*files)

    assert [path.name for path in files] == ["ci.yml", "deploy.yml", "drift.yml", "preview.yml"]
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_misspelled_pulumi_actions_input_fails_the_lint(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "preview.yml"
    broken.parent.mkdir(parents=True)
    original = (WORKFLOWS / "preview.yml").read_text()
    assert "pulumi-version:" in original
    broken.write_text(original.replace("pulumi-version:", "pulumi-verison:"))

    result = lint_workflows(broken)

    assert result.returncode != 0
    assert 'input "pulumi-verison" is not defined in action "pulumi/actions@v6"' in result.stdout


def test_the_workflows_install_the_pulumi_version_the_toolchain_pins() -> None:
    pinned = re.search(r'PULUMI_VERSION="\$\{PULUMI_VERSION:-([0-9.]+)\}"', (REPO / "toolchain" / "get-pulumi.sh").read_text())
    assert pinned is not None

    for workflow in sorted(WORKFLOWS.glob("*.yml")):
        text = workflow.read_text()
        versions = re.findall(r"pulumi-version: (\S+)", text)
        assert set(versions) == ({pinned[1]} if "pulumi/actions@" in text else set()), workflow.name


def test_the_dev_preview_uses_the_makefiles_dev_passphrase() -> None:
    passphrase = re.search(r"PULUMI_CONFIG_PASSPHRASE \?= (\S+)", (REPO / "Makefile").read_text())
    assert passphrase is not None

    used = re.findall(r"PULUMI_CONFIG_PASSPHRASE=([\w-]+)", (WORKFLOWS / "preview.yml").read_text())

    assert used and set(used) == {passphrase[1]}


def test_a_cached_actionlint_is_reused_without_go(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    version = re.search(r'ACTIONLINT_VERSION="\$\{ACTIONLINT_VERSION:-([0-9.]+)\}"', GET_ACTIONLINT.read_text())
    assert version is not None
    cached = cache / f"actionlint-v{version[1]}" / "bin" / "actionlint"
    cached.parent.mkdir(parents=True)
    cached.write_text("#!/bin/sh\necho cached\n")
    cached.chmod(0o755)
    bin_dir = bare_path(tmp_path / "bin", *SCRIPT_TOOLS)

    result = subprocess.run(
        ["bash", str(GET_ACTIONLINT)],
        env={"PATH": str(bin_dir), "HOME": str(tmp_path), "MRS_IAM_SYNC_CACHE": str(cache)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (result.returncode, result.stdout, result.stderr) == (0, f"{cached}\n", "")


def test_an_old_actionlint_on_path_is_not_used_and_without_go_the_message_says_what_to_install(
    tmp_path: Path,
) -> None:
    bin_dir = bare_path(tmp_path / "bin", *SCRIPT_TOOLS)
    old = bin_dir / "actionlint"
    old.write_text("#!/bin/sh\necho 1.6.0\n")
    old.chmod(0o755)

    result = subprocess.run(
        ["bash", str(GET_ACTIONLINT)],
        env={"PATH": str(bin_dir), "HOME": str(tmp_path), "MRS_IAM_SYNC_CACHE": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1 and result.stdout == ""
    assert "actionlint 1.6.0 on PATH is older than" in result.stderr
    assert "'go' is not installed to build it. Install Go 1.25 or newer, or actionlint." in result.stderr


def workflows() -> dict[str, dict[str, Any]]:
    return {path.name: yaml.safe_load(path.read_text()) for path in sorted(WORKFLOWS.glob("*.yml"))}


def test_secrets_appear_only_in_the_env_of_steps_and_nothing_is_written_to_github_env() -> None:
    for name, workflow in workflows().items():
        assert "secrets." not in yaml.safe_dump(workflow.get("env", {})), name
        for job_name, job in workflow["jobs"].items():
            outside_steps = {key: value for key, value in job.items() if key != "steps"}
            assert "secrets." not in yaml.safe_dump(outside_steps), (name, job_name)
            for step in job["steps"]:
                assert "secrets." not in yaml.safe_dump({k: v for k, v in step.items() if k != "env"}), (name, step)
        assert "GITHUB_ENV" not in (WORKFLOWS / name).read_text(), name


def test_every_job_has_a_timeout_and_every_run_step_runs_in_bash_with_pipefail() -> None:
    for name, workflow in workflows().items():
        assert workflow["defaults"]["run"]["shell"] == "bash", name
        for job_name, job in workflow["jobs"].items():
            assert isinstance(job.get("timeout-minutes"), int), (name, job_name)
            assert all(step.get("shell", "bash") == "bash" for step in job["steps"]), (name, job_name)


def test_deploys_queue_per_stack_and_the_prod_deploy_needs_the_ungated_prod_plan() -> None:
    jobs = workflows()["deploy.yml"]["jobs"]

    assert {name: job.get("concurrency") for name, job in jobs.items() if "environment" in job} == {
        "staging": {"group": "deploy-staging", "cancel-in-progress": False},
        "prod": {"group": "deploy-prod", "cancel-in-progress": False},
    }
    assert "environment" not in jobs["prod-plan"] and "prod-plan" in jobs["prod"]["needs"]


def test_the_plan_comment_lookup_is_limited_to_the_bots_own_comments() -> None:
    [post] = [
        step
        for step in workflows()["preview.yml"]["jobs"]["plan"]["steps"]
        if step.get("name") == "Post the plan as the stack's comment"
    ]

    assert post["env"]["BOT"] == "github-actions[bot]"
    assert 'select(.user.login == \\"$BOT\\" and' in post["run"]
