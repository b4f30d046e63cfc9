"""The Pulumi CLI of the suites and the benchmarks: where it is, and the environment of a project.

The CLI, the Python language host and the dynamic-provider launcher come from one directory:
``$PULUMI_BIN_DIR``, else the one ``toolchain/get-pulumi.sh`` builds or finds (its last line).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Final

from kit.environment import subprocess_environment

REPO: Final = Path(__file__).resolve().parents[2]
PROGRAMS: Final = ("pulumi", "pulumi-language-python", "pulumi-resource-pulumi-python")


def find_bin_dir() -> Path:
    """The directory of :data:`PROGRAMS`; fails naming the program that is missing."""
    configured = os.environ.get("PULUMI_BIN_DIR")
    if configured:
        directory = Path(configured)
    else:
        result = subprocess.run(
            ["bash", str(REPO / "toolchain" / "get-pulumi.sh")],
            capture_output=True,
            text=True,
            check=True,
            timeout=3600,
        )
        directory = Path(result.stdout.strip().splitlines()[-1])
    for program in PROGRAMS:
        assert (directory / program).exists(), f"{program} is missing from {directory}"
    return directory


def project_environment(bin_dir: Path | str, root: Path, *, passphrase: str, **extra: str) -> dict[str, str]:
    """The environment of Pulumi projects under ``root``: ``bin_dir`` first on ``PATH``, a file backend
    in ``root/state`` and a ``PULUMI_HOME`` in ``root/pulumi-home`` (both created), no update check,
    no plugin download; ``extra`` on top."""
    state, home = root / "state", root / "pulumi-home"
    for directory in (state, home):
        directory.mkdir(parents=True, exist_ok=True)
    return subprocess_environment(
        path_first=bin_dir,
        PULUMI_BACKEND_URL=f"file://{state}",
        PULUMI_CONFIG_PASSPHRASE=passphrase,
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        PULUMI_HOME=str(home),
        **extra,
    )
