"""A consumer repository: a Pulumi project outside this one that installs the package as a library.

API:

* :func:`consumer_venvs` -> ``list[ConsumerVenv]``: the virtualenvs to run consumer projects with,
  each holding only a plain install of the built wheel (no extras, no editable install). ``pinned``
  has every dependency at its ``constraints.txt`` version; ``lowest`` has every runtime dependency
  at the lower bound in ``pyproject.toml`` (Pulumi SDK included). ``make test`` builds both
  (``make consumer-venvs``) and names them in :data:`PINNED_VENV_VARIABLE` and
  :data:`LOWEST_VENV_VARIABLE`; where a variable is unset, this runs ``make consumer-venvs`` once
  (under a lock, so parallel workers share one build) and uses ``.work/venv-pinned`` and
  ``.work/venv-lowest``.
* :func:`consumer_project` ``(root, *, program, venv, bin_dir, config=None, stack="ci",
  virtualenv="venv-infra", toolchain=None, name="infra")`` -> :class:`ConsumerProject`: writes
  ``root/project`` with its own ``Pulumi.yaml`` (``runtime: {name: python, options: {virtualenv:
  <virtualenv>}}``, plus ``toolchain`` when given), ``__main__.py`` holding ``program`` (text),
  and ``Pulumi.<stack>.yaml`` holding ``config`` (full keys, e.g. ``huaweicloud:region``). A
  relative ``virtualenv`` is a link inside the project to ``venv``; an absolute one must be
  ``venv`` itself. The state is a file backend in ``root/state``, ``PULUMI_HOME`` is
  ``root/pulumi-home``, the passphrase is :data:`PASSPHRASE`, and the stack is created.
* :class:`ConsumerProject`: ``dir``, ``venv``, ``stack``, ``state``, ``home``, ``env`` (the
  environment of its ``pulumi`` commands: ``bin_dir`` first on ``PATH``); ``run(*args, check=True,
  timeout=CLI_TIMEOUT)`` runs ``pulumi <args>`` in ``dir`` and returns the ``CompletedProcess``
  (text; raises :class:`ConsumerCommandFailed` on a non-zero exit when ``check``);
  ``command(executable, *args, ...)`` does the same for another program (e.g. the venv's
  ``mrs-iam-sync``).
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from kit.pulumi import REPO, project_environment

PINNED_VENV_VARIABLE: Final = "MRS_IAM_SYNC_PINNED_VENV"
LOWEST_VENV_VARIABLE: Final = "MRS_IAM_SYNC_LOWEST_VENV"
PASSPHRASE: Final = "consumer-state-passphrase-for-tests-only"
CLI_TIMEOUT: Final = 240.0
"""Upper bound of one command; a hang fails the test instead of the whole run."""
MAKE_TIMEOUT: Final = 1800.0


@dataclass(frozen=True)
class ConsumerVenv:
    """A virtualenv with a plain install of the wheel; ``name`` is ``pinned`` or ``lowest``."""

    name: str
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def version_of(self, distribution: str) -> str:
        """The installed version of ``distribution`` in this virtualenv (e.g. ``pulumi``)."""
        probe = f"import importlib.metadata as m; print(m.version({distribution!r}))"
        result = subprocess.run(
            [str(self.python), "-c", probe], capture_output=True, text=True, check=True, timeout=60
        )
        return result.stdout.strip()


def consumer_venvs() -> list[ConsumerVenv]:
    """``pinned`` then ``lowest``; see the module docstring for where they come from."""
    named = {"pinned": os.environ.get(PINNED_VENV_VARIABLE), "lowest": os.environ.get(LOWEST_VENV_VARIABLE)}
    if not all(named.values()):
        _make_consumer_venvs()
        defaults = {"pinned": REPO / ".work" / "venv-pinned", "lowest": REPO / ".work" / "venv-lowest"}
        named = {name: value or str(defaults[name]) for name, value in named.items()}
    venvs = [ConsumerVenv(name, Path(str(value))) for name, value in named.items()]
    for venv in venvs:
        assert venv.python.exists(), f"the {venv.name} consumer virtualenv {venv.path} has no bin/python"
    return venvs


def _make_consumer_venvs() -> None:
    lock_path = REPO / ".work" / "consumer-venvs.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run(
            ["make", "--no-print-directory", "consumer-venvs"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=MAKE_TIMEOUT,
            check=False,
        )
    assert result.returncode == 0, f"make consumer-venvs failed:\n{result.stdout}\n{result.stderr}"


class ConsumerCommandFailed(AssertionError):
    """A command of a consumer project exited non-zero (or did not finish)."""


@dataclass(frozen=True)
class ConsumerProject:
    """The paths of one consumer project and the environment of its commands."""

    dir: Path
    venv: Path
    stack: str
    state: Path
    home: Path
    env: dict[str, str]

    def run(self, *args: str, check: bool = True, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """``pulumi <args>`` in the project directory."""
        return self.command("pulumi", *args, check=check, timeout=timeout)

    def command(
        self, executable: str | Path, *args: str, check: bool = True, timeout: float = CLI_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """Any program in the project directory, with the project's environment."""
        process = subprocess.Popen(
            [str(executable), *args],
            cwd=self.dir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # so that a hang can be ended with everything it started
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            raise ConsumerCommandFailed(
                f"{executable} {' '.join(args)} did not finish within {timeout} s:\n{stdout}\n{stderr}"
            ) from None
        result = subprocess.CompletedProcess([str(executable), *args], process.returncode, stdout, stderr)
        if check and result.returncode != 0:
            raise ConsumerCommandFailed(
                f"{executable} {' '.join(args)} exited with {result.returncode}:\n{stdout}\n{stderr}"
            )
        return result


def consumer_project(
    root: Path,
    *,
    program: str,
    venv: Path,
    bin_dir: Path,
    config: Mapping[str, Any] | None = None,
    stack: str = "ci",
    virtualenv: str = "venv-infra",
    toolchain: str | None = None,
    name: str = "infra",
) -> ConsumerProject:
    """Write a consumer project under ``root`` and create its stack; see the module docstring."""
    assert not root.resolve().is_relative_to(REPO), f"{root} is inside the repository"
    directory = root / "project"
    directory.mkdir(parents=True)
    if Path(virtualenv).is_absolute():
        assert Path(virtualenv) == venv, "an absolute virtualenv option must be the virtualenv itself"
    else:
        (directory / virtualenv).symlink_to(venv)
    options: dict[str, str] = {"virtualenv": virtualenv}
    if toolchain is not None:
        options["toolchain"] = toolchain
    project = {"name": name, "runtime": {"name": "python", "options": options}}
    (directory / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    (directory / "__main__.py").write_text(program)
    (directory / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": dict(config or {})}))
    env = project_environment(bin_dir, root, passphrase=PASSPHRASE)
    consumer = ConsumerProject(directory, venv, stack, root / "state", root / "pulumi-home", env)
    consumer.run("stack", "init", stack, "--non-interactive")
    return consumer
