"""What a developer's shell must not pass into a test, nor into the processes a test starts.

Declared once: the autouse fixture of ``tests/conftest.py`` removes :data:`CREDENTIAL_PREFIXES` from
every test's environment; :func:`subprocess_environment` is the environment the suites and the
benchmarks give the processes they start (the Pulumi CLI and its plugins, the emulator).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Final

CREDENTIAL_PREFIXES: Final = ("HW_", "HUAWEICLOUD_SDK_", "OS_")
"""Where the provider (and the tools beside it) read credentials, regions, projects and endpoints."""

SUBPROCESS_PREFIXES: Final = (*CREDENTIAL_PREFIXES, "PULUMI_")
"""A process also loses ``PULUMI_*``: the developer's backend, home or passphrase are not the test's."""


def subprocess_environment(*, path_first: Path | str | None = None, **extra: str) -> dict[str, str]:
    """This process's environment without :data:`SUBPROCESS_PREFIXES`, with ``path_first`` in front of
    ``PATH`` and ``extra`` on top."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(SUBPROCESS_PREFIXES)}
    if path_first is not None:
        env["PATH"] = f"{path_first}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def bare_path(directory: Path, *tools: str) -> Path:
    """``directory`` (created) with links to ``tools`` as found on this ``PATH``, and nothing else: the
    ``PATH`` of a machine that has only those, for testing what a script says about the rest."""
    directory.mkdir(parents=True)
    for tool in tools:
        found = shutil.which(tool)
        assert found is not None, f"{tool} is not on PATH"
        (directory / tool).symlink_to(found)
    return directory
