"""What the stack's last checkpoint says other ClusterIamSync resources declare.

A targeted run (``--target``, ``--exclude``, ``destroy --target``) never diffs the resources it
does not step, so the provider process cannot learn from the engine that another resource still
declares a principal it is about to cancel. The stack's checkpoint can tell: the provider process
inherits the CLI's environment (backend URL, passphrase, ``PULUMI_HOME``) and runs in the
project's directory, and every call's URN names the stack, so ``pulumi stack export`` (which takes
no lock) gives every resource the stack's state holds. This run's own registry overrides it for
the resources it has seen (see :mod:`mrs_iam_sync.declarations`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from mrs_iam_sync.errors import CheckpointUnreadableError
from mrs_iam_sync.inputs import RESOURCE_TYPE, Sketch, sketch

EXPORT_TIMEOUT_SECONDS: Final = 120.0
_SECRET_SIG: Final = "4dabf18193072939515e22adb298388d"
"""The key Pulumi's state marks a secret value with; its lists cannot be read without decrypting."""


@dataclass(frozen=True)
class StoredResource:
    """One ClusterIamSync as the checkpoint holds it."""

    resource_id: str
    name: str
    declared: Sketch
    readable: bool
    """False when its lists or cluster are secret (ciphertext in the checkpoint)."""


class CheckpointSource(Protocol):
    def resources(self, urn: str | None) -> Sequence[StoredResource]:
        """Every ClusterIamSync of the stack that ``urn`` belongs to; raises CheckpointUnreadableError."""
        ...

    def prefetch(self, urn: str | None) -> None:
        """Start reading in the background what ``resources`` will be asked for."""
        ...


def stack_of(urn: str) -> str:
    """``urn:pulumi:<stack>::<project>::...`` -> the stack's name."""
    return urn.removeprefix("urn:pulumi:").split("::", 1)[0]


def _holds_secret(value: object) -> bool:
    if isinstance(value, Mapping):
        return _SECRET_SIG in value or any(_holds_secret(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_secret(item) for item in value)
    return False


def stored_resources(deployment: Mapping[str, Any]) -> list[StoredResource]:
    """The ClusterIamSync resources of a ``pulumi stack export`` document (pending deletes left out:
    they are on their way out, and their owner is the run that will delete them)."""
    found = []
    for resource in deployment.get("deployment", {}).get("resources") or []:
        if not isinstance(resource, Mapping) or resource.get("type") != RESOURCE_TYPE:
            continue
        if resource.get("delete") is True:
            continue
        inputs: Mapping[str, Any] = resource.get("inputs") or {}
        outputs: Mapping[str, Any] = resource.get("outputs") or {}
        found.append(
            StoredResource(
                resource_id=str(resource.get("id") or ""),
                name=str(resource.get("urn", "")).rsplit("::", 1)[-1],
                declared=sketch(inputs, outputs),
                readable=not (_holds_secret(inputs) or _holds_secret(outputs)),
            )
        )
    return found


def _pulumi_binary() -> str | None:
    """The CLI that started this provider (an ancestor process), else the one on PATH."""
    pid = os.getppid()
    for _ in range(4):
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
            if Path(exe).name == "pulumi":
                return exe
            with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
                pid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return shutil.which("pulumi")


class StackExport:
    """Reads the checkpoint once per stack and provider process (a run's own changes are in its registry).

    Any thread may ask; the first starts the read and the others wait for that same read, so a
    delete can start it early (``prefetch``) and the round that needs it finds it done.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reads: dict[str, Future[list[StoredResource]]] = {}

    def prefetch(self, urn: str | None) -> None:
        if urn is not None:
            self._read(stack_of(urn), background=True)

    def resources(self, urn: str | None) -> Sequence[StoredResource]:
        if urn is None:
            raise CheckpointUnreadableError("the engine did not say which stack this call belongs to")
        return self._read(stack_of(urn), background=False).result()

    def _read(self, stack: str, *, background: bool) -> Future[list[StoredResource]]:
        with self._lock:
            found = self._reads.get(stack)
            if found is not None:
                return found
            future: Future[list[StoredResource]] = Future()
            self._reads[stack] = future

        def read() -> None:
            try:
                future.set_result(stored_resources(self._export(stack)))
            except CheckpointUnreadableError as exc:
                future.set_exception(exc)

        if background:
            threading.Thread(target=read, name=f"mrs-iam-sync checkpoint {stack}", daemon=True).start()
        else:
            read()
        return future

    @staticmethod
    def _export(stack: str) -> Mapping[str, Any]:
        binary = _pulumi_binary()
        if binary is None:
            raise CheckpointUnreadableError("no `pulumi` CLI was found to read the stack's state with")
        try:
            done = subprocess.run(
                [binary, "stack", "export", "--stack", stack, "--non-interactive"],
                capture_output=True,
                text=True,
                timeout=EXPORT_TIMEOUT_SECONDS,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CheckpointUnreadableError(
                f"`pulumi stack export --stack {stack}` did not run: {exc}"
            ) from None
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
            raise CheckpointUnreadableError(f"`pulumi stack export --stack {stack}` failed: {last}")
        try:
            document = json.loads(done.stdout)
        except ValueError:
            raise CheckpointUnreadableError(
                f"`pulumi stack export --stack {stack}` did not print a JSON document"
            ) from None
        if not isinstance(document, Mapping):
            raise CheckpointUnreadableError(f"`pulumi stack export --stack {stack}` printed no deployment")
        return document
