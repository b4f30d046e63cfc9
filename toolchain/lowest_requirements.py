"""Print ``name==lower-bound`` for each runtime dependency of pyproject.toml, one a line.

``make`` installs these into ``.work/venv-lowest``, so that the oldest versions the package claims to
support are the ones a suite runs on, read from the ranges themselves rather than stated twice.
Usage: ``python toolchain/lowest_requirements.py [PYPROJECT]`` (default: the repository's).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

LOWER_BOUND = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*[^;]*?>=\s*([^,;\s]+)")


def lowest(pyproject: Path) -> list[str]:
    """The pins; a dependency without a ``>=`` bound is an error, since nothing says how old it may be."""
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    pins = []
    for requirement in dependencies:
        found = LOWER_BOUND.match(requirement)
        if found is None:
            raise SystemExit(f"{pyproject}: {requirement!r} has no lower bound (>=)")
        pins.append(f"{found.group(1)}=={found.group(2)}")
    return pins


PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def main() -> None:
    pyproject = Path(sys.argv[1]) if len(sys.argv) > 1 else PYPROJECT
    print("\n".join(lowest(pyproject)))


if __name__ == "__main__":
    main()
