"""The shape the product exists for: an infrastructure repository of its own, installing this package.

A project outside this repository, with its own ``Pulumi.yaml`` and a virtualenv holding only a
plain install of the built wheel (``kit.consumer``), creates a cluster in the same program as its
access: ``cluster.id`` and one user name are other resources' outputs, so a preview knows
neither. It runs with the pinned dependencies and with the lowest Pulumi SDK the package declares.
The ``ClusterIamSync`` part of the program is the README's example, extracted and run as written.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kit.consumer import ConsumerProject, ConsumerVenv, consumer_project, consumer_venvs
from kit.pulumi import REPO

from .harness import PROJECT_ID, REGION, Emulator

pytestmark = pytest.mark.e2e

ACCESS = re.compile(r"^# --- access ---\n(.*?)^# --- end of access ---\n", re.MULTILINE | re.DOTALL)


def readme_access_part() -> str:
    found = ACCESS.search((REPO / "README.md").read_text())
    assert found is not None, "README's example lost its access markers"
    return found.group(1)


# The test-only resources stand in for the cluster and for another resource's output; what they
# do goes through the emulator's control API, never around the provider.
PROGRAM = """\
import json
import urllib.request
import uuid

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

from mrs_iam_sync import ClusterIamSync

config = pulumi.Config()
CONTROL = config.require("control")
PROJECT = config.require("project")


def control(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        CONTROL + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.read()


class EmulatedClusterProvider(ResourceProvider):
    def create(self, props):
        cluster_id = "lake-" + uuid.uuid4().hex[:12]
        control("PUT", f"/_emulator/projects/{PROJECT}/clusters/{cluster_id}", {"name": props["name"]})
        return CreateResult(cluster_id, dict(props))

    def diff(self, _id, olds, news):
        changed = olds.get("generation") != news.get("generation")
        return DiffResult(changes=changed, replaces=["generation"] if changed else [], delete_before_replace=False)

    def delete(self, id_, _props):
        control("DELETE", f"/_emulator/projects/{PROJECT}/clusters/{id_}")


class EmulatedCluster(Resource):
    def __init__(self, name, generation):
        super().__init__(EmulatedClusterProvider(), name, {"name": name, "generation": generation})


class LeadProvider(ResourceProvider):
    def create(self, props):
        return CreateResult("lead-" + props["user"], {"user": props["user"], "login": props["user"]})


class TeamLead(Resource):
    login: pulumi.Output[str]
    # computed by create: not known to a preview

    def __init__(self, name, user):
        super().__init__(LeadProvider(), name, {"user": user, "login": None})


cluster = EmulatedCluster("lake", config.get("generation") or "1")
team_lead = TeamLead("lead", "heidi").login

"""


def program(extra_users: str = "") -> str:
    access = readme_access_part()
    if extra_users:
        access = access.replace('"alice"', f'"alice", {extra_users}')
    return PROGRAM + access


@pytest.fixture(params=["pinned", "lowest"])
def venv(request: pytest.FixtureRequest) -> ConsumerVenv:
    return next(each for each in consumer_venvs() if each.name == request.param)


@pytest.fixture
def consumer(
    tmp_path_factory: pytest.TempPathFactory, venv: ConsumerVenv, emulator: Emulator, pulumi_bin_dir: Path
) -> ConsumerProject:
    root = tmp_path_factory.mktemp("infra-repo")
    return consumer_project(
        root,
        program=program(),
        venv=venv.path,
        bin_dir=pulumi_bin_dir,
        config={
            "huaweicloud:region": REGION,
            "huaweicloud:project_id": PROJECT_ID,
            "huaweicloud:endpoints": {"mrs": emulator.url},
            "huaweicloud:access_key": emulator.credentials.access_key,
            "huaweicloud:secret_key": emulator.credentials.secret_key,
            "infra:control": emulator.url,
            "infra:project": PROJECT_ID,
        },
    )


def clusters(emulator: Emulator) -> dict[str, tuple[set[str], set[str]]]:
    """Every cluster of the project whose id the program made, with what it holds."""
    state = emulator.ok("GET", "state")
    found = {}
    for project in state["projects"]:
        for cluster in project["clusters"]:
            if cluster["cluster_id"].startswith("lake-"):
                found[cluster["cluster_id"]] = (set(cluster["synced_users"]), set(cluster["synced_groups"]))
    return found


def test_the_readme_example_is_what_the_consumer_program_runs() -> None:
    access = readme_access_part()
    assert "ClusterIamSync(" in access and "cluster_id=cluster.id" in access
    assert access in program()


def test_a_cluster_and_its_access_in_one_program_preview_deploy_change_replace_and_destroy(
    consumer: ConsumerProject, emulator: Emulator, venv: ConsumerVenv
) -> None:
    preview = consumer.run("preview", "--non-interactive", "--diff")
    assert "ClusterIamSync" in preview.stdout and "lake-access" in preview.stdout
    assert clusters(emulator) == {}, "a preview must change nothing"

    plan = consumer.command(
        venv.path / "bin" / "mrs-iam-sync", "plan", "--stack", consumer.stack, "--format", "json", check=False
    )
    assert plan.returncode == 2, plan
    document = json.loads(plan.stdout)
    changes = [change for cluster in document["clusters"] for change in cluster["changes"]]
    assert [change["resource"] for change in changes] == ["lake-access"]
    assert changes[0]["names_unknown"] and not changes[0]["cluster_known"], json.dumps(document)
    assert changes[0]["sync"] == {"users": ["alice"], "groups": ["data-engineers"]}

    consumer.run("up", "--yes", "--non-interactive")  # with its preview
    ((first, held),) = clusters(emulator).items()
    assert {"heidi", "alice"} <= held[0] and "data-engineers" in held[1]

    consumer.dir.joinpath("__main__.py").write_text(program(extra_users='"ivan"'))
    consumer.run("up", "--yes", "--non-interactive")
    assert "ivan" in clusters(emulator)[first][0]

    consumer.run("config", "set", "generation", "2")
    consumer.run("up", "--yes", "--non-interactive")
    ((second, moved),) = clusters(emulator).items()  # the old cluster is gone with its access
    assert second != first
    assert {"heidi", "alice", "ivan"} <= moved[0] and "data-engineers" in moved[1]

    consumer.run("refresh", "--yes", "--non-interactive")
    assert consumer.run("preview", "--expect-no-changes", "--non-interactive", check=False).returncode == 0

    consumer.run("destroy", "--yes", "--non-interactive")
    assert clusters(emulator) == {}
