"""``mrs-iam-sync show`` for stacks whose program declares ClusterIamSync in code, ``--as-code``, and ``-C``.

Reading real state and the API is covered end to end in tests/e2e/test_plan.py; here the state is a
``pulumi stack export`` document written by hand, and ``pulumi`` a stand-in that records its arguments.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit.demo import PROJECT, REGION
from mrs_iam_sync.cli.main import main
from mrs_iam_sync.cli.outcome import Outcome
from mrs_iam_sync.cli.show import Synced, Target, as_code, as_config, in_state
from mrs_iam_sync.inputs import RESOURCE_TYPE

from .helpers import make_settings

SECRET = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:x"}


def stored(name: str, inputs: dict[str, Any], outputs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """One resource of a ``pulumi stack export`` document."""
    return {
        "urn": f"urn:pulumi:dev::infra::{RESOURCE_TYPE}::{name}",
        "type": RESOURCE_TYPE,
        "id": f"{name}-id",
        "inputs": inputs,
        "outputs": outputs,
        **extra,
    }


def test_show_reads_the_clusters_of_resources_declared_in_code_from_the_state() -> None:
    where = {"project_id": PROJECT, "region": REGION}
    deployment = {
        "deployment": {
            "resources": [
                {
                    "urn": "urn:pulumi:dev::infra::pulumi:pulumi:Stack::infra-dev",
                    "type": "pulumi:pulumi:Stack",
                },
                stored(
                    "lake", {"cluster_id": "c-1", "user_names": ["alice"]}, {"cluster_id": "c-1", **where}
                ),
                stored(
                    "west",
                    {"cluster_id": "c-2", "region": "cn-east-3"},
                    {"cluster_id": "c-2", "project_id": PROJECT, "region": "cn-east-3"},
                ),
                stored("hidden", {"cluster_id": SECRET}, {"cluster_id": SECRET, **where}),
                stored("leaving", {"cluster_id": "c-3"}, {"cluster_id": "c-3", **where}, delete=True),
            ]
        }
    }

    targets, unreadable = in_state(deployment)

    assert targets == [Target("lake", "c-1", where), Target("west", "c-2", {**where, "region": "cn-east-3"})]
    assert unreadable == ["hidden"]
    assert [target.without_defaults(make_settings()) for target in targets] == [
        Target("lake", "c-1"),
        Target("west", "c-2", {"region": "cn-east-3"}),
    ]


FOUND = [
    Synced(Target("lake", "c-1"), "x", ("alice", "bob"), ("ops",)),
    Synced(Target("west", "c-2", {"region": "cn-east-3"}), "x", tuple(f"user-{n:02}" for n in range(8)), ()),
    Synced(Target("empty", "c-3"), "x", (), ()),
]


def test_as_code_prints_python_declarations_of_what_is_synced() -> None:
    code = as_code(FOUND)

    assert code == (
        "# Add to the stack's program: declaring what is synced adopts it.\n"
        "from mrs_iam_sync import ClusterIamSync\n"
        "\n"
        'ClusterIamSync("lake", cluster_id="c-1", user_names=["alice", "bob"], group_names=["ops"])\n'
        "ClusterIamSync(\n"
        '    "west",\n'
        '    cluster_id="c-2",\n'
        '    region="cn-east-3",\n'
        '    user_names=["user-00", "user-01", "user-02", "user-03", "user-04", "user-05", "user-06", "user-07"],\n'
        ")\n"
        "# empty (c-3): nothing is synced, so there is nothing to adopt (a declaration needs at least one "
        "user or group)\n"
    )
    compile(code, "as-code", "exec")


def test_as_code_and_as_config_declare_the_same_clusters_and_names() -> None:
    calls = [node for node in ast.walk(ast.parse(as_code(FOUND))) if isinstance(node, ast.Call)]
    from_code = [
        {
            "name": ast.literal_eval(call.args[0]),
            **{keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords if keyword.arg},
        }
        for call in calls
    ]

    assert from_code == yaml.safe_load(as_config(FOUND))["mrs-iam-sync:clusters"]


def test_a_name_outside_ascii_is_still_valid_python() -> None:
    code = as_code([Synced(Target("lake", "c-1"), "x", ("zoë",), ())])

    declared: list[tuple[str, dict[str, Any]]] = []
    program = code.replace("from mrs_iam_sync import ClusterIamSync", "")
    exec(program, {"ClusterIamSync": lambda name, **inputs: declared.append((name, inputs))})

    assert declared == [("lake", {"cluster_id": "c-1", "user_names": ["zoë"]})]


def test_as_code_and_as_config_cannot_be_asked_together(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["show", "--as-config", "--as-code"])

    assert done.value.code == Outcome.ERROR
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.fixture
def recorded_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``pulumi`` on PATH that records each command line: a stack with no config and no resources,
    and a preview that fails. Returns the file of recorded command lines (one JSON list each)."""
    log = tmp_path / "commands.jsonl"
    script = tmp_path / "bin" / "pulumi"
    script.parent.mkdir()
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"with open({str(log)!r}, 'a') as log:\n"
        "    log.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "if 'config' in sys.argv:\n"
        "    print('{}')\n"
        "elif 'export' in sys.argv:\n"
        "    print(json.dumps({'version': 3, 'deployment': {'resources': []}}))\n"
        "else:\n"
        "    sys.exit('error: no preview here')\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(script.parent))
    return log


def test_cwd_reaches_every_pulumi_command_of_show_and_plan(
    tmp_path: Path, recorded_pulumi: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "infra"
    project.mkdir()

    show = main(["show", "--stack", "dev", "-C", str(project)])
    show_err = capsys.readouterr().err
    plan = main(["plan", "--cwd", str(project), "--", "--target", "x"])

    commands = [json.loads(line) for line in recorded_pulumi.read_text().splitlines()]
    # show: its config and the stack's state; plan: its config (no credential kept there), then its preview
    assert [command[2:4] for command in commands] == [
        ["config", "--json"],
        ["stack", "export"],
        ["config", "--json"],
        ["preview", "--json"],
    ]
    assert all(command[:2] == ["--cwd", str(project)] for command in commands)
    assert commands[-1][-2:] == ["--target", "x"]
    assert (show, plan) == (Outcome.ERROR, Outcome.ERROR)
    assert show_err == (
        "mrs-iam-sync show: error: the stack declares no clusters: no mrs-iam-sync:clusters in its config "
        "and no ClusterIamSync in its state; name some with --cluster\n"
    )


def test_a_cwd_that_is_no_directory_is_an_error_in_one_line(
    tmp_path: Path, recorded_pulumi: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["show", "-C", str(tmp_path / "nope")])

    assert code == Outcome.ERROR
    assert (
        capsys.readouterr().err == f"mrs-iam-sync show: error: --cwd {tmp_path / 'nope'}: no such directory\n"
    )
    assert not recorded_pulumi.exists()
