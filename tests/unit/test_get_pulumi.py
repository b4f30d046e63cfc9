"""toolchain/get-pulumi.sh: a machine that can get the Pulumi CLI nowhere is told what is missing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from kit.environment import bare_path

SCRIPT = Path(__file__).parents[2] / "toolchain" / "get-pulumi.sh"


def test_without_pulumi_installer_or_go_it_names_what_is_missing(tmp_path: Path):
    bin_dir = bare_path(tmp_path / "bin", "bash", "dirname", "sed", "sort", "head", "readlink", "cat", "mkdir")
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "MRS_IAM_SYNC_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "'go' is not installed" in result.stderr
    assert "Install Go 1.25 or newer, or the Pulumi CLI" in result.stderr
    assert "Traceback" not in result.stderr and "line " not in result.stderr


def test_a_cached_toolchain_is_reused_without_building(tmp_path: Path):
    cache = tmp_path / "cache"
    bin_dir = cache / "pulumi-v3.274.1" / "bin"
    bin_dir.mkdir(parents=True)
    for name in (
        "pulumi",
        "pulumi-language-python",
        "pulumi-language-python-exec",
        "pulumi-resource-pulumi-python",
    ):
        path = bin_dir / name
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    env = dict(os.environ, MRS_IAM_SYNC_CACHE=str(cache))
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(bin_dir)
    assert "building" not in result.stderr
