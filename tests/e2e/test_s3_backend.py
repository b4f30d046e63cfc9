"""The stacks' state on an S3 server, as the workflows keep it in OBS: what locks, and what a kill leaves.

The server is moto's (``moto_server``, PyPI ``moto[server]``, in the ``dev`` extra): a real HTTP
server that stores objects and speaks the S3 API the Go CDK's s3blob driver inside ``pulumi``
uses, installed by pip like the rest of the suite, with no build and no download of its own.
SeaweedFS or gofakes3 would come from the Go module proxy as a build of their own, and MinIO's
server is AGPL. It listens on 127.0.0.1 only, and checks no signature: the keys here are dummies.

The backend URL differs from the workflows' ``s3://<bucket>?endpoint=obs.<region>.myhuaweicloud.com
&region=<region>`` only where a local server must: the endpoint, path-style addressing and plain
HTTP (``disableSSL``, which the pinned pulumi translates for the s3blob driver of gocloud.dev).

Tasks last 600 s on the emulator's clock here, so an ``up`` holds its lock for as long as a test
needs; the test ends a task by moving that clock, never by waiting.
"""

from __future__ import annotations

import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from kit.environment import subprocess_environment

from .harness import ANALYTICS, STACK, STREAMING, TRACEBACK, VENV_PYTHON, Emulator, Project, entry

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("sync_seconds", [600.0])]

MOTO_SERVER = VENV_PYTHON.parent / "moto_server"
BUCKET = "mrs-iam-sync-state"
REGION = "cn-north-4"
LOCKS = ".pulumi/locks/"
S3_NAMESPACE = "{http://s3.amazonaws.com/doc/2006-03-01/}"
LOCKED = "the stack is currently locked by 1 lock(s)"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Bucket:
    """One bucket of the local S3 server: a test's own, so no test sees another's state or locks."""

    server: str
    name: str

    def backend_url(self) -> str:
        host = self.server.removeprefix("http://")
        return f"s3://{self.name}?endpoint={host}&s3ForcePathStyle=true&disableSSL=true&region={REGION}"

    def keys(self, prefix: str) -> list[str]:
        """The keys of the bucket's objects under ``prefix`` (ListObjectsV2)."""
        answer = httpx.get(f"{self.server}/{self.name}", params={"list-type": "2", "prefix": prefix}, timeout=10)
        answer.raise_for_status()
        return sorted(key.text or "" for key in ET.fromstring(answer.text).iter(f"{S3_NAMESPACE}Key"))


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server on 127.0.0.1; its URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=subprocess_environment(),
        )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        assert process.poll() is None, log.read_text()
        try:
            httpx.get(url, timeout=5)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    else:
        raise AssertionError(f"moto_server did not answer: {log.read_text()}")
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def bucket(s3_server: str, request: pytest.FixtureRequest) -> Bucket:
    name = f"state-{request.node.name.split('[')[0].removeprefix('test_').replace('_', '-')}"[:63]
    assert httpx.put(f"{s3_server}/{name}", timeout=10).is_success
    return Bucket(s3_server, name)


@pytest.fixture
def s3_project(project: Project, bucket: Bucket) -> Project:
    """The test's project with its state in its bucket, the stack created there (``stack init``)."""
    project.env.update(
        PULUMI_BACKEND_URL=bucket.backend_url(),
        AWS_ACCESS_KEY_ID="state-writer-dummy",
        AWS_SECRET_ACCESS_KEY="state-writer-dummy-secret",
    )
    project.run("stack", "init", STACK, "--non-interactive")
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi"])])
    return project


def up_to_the_end(project: Project, emulator: Emulator) -> None:
    """``pulumi up``, its sync task ended by moving the emulator's clock once the API accepted it."""
    emulator.clear_log()
    running = project.popen("up", "--yes", "--skip-preview", "--non-interactive")
    emulator.wait_for_request("POST", 202)
    emulator.advance(600)
    assert running.wait() == 0, running.log_text()


