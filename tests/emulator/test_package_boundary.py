"""The boundary between the packages: a stack installs mrs_iam_sync, which never loads the emulator.

The emulator may use ``mrs_iam_sync.rules`` (one set of id rules for client and server), and
nothing that brings in Pulumi.  It verifies signatures with its own code, and the test kit's
reference signer is its own too: a reference that shared the client's signing code would agree
with the client's bugs.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PROVIDER = Path(__file__).resolve().parents[2] / "provider"
KIT_SIGNER = Path(__file__).resolve().parents[1] / "kit" / "signer.py"
SHARED_WITH_THE_EMULATOR = {"mrs_iam_sync", "mrs_iam_sync.rules"}


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


def _imports_of(path: Path) -> dict[str, set[str]]:
    """module -> the names imported from it (empty for ``import module``) by every import statement
    in the file, at any depth (lazy imports too)."""
    found: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.setdefault(alias.name, set())
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.setdefault(node.module, set()).update(alias.name for alias in node.names)
    return found


def _imported_names(package: str) -> dict[str, set[str]]:
    """file -> every module named by an import statement in it."""
    return {
        str(path.relative_to(PROVIDER)): set(_imports_of(path))
        for path in sorted((PROVIDER / package).rglob("*.py"))
    }


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


def test_the_emulator_uses_only_the_shared_rules_of_the_resource():
    used = {
        name
        for names in _imported_names("mrs_emulator").values()
        for name in names
        if name.split(".")[0] == "mrs_iam_sync"
    }

    assert used <= SHARED_WITH_THE_EMULATOR
    assert used  # the sharing is real: one set of id rules


def test_the_emulator_verifies_signatures_without_the_clients_signing_code():
    """Checked in a fresh interpreter, so that an import through another module counts as well."""
    code = (
        "import json, sys, mrs_emulator.app, mrs_emulator.auth, mrs_emulator.control\n"
        "print(json.dumps(sorted(name for name in sys.modules if name.startswith('mrs_iam_sync'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )

    assert result.returncode == 0, result.stderr
    assert "mrs_iam_sync.signing" not in json.loads(result.stdout)


def test_the_kit_signer_shares_no_code_with_the_client_or_the_emulator():
    """From the rest of the kit it takes only the demo keys, which are data."""
    imports = _imports_of(KIT_SIGNER)

    assert not {name for name in imports if name.split(".")[0] in {"mrs_iam_sync", "mrs_emulator"}}
    assert {name: used for name, used in imports.items() if name.split(".")[0] == "kit"} == {
        "kit.demo": {"DEMO_AK", "DEMO_SK"}
    }
