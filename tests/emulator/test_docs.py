"""docs/emulator.md cannot fall behind the code: every route, flag and option is documented."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest

from mrs_emulator import clock, faults, jsonbody, options, persistence, wsgi_server
from mrs_emulator.__main__ import build_parser
from mrs_emulator.options import EmulatorOptions
from mrs_emulator.routes import API_ROUTES, CONTROL_ROUTES

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
def test_every_option_is_documented(option):
    assert f"`{option}`" in DOC


def _flag_rows() -> dict[str, str]:
    """``--flag`` -> the Default cell of its row in the command-line table."""
    rows: dict[str, str] = {}
    for match in re.finditer(r"^\| `(--[\w-]+)[^|]*\| ([^|]+) \|", DOC, re.MULTILINE):
        rows.setdefault(match.group(1), match.group(2).strip().strip("`"))
    return rows


@pytest.mark.parametrize(
    "action",
    [a for a in build_parser()._actions if a.option_strings and a.dest not in {"help", "verbose"}],
    ids=lambda action: action.option_strings[0],
)
def test_the_documented_default_of_every_flag_is_the_real_one(action):
    documented = _flag_rows()[action.option_strings[0]]

    if action.default is None:
        assert not documented[0].isdigit(), documented  # described in words ("none", "the demo seed")
    elif isinstance(action.default, int | float):
        assert float(documented) == action.default
    else:
        assert documented == action.default


def test_every_fault_kind_and_malformed_answer_is_documented_with_its_body():
    section = " ".join(DOC.split("## Faults", 1)[1].split("\n## ", 1)[0].split())

    for name in (*get_args(faults.FaultKind), *faults.MALFORMED_BODIES):
        assert f"`{name}`" in section, name
    for body in faults.MALFORMED_BODIES.values():
        assert not body or f"`{body.decode()}`" in section, body


def test_the_connection_limits_in_the_doc_are_the_servers():
    section = DOC.split("## Connections", 1)[1].split("\n## ", 1)[0]

    for stated in (
        f"after {wsgi_server.IDLE_SECONDS:g} s without a request",
        f"at most {wsgi_server.DRAIN_BYTES // 1024} KiB",
        f"arrives within {wsgi_server.DRAIN_SECONDS:g} s",
        f"for up to {wsgi_server.LINGER_SECONDS:g} s",
        f"A request line over {wsgi_server.MAX_REQUEST_LINE // 1024} KiB",
        f"More than {wsgi_server.MAX_HEADER_FIELDS} header fields, or more than "
        f"{wsgi_server.MAX_HEAD_BYTES // 1024} KiB of them",
        f"A head that stops arriving for {wsgi_server.STALL_SECONDS:g} s",
        f"waits more than {wsgi_server.STALL_SECONDS:g} s",
    ):
        assert stated in " ".join(section.split())


def test_the_input_limits_in_the_doc_are_the_emulators():
    text = " ".join(DOC.split())

    for stated in (
        f"nested deeper than {jsonbody.MAX_DEPTH} levels",
        f"larger than {persistence.MAX_STATE_BYTES // (1024 * 1024)} MiB",
        f"at most {persistence.MAX_STATE_BYTES // (1024 * 1024)} MiB",
        f"`sync_seconds` 0 to {options.MAX_SYNC_SECONDS:g}",
        f"at most {options.MAX_CLOCK_SKEW_SECONDS:.0f}",
        f"1 to {options.MAX_REQUEST_LOG_SIZE}",
        f"1 to {faults.MAX_COUNT}",
        f"at most {faults.MAX_LATENCY_SECONDS:g}",
        f"0 to {faults.MAX_RETRY_AFTER}",
        f"must stay {clock.RANGE_TEXT}",
    ):
        assert stated in text, stated


def test_every_leniency_decision_is_listed():
    section = DOC.split("## Leniencies", 1)[1].split("\n## ", 1)[0]

    for case in ("not in capitals", "`%2F`", "without `host`", "naming a header", "sent twice"):
        assert case in section
