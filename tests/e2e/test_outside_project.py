"""The CLI that ``make`` provides runs a project outside this repository, whatever its virtualenv is called.

The project lives in a temporary directory, names its interpreter ``venv-infra`` (not ``.venv``),
and that virtualenv holds only a plain install of the built wheel. Where the stand-in language
host is in use, it runs under its own virtualenv, so neither the project nor the system Python
needs grpc for it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.consumer import consumer_project, consumer_venvs

from .harness import ANALYTICS, Emulator, provider_config

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("consumer")]

PROGRAM = f"""
import pulumi
from mrs_iam_sync import ClusterIamSync

access = ClusterIamSync("analytics", cluster_id="{ANALYTICS}", user_names=["heidi"], timeout_seconds=60)
pulumi.export("synced", access.synced_user_names)
"""


def test_a_project_outside_the_repository_with_its_own_virtualenv_previews_deploys_and_destroys(
    tmp_path: Path, pulumi_bin_dir: Path, emulator: Emulator
) -> None:
    pinned = next(venv for venv in consumer_venvs() if venv.name == "pinned")
    project = consumer_project(
        tmp_path, program=PROGRAM, venv=pinned.path, bin_dir=pulumi_bin_dir, config=provider_config(emulator)
    )
    assert not (project.dir / ".venv").exists()
    # Any interpreter taken from PATH (the system's has no grpc on a fresh machine) fails loudly.
    shims = tmp_path / "no-python"
    shims.mkdir()
    for name in ("python", "python3"):
        (shims / name).write_text("#!/bin/sh\necho 'python from PATH used' >&2\nexit 97\n")
        (shims / name).chmod(0o755)
    project.env["PATH"] = f"{pulumi_bin_dir}:{shims}:{project.env['PATH']}"

    preview = project.run("preview", "--non-interactive")
    assert "+ 2 to create" in preview.stdout  # the stack and the resource
    assert emulator.synced(ANALYTICS)[0] == set()

    project.run("up", "--yes", "--non-interactive")  # with its preview
    assert emulator.synced(ANALYTICS)[0] == {"heidi"}
    assert '"heidi"' in project.run("stack", "output", "synced", "--json").stdout

    project.run("destroy", "--yes", "--non-interactive")
    assert emulator.synced(ANALYTICS)[0] == set()
