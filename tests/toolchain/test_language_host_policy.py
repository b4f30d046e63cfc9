"""The stand-in language host runs Python policy packs the way the official host does.

Each test starts the real host process (``toolchain/pulumi_language_python.py``) and plays the
engine's part over gRPC, as the CLI does for ``--policy-pack``: ``RunPlugin`` with kind analyzer,
then, on the port the host streams back, ``Handshake``, ``ConfigureStack`` and analyzer calls. The
packs are real processes started with ``python -m pulumi.policy``; nothing is mocked.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import (
    analyzer_pb2,
    analyzer_pb2_grpc,
    language_pb2,
    language_pb2_grpc,
)

REPO = Path(__file__).resolve().parents[2]
HOST = REPO / "toolchain" / "pulumi_language_python.py"
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
WAIT = 60.0
"""Upper bound of any wait in these tests; a hang fails the test instead of the run."""

ECHO_PACK = """
import json, os, sys
from pathlib import Path

import pulumi
from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

Path("pid").write_text(str(os.getpid()))
print("echo pack starting", file=sys.stderr)


def echo(args, report_violation):
    print(f"analyzing {args.name}")
    report_violation(json.dumps({
        "stack": pulumi.get_stack(),
        "project": pulumi.get_project(),
        "organization": pulumi.get_organization(),
        "dry_run": os.environ.get("PULUMI_DRY_RUN"),
        "color": pulumi.Config("proj").get("color"),
        "cwd": os.getcwd(),
    }), None)


PolicyPack(
    name="echo-pack",
    policies=[ResourceValidationPolicy(
        name="echo", description="Echoes what the pack knows.", validate=echo,
        enforcement_level=EnforcementLevel.ADVISORY,
    )],
)
"""

EXITING_PACK = """
import sys
print("the pack cannot start: pulumi_policy is missing", file=sys.stderr)
sys.exit(3)
"""

SILENT_PACK = """
import os, time
from pathlib import Path
Path("pid").write_text(str(os.getpid()))
time.sleep(600)
"""

STACK = analyzer_pb2.AnalyzerStackConfigureRequest(
    stack="staging",
    project="proj",
    organization="acme",
    dry_run=True,
    config={"proj:color": "blue"},
)


def write_pack(directory: Path, source: str) -> Path:
    directory.mkdir()
    (directory / "PulumiPolicy.yaml").write_text(
        f"runtime:\n  name: python\n  options:\n    virtualenv: {REPO / '.venv'}\n"
    )
    (directory / "__main__.py").write_text(source)
    return directory


def alive(pid: int) -> bool:
    """A zombie counts as gone: it has exited and only waits to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting until {what}"
        time.sleep(0.05)


def pack_pid(pack: Path) -> int:
    pid_file = pack / "pid"
    wait_until(pid_file.exists, "the pack wrote its pid")
    return int(pid_file.read_text())


@dataclass
class PluginStream:
    """One RunPlugin call, read on a thread of its own the way the engine reads it."""

    call: Any
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    exitcode: int | None = None
    error: grpc.RpcError | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for message in self.call:
                which = message.WhichOneof("output")
                if which == "stdout":
                    self.stdout.extend(message.stdout)
                elif which == "stderr":
                    self.stderr.extend(message.stderr)
                else:
                    self.exitcode = message.exitcode
        except grpc.RpcError as exc:
            self.error = exc
        finally:
            self.done.set()

    def proxy_port(self) -> int:
        wait_until(lambda: b"\n" in self.stdout or self.done.is_set(), "the host printed the proxy's port")
        assert b"\n" in self.stdout, f"no port; stream ended with {self.error}"
        return int(bytes(self.stdout).split(b"\n", 1)[0])

    def wait_done(self) -> None:
        assert self.done.wait(WAIT), "the RunPlugin stream did not end"


