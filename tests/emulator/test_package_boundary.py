"""The boundary between the packages: a stack installs mrs_iam_sync, which never loads the emulator.

The emulator may use ``mrs_iam_sync.signing`` and ``mrs_iam_sync.rules`` (one canonicalisation
and one set of id rules for client and server), and nothing that brings in Pulumi.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PROVIDER = Path(__file__).resolve().parents[2] / "provider"
SHARED_WITH_THE_EMULATOR = {"mrs_iam_sync", "mrs_iam_sync.signing", "mrs_iam_sync.rules"}


def _modules(package: str) -> list[str]:
    """Every importable module of ``package`` from its files; ``__main__`` modules run when imported."""
    root = PROVIDER / package
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(PROVIDER).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _loaded_after_importing(modules: list[str]) -> set[str]:
    """The top-level packages in sys.modules of a fresh interpreter that imported ``modules``."""
    code = (
        "import importlib, json, sys\n"
        "for name in sys.argv[1:]:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *modules], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


def _imported_names(package: str) -> dict[str, set[str]]:
    """file -> every module named by an import statement in it, at any depth (lazy imports too)."""
    found: dict[str, set[str]] = {}
    for path in sorted((PROVIDER / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(PROVIDER))] = names
    return found


def test_importing_every_module_of_the_resource_loads_no_emulator_and_no_web_server():
    loaded = _loaded_after_importing(_modules("mrs_iam_sync"))

    assert "mrs_iam_sync" in loaded and "pulumi" in loaded  # the imports did happen
    assert not loaded & {"mrs_emulator", "werkzeug"}


def test_importing_every_module_of_the_emulator_loads_no_pulumi():
    loaded = _loaded_after_importing(_modules("mrs_emulator"))

    assert "mrs_emulator" in loaded and "werkzeug" in loaded
    assert not loaded & {"pulumi", "grpc"}


@pytest.mark.parametrize("path", sorted(_imported_names("mrs_iam_sync")))
def test_no_module_of_the_resource_names_the_emulator(path):
    names = _imported_names("mrs_iam_sync")[path]

    assert not {name for name in names if name.split(".")[0] in {"mrs_emulator", "werkzeug"}}


def test_the_emulator_uses_only_the_shared_signing_and_rules_of_the_resource():
    used = {
        name
        for names in _imported_names("mrs_emulator").values()
        for name in names
        if name.split(".")[0] == "mrs_iam_sync"
    }

    assert used <= SHARED_WITH_THE_EMULATOR
    assert used  # the sharing is real: one canonicalisation, one set of id rules
