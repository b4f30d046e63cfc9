"""Stacks deployed by an earlier main keep working: refresh and destroy load the provider from state.

``tests/data/compat/stack-<version>.json`` is the exported state of a stack deployed by the provider
as it was at that commit (see ``capture.py`` there): ``0.1.0`` (06682f1), and ``f1d8dba``, the main
before the round planner, with a full-sync resource that recorded nothing of what it brought. Their
resources carry the pickled provider ``mrs_iam_sync.provider.ClusterIamSyncProvider`` and that
code's inputs and outputs; this code must preview them unchanged, refresh them and destroy them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from .harness import ANALYTICS, ARCHIVE, PROJECT_ID, REGION, STREAMING, Emulator, Project, entry

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).parents[1] / "data" / "compat"

DEPLOYED = {
    "0.1.0": [
        entry("analytics", ANALYTICS, users=["heidi", "ivan"], groups=["guests"]),
        entry("streaming", STREAMING, users=["judy"]),
    ],
    "f1d8dba": [
        entry("analytics", ANALYTICS, users=["heidi", "ivan"], groups=["guests"]),
        entry("streaming", STREAMING, users=["judy"]),
        entry("archive", ARCHIVE, is_all_sync=True),
    ],
}
STACK_CONFIG = {"huaweicloud:region": REGION, "huaweicloud:project_id": PROJECT_ID}


def environment_for(emulator: Emulator) -> dict[str, str]:
    """Endpoint and keys through the environment: they never entered the stored state."""
    return {
        "HW_ACCESS_KEY": emulator.credentials.access_key,
        "HW_SECRET_KEY": emulator.credentials.secret_key,
        "HUAWEICLOUD_SDK_REGION_MRS_CN_NORTH_4": emulator.url,
    }


def stored_resources(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        resource["urn"].rsplit("::", 1)[1]: resource
        for resource in state["deployment"]["resources"]
        if resource["type"].endswith(":ClusterIamSync")
    }


@pytest.mark.parametrize("version", sorted(DEPLOYED))
def test_a_stack_deployed_by_an_earlier_main_previews_unchanged_refreshes_and_destroys(
    bare_project: Project, emulator: Emulator, version: str
) -> None:
    state = json.loads((FIXTURES / f"stack-{version}.json").read_text())
    old = stored_resources(state)
    assert {r["outputs"]["__provider"] for r in old.values()} == {old["analytics"]["outputs"]["__provider"]}
    # The clusters hold what that stack synced, as the emulator it was made with did.
    for resource in old.values():
        outputs = resource["outputs"]
        emulator.patch_cluster(
            outputs["cluster_id"],
            synced_users=outputs["synced_user_names"],
            synced_groups=outputs["synced_group_names"],
        )
    document = yaml.safe_load(bare_project.stack_file_text())
    document["config"] = {**STACK_CONFIG, "mrs-iam-sync:clusters": DEPLOYED[version]}
    bare_project.stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
    bare_project.env.update(environment_for(emulator))
    imported = bare_project.root / "imported.json"
    imported.write_text(json.dumps(state))
    bare_project.run("stack", "import", "--file", str(imported))
    emulator.clear_log()

    preview = bare_project.preview("--expect-no-changes", check=False)
    bare_project.refresh()
    refreshed = bare_project.resources()
    after_refresh = bare_project.preview("--expect-no-changes", check=False)
    bare_project.destroy()

    assert preview.returncode == 0, preview
    assert after_refresh.returncode == 0, after_refresh
    assert set(refreshed) == set(old)
    for name, resource in refreshed.items():
        assert resource["outputs"]["user_names"] == old[name]["outputs"]["user_names"]
        assert resource["outputs"]["__provider"] == old[name]["outputs"]["__provider"]
    assert bare_project.resources() == {}
    assert emulator.synced(ANALYTICS) == (set(), set())
    assert emulator.synced(STREAMING) == (set(), set())
    if "archive" in old:  # a full sync has no owner: destroying it cancels nothing
        outputs = old["archive"]["outputs"]
        assert emulator.synced(ARCHIVE) == (
            set(outputs["synced_user_names"]),
            set(outputs["synced_group_names"]),
        )
