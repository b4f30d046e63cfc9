"""The distribution's metadata: ranges for users, exact pins for the repository, and docs that agree."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

import mrs_iam_sync

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def _lowest() -> dict[str, str]:
    printed = subprocess.run(
        [sys.executable, str(REPO / "toolchain" / "lowest_requirements.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    return dict(pin.split("==") for pin in printed)


def test_runtime_dependencies_are_ranges_that_hold_the_pinned_versions():
    pins = _constraints()
    for text in PROJECT["dependencies"]:
        requirement = Requirement(text)
        assert "==" not in text and not requirement.specifier.contains("99999"), text  # bounded above
        pinned = pins[requirement.name.lower()]
        assert requirement.specifier.contains(pinned), f"constraints.txt pins {requirement.name}=={pinned}"


def test_the_lowest_versions_are_the_lower_bounds_and_the_readme_names_the_pulumi_one():
    lowest = _lowest()

    assert set(lowest) == {Requirement(text).name for text in PROJECT["dependencies"]}
    for text in PROJECT["dependencies"]:
        requirement = Requirement(text)
        assert requirement.specifier.contains(lowest[requirement.name]), text
    readme = (REPO / "README.md").read_text()
    assert f"(Pulumi SDK {lowest['pulumi']})" in readme


def test_the_version_is_stated_once_and_the_installed_metadata_follows_it():
    assert "version" in PROJECT["dynamic"] and "version" not in PROJECT
    assert importlib.metadata.version("pulumi-mrs-iam-sync") == mrs_iam_sync.__version__


def test_the_long_description_is_for_users_and_has_no_relative_links():
    assert PROJECT["readme"] == "docs/PYPI.md"
    text = (REPO / PROJECT["readme"]).read_text()
    targets = re.findall(r"\]\(([^)]+)\)", text)

    assert all(target.startswith("https://") for target in targets), targets
    assert "make " not in text  # the contributor workflow stays in README.md


def test_the_license_file_is_the_one_the_metadata_names():
    assert PROJECT["license"] == "Apache-2.0" and PROJECT["license-files"] == ["LICENSE"]
    assert "Apache License\n                           Version 2.0, January 2004" in (REPO / "LICENSE").read_text()
