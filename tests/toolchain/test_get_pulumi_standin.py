"""toolchain/get-pulumi.sh gives the stand-in language host a virtualenv of its own, keyed by what it runs.

A CLI built from the Go module proxy is faked (its Python scripts are what matter here); the
stand-in's virtualenv is really created and installed from PyPI, so this test takes a minute or two.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from kit.environment import subprocess_environment

REPO = Path(__file__).resolve().parents[2]
VERSION = "3.274.1"
INSTALL_TIMEOUT = 900

pytestmark = pytest.mark.xdist_group("standin-venv")


def _checkout(root: Path) -> Path:
    """The files the script reads, in a checkout of their own, so that the test can change the host."""
    (root / "toolchain").mkdir(parents=True)
    for name in ("get-pulumi.sh", "lib.sh", "pulumi_language_python.py"):
        shutil.copy(REPO / "toolchain" / name, root / "toolchain" / name)
    shutil.copy(REPO / "constraints.txt", root / "constraints.txt")
    return root / "toolchain" / "get-pulumi.sh"


def _cached_go_build(cache: Path) -> Path:
    """A cache as an earlier version of the script left it: a built CLI and its own stand-in wrapper."""
    target = cache / f"pulumi-v{VERSION}"
    bin_dir = target / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("pulumi", "pulumi-language-python", "pulumi-language-python-exec", "pulumi-resource-pulumi-python"):
        (bin_dir / name).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / name).chmod(0o755)
    (target / "standin-langhost").touch()
    return bin_dir


def _get_pulumi(script: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = subprocess_environment(MRS_IAM_SYNC_CACHE=str(cache), MRS_IAM_SYNC_IGNORE_PATH_PULUMI="1")
    result = subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
    )
    assert result.returncode == 0, result.stderr
    return result


def _host_port(bin_dir: Path, cwd: Path, no_python: Path) -> str:
    """Start the host as the CLI does, with no usable Python on PATH, and read the port it prints."""
    env = subprocess_environment(PATH=f"{no_python}:/usr/bin:/bin")
    process = subprocess.Popen(
        [str(bin_dir / "pulumi-language-python")],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        return process.stdout.readline().strip()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=30)


def test_the_stand_in_runs_under_its_own_virtualenv_rebuilt_when_the_host_changes(tmp_path: Path):
    script, cache = _checkout(tmp_path / "checkout"), tmp_path / "cache"
    built_bin = _cached_go_build(cache)
    no_python = tmp_path / "no-python"
    no_python.mkdir()
    for name in ("python", "python3"):
        (no_python / name).write_text("#!/bin/sh\nexit 97\n")
        (no_python / name).chmod(0o755)

    first = _get_pulumi(script, cache)
    bin_dir = Path(first.stdout.strip())
    assert bin_dir.parent.name.startswith("standin-") and bin_dir.parent.parent == built_bin.parent
    assert (bin_dir / "pulumi").samefile(built_bin / "pulumi")  # a hard link: bundled plugins sit beside it
    assert "Stand-in" in (bin_dir / "pulumi-language-python").read_text()[:400]  # what bench/run.py reads
    assert _host_port(bin_dir, tmp_path, no_python).isdigit()

    again = _get_pulumi(script, cache)
    assert again.stdout == first.stdout and "installing" not in again.stderr

    host = script.parent / "pulumi_language_python.py"
    host.write_text(host.read_text() + "\n# changed\n")
    changed = _get_pulumi(script, cache)
    assert Path(changed.stdout.strip()) != bin_dir and bin_dir.exists()
    assert (Path(changed.stdout.strip()) / "pulumi_language_python.py").read_text().endswith("# changed\n")
