"""Harness of the end-to-end suite: the real ``pulumi`` CLI against a real emulator process.

Every test gets its own world, so tests can run in parallel (pytest-xdist):

* an :class:`Emulator`: ``python -m mrs_emulator`` as a separate process on its own
  port, started from a seed this file writes (:func:`seed_document`), with an AK/SK pair unique
  to the test so that a leak of it can be searched for;
* a :class:`Project`: a copy of the repository's ``Pulumi.yaml`` and ``__main__.py`` in a
  temporary directory, with its own file backend, ``PULUMI_HOME`` and passphrase, and a
  stack whose config points at that emulator.

Nothing is mocked between the engine, the dynamic provider and the emulator: the only
ways in are the CLI and the emulator's control API (``/_emulator/``).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kit.emulator import EmulatorProcess
from kit.environment import subprocess_environment
from kit.pulumi import REPO, project_environment

VENV_PYTHON = REPO / ".venv" / "bin" / "python"
MRS_IAM_SYNC = REPO / ".venv" / "bin" / "mrs-iam-sync"
STACK = "e2e"
PASSPHRASE = "e2e-state-passphrase-for-tests-only"
CLI_TIMEOUT = 240.0
"""Upper bound of one CLI command; a hang fails the test instead of the whole run."""

# ---------------------------------------------------------------------------------------------
# The world the emulator starts from.  Identifiers are fixed; credentials are per test.
# ---------------------------------------------------------------------------------------------

PROJECT_ID = "0e2e0000000000000000000000000001"
REGION = "cn-north-4"

ANALYTICS = "e2e-analytics-0001"
STREAMING = "e2e-streaming-0002"
SANDBOX = "e2e-sandbox-0003"
"""Starts with principals that no stack declares (``SANDBOX_FOREIGN``)."""
REPORTING = "e2e-reporting-0004"
ARCHIVE = "e2e-archive-0005"
SPARE = "e2e-spare-0006"
CLUSTERS = (ANALYTICS, STREAMING, SANDBOX, REPORTING, ARCHIVE, SPARE)

GROUPS = ("data-engineers", "analysts", "platform-admins", "auditors", "ops", "guests")
USERS: dict[str, tuple[tuple[str, ...], bool]] = {
    # name: (IAM groups, holds an MRS policy)
    "alice": (("data-engineers",), True),
    "bob": (("analysts",), True),
    "carol": (("platform-admins", "analysts"), True),
    "dave": (("auditors",), False),
    "erin": (("data-engineers",), True),
    "frank": ((), True),
    "grace": (("ops",), True),
    "heidi": ((), True),
    "ivan": ((), True),
    "judy": ((), True),
    "mallory": (("guests",), True),
}
SANDBOX_FOREIGN = {"users": ["erin"], "groups": ["data-engineers", "ops"]}


def seed_document(*, access_key: str, secret_key: str) -> dict[str, Any]:
    """The seed of one test's emulator: six clusters, eleven users (one without an MRS policy)."""
    clusters: list[dict[str, Any]] = [{"id": cluster_id, "name": cluster_id[4:-5]} for cluster_id in CLUSTERS]
    clusters[CLUSTERS.index(SANDBOX)]["synced"] = copy.deepcopy(SANDBOX_FOREIGN)
    return {
        "projects": [
            {
                "id": PROJECT_ID,
                "region": REGION,
                "clusters": clusters,
                "iam": {
                    "groups": list(GROUPS),
                    "users": [
                        {"name": name, "groups": list(groups), "mrs_policy": policy}
                        for name, (groups, policy) in USERS.items()
                    ],
                },
            }
        ],
        "credentials": {"access_keys": [{"access_key": access_key, "secret_key": secret_key}]},
    }


@dataclass(frozen=True)
class Credentials:
    """An AK/SK pair unique to one test: distinctive, so a leak can be searched for verbatim."""

    access_key: str
    secret_key: str

    @classmethod
    def unique(cls) -> Credentials:
        token = uuid.uuid4().hex
        return cls(access_key=f"E2EAK{token[:15].upper()}", secret_key=f"e2e-sk-{token}-do-not-leak")


# ---------------------------------------------------------------------------------------------
# The Pulumi CLI
# ---------------------------------------------------------------------------------------------


