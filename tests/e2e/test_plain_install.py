"""What a stack really installs: ``pip install`` of this project, no extras, in a fresh virtualenv.

The stack must work from that install alone, and that install must hold no web server: the
emulator (and werkzeug) come only with the ``emulator`` extra.  The emulator the stack talks to
here runs from the repository's ``.venv``, another environment, as it would on a developer's
machine next to an infrastructure repository.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from kit.emulator import EmulatorProcess
from kit.environment import subprocess_environment
from kit.pulumi import REPO

from .harness import ANALYTICS, Emulator, Project, entry, provider_config

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("plain-install")]

REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _name(requirement: str) -> str:
    found = REQUIREMENT_NAME.match(requirement.strip())
    assert found is not None, requirement
    return found.group(0).lower()


DECLARED = {
    _name(requirement)
    for requirement in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
}
"""The runtime dependencies a stack gets, as pyproject.toml declares them."""
SERVERS = {
    "werkzeug", "flask", "gunicorn", "uvicorn", "hypercorn", "daphne", "waitress", "starlette",
    "fastapi", "aiohttp", "tornado", "twisted", "cherrypy", "bottle", "sanic", "gevent",
}  # fmt: skip
"""Python web servers and frameworks; none of them belongs in a stack's virtualenv."""
PIP_TIMEOUT = 900.0


def _copy_of_the_project(target: Path) -> Path:
    """What the build reads, copied: a build in the shared checkout would leave build/ and egg-info there."""
    target.mkdir(parents=True)
    for name in ("pyproject.toml", "LICENSE", "docs/PYPI.md"):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, target / name)
    shutil.copytree(
        REPO / "provider", target / "provider", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    return target


def _fresh_virtualenv(directory: Path, requirement: str) -> Path:
    """``python -m venv`` then ``pip install <requirement>``, as a user of the project would."""
    subprocess.run([sys.executable, "-m", "venv", str(directory)], check=True, timeout=120)
    python = directory / "bin" / "python"
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return directory


def _installed(venv: Path) -> set[str]:
    listed = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "list",
            "--format",
            "json",
            "--disable-pip-version-check",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return {item["name"].lower().replace("_", "-") for item in json.loads(listed.stdout)}


@pytest.fixture(scope="module")
def project_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _copy_of_the_project(tmp_path_factory.mktemp("source") / "pulumi-mrs-iam-sync")


@pytest.fixture(scope="module")
def plain_venv(tmp_path_factory: pytest.TempPathFactory, project_source: Path) -> Path:
    return _fresh_virtualenv(tmp_path_factory.mktemp("plain") / "venv", str(project_source))


def test_a_plain_install_brings_the_declared_dependencies_and_no_web_server(plain_venv: Path) -> None:
    python = str(plain_venv / "bin" / "python")
    requires = subprocess.run(
        [
            python,
            "-c",
            "import importlib.metadata as m; print('\\n'.join(m.requires('pulumi-mrs-iam-sync')))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.splitlines()
    base = {_name(line) for line in requires if "extra ==" not in line}

    assert base == DECLARED and not DECLARED & SERVERS
    installed = _installed(plain_venv)
    assert {"pulumi", "pulumi-mrs-iam-sync"} <= installed
    assert not installed & SERVERS


def test_without_the_extra_the_emulator_says_which_extra_it_needs(plain_venv: Path) -> None:
    result = subprocess.run(
        [str(plain_venv / "bin" / "mrs-emulator"), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "mrs-emulator: mrs_emulator needs the emulator extra: pip install 'pulumi-mrs-iam-sync[emulator]'\n"
    )


def test_a_plain_install_has_the_version_the_metadata_states_and_the_license(plain_venv: Path) -> None:
    probe = (
        "import importlib.metadata as m, mrs_iam_sync; d = m.distribution('pulumi-mrs-iam-sync'); "
        "print(mrs_iam_sync.__version__, d.version, d.metadata['License-Expression'], "
        "any(f.name == 'LICENSE' for f in d.files or ()))"
    )
    seen = subprocess.run(
        [str(plain_venv / "bin" / "python"), "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()

    assert seen[0] == seen[1] and seen[2:] == ["Apache-2.0", "True"]


def test_the_plain_install_ships_the_guardrails_pack_and_says_what_it_needs(plain_venv: Path) -> None:
    result = subprocess.run(
        [str(plain_venv / "bin" / "mrs-iam-sync"), "policy-pack"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    pack = Path(result.stdout.strip())
    assert plain_venv in pack.parents
    assert sorted(path.name for path in pack.iterdir() if path.is_file()) == ["PulumiPolicy.yaml", "__main__.py"]
    # Without the policy extra the pack cannot run; the command says which extra brings it.
    assert "pip install 'pulumi-mrs-iam-sync[policy]'" in result.stderr


def test_a_stack_on_the_plain_install_deploys_and_destroys_against_an_emulator_from_elsewhere(
    plain_venv: Path, tmp_path: Path, pulumi_bin_dir: Path, emulator: Emulator
) -> None:
    project = Project(tmp_path, pulumi_bin_dir, venv=plain_venv)
    try:
        project.set_config(provider_config(emulator))
        project.set_clusters([entry("analytics", ANALYTICS, users=["heidi"])])
        stack_python = project.dir / ".venv" / "bin" / "python"
        probe = "import importlib.util as u; print(u.find_spec('mrs_iam_sync') is not None, u.find_spec('werkzeug'))"
        seen = subprocess.run(
            [str(stack_python), "-c", probe], env=project.env, capture_output=True, text=True, check=True
        )
        assert seen.stdout.split() == ["True", "None"]  # the stack's interpreter has the resource, no server

        project.up()
        assert emulator.synced(ANALYTICS)[0] == {"heidi"}
        assert set(project.resources()) == {"analytics"}

        project.destroy()
        assert emulator.synced(ANALYTICS)[0] == set()
        assert project.resources() == {}
    finally:
        project.reap()  # a CLI that failed can leave plugins behind


def test_the_emulator_extra_makes_mrs_emulator_work(
    tmp_path_factory: pytest.TempPathFactory, project_source: Path
) -> None:
    venv = _fresh_virtualenv(tmp_path_factory.mktemp("with-extra") / "venv", f"{project_source}[emulator]")
    assert "werkzeug" in _installed(venv)
    env = {name: value for name, value in subprocess_environment().items() if name != "PYTHONPATH"}

    command = [str(venv / "bin" / "mrs-emulator")]
    logs = tmp_path_factory.mktemp("emulator")

    with EmulatorProcess("--sync-seconds", "0", logs=logs, command=command, env=env) as emulator:
        assert emulator.url.startswith("http://127.0.0.1:"), emulator.url
        assert emulator.ok("GET", "health") == {"status": "ok"}
        assert emulator.ok("GET", "settings")["sync_seconds"] == 0
        assert emulator.stop().returncode == 0
