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

Policy packs (``--policy-pack DIR`` with ``runtime: python``) reach it as
``RunPlugin`` with kind ``analyzer``, and it starts them the way the official
host does: a policy proxy answers the engine first, so that the stack,
project, config and dry-run flag that the engine sends in ``ConfigureStack``
can be put in the environment of ``python -u -m pulumi.policy <engine> <pack
dir>``; every later analyzer call is relayed to that process (see
:class:`PolicyPackRun`).

It runs under a virtualenv of its own with the ``pulumi`` package (for its generated gRPC stubs),
which ``toolchain/get-pulumi.sh`` creates beside it; the program, and each policy pack, runs in the
interpreter that its ``Pulumi.yaml`` names (see :func:`_virtualenv`).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import grpc
from google.protobuf import empty_pb2, json_format
from pulumi.runtime.proto import (
    analyzer_pb2,
    analyzer_pb2_grpc,
    language_pb2,
    language_pb2_grpc,
    plugin_pb2,
)

HERE = Path(__file__).resolve().parent
EXEC_SCRIPT = HERE / "pulumi-language-python-exec"
EXIT_CODE_MESSAGE_ALREADY_SHOWN = 32
"""pulumi-language-python-exec exits with this code after it has reported the error itself."""
ANALYZER_KIND = "analyzer"
POLICY_START_TIMEOUT_VARIABLE = "PULUMI_STANDIN_POLICY_START_SECONDS"
DEFAULT_POLICY_START_SECONDS = 60.0
"""How long a policy pack may take to print its port. The engine itself waits for it forever."""
NO_DEADLINE_SECONDS = 1e9
"""A call with more time left than this (about 30 years) has no deadline at all."""
STOP_GRACE_SECONDS = 5.0
"""How long a policy pack may take to exit after SIGTERM before it is killed."""


class NoInterpreter(Exception):
    """The interpreter that Pulumi.yaml's runtime options name does not exist or cannot be found."""


def _nearest(start: Path, name: str) -> Path | None:
    """The nearest directory from ``start`` upwards that holds ``name``."""
    for directory in (start, *start.parents):
        if (directory / name).exists():
            return directory
    return None


