"""The mypy configuration in pyproject.toml holds every shipped module to all of ``--strict``.

Its default lets a test or a benchmark leave a function unannotated, so that a test file nobody has
listed is covered; the cost is that a new package or script outside ``tests/`` and ``bench/`` would
be let off too, silently, unless it is added to the strict override.  This test is that reminder.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SHIPPED_ROOTS = ("provider", "policy", "toolchain")
"""The mypy_path folders whose modules ship or run for real (tests/ and bench/ are the others)."""


def _mypy() -> dict[str, Any]:
    mypy: dict[str, Any] = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "mypy"
    ]
    return mypy


def _strict_patterns() -> set[str]:
    return {
        pattern
        for override in _mypy()["overrides"]
        if override.get("disallow_untyped_defs") and override.get("disallow_incomplete_defs")
        for pattern in override["module"]
    }


def _module_patterns(root: Path) -> set[str]:
    """A package as ``name.*`` (it and its submodules), a top-level file as its module name."""
    patterns = set()
    for child in root.iterdir():
        if child.is_dir() and (child / "__init__.py").is_file():
            patterns.add(child.name + ".*")
        elif child.suffix == ".py":
            patterns.add(child.stem)
    return patterns


def test_the_default_is_strict_but_for_unannotated_functions():
    mypy = _mypy()

    assert mypy["strict"] is True
    assert mypy["disallow_untyped_defs"] is False and mypy["disallow_incomplete_defs"] is False
    assert set(mypy["mypy_path"]) == {*SHIPPED_ROOTS, "tests", "bench"}


def test_every_shipped_module_and_the_test_kit_are_annotated_throughout():
    required = {"kit.*"}.union(*(_module_patterns(REPO / root) for root in SHIPPED_ROOTS))

    assert required - _strict_patterns() == set()
