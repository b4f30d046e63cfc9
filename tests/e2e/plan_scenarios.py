"""The stack change ``mrs-iam-sync plan`` is tested on, shared by tests/e2e/test_plan.py and the capture
of saved previews (tests/data/plan/capture.py), so that both run the very same change.

The change itself is data (tests/data/plan/four-changes.scenario.json): the renderer's unit tests
read the same file for the commit the expected renderings name.
"""

from __future__ import annotations

import json
from typing import Any, Final

from kit.pulumi import REPO

from .harness import ANALYTICS, Emulator, Project, entry

DATA: Final = REPO / "tests" / "data" / "plan"
_SCENARIO: Final[dict[str, Any]] = json.loads((DATA / "four-changes.scenario.json").read_text())

FOUR_BEFORE: Final[list[dict[str, Any]]] = _SCENARIO["before"]
FOUR_AFTER: Final[list[dict[str, Any]]] = _SCENARIO["after"]
GOLDEN_COMMIT: Final[str] = _SCENARIO["commit"]

FORMATS: Final = {"markdown": "md", "text": "txt", "json": "json"}
"""``--format`` -> suffix of the expected rendering of the four-change plan in tests/data/plan."""


def expected_rendering(form: str) -> str:
    return (DATA / f"four-changes.{FORMATS[form]}").read_text()


def deploy_then_drift(project: Project, emulator: Emulator) -> None:
    """Deploy heidi, ivan and ops on analytics, then cancel ivan out of band: drift for a refresh to find."""
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi", "ivan"], groups=["ops"])])
    project.up()
    emulator.patch_cluster(ANALYTICS, synced_users=["heidi"])