def _poetry_virtualenv(directory: Path) -> Path:
    """Where Poetry keeps the project's virtualenv: it alone knows (in-project, or its own cache)."""
    try:
        found = subprocess.run(
            ["poetry", "env", "info", "--path"], cwd=directory, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise NoInterpreter("Pulumi.yaml sets 'toolchain: poetry', but `poetry` is not on PATH") from None
    path = found.stdout.strip()
    if found.returncode != 0 or not path:
        raise NoInterpreter(
            f"`poetry env info --path` in {directory} found no virtualenv (run `poetry install` there "
            f"first): {found.stderr.strip() or 'no output'}"
        )
    return Path(path)


def _virtualenv(options: dict[str, Any], root: Path, program_dir: Path) -> Path | None:
    """The program's virtualenv as the official host finds it for each ``toolchain``; None: no virtualenv.

    ``pip`` (the default) uses ``virtualenv:`` relative to the project root, or the system Python;
    ``uv`` uses ``virtualenv:`` too, else ``.venv`` beside the nearest ``uv.lock``, else beside the
    nearest ``pyproject.toml``, else in the root; ``poetry`` asks Poetry in the program directory.
    The interpreter then runs directly: unlike ``uv run`` and ``poetry install``, this host never
    installs anything (``make`` or the project's own setup does).
    """
    toolchain = str(options.get("toolchain") or "pip")
    virtualenv = str(options.get("virtualenv") or "")
    if toolchain == "poetry":
        return _poetry_virtualenv(program_dir)
    if toolchain == "uv" and not virtualenv:
        return (_nearest(root, "uv.lock") or _nearest(root, "pyproject.toml") or root) / ".venv"
    if toolchain not in ("pip", "uv"):
        raise NoInterpreter(f"Pulumi.yaml sets 'toolchain: {toolchain}'; known toolchains: pip, uv, poetry")
    return root / virtualenv if virtualenv else None


def _program_python(info: language_pb2.ProgramInfo) -> tuple[str, dict[str, str]]:
    """Choose the interpreter the program runs in, as Pulumi.yaml's runtime options ask."""
    env = dict(os.environ)
    options: dict[str, Any] = json_format.MessageToDict(info.options) if info.HasField("options") else {}
    root = Path(info.root_directory or os.getcwd())
    venv = _virtualenv(options, root, Path(info.program_directory or root))
    if venv is None:
        return os.environ.get("PULUMI_PYTHON_CMD", "python3"), env
    python = venv / "bin" / "python"
    if not python.exists():
        raise NoInterpreter(
            f"the program's virtualenv {venv} (from the runtime options in Pulumi.yaml) has no bin/python; "
            "create it and install the program's dependencies first"
        )
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONHOME", None)
    return str(python), env


def _policy_start_seconds() -> float:
    """The bound on a policy pack's start; the variable exists so that tests need not wait a minute."""
    text = os.environ.get(POLICY_START_TIMEOUT_VARIABLE, "")
    try:
        seconds = float(text) if text else DEFAULT_POLICY_START_SECONDS
    except ValueError:
        return DEFAULT_POLICY_START_SECONDS
    return seconds if seconds > 0 else DEFAULT_POLICY_START_SECONDS


class PackNotRunning(Exception):
    """The policy pack process could not be started, did not start in time, or has gone."""


class PolicyPackProxy(analyzer_pb2_grpc.AnalyzerServicer):
    """The analyzer the engine connects to while the real policy pack is not running yet.

    The engine sends ``Handshake`` and ``ConfigureStack`` right after it has read this proxy's
    port; the proxy answers both itself, keeps the stack configuration for the pack's
    environment, and holds every other call until the pack is attached (or has failed).
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._configured = False
        self._stack: analyzer_pb2.AnalyzerStackConfigureRequest | None = None
        self._client: analyzer_pb2_grpc.AnalyzerStub | None = None
        self._channel: grpc.Channel | None = None
        self._failure: str | None = None

    # -- the run's side --------------------------------------------------------------------------

    def await_configuration(
        self, stopped: threading.Event
    ) -> analyzer_pb2.AnalyzerStackConfigureRequest | None:
        """The engine's ConfigureStack, or None when another call came first (the pack then runs without)."""
        with self._changed:
            while not self._configured and not stopped.is_set():
                self._changed.wait(0.1)
            return self._stack

    def attach(self, port: int) -> None:
        """Connect to the started pack and hand it the stack configuration it would have received."""
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        client = analyzer_pb2_grpc.AnalyzerStub(channel)
        if self._stack is not None:
            try:
                client.ConfigureStack(self._stack, timeout=_policy_start_seconds())
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.UNIMPLEMENTED:  # older packs do not implement it
                    channel.close()
                    reason = f"the policy pack refused its stack configuration: {exc.details()}"
                    raise PackNotRunning(reason) from None
        with self._changed:
            self._channel, self._client = channel, client
            self._changed.notify_all()

    def fail(self, reason: str) -> None:
        """From now on every call is answered with ``reason``."""
        with self._changed:
            if self._failure is None:
                self._failure = reason
            self._configured = True
            self._changed.notify_all()

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()

    def client(self, context: grpc.ServicerContext) -> analyzer_pb2_grpc.AnalyzerStub:
        """Wait for the pack; a call that comes before ConfigureStack starts it without configuration."""
        with self._changed:
            self._configured = True
            self._changed.notify_all()
            while self._failure is None and self._client is None:
                if not context.is_active():
                    raise PackNotRunning("the engine cancelled the call")
                self._changed.wait(0.1)
            if self._failure is not None:
                raise PackNotRunning(self._failure)
            assert self._client is not None
            return self._client

    # -- the engine's side -----------------------------------------------------------------------

    def Handshake(self, request: Any, context: Any) -> Any:
        return analyzer_pb2.AnalyzerHandshakeResponse()

    def ConfigureStack(self, request: Any, context: Any) -> Any:
        with self._changed:
            if not self._configured:
                self._stack, self._configured = request, True
                self._changed.notify_all()
        return analyzer_pb2.AnalyzerStackConfigureResponse()

    def Analyze(self, request: Any, context: Any) -> Any:
        return self._relay("Analyze", request, context)

    def AnalyzeStack(self, request: Any, context: Any) -> Any:
        return self._relay("AnalyzeStack", request, context)

    def Remediate(self, request: Any, context: Any) -> Any:
        return self._relay("Remediate", request, context)

    def GetAnalyzerInfo(self, request: Any, context: Any) -> Any:
        return self._relay("GetAnalyzerInfo", request, context)

    def GetPluginInfo(self, request: Any, context: Any) -> Any:
        return self._relay("GetPluginInfo", request, context)

    def Configure(self, request: Any, context: Any) -> Any:
        return self._relay("Configure", request, context)

    def Cancel(self, request: Any, context: Any) -> Any:
        return self._relay("Cancel", request, context)

    def _relay(self, method: str, request: Any, context: grpc.ServicerContext) -> Any:
        """Wait for the pack and hand it the call; its answer, or its error, goes back unchanged."""
        try:
            client = self.client(context)
        except PackNotRunning as exc:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        remaining = context.time_remaining()
        # Without a deadline gRPC reports ~2**63 ns as remaining, which a client call cannot take.
        timeout = remaining if remaining is not None and remaining < NO_DEADLINE_SECONDS else None
        try:
            return getattr(client, method)(request, timeout=timeout)
        except grpc.RpcError as exc:
            context.abort(exc.code(), exc.details() or f"{method} failed in the policy pack")


def _pack_environment(
    base: dict[str, str], stack: analyzer_pb2.AnalyzerStackConfigureRequest | None, extra: list[str]
) -> dict[str, str]:
    """What ``pulumi.policy`` reads to know its stack (the official host's variables), then the engine's."""
    env = dict(base)
    if stack is not None:
        settings = {
            "PULUMI_ORGANIZATION": stack.organization,
            "PULUMI_PROJECT": stack.project,
            "PULUMI_STACK": stack.stack,
            "PULUMI_DRY_RUN": "true" if stack.dry_run else "false",
            "PULUMI_CONFIG": json.dumps(dict(stack.config)),
        }
        env.update({name: value for name, value in settings.items() if value})
    # The engine's own variables come last and win, as with the official host.
    for entry in extra:
        name, _, value = entry.partition("=")
        if name:
            env[name] = value
    return env


@dataclass(frozen=True)
class _Finished:
    """The end of a RunPlugin stream: an error status for the engine, or a plain end."""

    error: str | None = None


class PolicyPackRun:
    """One ``RunPlugin`` call of kind analyzer: the proxy, the pack process, and the stream back.

    The stream first carries the proxy's port (the engine connects to it), then everything the pack
    writes to stdout after its own port line and to stderr, then its exit code. Cancelling the call
    (the engine is done with the pack, or has gone away) ends the pack process.
    """

    def __init__(self, request: Any, *, start_seconds: float) -> None:
        self._request = request
        self._start_seconds = start_seconds
        self._pack_dir = request.info.program_directory or request.pwd or os.getcwd()
        self._messages: queue.Queue[language_pb2.RunPluginResponse | _Finished] = queue.Queue()
        self._stopped = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._proxy = PolicyPackProxy()
        self._thread = threading.Thread(target=self._run, name="policy-pack", daemon=True)

    def stream(self, context: grpc.ServicerContext) -> Iterator[language_pb2.RunPluginResponse]:
        context.add_callback(self.stop)
        self._thread.start()
        try:
            while True:
                item = self._messages.get()
                if isinstance(item, _Finished):
                    if item.error is not None:
                        context.abort(grpc.StatusCode.FAILED_PRECONDITION, item.error)
                    return
                yield item
        finally:
            self.stop()

    def stop(self) -> None:
        """End the pack (the engine cancelled, went away, or the host is shutting down)."""
        self._stopped.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    # -- the lifecycle, on the run's own thread ----------------------------------------------------

    def _run(self) -> None:
        try:
            python, base_env = _program_python(self._request.info)
        except NoInterpreter as exc:
            # Before the proxy's port: the engine reports this as the plugin's failure to start.
            self._messages.put(_Finished(str(exc)))
            return
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        analyzer_pb2_grpc.add_AnalyzerServicer_to_server(self._proxy, server)
        outcome = _Finished()
        try:
            port = server.add_insecure_port("127.0.0.1:0")
            server.start()
            outcome = self._serve(port, [python, "-u", "-m", "pulumi.policy"], base_env)
        except PackNotRunning as exc:
            outcome = _Finished(str(exc))
        finally:
            if outcome.error is not None:
                self._proxy.fail(outcome.error)
            self._end_process()
            # A grace period lets calls already waiting on the proxy receive the failure.
            server.stop(grace=1.0).wait()
            self._proxy.close()
            self._messages.put(outcome)

    def _serve(self, proxy_port: int, launcher: list[str], base_env: dict[str, str]) -> _Finished:
        self._send(stdout=f"{proxy_port}\n".encode())
        stack = self._proxy.await_configuration(self._stopped)
        if self._stopped.is_set():
            return _Finished()
        process = subprocess.Popen(
            [*launcher, *self._request.args, self._pack_dir],
            cwd=self._pack_dir,
            env=_pack_environment(base_env, stack, list(self._request.env)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._process = process
        if self._stopped.is_set():  # stop() may have run before the process existed
            return _Finished()
        assert process.stdout is not None and process.stderr is not None
        pumps = [threading.Thread(target=self._pump, args=(process.stderr, "stderr"), daemon=True)]
        pumps[0].start()
        port = self._read_port(process.stdout)
        pumps.append(threading.Thread(target=self._pump, args=(process.stdout, "stdout"), daemon=True))
        pumps[1].start()
        self._proxy.attach(port)
        while process.poll() is None and not self._stopped.is_set():
            self._stopped.wait(0.1)
        if self._stopped.is_set():
            return _Finished()
        for pump in pumps:  # everything the pack wrote reaches the engine before its exit code
            pump.join(STOP_GRACE_SECONDS)
        self._proxy.fail(f"the policy pack in {self._pack_dir} exited with code {process.returncode}")
        self._send(exitcode=process.returncode)
        return _Finished()

    def _read_port(self, stdout: IO[bytes]) -> int:
        """The pack's first stdout line, within the start bound; anything after it is relayed."""
        line = bytearray()
        found: queue.Queue[bool] = queue.Queue()

        def read_line() -> None:
            while not line.endswith(b"\n"):
                chunk = stdout.read(1)
                if not chunk:
                    found.put(False)
                    return
                line.extend(chunk)
            found.put(True)

        threading.Thread(target=read_line, name="policy-pack-port", daemon=True).start()
        deadline = time.monotonic() + self._start_seconds
        while True:
            try:
                complete = found.get(timeout=0.1)
                break
            except queue.Empty:
                if self._stopped.is_set():
                    raise PackNotRunning("the engine stopped the policy pack while it was starting") from None
                if time.monotonic() >= deadline:
                    raise PackNotRunning(
                        f"the policy pack in {self._pack_dir} did not print its port within "
                        f"{self._start_seconds:g} s ({POLICY_START_TIMEOUT_VARIABLE} sets the bound); "
                        "its output, if any, is above"
                    ) from None
        text = bytes(line).decode(errors="replace").strip()
        if not complete:
            assert self._process is not None
            code = self._process.wait()
            raise PackNotRunning(
                f"the policy pack in {self._pack_dir} exited with code {code} before printing its port; "
                "its output, if any, is above"
            )
        try:
            return int(text)
        except ValueError:
            raise PackNotRunning(
                f"the policy pack in {self._pack_dir} printed {text!r} where its port was expected"
            ) from None

    def _pump(self, source: IO[bytes], stream: str) -> None:
        while chunk := source.read1(65536):  # type: ignore[attr-defined]
            self._send(**{stream: chunk})

    def _send(self, **output: Any) -> None:
        self._messages.put(language_pb2.RunPluginResponse(**output))

    def _end_process(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class PythonLanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    """Serves the subset of LanguageRuntime that `pulumi preview/up/refresh/destroy/about` use.

    That includes ``RunPlugin`` for policy packs (``--policy-pack``); other plugin kinds are refused.
    """

    def __init__(self, *, engine_address: str, version: str) -> None:
        self._engine_address = engine_address
        self._version = version
        self._running: list[subprocess.Popen[bytes]] = []
        self._policy_packs: list[PolicyPackRun] = []
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
            stdout=b"the stand-in language host installs nothing: set up the project's virtualenv yourself\n"
        )

    def About(self, request: Any, context: Any) -> Any:
        try:
            python, _ = _program_python(request.info)
        except NoInterpreter:
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
        """End programs and policy packs still running when the host goes away, so none is left behind."""
        with self._lock:
            for process in self._running:
                if process.poll() is None:
                    process.terminate()
            packs = list(self._policy_packs)
        for pack in packs:
            pack.stop()
        for pack in packs:
            pack.join(STOP_GRACE_SECONDS + 1.0)

    def RunPlugin(self, request: Any, context: Any) -> Iterator[Any]:
        if request.kind != ANALYZER_KIND:
            context.abort(
                grpc.StatusCode.UNIMPLEMENTED,
                f"the stand-in Python language host runs policy packs only, not {request.kind!r} plugins",
            )
        run = PolicyPackRun(request, start_seconds=_policy_start_seconds())
        with self._lock:
            self._policy_packs.append(run)
        try:
            yield from run.stream(context)
        finally:
            with self._lock:
                self._policy_packs.remove(run)

    def Run(self, request: Any, context: Any) -> Any:
        try:
            python, env = _program_python(request.info)
        except NoInterpreter as exc:
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

    # A program's Run and each policy pack's RunPlugin hold a worker for as long as they run.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
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
