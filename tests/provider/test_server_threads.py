"""Lifting the four-call ceiling of Pulumi's own dynamic-provider server, tested on that very server.

The server (``python -m pulumi.dynamic`` of the pinned pulumi wheel) is started as a process, and a
provider is sent to it the way the engine sends ours: pickled in ``__provider``. That provider does
what ours does in ``configure`` (lift the ceiling), and each of its creates waits at a barrier that
opens only when eight creates run at the same time: with Pulumi's four workers they never can.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import dill
import grpc
import pytest
from google.protobuf import struct_pb2
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from mrs_iam_sync.server_threads import (
    WORKERS,
    WORKERS_VARIABLE,
    _executor_of,
    lift_worker_ceiling,
    wanted_workers,
)

CONCURRENT = 8
"""Twice Pulumi's four workers."""

PROVIDER_MODULE = '''
import threading
from pulumi.dynamic import CreateResult, ResourceProvider
from mrs_iam_sync.server_threads import lift_worker_ceiling

BARRIER = threading.Barrier({parties}, timeout=10)


class BarrierProvider(ResourceProvider):
    """Creates that succeed only when {parties} of them run at once."""

    def configure(self, req):
        lift_worker_ceiling()

    def create(self, props):
        BARRIER.wait()
        return CreateResult("id-" + str(threading.get_ident()), {{}})
'''


@pytest.fixture
def provider_module(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "barrier_provider.py").write_text(PROVIDER_MODULE.format(parties=CONCURRENT))
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    sys.modules.pop("barrier_provider", None)


def serve(module_dir: Path, extra_env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    env = {"PYTHONPATH": str(module_dir), "PATH": "/usr/bin:/bin", **extra_env}
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.dynamic"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    port = process.stdout.readline().decode().strip()
    assert port.isdigit(), process.stderr.read().decode() if process.stderr else port
    return process, f"127.0.0.1:{port}"


def create_concurrently(address: str) -> list[str]:
    """Send CONCURRENT creates at once; return the outcome of each ("ok" or the gRPC error)."""
    import barrier_provider  # type: ignore[import-not-found]  # noqa: PLC0415 - written by the fixture

    blob = base64.b64encode(dill.dumps(barrier_provider.BarrierProvider(), recurse=True)).decode()
    properties = struct_pb2.Struct()
    properties.update({"__provider": blob})
    outcomes: list[str] = []
    with grpc.insecure_channel(address) as channel:
        stub = provider_pb2_grpc.ResourceProviderStub(channel)

        def create(index: int) -> None:
            request = provider_pb2.CreateRequest(urn=f"urn:pulumi:s::p::t::r{index}", properties=properties)
            try:
                stub.Create(request, timeout=30)
                outcomes.append("ok")
            except grpc.RpcError as exc:
                outcomes.append(f"{exc.code().name}")

        threads = [threading.Thread(target=create, args=(index,)) for index in range(CONCURRENT)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return outcomes


def stop(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.wait(timeout=10)


def test_the_provider_lifts_the_ceiling_of_the_pinned_pulumi_server(provider_module: Path) -> None:
    process, address = serve(provider_module, {})
    try:
        outcomes = create_concurrently(address)
    finally:
        stop(process)
    assert outcomes == ["ok"] * CONCURRENT


def test_with_the_lift_turned_off_the_server_keeps_its_four_workers(provider_module: Path) -> None:
    process, address = serve(provider_module, {WORKERS_VARIABLE: "0"})
    try:
        outcomes = create_concurrently(address)
    finally:
        stop(process)
    # Four creates wait at the barrier, the others wait for a worker: the barrier times out.
    assert "ok" not in outcomes
    assert len(outcomes) == CONCURRENT


def test_outside_pulumis_server_nothing_is_changed() -> None:
    assert lift_worker_ceiling() is None


def test_a_server_built_differently_is_left_alone() -> None:
    # A server object with no _state and no thread pool: not the server this module knows.
    frame = SimpleNamespace(f_locals={"server": object()})
    assert _executor_of(frame) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, WORKERS),
        ({"PULUMI_PARALLEL": "32"}, WORKERS),
        ({"PULUMI_PARALLEL": "200"}, 200),
        ({"PULUMI_PARALLEL": "200", WORKERS_VARIABLE: "16"}, 16),
        ({WORKERS_VARIABLE: "0"}, 0),
    ],
    ids=["engine-default", "parallel-below-64", "parallel-above-64", "explicit-wins", "explicit-off"],
)
def test_the_thread_limit_follows_pulumi_parallel_above_64_unless_set_explicitly(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], expected: int
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)  # the engine's own default: 8
    assert wanted_workers(environ) == expected


def test_on_a_machine_with_many_cpus_the_thread_limit_follows_the_engines_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 32)
    assert wanted_workers({}) == 128