def wait_for_lock(bucket: Bucket) -> list[str]:
    for _ in range(600):
        if locks := bucket.keys(LOCKS):
            return locks
        time.sleep(0.05)
    raise AssertionError("no lock appeared in the bucket")


def test_stack_init_preview_and_up_keep_the_state_in_the_bucket_and_a_preview_takes_no_lock(
    s3_project: Project, bucket: Bucket, emulator: Emulator
) -> None:
    stacks = bucket.keys(".pulumi/stacks/")
    preview = s3_project.preview()
    locks_after_preview = bucket.keys(LOCKS)
    running = s3_project.popen("up", "--yes", "--skip-preview", "--non-interactive")
    emulator.wait_for_request("POST", 202)
    locks_during_up = bucket.keys(LOCKS)
    preview_during_up = s3_project.preview(check=False)
    emulator.advance(600)

    assert f".pulumi/stacks/mrs-iam-sync/{STACK}.json" in stacks
    assert "+ 2 to create" in preview.stdout and locks_after_preview == []
    assert len(locks_during_up) == 1 and locks_during_up[0].startswith(f"{LOCKS}organization/mrs-iam-sync/{STACK}/")
    assert preview_during_up.returncode == 0, preview_during_up
    assert running.wait() == 0, running.log_text()
    assert bucket.keys(LOCKS) == []
    assert emulator.synced(ANALYTICS) == ({"heidi"}, set())
    assert "analytics" in s3_project.outputs()["synced"]


def test_a_second_up_is_refused_while_the_first_holds_the_lock(
    s3_project: Project, bucket: Bucket, emulator: Emulator
) -> None:
    first = s3_project.popen("up", "--yes", "--skip-preview", "--non-interactive")
    emulator.wait_for_request("POST", 202)
    wait_for_lock(bucket)

    second = s3_project.up(check=False)
    emulator.advance(600)

    assert second.returncode != 0 and LOCKED in second.stderr and "pulumi cancel" in second.stderr, second
    assert TRACEBACK not in second.output
    assert first.wait() == 0, first.log_text()
    assert bucket.keys(LOCKS) == []


def test_a_killed_up_leaves_its_lock_until_pulumi_cancel(
    s3_project: Project, bucket: Bucket, emulator: Emulator
) -> None:
    running = s3_project.popen("up", "--yes", "--skip-preview", "--non-interactive")
    emulator.wait_for_request("POST", 202)
    lock = wait_for_lock(bucket)

    running.kill_everything()
    running.wait(timeout=30)
    left = bucket.keys(LOCKS)
    refused = s3_project.refresh(check=False)
    s3_project.run("cancel", "--yes")
    after_cancel = bucket.keys(LOCKS)
    emulator.advance(600)
    s3_project.refresh("--clear-pending-creates")
    s3_project.up()

    assert left == lock
    assert refused.returncode != 0 and LOCKED in refused.stderr and "pulumi cancel" in refused.stderr, refused
    assert after_cancel == []
    assert emulator.synced(ANALYTICS) == ({"heidi"}, set())
    assert bucket.keys(LOCKS) == []


def test_a_killed_preview_leaves_no_lock(s3_project: Project, bucket: Bucket, emulator: Emulator) -> None:
    up_to_the_end(s3_project, emulator)
    s3_project.set_clusters([entry("analytics", ANALYTICS, users=["heidi"]), entry("streaming", STREAMING, users=["ivan"])])
    # The refresh's read of the cluster hangs, so the preview is killed in the middle of its work.
    emulator.add_fault(kind="latency", latency_seconds=8.0, methods=["GET"], count=1)
    running = s3_project.popen("preview", "--refresh", "--non-interactive")
    while not emulator.ok("GET", "faults")["faults"][0]["fired"]:
        assert running.process.poll() is None, running.log_text()
        time.sleep(0.05)

    running.kill_everything()
    running.wait(timeout=30)

    assert bucket.keys(LOCKS) == []
    assert s3_project.preview().returncode == 0