@dataclass
class Host:
    process: subprocess.Popen[str]
    channel: grpc.Channel
    stub: language_pb2_grpc.LanguageRuntimeStub

    def run_pack(self, pack: Path, *, env: tuple[str, ...] = ()) -> PluginStream:
        options = struct_pb2.Struct()
        options.update({"virtualenv": str(REPO / ".venv")})
        request = language_pb2.RunPluginRequest(
            pwd=str(pack.parent),
            args=["127.0.0.1:1"],
            env=list(env),
            info=language_pb2.ProgramInfo(
                root_directory=str(pack), program_directory=str(pack), entry_point=".", options=options
            ),
            kind="analyzer",
        )
        return PluginStream(self.stub.RunPlugin(request))


@pytest.fixture
def start_host() -> Iterator[Callable[..., Host]]:
    started: list[Host] = []

    def start(*, start_seconds: float = WAIT) -> Host:
        env = dict(os.environ, PULUMI_STANDIN_POLICY_START_SECONDS=str(start_seconds))
        process = subprocess.Popen(
            [str(VENV_PYTHON), "-u", str(HOST)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        assert process.stdout is not None
        port = int(process.stdout.readline())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        host = Host(process, channel, language_pb2_grpc.LanguageRuntimeStub(channel))
        started.append(host)
        return host

    yield start
    for host in started:
        host.channel.close()
        if host.process.poll() is None:
            host.process.terminate()
            host.process.wait(WAIT)


def engine_side(stream: PluginStream) -> tuple[grpc.Channel, analyzer_pb2_grpc.AnalyzerStub]:
    """Connect to the proxy and send what the engine sends first."""
    channel = grpc.insecure_channel(f"127.0.0.1:{stream.proxy_port()}")
    analyzer = analyzer_pb2_grpc.AnalyzerStub(channel)
    analyzer.Handshake(analyzer_pb2.AnalyzerHandshakeRequest(engine_address="127.0.0.1:1"), timeout=WAIT)
    analyzer.ConfigureStack(STACK, timeout=WAIT)
    return channel, analyzer


def pack_running(
    start_host: Callable[..., Host], directory: Path, source: str
) -> tuple[Host, Path, PluginStream, grpc.Channel, analyzer_pb2_grpc.AnalyzerStub]:
    """A new host running the pack ``source`` (written to ``directory``), the engine's side connected."""
    host = start_host()
    pack = write_pack(directory, source)
    stream = host.run_pack(pack)
    channel, analyzer = engine_side(stream)
    return host, pack, stream, channel, analyzer


def analyze_once(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> dict[str, Any]:
    properties = struct_pb2.Struct()
    properties.update({"cluster_id": "c-1"})
    response = analyzer.Analyze(
        analyzer_pb2.AnalyzeRequest(
            type="test:index:Thing",
            name="thing",
            urn="urn:pulumi:staging::proj::test:index:Thing::thing",
            properties=properties,
        ),
        timeout=WAIT,
    )
    [diagnostic] = response.diagnostics
    assert diagnostic.policyName == "echo"
    echoed: dict[str, Any] = json.loads(diagnostic.message.split("\n", 1)[1])
    return echoed


def test_a_pack_runs_in_its_directory_and_knows_the_stack_project_config_and_dry_run_flag(
    start_host: Callable[..., Host], tmp_path: Path
) -> None:
    _, pack, stream, channel, analyzer = pack_running(start_host, tmp_path / "pack", ECHO_PACK)

    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=WAIT)
    echoed = analyze_once(analyzer)

    assert info.name == "echo-pack"
    assert [policy.name for policy in info.policies] == ["echo"]
    assert echoed == {
        "stack": "staging",
        "project": "proj",
        "organization": "acme",
        "dry_run": "true",
        "color": "blue",
        "cwd": str(pack),
    }
    assert (pack / "pid").exists()
    wait_until(lambda: b"analyzing thing" in stream.stdout, "the pack's stdout reached the stream")
    assert b"echo pack starting" in stream.stderr
    channel.close()


def test_the_host_answers_get_plugin_info_while_a_pack_runs(
    start_host: Callable[..., Host], tmp_path: Path
) -> None:
    host, _, stream, channel, analyzer = pack_running(start_host, tmp_path / "pack", ECHO_PACK)
    analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=WAIT)

    info = host.stub.GetPluginInfo(empty_pb2.Empty(), timeout=10)

    assert info.version
    assert not stream.done.is_set()
    channel.close()


def test_a_pack_that_exits_before_printing_its_port_fails_every_call_with_its_exit_code(
    start_host: Callable[..., Host], tmp_path: Path
) -> None:
    _, pack, stream, channel, analyzer = pack_running(start_host, tmp_path / "pack", EXITING_PACK)

    with pytest.raises(grpc.RpcError) as failure:
        analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=WAIT)

    expected = f"the policy pack in {pack} exited with code 3 before printing its port"
    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert expected in (failure.value.details() or "")
    stream.wait_done()
    assert stream.error is not None and expected in (stream.error.details() or "")
    assert b"the pack cannot start: pulumi_policy is missing" in stream.stderr
    channel.close()


