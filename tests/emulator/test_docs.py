"""docs/emulator.md cannot fall behind the code: every route, flag and option is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mrs_iam_sync.emulator.__main__ import build_parser
from mrs_iam_sync.emulator.options import EmulatorOptions
from mrs_iam_sync.emulator.routes import API_ROUTES, CONTROL_ROUTES

DOC = (Path(__file__).parents[2] / "docs" / "emulator.md").read_text(encoding="utf-8")


def _documented_path(rule: str) -> str:
    """``/_emulator/projects/<project_id>/...`` is written ``/_emulator/projects/{p}/...`` in the doc."""
    names = {"project_id": "p", "cluster_id": "c", "fault_id": "id"}
    return re.sub(r"<(\w+)>", lambda m: "{" + names[m.group(1)] + "}", rule)


@pytest.mark.parametrize(
    "rule",
    [rule for rule in CONTROL_ROUTES.iter_rules()],
    ids=lambda rule: f"{sorted(rule.methods - {'HEAD'})[0]} {rule.rule}",
)
def test_every_control_endpoint_is_documented(rule):
    method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]

    assert f"`{method} {_documented_path(rule.rule)}`" in DOC


@pytest.mark.parametrize("rule", list(API_ROUTES.iter_rules()), ids=lambda rule: rule.rule)
def test_every_api_endpoint_is_documented(rule):
    method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
    path = rule.rule.replace("<", "{").replace(">", "}")

    assert f"`{method} {path}`" in DOC


@pytest.mark.parametrize(
    "flag", [a.option_strings[0] for a in build_parser()._actions if a.option_strings and a.dest != "help"]
)
def test_every_cli_flag_is_documented(flag):
    assert f"`{flag}" in DOC


@pytest.mark.parametrize("option", sorted(EmulatorOptions.model_fields))
def test_every_behaviour_switch_is_documented(option):
    assert f"`{option}`" in DOC
