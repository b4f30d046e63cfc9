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

import httpx
import yaml

REPO = Path(__file__).resolve().parents[2]
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


def _clean_environment(bin_dir: Path) -> dict[str, str]:
    """The caller's environment without anything that could point Pulumi or the provider elsewhere."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("HW_", "HUAWEICLOUD_SDK_", "PULUMI_", "OS_"))
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


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
        for directory in (self.dir / "stacks", self.state_dir, root / "pulumi-home"):
            directory.mkdir(parents=True)
        shutil.copy(REPO / "Pulumi.yaml", self.dir / "Pulumi.yaml")
        shutil.copy(REPO / "__main__.py", self.dir / "__main__.py")
        (self.dir / ".venv").symlink_to(venv)
        self.env = _clean_environment(bin_dir)
        self.env.update(
            PULUMI_BACKEND_URL=f"file://{self.state_dir}",
            PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            PULUMI_HOME=str(root / "pulumi-home"),
        )
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

    def reap(self) -> list[int]:
        """Kill whatever this project's commands left running; return their pids (empty when all is well)."""
        leftovers = processes_under(self.root)
        kill_processes(leftovers)
        return leftovers

    def mrs_iam_sync(self, *args: str, timeout: float = CLI_TIMEOUT) -> CliResult:
        """This project's own ``mrs-iam-sync`` command, run in the project with the CLI's environment.

        Never checked: its exit code is part of what the tests assert.
        """
        started = time.monotonic()
        process = subprocess.Popen(
            [str(MRS_IAM_SYNC), *args],
            cwd=self.dir,
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


class Emulator:
    """One ``mrs-emulator`` process, seen through its control API."""

    def __init__(self, root: Path, credentials: Credentials, *, sync_seconds: float) -> None:
        self.root = root
        self.credentials = credentials
        self.sync_seconds = sync_seconds
        root.mkdir(parents=True, exist_ok=True)
        self.seed_file = root / "seed.json"
        self.seed_file.write_text(
            json.dumps(seed_document(access_key=credentials.access_key, secret_key=credentials.secret_key))
        )
        self.stdout_file = root / "emulator.out"
        self.stderr_file = root / "emulator.err"
        self.state_file = root / "state.json"
        """Cluster state survives :meth:`restart`, as a real service's would survive an outage."""
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._http: httpx.Client | None = None
        self.start()

    # -- process ---------------------------------------------------------------------------------

    def start(self, port: int = 0) -> None:
        """Start the process (``port`` 0: any free port) and wait for its ``listening`` line."""
        with open(self.stdout_file, "wb") as out, open(self.stderr_file, "wb") as err:
            self.process = subprocess.Popen(
                [
                    str(VENV_PYTHON),
                    "-m",
                    "mrs_emulator",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--seed",
                    str(self.seed_file),
                    "--sync-seconds",
                    str(self.sync_seconds),
                    "--state",
                    str(self.state_file),
                ],
                stdout=out,
                stderr=err,
                env=_clean_environment(VENV_PYTHON.parent),
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = self.stdout_file.read_text(errors="replace")
            for line in text.splitlines():
                if line.startswith("mrs-emulator listening on "):
                    self.url = line.split(" on ", 1)[1].strip()
                    self._http = httpx.Client(base_url=self.url, timeout=30)
                    return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            "the emulator did not start:\n"
            + self.stdout_file.read_text(errors="replace")
            + self.stderr_file.read_text(errors="replace")
        )

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        """Start again on the same port and from the state file: the API comes back as it was."""
        port = self.port
        self.stop()
        self.start(port)

    @property
    def port(self) -> int:
        return httpx.URL(self.url).port or 80

    # -- control API -----------------------------------------------------------------------------

    def _control(self, method: str, path: str, body: Any = None) -> Any:
        assert self._http is not None, "the emulator is not running"
        response = self._http.request(method, f"/_emulator/{path}", json=body)
        assert response.is_success, f"{method} /_emulator/{path} -> {response.status_code} {response.text}"
        return response.json() if response.content else None

    def log(self) -> list[dict[str, Any]]:
        """Every request the emulated API received, oldest first (method, path, status, error_code...)."""
        entries: list[dict[str, Any]] = self._control("GET", "requests")["requests"]
        return entries

    def clear_log(self) -> None:
        self._control("DELETE", "requests")

    def writes(self) -> list[tuple[str, str, int | None]]:
        """The task-starting requests (POST, DELETE) in the log, as (method, cluster id, status)."""
        return [
            (item["method"], cluster_of(item["path"]), item["status"])
            for item in self.log()
            if item["method"] in ("POST", "DELETE")
        ]

    def add_fault(self, **spec: Any) -> None:
        """``POST /_emulator/faults``; see ``mrs_emulator.faults.FaultSpec`` for the fields."""
        self._control("POST", "faults", spec)

    def clear_faults(self) -> None:
        self._control("DELETE", "faults")

    def update_settings(self, **changes: Any) -> None:
        """``PUT /_emulator/settings``: switch one of the emulator's open behaviours at run time."""
        self._control("PUT", "settings", changes)

    def cluster_state(self, cluster_id: str, project_id: str = PROJECT_ID) -> dict[str, Any]:
        state: dict[str, Any] = self._control("GET", f"projects/{project_id}/clusters/{cluster_id}")
        return state

    def synced(self, cluster_id: str) -> tuple[set[str], set[str]]:
        """(users, groups) synced on a cluster right now."""
        state = self.cluster_state(cluster_id)
        return set(state["synced_users"]), set(state["synced_groups"])

    def patch_cluster(self, cluster_id: str, **changes: Any) -> dict[str, Any]:
        state: dict[str, Any] = self._control(
            "PATCH", f"projects/{PROJECT_ID}/clusters/{cluster_id}", changes
        )
        return state

    def wait_for_request(self, method: str, status: int, *, timeout: float = 60.0) -> dict[str, Any]:
        """Block until the API has answered a ``method`` request with ``status``; return its log entry."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in self.log():
                if item["method"] == method and item["status"] == status:
                    return item
            time.sleep(0.05)
        raise AssertionError(f"no {method} answered {status} within {timeout} s; log: {self.log()}")

    def wait_until_idle(self, cluster_id: str, *, timeout: float = 60.0) -> None:
        """Block until no task runs on the cluster (as seen through the control API)."""
        deadline = time.monotonic() + timeout
        while self.cluster_state(cluster_id)["is_synchronizing"]:
            assert time.monotonic() < deadline, f"a task still runs on {cluster_id} after {timeout} s"
            time.sleep(0.05)

    def delete_cluster(self, cluster_id: str) -> None:
        """Make a cluster vanish, as if it had been deleted in the console."""
        self._control("DELETE", f"projects/{PROJECT_ID}/clusters/{cluster_id}")

    def tasks(self, cluster_id: str) -> list[dict[str, Any]]:
        tasks: list[dict[str, Any]] = self.cluster_state(cluster_id)["tasks"]
        return tasks


def cluster_of(path: str) -> str:
    """The cluster id in an API path ``/v2/{project}/clusters/{cluster}/...``."""
    parts = path.strip("/").split("/")
    return parts[3] if len(parts) > 3 and parts[2] == "clusters" else ""


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
