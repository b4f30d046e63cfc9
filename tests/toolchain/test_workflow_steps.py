"""The workflows' shell steps run here, in order, as a runner would run them (``workflow_runner``).

The world of a run: a fresh copy of the repository per job (the project's ``.venv`` linked in, so
``make install`` has nothing to do), the Pulumi CLI on PATH where ``pulumi/actions`` would put
it, a file state backend in which ``staging`` and ``prod`` were created once (README: "Create each
stack there once"), a stub ``gh`` that keeps the pull request's comments (``gh_stub.py``), and an
emulator standing in for the cloud: the staging and prod regions' MRS endpoints point at it
through the SDK's ``HUAWEICLOUD_SDK_REGION_MRS_<REGION>`` variables, with the secrets' keys in its
seed. The dev leg starts its own emulator with ``make emulator-start``, as on GitHub, on a port of
this machine's choosing.

Nothing is waited for by the clock: tasks take 0.1 s and every step runs to its end. ``ci.yml`` is
not run here: its one step is ``make test``, which is what runs this file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit.emulator import EmulatorProcess
from kit.environment import subprocess_environment
from kit.pulumi import REPO, find_bin_dir

from .workflow_runner import JobRun, Runner, Unsupported, condition, dump, evaluate, substitute

pytestmark = pytest.mark.e2e

WORKFLOWS = REPO / ".github" / "workflows"
COPIED = (
    ".github",
    "stacks",
    "policy",
    "toolchain",
    "Makefile",
    "Pulumi.yaml",
    "__main__.py",
    "pyproject.toml",
    "constraints.txt",
)
PASSPHRASE = "workflow-test-state-passphrase"
OWNER_REPO = "example-org/mrs-iam-sync"
SHA_1, SHA_2 = "1" * 40, "2" * 40
DEPLOY_KEYS = ("WFDEPLOYAK0000000001", "wf-deploy-secret-key")
READONLY_KEYS = ("WFREADONLYAK00000001", "wf-readonly-secret-key")
SECRETS = {
    "HW_ACCESS_KEY": DEPLOY_KEYS[0],
    "HW_SECRET_KEY": DEPLOY_KEYS[1],
    "HW_READONLY_ACCESS_KEY": READONLY_KEYS[0],
    "HW_READONLY_SECRET_KEY": READONLY_KEYS[1],
    "STATE_READER_ACCESS_KEY_ID": "state-reader",
    "STATE_READER_SECRET_ACCESS_KEY": "state-reader-secret",
    "STATE_WRITER_ACCESS_KEY_ID": "state-writer",
    "STATE_WRITER_SECRET_ACCESS_KEY": "state-writer-secret",
    "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
}
FOREIGN_COMMENT = {
    "id": 1,
    "user": {"login": "a-reviewer"},
    "body": "<!-- mrs-iam-sync plan: stack dev -->\nquoted",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def stack_config(stack: str) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((REPO / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    return config


def cloud_seed() -> dict[str, Any]:
    """The staging and prod projects with their clusters, and every principal the stacks declare."""
    projects = []
    for stack in ("staging", "prod"):
        config = stack_config(stack)
        clusters = config["mrs-iam-sync:clusters"]
        users = sorted({name for entry in clusters for name in entry.get("user_names", [])})
        groups = sorted({name for entry in clusters for name in entry.get("group_names", [])})
        projects.append(
            {
                "id": config["huaweicloud:project_id"],
                "region": config["huaweicloud:region"],
                "clusters": [{"id": entry["cluster_id"], "name": entry["name"]} for entry in clusters],
                "iam": {"groups": groups, "users": [{"name": name, "mrs_policy": True} for name in users]},
            }
        )
    keys = [{"access_key": ak, "secret_key": sk} for ak, sk in (DEPLOY_KEYS, READONLY_KEYS)]
    return {"projects": projects, "credentials": {"access_keys": keys}}


@dataclass
class World:
    """Everything a workflow run touches; :meth:`run` runs one workflow file."""

    root: Path
    template: Path
    machine_env: dict[str, str]
    cloud: EmulatorProcess
    gh_dir: Path
    workspaces: list[Path] = field(default_factory=list)

    def make_workspace(self, name: str) -> Path:
        workspace = self.root / "runs" / f"{len(self.workspaces):03d}-{name}"
        shutil.copytree(self.template, workspace, symlinks=True)
        self.workspaces.append(workspace)
        return workspace

    def run(
        self,
        workflow: str,
        *,
        github: dict[str, Any],
        matrix: dict[str, list[str]] | None = None,
        before_job: Callable[[str], None] | None = None,
    ) -> list[JobRun]:
        runner = Runner(
            WORKFLOWS / workflow,
            self.machine_env,
            self.make_workspace,
            github,
            SECRETS,
            {"PULUMI_BACKEND_URL": f"file://{self.root / 'state'}"},
            before_job,
        )
        try:
            return runner.run(matrix)
        finally:
            self.stop_dev_emulators()

    def stop_dev_emulators(self) -> None:
        """The emulators ``make emulator-start`` left running in the job workspaces (their pid files)."""
        for workspace in self.workspaces:
            pid_file = workspace / ".work" / "emulator.pid"
            if pid_file.exists():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid_file.read_text()), signal.SIGTERM)
                pid_file.unlink()

    def comments(self) -> list[dict[str, Any]]:
        path = self.gh_dir / "comments.json"
        found: list[dict[str, Any]] = json.loads(path.read_text()) if path.exists() else []
        return found

    def gh_calls(self) -> list[dict[str, Any]]:
        path = self.gh_dir / "calls.jsonl"
        calls = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        path.unlink(missing_ok=True)
        return calls

    def pulumi(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """A command of an operator on this machine, with the deploy keys (not part of a workflow)."""
        env = {
            **self.machine_env,
            "PULUMI_BACKEND_URL": f"file://{self.root / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "HW_ACCESS_KEY": DEPLOY_KEYS[0],
            "HW_SECRET_KEY": DEPLOY_KEYS[1],
        }
        return subprocess.run(
            ["pulumi", *args],
            cwd=cwd or self.template,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )


@pytest.fixture(scope="module")
def pulumi_bin_dir() -> Path:
    return find_bin_dir()


@pytest.fixture
def world(tmp_path: Path, pulumi_bin_dir: Path) -> Iterator[World]:
    template = tmp_path / "template"
    template.mkdir()
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, template / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, template / name)
    (template / ".venv").symlink_to(REPO / ".venv")
    dev_port = free_port()
    dev_stack = template / "stacks" / "Pulumi.dev.yaml"
    dev_stack.write_text(
        dev_stack.read_text().replace("http://127.0.0.1:8470", f"http://127.0.0.1:{dev_port}")
    )

    seed = tmp_path / "cloud-seed.json"
    seed.write_text(json.dumps(cloud_seed()))
    cloud = EmulatorProcess(
        "--seed",
        str(seed),
        "--sync-seconds",
        "0.1",
        logs=tmp_path / "cloud",
        command=[str(REPO / ".venv" / "bin" / "python"), "-m", "mrs_emulator"],
        project_id=stack_config("prod")["huaweicloud:project_id"],
    )
    stub_bin = tmp_path / "bin"
    stub_bin.mkdir()
    (stub_bin / "gh").write_text(
        f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).with_name("gh_stub.py")}" "$@"\n'
    )
    (stub_bin / "gh").chmod(0o755)
    gh_dir = tmp_path / "gh"
    gh_dir.mkdir()
    (tmp_path / "state").mkdir()
    machine_env = subprocess_environment(
        PULUMI_HOME=str(tmp_path / "pulumi-home"),
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        EMULATOR_PORT=str(dev_port),
        GH_STUB_DIR=str(gh_dir),
    )
    machine_env["PATH"] = os.pathsep.join([str(stub_bin), str(pulumi_bin_dir), machine_env.get("PATH", "")])
    for stack in ("staging", "prod"):
        region = stack_config(stack)["huaweicloud:region"]
        machine_env[f"HUAWEICLOUD_SDK_REGION_MRS_{region.upper().replace('-', '_')}"] = cloud.url
    world = World(tmp_path, template, machine_env, cloud, gh_dir)
    for stack in ("staging", "prod"):
        world.pulumi("stack", "init", stack, "--non-interactive")
    try:
        yield world
    finally:
        world.stop_dev_emulators()
        cloud.stop()


def pull_request(sha: str, *, head_repo: str = OWNER_REPO) -> dict[str, Any]:
    return {
        "repository": OWNER_REPO,
        "sha": sha,
        "token": "ghs_workflow_test_token",
        "event_name": "pull_request",
        "event": {"pull_request": {"number": 7, "head": {"sha": sha, "repo": {"full_name": head_repo}}}},
    }


def push(sha: str) -> dict[str, Any]:
    return {
        "repository": OWNER_REPO,
        "sha": sha,
        "token": "ghs_workflow_test_token",
        "event_name": "push",
        "event": {},
    }


def by_stack(runs: list[JobRun], job: str) -> dict[str, JobRun]:
    return {run.matrix.get("stack", ""): run for run in runs if run.job == job}


def marker(stack: str) -> str:
    return f"<!-- mrs-iam-sync plan: stack {stack} -->"


# -- the expression subset ---------------------------------------------------------------------------


def test_the_expression_subset_evaluates_as_github_does_and_refuses_the_rest() -> None:
    contexts = {
        "github": {"repository": "o/r"},
        "steps": {"plan": {"outputs": {"code": "3"}}},
        "matrix": {"stack": "dev"},
    }
    status = {"success": False, "failure": True, "cancelled": False, "always": True}

    assert substitute("a-${{ matrix.stack }}-${{ github.event.pull_request.number }}", contexts) == "a-dev-"
    assert evaluate("steps.plan.outputs.code != '0' && steps.plan.outputs.code != '2'", contexts) is True
    assert evaluate("matrix.stack == 'DEV'", contexts) is True
    assert condition("steps.plan.outputs.code == '3'", contexts, status) is False
    assert condition("${{ !cancelled() && steps.plan.outputs.code == '3' }}", contexts, status) is True
    for unsupported in (
        "contains(github.repository, 'o')",
        "fromJSON('1')",
        "github.repository[0]",
        "hashFiles('x')",
    ):
        with pytest.raises(Unsupported):
            evaluate(unsupported, contexts)
    with pytest.raises(Unsupported):
        substitute("${{ runner.os }}", contexts)


# -- preview.yml --------------------------------------------------------------------------------------


def test_preview_posts_one_comment_per_stack_then_edits_only_the_bots_own_on_the_next_push(
    world: World,
) -> None:
    (world.gh_dir / "comments.json").write_text(json.dumps([FOREIGN_COMMENT]))

    first = world.run("preview.yml", github=pull_request(SHA_1))
    first_calls = world.gh_calls()
    first_comments = world.comments()
    second = world.run("preview.yml", github=pull_request(SHA_2), matrix={"stack": ["dev"]})
    second_calls = world.gh_calls()

    plans = by_stack(first, "plan")
    assert {stack: run.status for stack, run in plans.items()} == dict.fromkeys(
        ("dev", "staging", "prod"), "success"
    ), dump(first)
    assert [run.status for run in first if run.job == "fork"] == ["skipped"]
    assert [call["argv"][1:3] for call in first_calls] == [
        ["--paginate", f"repos/{OWNER_REPO}/issues/7/comments"],
        ["--method", "POST"],
    ] * 3
    assert all(call["token"] for call in first_calls)
    assert first_comments[0] == FOREIGN_COMMENT
    bot_comments = {comment["body"].splitlines()[0]: comment for comment in first_comments[1:]}
    assert sorted(bot_comments) == sorted(marker(stack) for stack in ("dev", "staging", "prod"))
    assert all(f"Computed for commit {SHA_1}." in comment["body"] for comment in bot_comments.values())
    assert "**Total for stack `staging`:**" in bot_comments[marker("staging")]["body"]

    assert by_stack(second, "plan")["dev"].status == "success", dump(second)
    dev_id = bot_comments[marker("dev")]["id"]
    assert [call["argv"][1:4] for call in second_calls][1] == [
        "--method",
        "PATCH",
        f"repos/{OWNER_REPO}/issues/comments/{dev_id}",
    ]
    after = world.comments()
    assert len(after) == len(first_comments) and after[0] == FOREIGN_COMMENT
    assert f"Computed for commit {SHA_2}." in next(item["body"] for item in after if item["id"] == dev_id)


def test_preview_fails_on_a_policy_violation_and_on_keys_in_a_team_stacks_config_and_comments_both(
    world: World,
) -> None:
    policy = world.template / "stacks" / "policy.staging.json"
    narrowed = json.loads(policy.read_text())
    narrowed["allowed-clusters"]["clusters"]["staging"] = narrowed["allowed-clusters"]["clusters"]["staging"][
        :1
    ]
    policy.write_text(json.dumps(narrowed))
    # prod's keys are for its real endpoint here (the rule exempts an emulator's), never called: plan refuses first.
    del world.machine_env["HUAWEICLOUD_SDK_REGION_MRS_AP_SOUTHEAST_3"]
    prod_stack = world.template / "stacks" / "Pulumi.prod.yaml"
    prod_stack.write_text(
        prod_stack.read_text().replace(
            "config:\n",
            "config:\n  huaweicloud:access_key: AKKEPTINCONFIG\n  huaweicloud:secret_key: sk-kept-in-config\n",
            1,
        )
    )

    runs = by_stack(
        world.run("preview.yml", github=pull_request(SHA_1), matrix={"stack": ["staging", "prod"]}), "plan"
    )
    comments = {comment["body"].splitlines()[0]: comment["body"] for comment in world.comments()}

    staging, prod = runs["staging"], runs["prod"]
    assert staging.status == "failure" and staging.outputs["plan"] == {"code": "3"}, staging.log
    assert staging.annotations("error") == [
        "title=Policy violation on staging::a mandatory policy is violated, so pulumi up would refuse these changes "
        "(see the stack's comment)"
    ]
    assert "allowed-clusters" in comments[marker("staging")]
    assert prod.status == "failure" and prod.outputs["plan"] == {"code": "1"}, prod.log
    assert prod.annotations("error")[0].startswith("title=No plan for prod::mrs-iam-sync plan failed")
    assert (
        "stack prod keeps huaweicloud:access_key, huaweicloud:secret_key in its config"
        in comments[marker("prod")]
    )
    assert "sk-kept-in-config" not in prod.log + comments[marker("prod")]


def test_a_plan_that_dies_of_a_signal_fails_the_job_and_posts_nothing(world: World, tmp_path: Path) -> None:
    broken = tmp_path / "broken-bin"
    broken.mkdir()
    (broken / "pulumi").write_text("#!/bin/sh\nkill -KILL $PPID\n")
    (broken / "pulumi").chmod(0o755)
    world.machine_env["PATH"] = f"{broken}{os.pathsep}{world.machine_env['PATH']}"

    [staging] = by_stack(
        world.run("preview.yml", github=pull_request(SHA_1), matrix={"stack": ["staging"]}), "plan"
    ).values()

    assert staging.status == "failure" and staging.outputs["plan"] == {"code": "137"}, staging.log
    assert staging.annotations("warning") == [
        "title=No comment for staging::the plan has no marker line, so it is not posted"
    ]
    assert staging.annotations("error") == [
        "title=No plan for staging::mrs-iam-sync plan exited with '137' (a crash or a signal): see the log above"
    ]
    assert world.gh_calls() == [] and world.comments() == []


def test_a_pull_request_from_a_fork_gets_the_notice_and_no_plan(world: World) -> None:
    runs = world.run("preview.yml", github=pull_request(SHA_1, head_repo="someone/mrs-iam-sync"))

    assert {run.job: run.status for run in runs} == {"plan": "skipped", "fork": "success"}
    [fork] = [run for run in runs if run.job == "fork"]
    assert fork.annotations("notice") == [
        "title=No plan for a fork::pull requests from forks get no secrets, so no stack can be previewed; "
        "a maintainer can push the branch to this repository to get the plans"
    ]
    assert world.gh_calls() == []


# -- deploy.yml and drift.yml -------------------------------------------------------------------------


def test_deploy_refuses_a_prod_plan_that_changed_while_it_waited_then_deploys_the_next_one(
    world: World,
) -> None:
    prod_clusters = stack_config("prod")["mrs-iam-sync:clusters"]

    def someone_deploys_part_of_prod_meanwhile(job: str) -> None:
        if job == "prod":
            operator = world.make_workspace("operator")
            stack_file = operator / "stacks" / "Pulumi.prod.yaml"
            document = yaml.safe_load(stack_file.read_text())
            document["config"]["mrs-iam-sync:clusters"] = prod_clusters[:1]
            stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
            world.pulumi(
                "up", "--yes", "--skip-preview", "--non-interactive", "--stack", "prod", cwd=operator
            )

    refused = {
        run.job: run
        for run in world.run(
            "deploy.yml", github=push(SHA_1), before_job=someone_deploys_part_of_prod_meanwhile
        )
    }
    deployed = {run.job: run for run in world.run("deploy.yml", github=push(SHA_2))}

    assert refused["staging"].status == "success" and refused["prod-plan"].status == "success", dump(
        list(refused.values())
    )
    assert "#### Cluster `7d0c3e5a-94b1-4f2e-8a6d-c1f05e3b9274`" in refused["prod-plan"].summary
    assert f"Computed for commit {SHA_1}." in refused["prod-plan"].summary
    prod = refused["prod"]
    assert prod.status == "failure" and not prod.step("Deploy").ran, prod.log
    assert prod.annotations("error") == [
        "title=The prod plan changed since it was approved::nothing was deployed; run the workflow again to get a "
        "new plan to approve"
    ]

    assert {job: run.status for job, run in deployed.items()} == dict.fromkeys(
        ("staging", "prod-plan", "prod"), "success"
    ), dump(list(deployed.values()))
    assert "- `prod-ml` (create): **sync** group `ml-engineers`" in deployed["prod-plan"].summary
    assert "prod-lakehouse" not in deployed["prod-plan"].summary
    for entry in prod_clusters:
        assert world.cloud.synced(entry["cluster_id"]) == (
            set(entry.get("user_names", [])),
            set(entry["group_names"]),
        )
    assert "Synced on " in deployed["prod"].summary and "ml-engineers" in deployed["prod"].summary


def test_drift_passes_when_the_clusters_match_and_fails_with_its_message_when_a_user_was_cancelled(
    world: World,
) -> None:
    for stack in ("staging", "prod"):
        world.pulumi("up", "--yes", "--skip-preview", "--non-interactive", "--stack", stack)
    lakehouse = stack_config("prod")["mrs-iam-sync:clusters"][0]["cluster_id"]

    no_drift = by_stack(world.run("drift.yml", github=push(SHA_1)), "drift")
    world.cloud.patch_cluster(lakehouse, synced_users=[])
    drift = by_stack(world.run("drift.yml", github=push(SHA_1), matrix={"stack": ["prod"]}), "drift")

    assert {stack: run.status for stack, run in no_drift.items()} == {
        "staging": "success",
        "prod": "success",
    }, dump(list(no_drift.values()))
    assert "No drift on prod." in no_drift["prod"].step("Look for drift").output
    assert drift["prod"].status == "failure"
    assert drift["prod"].annotations("error") == [
        "title=Drift on prod::the clusters differ from what the stack declares (see the job summary); the next deploy restores it"
    ]
    assert "etl-runner" in drift["prod"].summary
