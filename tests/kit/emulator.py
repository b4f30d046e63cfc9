"""An emulator under test, and the one client of its control API.

* :class:`Control`: the ``/_emulator/`` API (``docs/emulator.md``): the request log, cluster state,
  faults, settings, the clock, reset;
* :class:`LocalEmulator`: an emulator in this test's process, called in-process (no socket) or served
  from a thread on a free port; a test can also look into its backend;
* :class:`EmulatorProcess`: ``python -m mrs_emulator`` (or another command) as a process of its own,
  ready once it prints its ``listening on`` line; the end-to-end suite and the benchmarks use it.
"""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Self

import httpx

from kit.api import Api
from kit.demo import PROJECT, demo_auth
from kit.environment import subprocess_environment

if TYPE_CHECKING:
    from mrs_emulator import EmulatorApp, EmulatorHandle
    from mrs_emulator.backend import EmulatorBackend
    from mrs_emulator.context import EmulatorContext

POLL_SECONDS: Final = 0.05


def cluster_of(path: str) -> str:
    """The cluster id in an API path ``/v2/{project}/clusters/{cluster}/...``."""
    parts = path.strip("/").split("/")
    return parts[3] if len(parts) > 3 and parts[2] == "clusters" else ""


class Control:
    """The control API of one emulator, over an HTTP client its subclass provides."""

    def __init__(self, project_id: str = PROJECT) -> None:
        self.project_id = project_id
        """The project of :meth:`cluster` and the cluster calls, unless a call names another."""
        self._http: httpx.Client | None = None

    def close(self) -> None:
        """Stop the emulator and release what it holds; a ``with`` block ends with it."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def control(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """``method /_emulator/{path}`` with ``body`` as JSON; the answer as it is."""
        assert self._http is not None, "the emulator is not running"
        content = None if body is None else json.dumps(body).encode()
        return self._http.request(method, f"/_emulator/{path}", content=content)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        """Like :meth:`control`, asserting success; the JSON answer (``None`` when empty)."""
        response = self.control(method, path, body)
        assert response.is_success, f"{method} /_emulator/{path} -> {response.status_code} {response.text}"
        return response.json() if response.content else None

    # -- the request log -----------------------------------------------------------------------------

    def log(self) -> list[dict[str, Any]]:
        """Every request the emulated API received, oldest first (method, path, status, error_code...)."""
        entries: list[dict[str, Any]] = self.ok("GET", "requests")["requests"]
        return entries

    def clear_log(self) -> None:
        self.ok("DELETE", "requests")

    def writes(self) -> list[tuple[str, str, int | None]]:
        """The task-starting requests (POST, DELETE) in the log, as (method, cluster id, status)."""
        return [
            (item["method"], cluster_of(item["path"]), item["status"])
            for item in self.log()
            if item["method"] in ("POST", "DELETE")
        ]

    def wait_for_request(self, method: str, status: int, *, timeout: float = 60.0) -> dict[str, Any]:
        """Block until the API has answered a ``method`` request with ``status``; return its log entry."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in self.log():
                if item["method"] == method and item["status"] == status:
                    return item
            time.sleep(POLL_SECONDS)
        raise AssertionError(f"no {method} answered {status} within {timeout} s; log: {self.log()}")

    # -- clusters ------------------------------------------------------------------------------------

    def _cluster_path(self, cluster_id: str, project_id: str | None) -> str:
        return f"projects/{project_id or self.project_id}/clusters/{cluster_id}"

    def cluster(self, cluster_id: str, project_id: str | None = None) -> dict[str, Any]:
        """Synced principals and tasks (running, and the last completed) of one cluster."""
        state: dict[str, Any] = self.ok("GET", self._cluster_path(cluster_id, project_id))
        return state

    def synced(self, cluster_id: str) -> tuple[set[str], set[str]]:
        """(users, groups) synced on a cluster right now."""
        state = self.cluster(cluster_id)
        return set(state["synced_users"]), set(state["synced_groups"])

    def tasks(self, cluster_id: str) -> list[dict[str, Any]]:
        tasks: list[dict[str, Any]] = self.cluster(cluster_id)["tasks"]
        return tasks

    def patch_cluster(self, cluster_id: str, **changes: Any) -> dict[str, Any]:
        state: dict[str, Any] = self.ok("PATCH", self._cluster_path(cluster_id, None), changes)
        return state

    def delete_cluster(self, cluster_id: str) -> None:
        """Make a cluster vanish, as if it had been deleted in the console."""
        self.ok("DELETE", self._cluster_path(cluster_id, None))

    def wait_until_idle(self, cluster_id: str, *, timeout: float = 60.0) -> None:
        """Block until no task runs on the cluster."""
        deadline = time.monotonic() + timeout
        while self.cluster(cluster_id)["is_synchronizing"]:
            assert time.monotonic() < deadline, f"a task still runs on {cluster_id} after {timeout} s"
            time.sleep(POLL_SECONDS)

    # -- faults, settings, clock, reset --------------------------------------------------------------

    def add_fault(self, **spec: Any) -> None:
        """``POST /_emulator/faults``; see ``mrs_emulator.faults.FaultSpec`` for the fields."""
        self.ok("POST", "faults", spec)

    def clear_faults(self) -> None:
        self.ok("DELETE", "faults")

    def update_settings(self, **changes: Any) -> None:
        """``PUT /_emulator/settings``: switch one of the emulator's open behaviours at run time."""
        self.ok("PUT", "settings", changes)

    def advance(self, seconds: float) -> None:
        """Move the emulator clock forward, finishing tasks without sleeping."""
        offset = self.ok("GET", "clock")["offset_seconds"]
        self.ok("PUT", "clock", {"offset_seconds": offset + seconds})

    def reset(self, **settings: Any) -> None:
        """Back to the seed (no tasks, faults or log, clock offset 0), then ``settings`` if any."""
        self.ok("POST", "reset")
        if settings:
            self.update_settings(**settings)


