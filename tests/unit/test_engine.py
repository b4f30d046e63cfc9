"""``mrs_iam_sync.engine``: the URN of the call on this thread, and status messages to the engine."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

from mrs_iam_sync.engine import EngineLog, calls_in_flight, current_urn, engine_address, engine_parallel

URN = "urn:pulumi:dev::mrs-iam-sync::pulumi-python:dynamic/mrs:ClusterIamSync::analytics"
SERVER_FILE = "/venv/lib/python3.11/site-packages/pulumi/dynamic/__main__.py"

# The shape of Pulumi's servicer methods (``def Create(self, request, context)``), compiled as if
# from the server's own file, so the frames current_urn walks are real ones.
SERVICER_SOURCE = """
def Create(self, request, context):
    return context()

def Read(self, request, context):
    return context()
"""


class Request:
    def __init__(self, urn: str) -> None:
        self.urn = urn


def servicer_method(name: str, filename: str = SERVER_FILE) -> Callable[..., Any]:
    namespace: dict[str, Any] = {}
    exec(compile(SERVICER_SOURCE, filename, "exec"), namespace)
    method: Callable[..., Any] = namespace[name]
    return method


def helper_of_the_provider() -> str | None:
    """Some frames of the provider's own lie between the servicer and current_urn's caller."""
    return current_urn()


def test_current_urn_is_the_request_urn_of_the_servicer_method_up_the_stack() -> None:
    assert servicer_method("Create")(None, Request(URN), helper_of_the_provider) == URN
    assert servicer_method("Read")(None, Request(URN), helper_of_the_provider) == URN


def test_current_urn_is_none_outside_a_servicer_method() -> None:
    assert current_urn() is None
    assert servicer_method("Create", "/elsewhere/__main__.py")(None, Request(URN), helper_of_the_provider) is None
    assert servicer_method("Create")(None, Request(""), helper_of_the_provider) is None
    assert servicer_method("Create")(None, object(), helper_of_the_provider) is None


def test_calls_in_flight_counts_threads_inside_servicer_methods() -> None:
    inside, release = threading.Barrier(3), threading.Event()

    def wait_inside() -> None:
        inside.wait()
        release.wait()

    threads = [
        threading.Thread(target=servicer_method("Create"), args=(None, Request(URN), wait_inside)) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    inside.wait()
    try:
        assert calls_in_flight() == 2
    finally:
        release.set()
        for thread in threads:
            thread.join()
    assert calls_in_flight() == 0


def test_the_engine_address_is_the_first_argument_of_the_dynamic_provider_server_only() -> None:
    assert engine_address([SERVER_FILE, "127.0.0.1:40123"]) == "127.0.0.1:40123"
    assert engine_address([SERVER_FILE]) is None
    assert engine_address(["/venv/bin/pytest", "127.0.0.1:40123"]) is None


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({"PULUMI_PARALLEL": "64"}, 64), ({"PULUMI_PARALLEL": " 10 "}, 10), ({}, None), ({"PULUMI_PARALLEL": "x"}, None)],
    ids=["set", "spaces", "unset", "not-a-number"],
)
def test_engine_parallel_is_pulumi_parallel_else_four_per_cpu(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], expected: int | None
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert engine_parallel(environ) == (8 if expected is None else expected)


class FakeEngine(engine_pb2_grpc.EngineServicer):
    def __init__(self) -> None:
        self.logs: list[engine_pb2.LogRequest] = []

    def Log(self, request: engine_pb2.LogRequest, context: Any) -> empty_pb2.Empty:
        self.logs.append(request)
        return empty_pb2.Empty()


@pytest.fixture
def engine() -> Iterator[tuple[FakeEngine, str]]:
    servicer = FakeEngine()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    engine_pb2_grpc.add_EngineServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, f"127.0.0.1:{port}"
    server.stop(None)


def test_engine_log_sends_ephemeral_statuses_with_the_urn_and_warnings_without(
    engine: tuple[FakeEngine, str],
) -> None:
    servicer, address = engine
    log = EngineLog(address)

    log.status(URN, "waiting for the sync task")
    log.status(URN, "")
    log.warning("raise PULUMI_PARALLEL")

    assert [(r.severity, r.urn, r.message, r.ephemeral) for r in servicer.logs] == [
        (engine_pb2.INFO, URN, "waiting for the sync task", True),
        (engine_pb2.INFO, URN, "", True),
        (engine_pb2.WARNING, "", "raise PULUMI_PARALLEL", False),
    ]


def test_engine_log_without_an_engine_does_nothing_and_never_raises() -> None:
    EngineLog(None).status(URN, "nobody listens")
    gone = EngineLog("127.0.0.1:1")  # nothing listens on port 1
    gone.status(URN, "refused")
    gone.warning("refused too")
