"""Re-capture the saved previews under tests/data/plan from real runs (the renderer's unit tests read them).

Each scenario runs in a world of its own (an emulator process and a project, from the e2e
harness), drives the real ``pulumi`` CLI to the state it needs, and saves the preview that
``mrs-iam-sync plan`` would read: ``pulumi preview --json --show-sames`` and its event log. What is
saved is trimmed of what a machine or a moment puts there (config values with the test's keys,
source positions, timestamps); steps, states and diagnostics are kept as the CLI printed them.
The golden renderings of the four-change scenario are written from its saved preview.

Usage: PULUMI_BIN_DIR=$(bash toolchain/get-pulumi.sh) .venv/bin/python tests/data/plan/capture.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from e2e.harness import (  # noqa: E402
    ANALYTICS,
    ARCHIVE,
    MRS_IAM_SYNC,
    SANDBOX,
    SPARE,
    STREAMING,
    Credentials,
    Emulator,
    Project,
    entry,
    provider_config,
)
from e2e.plan_scenarios import FORMATS, FOUR_AFTER, FOUR_BEFORE, GOLDEN_COMMIT  # noqa: E402
from kit.pulumi import REPO, find_bin_dir  # noqa: E402
from mrs_iam_sync.cli.pulumi_cli import EVENT_LOG_SWITCH, preview_arguments  # noqa: E402

_VOLATILE = frozenset({"stackTrace", "sourcePosition", "created", "modified", "duration"})


def trimmed(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: trimmed(item) for key, item in value.items() if key not in _VOLATILE}
    if isinstance(value, list):
        return [trimmed(item) for item in value]
    return value


def save_preview(project: Project, name: str, *, refresh: bool = False, extra: Sequence[str] = ()) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        events = Path(scratch) / "events.jsonl"
        project.env.update(EVENT_LOG_SWITCH)
        result = project.run(
            *preview_arguments(stack=None, refresh=refresh, event_log=events, extra=extra), check=False
        )
        log = events.read_text() if events.exists() else ""
    digest = trimmed(json.loads(result.stdout))
    digest.pop("config", None)  # the test's credentials are plain config there
    (HERE / f"{name}.preview.json").write_text(json.dumps(digest, indent=2) + "\n")
    policy_events = [line for line in log.splitlines() if '"policyEvent"' in line]
    if policy_events:
        (HERE / f"{name}.events.jsonl").write_text("\n".join(policy_events) + "\n")
    print(f"{name}: pulumi preview exited {result.returncode}", file=sys.stderr)


def four_changes(project: Project, emulator: Emulator) -> None:
    project.set_clusters(FOUR_BEFORE)
    project.up()
    project.set_clusters(FOUR_AFTER)
    save_preview(project, "four-changes")
    save_preview(project, "policy", extra=["--policy-pack", str(REPO / "policy")])


def drift(project: Project, emulator: Emulator) -> None:
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi", "ivan"], groups=["ops"])])
    project.up()
    save_preview(project, "no-drift", refresh=True)
    emulator.patch_cluster(ANALYTICS, synced_users=["heidi"])
    save_preview(project, "drift", refresh=True)
    emulator.stop()
    save_preview(project, "emulator-down", refresh=True)


def handover(project: Project, emulator: Emulator) -> None:
    project.set_clusters(
        [
            entry("team-a", ANALYTICS, users=["heidi", "ivan"]),
            entry("team-b", ANALYTICS, users=["judy"]),
            entry("elsewhere", STREAMING, users=["judy"]),
        ]
    )
    project.up()
    project.set_clusters(
        [
            entry("team-a", ANALYTICS, users=["heidi"]),
            entry("team-b", ANALYTICS, users=["ivan", "judy"]),
            entry("elsewhere", STREAMING, users=["judy"]),
        ]
    )
    save_preview(project, "handover")


def vanished(project: Project, emulator: Emulator) -> None:
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi"])])
    project.up()
    emulator.delete_cluster(ANALYTICS)
    save_preview(project, "vanished", refresh=True)


def other_kinds(project: Project, emulator: Emulator) -> None:
    """Full sync switched off, a full sync deleted, a replacement on the same cluster, a settings change."""
    project.set_clusters(
        [
            entry("full", ARCHIVE, is_all_sync=True),
            entry("gone", SPARE, is_all_sync=True),
            entry("steady", SANDBOX, users=["heidi"]),
            entry("slow", STREAMING, users=["ivan"]),
        ]
    )
    project.up()
    project.set_clusters(
        [
            entry("full", ARCHIVE, users=["judy"]),
            entry("steady", SANDBOX, users=["heidi"]),
            entry("slow", STREAMING, users=["ivan"], timeout_seconds=120),
        ]
    )
    steady = next(urn for urn in (r["urn"] for r in project.resources().values()) if urn.endswith("::steady"))
    save_preview(project, "other-kinds", extra=["--replace", steady])


SCENARIOS: dict[str, Callable[[Project, Emulator], None]] = {
    "four-changes": four_changes,
    "drift": drift,
    "handover": handover,
    "vanished": vanished,
    "other-kinds": other_kinds,
}


def golden_renderings() -> None:
    for form, suffix in FORMATS.items():
        result = subprocess.run(
            [str(MRS_IAM_SYNC), "plan", "--input", str(HERE / "four-changes.preview.json"),
             "--format", form, "--commit", GOLDEN_COMMIT],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        (HERE / f"four-changes.{suffix}").write_text(result.stdout)


def main(names: Sequence[str]) -> None:
    bin_dir = find_bin_dir()
    for name in names or SCENARIOS:
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch)
            emulator = Emulator(root / "emulator", Credentials.unique(), sync_seconds=0.2)
            project = Project(root, bin_dir)
            try:
                project.set_config(provider_config(emulator))
                SCENARIOS[name](project, emulator)
            finally:
                emulator.stop()
                project.reap()
    golden_renderings()


if __name__ == "__main__":
    main(sys.argv[1:])