def test_a_pack_that_never_prints_its_port_is_ended_after_the_bound_with_a_clear_error(
    start_host: Callable[..., Host], tmp_path: Path
) -> None:
    host = start_host(start_seconds=1.5)
    pack = write_pack(tmp_path / "pack", SILENT_PACK)
    stream = host.run_pack(pack)
    channel, analyzer = engine_side(stream)
    pid = pack_pid(pack)
    started = time.monotonic()

    with pytest.raises(grpc.RpcError) as failure:
        analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=WAIT)

    assert time.monotonic() - started < 15
    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (failure.value.details() or "").startswith(
        f"the policy pack in {pack} did not print its port within 1.5 s "
        "(PULUMI_STANDIN_POLICY_START_SECONDS sets the bound)"
    )
    wait_until(lambda: not alive(pid), "the silent pack was ended")
    stream.wait_done()
    channel.close()


@pytest.mark.parametrize("how", ["cancels the call", "closes its connection"])
def test_an_engine_that_lets_go_of_a_running_pack_leaves_no_process_behind(
    start_host: Callable[..., Host], tmp_path: Path, how: str
) -> None:
    host, pack, stream, channel, analyzer = pack_running(start_host, tmp_path / "pack", ECHO_PACK)
    analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=WAIT)
    pid = pack_pid(pack)
    proxy_port = stream.proxy_port()

    if how == "cancels the call":
        stream.call.cancel()
    else:
        host.channel.close()

    wait_until(lambda: not alive(pid), "the pack was ended")
    stream.wait_done()
    probe = grpc.insecure_channel(f"127.0.0.1:{proxy_port}")
    with pytest.raises(grpc.RpcError):
        analyzer_pb2_grpc.AnalyzerStub(probe).GetPluginInfo(empty_pb2.Empty(), timeout=2)
    probe.close()
    channel.close()
    assert host.process.poll() is None, "the host itself keeps serving"


def test_a_host_told_to_stop_ends_its_packs_first(start_host: Callable[..., Host], tmp_path: Path) -> None:
    host, pack, _, channel, analyzer = pack_running(start_host, tmp_path / "pack", ECHO_PACK)
    analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=WAIT)
    pid = pack_pid(pack)

    host.process.send_signal(signal.SIGTERM)

    assert host.process.wait(WAIT) is not None
    wait_until(lambda: not alive(pid), "the pack was ended")
    channel.close()


def test_run_plugin_refuses_plugins_other_than_policy_packs(start_host: Callable[..., Host]) -> None:
    host = start_host()
    request = language_pb2.RunPluginRequest(kind="resource", info=language_pb2.ProgramInfo())

    with pytest.raises(grpc.RpcError) as failure:
        list(host.stub.RunPlugin(request, timeout=WAIT))

    assert failure.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "runs policy packs only, not 'resource' plugins" in (failure.value.details() or "")
