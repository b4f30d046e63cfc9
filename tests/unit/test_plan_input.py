"""``plan --input`` believes only a ``pulumi preview --json`` document: anything else is one line, exit 1.

A document the plan cannot read would otherwise contribute no step, and an empty plan reads as
"no changes", the answer a reviewer acts on without looking further.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from mrs_iam_sync.cli.main import main
from mrs_iam_sync.cli.outcome import Outcome
from mrs_iam_sync.cli.preview_document import load_preview

DATA = Path(__file__).resolve().parents[1] / "data" / "plan"
URN = "urn:pulumi:e2e::mrs-iam-sync::pulumi-python:dynamic/mrs:ClusterIamSync::analytics"
STATE = {"inputs": {"cluster_id": "c-1", "user_names": ["alice"]}, "outputs": {}}
REFUSED = "is not the JSON of `pulumi preview --json`"


def _plan(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> tuple[int, str, str]:
    code = main(["plan", "--input", str(path), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({}, "it holds neither steps nor diagnostics"),
        ({"steps": [], "diagnostics": []}, "it holds neither steps nor diagnostics"),
        ({"error": "no stack named 'dev' found\nrun pulumi stack ls"}, "it holds an error instead: no stack named"),
        ([], "it is not an object"),
        ("preview", "it is not an object"),
        ({"steps": {"op": "delete"}}, "steps: must be a list"),
        ({"steps": None}, "steps: must be a list"),
        ({"steps": ["delete"]}, "steps[0]: must be an object"),
        ({"steps": [{"op": "delete", "oldState": STATE}]}, "steps[0].urn: is missing"),
        ({"steps": [{"op": "delete", "urn": 7, "oldState": STATE}]}, "steps[0].urn: must be a string"),
        ({"steps": [{"urn": URN, "oldState": STATE}]}, "steps[0].op: is missing"),
        ({"steps": [{"op": "delete", "urn": URN}]}, "steps[0]: op 'delete' needs oldState"),
        ({"steps": [{"op": "delete", "urn": URN, "oldState": {}}]}, "steps[0]: op 'delete' needs oldState"),
        ({"steps": [{"op": "create", "urn": URN}]}, "steps[0]: op 'create' needs newState"),
        (
            {"steps": [{"op": "update", "urn": URN}]},
            "steps[0]: op 'update' needs oldState and newState",
        ),
        (
            {"steps": [{"op": "update", "urn": URN, "oldState": STATE, "newState": ["alice"]}]},
            "steps[0].newState: must be an object",
        ),
        (
            {"steps": [{"op": "delete", "urn": URN, "oldState": {"inputs": ["alice"]}}]},
            "steps[0].oldState.inputs: must be an object",
        ),
        (
            {"steps": [{"op": "replace", "urn": URN, "oldState": STATE, "newState": STATE, "replaceReasons": "id"}]},
            "steps[0].replaceReasons: must be a list of strings",
        ),
        ({"diagnostics": ["boom"]}, "diagnostics[0]: must be an object"),
        ({"diagnostics": [{"urn": 1, "severity": "error", "message": "m"}]}, "diagnostics[0].urn: must be a string"),
    ],
)
def test_anything_but_a_preview_document_is_one_line_and_exit_1_never_no_changes(
    document: object, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "preview.json"
    saved.write_text(json.dumps(document))

    code, out, err = _plan(capsys, saved)

    assert code == Outcome.ERROR
    assert err.startswith(f"mrs-iam-sync plan: error: {saved} {REFUSED}: {problem}"), err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert "no changes" not in out.lower()


def test_a_document_from_standard_input_is_checked_the_same_way(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("{}"))

    code, _, err = _plan(capsys, Path("-"))

    assert code == Outcome.ERROR
    assert err == f"mrs-iam-sync plan: error: standard input {REFUSED}: it holds neither steps nor diagnostics\n"


@pytest.mark.parametrize("saved", sorted(DATA.glob("*.preview.json")), ids=lambda path: path.name)
def test_every_preview_captured_from_a_real_run_is_accepted(saved: Path) -> None:
    text = saved.read_text()

    assert load_preview(text, where=saved.name) == json.loads(text)


def test_steps_of_ops_the_plan_does_not_read_need_no_states() -> None:
    document = {"steps": [{"op": "refresh", "urn": URN}, {"op": "read", "urn": URN, "newState": STATE}]}

    assert load_preview(json.dumps(document), where="preview.json") == document
