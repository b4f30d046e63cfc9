"""The README's promises, checked so that it cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pulumi
import pytest

from kit.demo import ANALYTICS
from mrs_iam_sync import ClusterIamSync

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_quickstart_is_exactly_the_two_make_commands():
    first_block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines() if line.strip()]
    assert commands == ["make up", "make test"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.created: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.created.append(args)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_examples_access_part_declares_one_cluster_iam_sync_on_the_clusters_id():
    """The part between the example's access markers, with the cluster and the name it refers to
    standing in (tests/e2e/test_consumer_repo.py runs it for real, in a consumer repository)."""
    access = re.search(r"^# --- access ---\n(.*?)^# --- end of access ---\n", README, re.S | re.M)
    assert access is not None
    mocks = _Mocks()
    pulumi.runtime.set_mocks(mocks, preview=False)

    @pulumi.runtime.test  # type: ignore[untyped-decorator]  # pulumi does not type it
    def run_example() -> None:
        # pulumi.runtime.test waits for every registration the example starts.
        cluster = SimpleNamespace(id=ANALYTICS)
        scope = {"ClusterIamSync": ClusterIamSync, "cluster": cluster, "team_lead": "heidi"}
        exec(compile(access.group(1), "README.md", "exec"), scope)

    run_example()
    kinds = [(args.typ, args.name) for args in mocks.created]
    assert kinds == [("pulumi-python:dynamic/mrs:ClusterIamSync", "lake-access")]
    inputs = mocks.created[0].inputs
    assert inputs["cluster_id"] == ANALYTICS
    assert inputs["user_names"] == ["heidi", "alice"]
