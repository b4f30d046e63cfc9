"""The ``mrs-iam-sync`` command line: subcommands, help, exit codes, one-line errors.

Plans are read from previews captured in real runs (tests/data/plan); running pulumi and reading
the API are covered end to end in tests/e2e/test_plan.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mrs_iam_sync.cli.main import main
from mrs_iam_sync.cli.outcome import Outcome
from mrs_iam_sync.cli.render import MARKER_PREFIX
from mrs_iam_sync.cli.show import Synced, Target, _targets, as_config, in_config

DATA = Path(__file__).resolve().parents[1] / "data" / "plan"
README = Path(__file__).resolve().parents[2] / "README.md"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("command", [[], ["plan"], ["show"]])
def test_every_subcommand_has_help_that_lists_the_exit_codes(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])

    assert done.value.code == 0
    shown = capsys.readouterr().out
    for outcome in Outcome:
        assert f"  {outcome.value}  {outcome.meaning}" in shown


def test_the_readme_lists_the_same_exit_codes() -> None:
    rows = re.findall(r"^\| (\d) \| ", README.read_text(), re.M)

    assert sorted(int(code) for code in rows) == sorted(outcome.value for outcome in Outcome)


def test_a_usage_error_exits_with_the_error_code_not_argparses_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["plan", "--format", "html"])

    assert done.value.code == Outcome.ERROR
    assert "invalid choice: 'html'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "outcome"),
    [
        ("four-changes", Outcome.CHANGES),
        ("drift", Outcome.CHANGES),
        ("no-drift", Outcome.NO_CHANGES),
        ("policy", Outcome.POLICY_VIOLATION),
    ],
)
def test_plan_of_a_saved_preview_exits_with_what_it_found(
    name: str, outcome: Outcome, capsys: pytest.CaptureFixture[str]
) -> None:
    events = DATA / f"{name}.events.jsonl"
    extra = ["--policy-events", str(events)] if events.exists() else []

    code, out, err = run(capsys, "plan", "--input", str(DATA / f"{name}.preview.json"), *extra)

    assert (code, err) == (outcome, "")
    assert out.splitlines()[-1].startswith("Total for stack e2e: ")


def test_a_failed_preview_is_one_line_on_stderr_and_a_comment_that_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(
        capsys, "plan", "--input", str(DATA / "emulator-down.preview.json"), "--format", "markdown", "--stack", "dev"
    )

    assert code == Outcome.ERROR
    assert err.count("\n") == 1 and err.startswith("mrs-iam-sync plan: error: analytics: reading IAM principals")
    assert out.startswith(f"{MARKER_PREFIX}dev -->\n### mrs-iam-sync plan for stack `dev`\n")
    assert "> The plan could not be computed: analytics: reading IAM principals" in out


def test_json_output_of_a_failed_preview_names_the_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "plan", "--input", str(DATA / "emulator-down.preview.json"), "--format", "json", "--stack", "dev"
    )

    document = json.loads(out)
    assert (code, document["outcome"], document["stack"]) == (Outcome.ERROR, "error", "dev")
    assert document["error"].startswith("analytics: reading IAM principals")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--refresh"], "--input reads a finished preview: --refresh and flags after -- do not apply"),
        (["--", "--policy-pack", "policy"], "--input reads a finished preview"),
    ],
)
def test_a_saved_preview_cannot_be_refreshed_or_given_preview_flags(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "plan", "--input", str(DATA / "drift.preview.json"), *argv)

    assert code == Outcome.ERROR
    assert err.startswith(f"mrs-iam-sync plan: error: {message}")


def test_a_missing_or_foreign_input_file_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_json = tmp_path / "plan.txt"
    not_json.write_text("Previewing update (dev):\n")

    missing = run(capsys, "plan", "--input", str(tmp_path / "nope.json"))
    foreign = run(capsys, "plan", "--input", str(not_json))

    assert missing[0] == foreign[0] == Outcome.ERROR
    assert missing[2] == f"mrs-iam-sync plan: error: cannot read {tmp_path / 'nope.json'}: No such file or directory\n"
    assert foreign[2] == f"mrs-iam-sync plan: error: {not_json} is not the JSON of `pulumi preview --json`\n"


def test_without_pulumi_on_path_plan_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    code, _, err = run(capsys, "plan", "--stack", "dev")

    assert code == Outcome.ERROR
    assert err.startswith("mrs-iam-sync plan: error: pulumi is not on PATH")


def test_help_loads_neither_the_http_client_nor_the_pulumi_sdk() -> None:
    probe = (
        "import sys\n"
        "from mrs_iam_sync.cli.main import main\n"
        "try:\n    main(['plan', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'httpx', 'pydantic', 'pulumi', 'yaml'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=dict(os.environ)
    )

    assert result.stdout.splitlines()[-1] == "[]"


def test_show_reads_the_stacks_clusters_or_the_ones_named() -> None:
    entries = [
        {"name": "analytics", "cluster_id": "c-1", "user_names": ["alice"], "region": "cn-north-4"},
        {"name": "streaming", "cluster_id": "c-2"},
    ]

    assert _targets(in_config(entries), None) == [
        Target("analytics", "c-1", {"region": "cn-north-4"}),
        Target("streaming", "c-2"),
    ]
    assert _targets(in_config(entries), ["c-2", "c-9"]) == [Target("streaming", "c-2"), Target("c-9", "c-9")]


def test_show_as_config_declares_what_is_synced_and_skips_empty_clusters() -> None:
    found = [
        Synced(Target("analytics", "c-1", {"project_id": "p1"}), "x", ("alice", "bob"), ("ops",)),
        Synced(Target("empty", "c-2"), "x", (), ()),
    ]

    block = as_config(found)

    assert yaml.safe_load(block) == {
        "mrs-iam-sync:clusters": [
            {
                "name": "analytics",
                "cluster_id": "c-1",
                "project_id": "p1",
                "user_names": ["alice", "bob"],
                "group_names": ["ops"],
            }
        ]
    }
    assert "  # empty (c-2): nothing is synced, so there is nothing to adopt" in block
    assert all(line.startswith("  ") for line in block.splitlines())
