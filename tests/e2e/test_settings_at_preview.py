"""Settings and names a user gets wrong are refused by `pulumi preview`, one way, before any API call."""

from __future__ import annotations

import pytest

from .harness import ANALYTICS, Emulator, Project, assert_failed, entry

pytestmark = pytest.mark.e2e

def assert_refused_at_preview(project: Project, emulator: Emulator, *expected: str) -> None:
    assert_failed(project.preview(check=False), *expected)
    assert emulator.log() == []


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("{url}/?x=1", "has a query string"),
        ("{host}", "has no scheme: write https://{host} (or http:// for a local emulator)"),
        ("http://my host:8470", "contains a space or a control character"),
        ("{url}#frag", "has a fragment"),
    ],
    ids=["query", "no-scheme", "space-in-host", "fragment"],
)
def test_a_malformed_endpoint_fails_preview_with_the_rule_and_no_request(
    project: Project, emulator: Emulator, endpoint: str, reason: str
) -> None:
    host = emulator.url.removeprefix("http://")
    project.set_config({"huaweicloud:endpoints": {"mrs": endpoint.format(url=emulator.url, host=host)}})
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi"])])

    assert_refused_at_preview(
        project,
        emulator,
        f"from stack config huaweicloud:endpoints (mrs entry) {reason.format(host=host)}",
        "an endpoint is a scheme (http:// or https://), a host, an optional :port and an optional path",
    )


def test_a_malformed_endpoint_variable_of_an_unrelated_region_breaks_nothing(
    project: Project, emulator: Emulator
) -> None:
    project.env["HUAWEICLOUD_SDK_REGION_MRS_AP_SOUTHEAST_3"] = "ftp://mrs.example.com"
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi"])])

    project.up()

    assert emulator.synced(ANALYTICS) == ({"heidi"}, set())


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (" frank ", "must not start or end with whitespace: remove it from ' frank '"),
        ("fr\tank", r"must not hold control characters: 'fr\tank'"),
    ],
    ids=["padded", "control-character"],
)
def test_a_name_with_whitespace_or_control_characters_fails_preview_with_no_request(
    project: Project, emulator: Emulator, name: str, reason: str
) -> None:
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi", name])])

    assert_refused_at_preview(project, emulator, f"(analytics).user_names[1] {reason}")

