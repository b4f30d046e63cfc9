"""An endpoint that answers ``200`` without the MRS API's answer (a proxy, a health page, a wrong
port): ``refresh`` and ``destroy`` fail and the stack's state keeps the resource, instead of
reading the cluster as empty and forgetting principals that are still synced.
"""

from __future__ import annotations

import pytest

from .harness import ANALYTICS, Emulator, Project, assert_failed, entry

pytestmark = pytest.mark.e2e

REFUSED = "the endpoint did not answer like the MRS API"


@pytest.mark.parametrize("answer", ["empty_object", "empty_body", "wrong_type"])
def test_refresh_and_destroy_against_a_malformed_listing_fail_and_forget_nothing(
    project: Project, emulator: Emulator, answer: str
) -> None:
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi"], groups=["guests"])])
    project.up()
    deployed = project.resources()["analytics"]["outputs"]
    emulator.add_fault(kind="malformed", answer=answer, methods=["GET"], path_contains="iam-sync-user")
    emulator.clear_log()

    refresh = project.refresh(check=False)
    destroy = project.destroy(check=False)

    listing = f"GET {emulator.url}/v2/"
    assert_failed(refresh, REFUSED, listing)
    assert_failed(destroy, REFUSED, listing)
    assert project.resources()["analytics"]["outputs"] == deployed
    assert emulator.writes() == []
    assert emulator.synced(ANALYTICS) == ({"heidi"}, {"guests"})

    emulator.clear_faults()
    project.destroy()

    assert project.resources() == {}
    assert emulator.synced(ANALYTICS) == (set(), set())
