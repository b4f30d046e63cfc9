"""The engine's floor for cases 3 and 5: a Python dynamic resource that makes no HTTP call.

It takes the very same inputs as ``ClusterIamSync`` (so the engine moves, checks, diffs and stores
the same property bags) and echoes them as outputs; create/update/delete do nothing else. Whatever a
``ClusterIamSync`` stack costs beyond a stack of these is ours: settings resolution, API calls,
waiting, and the bigger outputs.

Like ``ClusterIamSyncProvider``, the provider class lives in an importable module and carries no
attributes, so Pulumi pickles it by reference (``trivial_provider.TrivialProvider``). The provider
process must be able to import it: the bench puts ``bench/`` on ``PYTHONPATH`` of every ``pulumi``
command it runs.

``BENCH_TRIVIAL_SLEEP`` (seconds, environment of the ``pulumi`` command) makes create and delete
sleep, to stand in for an API call that takes that long without making one.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult
from pulumi.dynamic import Resource as DynamicResource

SLEEP_ENV = "BENCH_TRIVIAL_SLEEP"


def _pause() -> None:
    seconds = float(os.environ.get(SLEEP_ENV) or 0)
    if seconds > 0:
        time.sleep(seconds)


class TrivialProvider(ResourceProvider):
    """Every lifecycle step is local and immediate (unless ``BENCH_TRIVIAL_SLEEP`` asks for a pause)."""

    serialize_as_secret_always = False
    """As for ClusterIamSyncProvider: nothing secret in the pickle, so state stays comparable."""

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = any(olds.get(key) != value for key, value in news.items() if not key.startswith("__"))
        return DiffResult(changes=changed)

    def create(self, props: dict[str, Any]) -> CreateResult:
        _pause()
        return CreateResult(uuid.uuid4().hex[:12], dict(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(dict(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        _pause()


class TrivialResource(DynamicResource, module="bench", name="Trivial"):
    """Same constructor as ClusterIamSync, minus the principals' semantics."""

    def __init__(self, resource_name: str, opts: pulumi.ResourceOptions | None = None, **props: Any) -> None:
        super().__init__(TrivialProvider(), resource_name, props, opts)
