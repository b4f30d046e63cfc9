"""toolchain/check-tracked.sh, run by `make lint`: generated files must never be tracked."""

from __future__ import annotations

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "toolchain" / "check-tracked.sh"


def _repo_with(tmp_path: Path, *files: str) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for name in ("README.md", *files):
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n")
    # -f: the check must catch files added past .gitignore, which is how the virtualenv got in.
    subprocess.run(["git", "-C", str(repo), "add", "-f", "."], check=True)
    return repo


def _check(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), str(repo)], capture_output=True, text=True, check=False)


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    result = _check(_repo_with(tmp_path, "provider/mrs_iam_sync/client.py"))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_a_tracked_virtualenv_file_fails_naming_it(tmp_path: Path) -> None:
    result = _check(_repo_with(tmp_path, ".venv/pyvenv.cfg"))
    assert result.returncode == 1
    assert "1 generated file(s) are tracked" in result.stderr
    assert "  .venv/pyvenv.cfg" in result.stderr


def test_caches_work_dirs_and_egg_info_fail_too(tmp_path: Path) -> None:
    generated = (".work/state.json", "tests/__pycache__/x.pyc", "provider/p.egg-info/PKG-INFO")
    result = _check(_repo_with(tmp_path, *generated))
    assert result.returncode == 1
    for name in generated:
        assert f"  {name}" in result.stderr