# -- in this process ---------------------------------------------------------------------------------

MODES: Final = ("in-process", "socket")
IN_PROCESS_URL: Final = "http://mrs.cn-north-4.myhuaweicloud.com"
"""The base URL of in-process clients: a real host name, as the app sees in its requests."""

_SHARED_TLS: Final = ssl.create_default_context()
"""Plain HTTP only; one shared context spares every client from reloading the CA bundle (~20 ms)."""


class LocalEmulator(Control):
    """An emulator in this process: its WSGI app behind ``httpx.WSGITransport`` (``in-process``), or
    the app as ``start_emulator`` serves it on a free port (``socket``, with its ``handle``).

    :meth:`start` builds one from ``EmulatorOptions`` fields; a test of the app's own lifecycle (state
    files, closing) wraps an app it made with ``create_app``.  Closing it closes its clients and the
    app, or stops the server.
    """

    def __init__(self, app: EmulatorApp, handle: EmulatorHandle | None = None) -> None:
        super().__init__()
        self.app, self.handle = app, handle
        self.mode = "in-process" if handle is None else "socket"
        self.url = IN_PROCESS_URL if handle is None else handle.url
        self._clients: list[httpx.Client] = []
        self._http = self.client()

    @classmethod
    def start(cls, mode: str = "socket", **options: Any) -> LocalEmulator:
        from mrs_emulator import create_app, start_emulator  # noqa: PLC0415 - the emulator extra, only here

        if mode == "in-process":
            return cls(create_app(**options))
        if mode == "socket":
            handle = start_emulator(**options)
            return cls(handle.app, handle)
        raise ValueError(f"mode {mode!r} is none of {MODES}")

    def client(self, auth: httpx.Auth | None = None, **kwargs: Any) -> httpx.Client:
        """A client of this emulator, closed with it."""
        if self.handle is None:
            transport = httpx.WSGITransport(app=self.app)
            client = httpx.Client(transport=transport, base_url=self.url, auth=auth, **kwargs)
        else:
            client = httpx.Client(base_url=self.url, auth=auth, timeout=10, verify=_SHARED_TLS, **kwargs)
        self._clients.append(client)
        return client

    def api(self, auth: httpx.Auth | None = None) -> Api:
        """The five endpoints, signed with ``auth`` (the demo key by default)."""
        return Api(self.client(auth=auth if auth is not None else demo_auth()))

    @property
    def context(self) -> EmulatorContext:
        return self.app.context

    @property
    def backend(self) -> EmulatorBackend:
        return self.app.context.backend

    def close(self) -> None:
        for client in self._clients:
            client.close()
        if self.handle is not None:
            self.handle.stop()
        else:
            self.app.close()


