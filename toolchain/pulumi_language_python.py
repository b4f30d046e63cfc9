"""A stand-in for Pulumi's Python language host, used only when the official one cannot be had.

The official host (``pulumi-language-python``) is a Go program in its own,
never-tagged module; on machines whose Go module proxy does not serve that
module it cannot be built. The engine only needs a process that speaks the
``LanguageRuntime`` gRPC service and prints its port, so this file provides
one: it starts the program exactly as the official host does, by running
Pulumi's own ``pulumi-language-python-exec`` (shipped in the ``sdk/v3`` Go
module and installed next to this file) in the project's virtualenv. It does
not install dependencies or create virtualenvs; ``make`` does that before any
``pulumi`` command runs.

It runs under a Python that has the ``pulumi`` package (for its generated
gRPC stubs); the wrapper script next to it picks that interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

HERE = Path(__file__).resolve().parent
EXEC_SCRIPT = HERE / "pulumi-language-python-exec"
EXIT_CODE_MESSAGE_ALREADY_SHOWN = 32
"""pulumi-language-python-exec exits with this code after it has reported the error itself."""


def _program_python(info: language_pb2.ProgramInfo) -> tuple[str, dict[str, str]]:
    """Choose the interpreter the program runs in, as Pulumi.yaml's runtime options ask."""
    env = dict(os.environ)
    options: dict[str, Any] = json_format.MessageToDict(info.options) if info.HasField("options") else {}
    virtualenv = options.get("virtualenv")
    if not virtualenv:
        return os.environ.get("PULUMI_PYTHON_CMD", "python3"), env
    venv = Path(virtualenv)
    if not venv.is_absolute():
        venv = Path(info.root_directory or os.getcwd()) / venv
    python = venv / "bin" / "python"
    if not python.exists():
        raise FileNotFoundError(
            f"the 'virtualenv' option in Pulumi.yaml points to {venv}, which has no bin/python; "
            "create it first (for this project: `make install`)"
        )
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONHOME", None)
    return str(python), env


class PythonLanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    """Serves the subset of LanguageRuntime that `pulumi preview/up/refresh/destroy/about` use."""

    def __init__(self, *, engine_address: str, version: str) -> None:
        self._engine_address = engine_address
        self._version = version
        self._running: list[subprocess.Popen[bytes]] = []
        self._lock = threading.Lock()

    def Handshake(self, request: Any, context: Any) -> Any:
        if request.engine_address:
            self._engine_address = request.engine_address
        return language_pb2.LanguageHandshakeResponse()

    def GetPluginInfo(self, request: Any, context: Any) -> Any:
        return plugin_pb2.PluginInfo(version=self._version)

    def GetRequiredPlugins(self, request: Any, context: Any) -> Any:
        return language_pb2.GetRequiredPluginsResponse()

    def GetRequiredPackages(self, request: Any, context: Any) -> Any:
        return language_pb2.GetRequiredPackagesResponse()

    def GetProgramDependencies(self, request: Any, context: Any) -> Any:
        return language_pb2.GetProgramDependenciesResponse()

    def RuntimeOptionsPrompts(self, request: Any, context: Any) -> Any:
        return language_pb2.RuntimeOptionsResponse()

    def InstallDependencies(self, request: Any, context: Any) -> Iterator[Any]:
        yield language_pb2.InstallDependenciesResponse(
            stdout=b"dependencies are installed by `make install` (stand-in language host)\n"
        )

    def About(self, request: Any, context: Any) -> Any:
        try:
            python, _ = _program_python(request.info)
        except FileNotFoundError:
            python = sys.executable
        return language_pb2.AboutResponse(
            executable=python,
            version=sys.version.split()[0],
            metadata={"languageHost": "pulumi-mrs-iam-sync stand-in"},
        )

    def Cancel(self, request: Any, context: Any) -> Any:
        # The engine cancels by itself (it stops registering and waits); interrupting the program
        # here would only print Python's KeyboardInterrupt traceback at the user.
        return empty_pb2.Empty()

    def stop_programs(self) -> None:
        """End programs still running when the host goes away, so none is left behind."""
        with self._lock:
            for process in self._running:
                if process.poll() is None:
                    process.terminate()

    def Run(self, request: Any, context: Any) -> Any:
        try:
            python, env = _program_python(request.info)
        except FileNotFoundError as exc:
            return language_pb2.RunResponse(error=str(exc))
        env["PULUMI_CONFIG"] = json.dumps(dict(request.config))
        env["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(request.configSecretKeys))
        program = request.info.program_directory or request.pwd or os.getcwd()
        command = [
            python, "-u", str(EXEC_SCRIPT),
            "--project", request.project,
            "--root_directory", request.info.root_directory or program,
            "--stack", request.stack,
            "--pwd", request.pwd or program,
            "--dry_run", "true" if request.dryRun else "false",
            "--parallel", str(request.parallel),
            "--monitor", request.monitor_address,
            "--engine", self._engine_address,
            "--organization", request.organization or "organization",
            program, *request.args,
        ]  # fmt: skip
        process = subprocess.Popen(command, env=env, cwd=request.pwd or program)
        with self._lock:
            self._running.append(process)
        code = process.wait()
        with self._lock:
            self._running.remove(process)
        if code == 0:
            return language_pb2.RunResponse()
        if code == EXIT_CODE_MESSAGE_ALREADY_SHOWN:
            return language_pb2.RunResponse(bail=True)
        return language_pb2.RunResponse(error=f"Program exited with non-zero exit code: {code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracing", default="")
    parser.add_argument("--logtostderr", action="store_true")
    parser.add_argument("-v", dest="verbose", default="0")
    parser.add_argument(
        "--version", dest="version", default=os.environ.get("PULUMI_STANDIN_VERSION", "3.0.0")
    )
    parser.add_argument("engine_address", nargs="?", default="")
    args, _unknown = parser.parse_known_args()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    host = PythonLanguageHost(engine_address=args.engine_address, version=args.version)
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(host, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)

    def shut_down(*_: object) -> None:
        host.stop_programs()
        server.stop(0)

    # The engine interrupts its plugins when it is done with them: stop quietly.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, shut_down)
    threading.Thread(target=_exit_with_parent, args=(shut_down,), daemon=True).start()
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        shut_down()


def _exit_with_parent(shut_down: Callable[[], None]) -> None:
    """A killed CLI cannot stop its plugins; notice being orphaned and stop instead of lingering."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1.0)
    shut_down()


if __name__ == "__main__":
    main()
