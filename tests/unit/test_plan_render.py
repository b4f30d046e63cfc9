"""``mrs-iam-sync plan`` on previews captured from real runs (tests/data/plan, see capture.py there)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from mrs_iam_sync.cli.outcome import Outcome
from mrs_iam_sync.cli.preview import (
    Action,
    ClusterChange,
    FullSync,
    Plan,
    PreviewFailed,
    build_plan,
    parse_event_log,
)
from mrs_iam_sync.cli.render import COMMENT_BUDGET, MARKER_PREFIX, RENDERERS, markdown, text
from mrs_iam_sync.principals import Principals

DATA = Path(__file__).resolve().parents[1] / "data" / "plan"
README = Path(__file__).resolve().parents[2] / "README.md"
SCENARIO = json.loads((DATA / "four-changes.scenario.json").read_text())
SUFFIXES = {"markdown": "md", "text": "txt", "json": "json"}


def preview(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DATA / f"{name}.preview.json").read_text())
    return document


def plan_of(name: str) -> Plan:
    events = DATA / f"{name}.events.jsonl"
    return build_plan(preview(name), parse_event_log(events.read_text()) if events.exists() else ())


def users(*names: str) -> Principals:
    return Principals(users=frozenset(names))


def groups(*names: str) -> Principals:
    return Principals(groups=frozenset(names))


@pytest.mark.parametrize("form", sorted(SUFFIXES))
def test_the_four_change_preview_renders_exactly_as_the_saved_rendering(form: str) -> None:
    rendered = RENDERERS[form](plan_of("four-changes"), commit=SCENARIO["commit"])

    assert rendered == (DATA / f"four-changes.{SUFFIXES[form]}").read_text()


def test_the_readme_example_is_the_saved_markdown_rendering() -> None:
    example = re.search(r"<!-- plan-example:begin -->\n```markdown\n(.*?)```\n", README.read_text(), re.S)

    assert example is not None
    assert example[1] == (DATA / "four-changes.md").read_text()


def test_each_kind_of_change_lands_on_its_cluster_as_sets() -> None:
    plan = plan_of("four-changes")

    assert plan.stack == "e2e"
    assert plan.outcome is Outcome.CHANGES
    assert plan.changes == (
        ClusterChange("analytics", "e2e-analytics-0001", Action.UPDATE, sync=users("ivan")),
        ClusterChange("archive", "e2e-archive-0005", Action.UPDATE, full_sync=FullSync.ON),
        ClusterChange(
            "reporting",
            "e2e-reporting-0004",
            Action.REPLACE,
            cancel=users("heidi"),
            moved_to="e2e-spare-0006",
        ),
        ClusterChange(
            "reporting",
            "e2e-spare-0006",
            Action.REPLACE,
            sync=users("heidi"),
            moved_from="e2e-reporting-0004",
        ),
        ClusterChange("streaming", "e2e-streaming-0002", Action.UPDATE, cancel=groups("auditors")),
    )


def test_a_user_cancelled_outside_pulumi_is_drift_synced_again_and_nothing_about_project_or_region() -> None:
    plan = plan_of("drift")

    assert plan.changes == (
        ClusterChange("analytics", "e2e-analytics-0001", Action.DRIFT, resync=users("ivan")),
    )
    assert plan.outcome is Outcome.CHANGES
    rendered = text(plan)
    assert "analytics (drift found by refresh): sync again user ivan (cancelled outside Pulumi)\n" in rendered
    assert "project" not in rendered and "region" not in rendered


def test_a_refresh_without_drift_has_no_changes() -> None:
    plan = plan_of("no-drift")

    assert (plan.changes, plan.outcome) == ((), Outcome.NO_CHANGES)
    assert text(plan) == "mrs-iam-sync plan for stack e2e\n\nTotal for stack e2e: no changes.\n"


def test_a_preview_that_could_not_reach_the_api_fails_in_one_line_naming_the_resource() -> None:
    with pytest.raises(PreviewFailed) as failure:
        plan_of("emulator-down")

    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith(
        "analytics: reading IAM principals on cluster e2e-analytics-0001 failed: could not get an answer"
    )
    assert "ProvisioningError" not in message and "Preview failed" not in message


def test_policy_violations_from_the_event_log_are_listed_first_and_block_the_plan() -> None:
    plan = plan_of("policy")
    rendered = markdown(plan)

    assert plan.outcome is Outcome.POLICY_VIOLATION
    no_full_sync = [v for v in plan.violations if v.policy == "no-full-sync"]
    assert [(v.pack, v.level, v.resource) for v in no_full_sync] == [
        ("mrs-iam-sync-guardrails", "mandatory", "archive")
    ]
    assert "> **Policy violations: `pulumi up` will refuse these changes**\n" in rendered
    assert "> - **mandatory** `mrs-iam-sync-guardrails/no-full-sync` on `archive`: " in rendered
    assert rendered.index("Policy violations") < rendered.index("#### Cluster")
    assert plan.changes == plan_of("four-changes").changes


def test_a_mandatory_violation_without_its_event_log_is_an_error_not_a_clean_plan() -> None:
    with pytest.raises(PreviewFailed, match="without naming a cause"):
        build_plan(preview("policy"))


def test_a_principal_another_resource_still_declares_on_the_cluster_is_kept_not_cancelled() -> None:
    plan = plan_of("handover")

    assert plan.changes == (
        ClusterChange("team-a", "e2e-analytics-0001", Action.UPDATE, keep=users("ivan"), kept_by=("team-b",)),
        ClusterChange("team-b", "e2e-analytics-0001", Action.UPDATE, sync=users("ivan")),
    )
    assert "`team-a` (update): **keep** user `ivan` (still declared by `team-b`)" in markdown(plan)


def test_a_resource_whose_cluster_vanished_is_recreated_with_its_principals_as_drift() -> None:
    plan = plan_of("vanished")

    assert plan.changes == (
        ClusterChange("analytics", "e2e-analytics-0001", Action.RECREATE, resync=users("heidi")),
    )


def test_full_sync_off_a_deleted_full_sync_a_forced_replacement_and_a_settings_change() -> None:
    plan = plan_of("other-kinds")

    assert plan.changes == (
        ClusterChange("full", "e2e-archive-0005", Action.UPDATE, sync=users("judy"), full_sync=FullSync.OFF),
        ClusterChange("steady", "e2e-sandbox-0003", Action.REPLACE),
        ClusterChange("gone", "e2e-spare-0006", Action.DELETE, full_sync=FullSync.KEPT),
        ClusterChange("slow", "e2e-streaming-0002", Action.UPDATE, settings=("timeout_seconds",)),
    )
    assert text(plan).splitlines()[-1] == (
        "Total for stack e2e: 4 resources change on 4 clusters: sync 1 user; full sync OFF on 1 cluster."
    )


def test_secret_or_unknown_names_are_flagged_instead_of_guessed() -> None:
    digest = preview("four-changes")
    analytics = next(s for s in digest["steps"] if s["urn"].endswith("::analytics"))
    analytics["newState"]["inputs"]["user_names"] = "[secret]"

    change = next(c for c in build_plan(digest).changes if c.resource == "analytics")

    assert change.unknown
    assert "some names are not known until `pulumi up`" in markdown(build_plan(digest))


def test_a_plan_too_long_for_a_comment_leaves_out_clusters_but_keeps_its_total() -> None:
    names = frozenset(f"user-{n:04d}" for n in range(300))
    plan = Plan(
        stack="big",
        changes=tuple(
            ClusterChange("r", f"cluster-{n:03d}", Action.CREATE, sync=Principals(users=names))
            for n in range(40)
        ),
    )

    rendered = markdown(plan)

    assert len(rendered) <= COMMENT_BUDGET
    assert rendered.startswith(f"{MARKER_PREFIX}big -->\n")
    assert "more clusters not shown: the comment would exceed GitHub's size limit" in rendered
    assert (
        rendered.rstrip().splitlines()[-1].startswith("**Total for stack `big`:** 1 resource changes on 40")
    )