# -- as a process ------------------------------------------------------------------------------------

MODULE_COMMAND: Final = (sys.executable, "-m", "mrs_emulator")
READY_PREFIX: Final = "mrs-emulator listening on "


class Exited(NamedTuple):
    """How a process ended: its status, its stdout after the ``listening`` line, its stderr."""

    returncode: int
    stdout: str
    stderr: str


class EmulatorProcess(Control):
    """One emulator process started with ``args`` on ``port`` (0: a free one; ``None``: no ``--port``
    flag, the command's default), its stdout and stderr in files under ``logs``.

    With ``wait`` (the default) the constructor returns once the process listens; without it, the
    caller decides (:meth:`wait_ready`, or :meth:`finish` for a process that is expected to refuse
    to start).  :meth:`stop` ends it; :meth:`restart` starts it again with the same arguments on the
    same port.  ``env`` defaults to this process's environment without credentials or ``PULUMI_*``.
    """

    def __init__(
        self,
        *args: str,
        logs: Path,
        port: int | None = 0,
        command: Sequence[str] = MODULE_COMMAND,
        env: dict[str, str] | None = None,
        project_id: str = PROJECT,
        wait: bool = True,
    ) -> None:
        super().__init__(project_id)
        self.args, self.command = list(args), list(command)
        self.env = env if env is not None else subprocess_environment()
        logs.mkdir(parents=True, exist_ok=True)
        self.stdout_file, self.stderr_file = logs / "emulator.out", logs / "emulator.err"
        self.url = ""
        self.popen = self._spawn(port)
        if wait:
            self.wait_ready()

    def _spawn(self, port: int | None) -> subprocess.Popen[bytes]:
        flag = [] if port is None else ["--port", str(port)]
        with open(self.stdout_file, "wb") as out, open(self.stderr_file, "wb") as err:
            return subprocess.Popen([*self.command, *self.args, *flag], stdout=out, stderr=err, env=self.env)

    @property
    def port(self) -> int:
        return httpx.URL(self.url).port or 80

    def wait_ready(self, timeout: float = 30.0) -> str:
        """Wait for the ``listening on URL`` line; return the URL. Fails with what the process printed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line, newline, _ = self.stdout_file.read_text(errors="replace").partition("\n")
            if newline:
                if not line.startswith(READY_PREFIX):
                    break
                self.url = line.removeprefix(READY_PREFIX)
                self._http = httpx.Client(base_url=self.url, timeout=30)
                return self.url
            if self.popen.poll() is not None:
                break
            time.sleep(POLL_SECONDS / 2)
        exited = self.stop(signal.SIGKILL)
        raise RuntimeError(f"the emulator did not start: {exited}")

    def finish(self, timeout: float = 20.0) -> Exited:
        """Wait for the process to end on its own."""
        self.popen.wait(timeout=timeout)
        return self._exited()

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 10.0) -> Exited:
        """Send ``signum`` (SIGKILL after ``timeout``) and wait; safe to call on an ended process."""
        if self._http is not None:
            self._http.close()
            self._http = None
        if self.popen.poll() is None:
            self.popen.send_signal(signum)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=timeout)
        return self._exited()

    def restart(self) -> None:
        """Start again on the same port: with a state file, the API comes back as it was."""
        port = self.port
        self.stop()
        self.popen = self._spawn(port)
        self.wait_ready()

    def _exited(self) -> Exited:
        assert self.popen.returncode is not None
        stdout = self.stdout_file.read_text(errors="replace")
        if stdout.startswith(READY_PREFIX):
            stdout = stdout.partition("\n")[2]
        return Exited(self.popen.returncode, stdout, self.stderr_file.read_text(errors="replace"))

    def close(self) -> None:
        self.stop()
