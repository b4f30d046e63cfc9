"""The engine's floor: a Python dynamic resource that takes ClusterIamSync's inputs and makes no call.

It echoes its inputs as outputs, so the engine moves, checks, diffs and stores the same property
bags; whatever a ClusterIamSync stack costs beyond a stack of these is ours. Like ours, the provider
class lives in an importable module and has no attributes, so Pulumi pickles it by reference; the
bench puts ``bench/`` on the ``PYTHONPATH`` of every ``pulumi`` command so the provider can load it.
"""

from __future__ import annotations

import uuid
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult
from pulumi.dynamic import Resource as DynamicResource


class TrivialProvider(ResourceProvider):
    serialize_as_secret_always = False
    """As for ClusterIamSyncProvider: nothing secret in the pickle, so state sizes compare."""

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=any(olds.get(k) != v for k, v in news.items() if not k.startswith("__")))

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(uuid.uuid4().hex[:12], dict(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(dict(news))


class TrivialResource(DynamicResource, module="bench", name="Trivial"):
    def __init__(self, resource_name: str, opts: pulumi.ResourceOptions | None = None, **props: Any) -> None:
        super().__init__(TrivialProvider(), resource_name, props, opts)