@dataclass
class CliResult:
    """One finished CLI command."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __str__(self) -> str:
        return (
            f"$ pulumi {' '.join(self.args)}  (exit {self.returncode}, {self.seconds:.1f} s)\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


class CliFailed(AssertionError):
    pass


TRACEBACK = "Traceback (most recent call last)"
"""What a user must never see: the provider turns every failure into a message of its own."""


def assert_failed(result: CliResult, *on_stdout: str) -> None:
    """``result`` failed, said each of ``on_stdout`` on stdout, and showed no Python traceback."""
    assert result.returncode != 0, result
    for text in on_stdout:
        assert text in result.stdout, result
    assert TRACEBACK not in result.output, result


@dataclass
class Running:
    """A CLI command running in the background, in its own process group, output going to a file."""

    process: subprocess.Popen[str]
    log_file: Path

    def wait(self, timeout: float = CLI_TIMEOUT) -> int:
        return self.process.wait(timeout=timeout)

    def interrupt(self) -> None:
        """Ctrl-C: SIGINT to the CLI's process group (its plugins run in groups of their own)."""
        os.killpg(self.process.pid, signal.SIGINT)

    def kill_everything(self) -> None:
        """SIGKILL to the CLI and every process it started, as when a CI runner or machine dies."""
        kill_processes(process_tree(self.process.pid))

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace")


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses; the fields after its last ')' do not.
        fields = text.rsplit(")", 1)[1].split()
        parents[int(stat.parent.name)] = int(fields[1])
    return parents


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (the engine starts its plugins in process groups of their own)."""
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    tree, queue = [], [pid]
    while queue:
        current = queue.pop()
        tree.append(current)
        queue.extend(children.get(current, []))
    return tree


def kill_processes(pids: Iterable[int], sig: signal.Signals = signal.SIGKILL) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def processes_under(directory: Path) -> list[int]:
    """Processes whose working directory is inside ``directory``: the CLI and the plugins of one test."""
    found = []
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            target = Path(os.readlink(cwd))
        except OSError:
            continue
        if target == directory or directory in target.parents:
            found.append(int(cwd.parent.name))
    return found


class Project:
    """A Pulumi project directory with one stack, its own backend and home, driven through the CLI."""

    def __init__(self, root: Path, bin_dir: Path, *, venv: Path = REPO / ".venv") -> None:
        """``venv`` is the stack's virtualenv (``.venv`` in Pulumi.yaml): the repository's by default."""
        self.root = root
        self.dir = root / "project"
        self.state_dir = root / "state"
        self.stack_file = self.dir / "stacks" / f"Pulumi.{STACK}.yaml"
        (self.dir / "stacks").mkdir(parents=True)
        shutil.copy(REPO / "Pulumi.yaml", self.dir / "Pulumi.yaml")
        shutil.copy(REPO / "__main__.py", self.dir / "__main__.py")
        (self.dir / ".venv").symlink_to(venv)
        self.env = project_environment(bin_dir, root, passphrase=PASSPHRASE)
        self.run("stack", "init", STACK, "--non-interactive")

    # -- config ----------------------------------------------------------------------------------

    def _stack_document(self) -> dict[str, Any]:
        document = yaml.safe_load(self.stack_file.read_text()) or {}
        document.setdefault("config", {})
        return document

    def set_config(self, values: Mapping[str, Any]) -> None:
        """Write config keys (full names such as ``huaweicloud:region``) into the stack file."""
        document = self._stack_document()
        document["config"].update(values)
        self.stack_file.write_text(yaml.safe_dump(document, sort_keys=False))

    def set_secret(self, key: str, value: str) -> None:
        """``pulumi config set --secret`` with the value on stdin, so it is not even in the argv."""
        self.run("config", "set", "--secret", key, input_text=value)

    def set_clusters(self, clusters: Sequence[Mapping[str, Any]]) -> None:
        self.set_config({"mrs-iam-sync:clusters": list(clusters)})

    def stack_file_text(self) -> str:
        return self.stack_file.read_text()

    # -- commands --------------------------------------------------------------------------------

    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float = CLI_TIMEOUT,
        input_text: str | None = None,
    ) -> CliResult:
        started = time.monotonic()
        process = subprocess.Popen(
            ["pulumi", *args],
            cwd=self.dir,
            env=self.env,
            stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(input_text, timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_processes(process_tree(process.pid))
            stdout, stderr = process.communicate()
            raise CliFailed(
                f"pulumi {' '.join(args)} did not finish within {timeout} s:\n{stdout}\n{stderr}"
            ) from None
        result = CliResult(list(args), process.returncode, stdout, stderr, time.monotonic() - started)
        if check and result.returncode != 0:
            raise CliFailed(f"command failed:\n{result}")
        return result

    def up(self, *extra: str, **kwargs: Any) -> CliResult:
        return self.run("up", "--yes", "--skip-preview", "--non-interactive", *extra, **kwargs)

    def preview(self, *extra: str, **kwargs: Any) -> CliResult:
        return self.run("preview", "--non-interactive", *extra, **kwargs)

    def preview_json(self, **kwargs: Any) -> dict[str, Any]:
        """``pulumi preview --json``: the planned steps, machine-readable."""
        result = self.run("preview", "--json", "--non-interactive", **kwargs)
        document: dict[str, Any] = json.loads(result.stdout)
        return document

    def refresh(self, *extra: str, **kwargs: Any) -> CliResult:
        return self.run("refresh", "--yes", "--skip-preview", "--non-interactive", *extra, **kwargs)

    def destroy(self, *extra: str, **kwargs: Any) -> CliResult:
        return self.run("destroy", "--yes", "--skip-preview", "--non-interactive", *extra, **kwargs)

    def outputs(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.run("stack", "output", "--json").stdout)
        return document

    def export(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.run("stack", "export").stdout)
        return document

    def resources(self) -> dict[str, dict[str, Any]]:
        """The ClusterIamSync resources in state, by resource name."""
        deployment = self.export()["deployment"]
        return {
            resource["urn"].rsplit("::", 1)[1]: resource
            for resource in deployment.get("resources", [])
            if resource["type"].endswith(":ClusterIamSync")
        }

    def urn(self, name: str) -> str:
        """The URN of the ClusterIamSync called ``name`` (for ``--target``, ``--replace``)."""
        found: str = self.resources()[name]["urn"]
        return found

    def reap(self) -> list[int]:
        """Kill whatever this project's commands left running; return their pids (empty when all is well)."""
        leftovers = processes_under(self.root)
        kill_processes(leftovers)
        return leftovers

    def mrs_iam_sync(self, *args: str, timeout: float = CLI_TIMEOUT, cwd: Path | None = None) -> CliResult:
        """This project's own ``mrs-iam-sync`` command, run in the project (or ``cwd``) with the CLI's
        environment.

        Never checked: its exit code is part of what the tests assert.
        """
        started = time.monotonic()
        process = subprocess.Popen(
            [str(MRS_IAM_SYNC), *args],
            cwd=cwd or self.dir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_processes(process_tree(process.pid))
            raise CliFailed(f"mrs-iam-sync {' '.join(args)} did not finish within {timeout} s") from None
        return CliResult(["(mrs-iam-sync)", *args], process.returncode, stdout, stderr, time.monotonic() - started)

    def popen(self, *args: str) -> Running:
        """Start a CLI command in its own process group (to interrupt it like Ctrl-C or a killed CI job)."""
        log_file = self.root / f"popen-{args[0]}-{time.monotonic_ns()}.log"
        with open(log_file, "w") as log:
            process = subprocess.Popen(
                ["pulumi", *args],
                cwd=self.dir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        return Running(process, log_file)


# ---------------------------------------------------------------------------------------------
# The emulator
# ---------------------------------------------------------------------------------------------


class Emulator(EmulatorProcess):
    """The emulator of one test's world: ``python -m mrs_emulator`` from the repository's virtualenv,
    started from :func:`seed_document` with the test's credentials.

    Its state file is in ``root``: cluster state survives :meth:`restart`, as a real service's would
    survive an outage.
    """

    def __init__(self, root: Path, credentials: Credentials, *, sync_seconds: float) -> None:
        self.credentials = credentials
        root.mkdir(parents=True, exist_ok=True)
        seed_file = root / "seed.json"
        seed_file.write_text(
            json.dumps(seed_document(access_key=credentials.access_key, secret_key=credentials.secret_key))
        )
        super().__init__(
            *("--seed", str(seed_file), "--sync-seconds", str(sync_seconds), "--state", str(root / "state.json")),
            logs=root,
            command=[str(VENV_PYTHON), "-m", "mrs_emulator"],
            env=subprocess_environment(path_first=VENV_PYTHON.parent),
            project_id=PROJECT_ID,
        )


def provider_config(emulator: Emulator, *, with_keys: bool = True) -> dict[str, Any]:
    """The ``huaweicloud:`` stack config that aims the provider at ``emulator``."""
    config: dict[str, Any] = {
        "huaweicloud:region": REGION,
        "huaweicloud:project_id": PROJECT_ID,
        "huaweicloud:endpoints": {"mrs": emulator.url},
    }
    if with_keys:
        config["huaweicloud:access_key"] = emulator.credentials.access_key
        config["huaweicloud:secret_key"] = emulator.credentials.secret_key
    return config


def entry(
    name: str, cluster_id: str, *, users: Sequence[str] = (), groups: Sequence[str] = (), **extra: Any
) -> dict[str, Any]:
    """One element of ``mrs-iam-sync:clusters``; timeouts default to something a test can afford."""
    item: dict[str, Any] = {"name": name, "cluster_id": cluster_id}
    if users:
        item["user_names"] = list(users)
    if groups:
        item["group_names"] = list(groups)
    item.setdefault("timeout_seconds", 60)
    item.update(extra)
    return item
