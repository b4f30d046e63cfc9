"""Stacks deployed by an earlier release keep working: refresh and destroy load the provider from state.

``tests/data/compat/stack-0.1.0.json`` is the exported state of a stack deployed by the provider as it
was at commit 06682f1 (see ``capture.py`` there). Its resources carry the pickled provider
``mrs_iam_sync.provider.ClusterIamSyncProvider`` and that release's inputs and outputs; this code
must preview it unchanged, refresh it and destroy it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from .harness import ANALYTICS, PROJECT_ID, REGION, STREAMING, Emulator, Project, entry

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).parents[1] / "data" / "compat" / "stack-0.1.0.json"

DEPLOYED = [
    entry("analytics", ANALYTICS, users=["heidi", "ivan"], groups=["guests"]),
    entry("streaming", STREAMING, users=["judy"]),
]
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


def test_a_stack_deployed_by_release_0_1_0_previews_unchanged_refreshes_and_destroys(
    bare_project: Project, emulator: Emulator
) -> None:
    state = json.loads(FIXTURE.read_text())
    assert {r["outputs"]["__provider"] for r in stored_resources(state).values()} == {
        stored_resources(state)["analytics"]["outputs"]["__provider"]
    }
    # The cluster holds what that stack synced, as the emulator it was made with did.
    emulator.patch_cluster(ANALYTICS, synced_users=["heidi", "ivan"], synced_groups=["guests"])
    emulator.patch_cluster(STREAMING, synced_users=["judy"], synced_groups=[])
    document = yaml.safe_load(bare_project.stack_file_text())
    document["config"] = {**STACK_CONFIG, "mrs-iam-sync:clusters": DEPLOYED}
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
    old = stored_resources(state)
    assert set(refreshed) == {"analytics", "streaming"}
    for name, resource in refreshed.items():
        assert resource["outputs"]["user_names"] == old[name]["outputs"]["user_names"]
        assert resource["outputs"]["__provider"] == old[name]["outputs"]["__provider"]
    assert bare_project.resources() == {}
    assert emulator.synced(ANALYTICS) == (set(), set())
    assert emulator.synced(STREAMING) == (set(), set())
