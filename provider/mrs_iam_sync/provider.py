"""The dynamic provider behind ClusterIamSync, in the form Pulumi serializes into state.

Pulumi pickles the provider object into every resource's state, and the
program process imports its module to build resources. So this class carries
no attributes (its pickle is a reference of under 100 bytes, and neither a
credential nor an HTTP client can reach state), and its module imports only
Pulumi's dynamic-provider types. The work lives in ``mrs_iam_sync.lifecycle``,
imported at the first call, which only ever happens in the provider process:
the program process is spared httpx, pydantic and the client on every
``pulumi`` command.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from pulumi.dynamic import (
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)


def _lifecycle() -> ModuleType:
    from mrs_iam_sync import lifecycle  # noqa: PLC0415 - deferred to the provider process

    return lifecycle


class ClusterIamSyncProvider(ResourceProvider):
    """Pulumi's entry points for ClusterIamSync; each hands over to ``mrs_iam_sync.lifecycle``."""

    serialize_as_secret_always = False
    """The pickled provider is a bare class reference with no data, so there is nothing to hide."""

    def configure(self, req: ConfigureRequest) -> None:
        _lifecycle().LIFECYCLE.configure(req)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        result: CheckResult = _lifecycle().LIFECYCLE.check(_olds, news)
        return result

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        result: DiffResult = _lifecycle().LIFECYCLE.diff(_id, olds, news)
        return result

    def create(self, props: dict[str, Any]) -> CreateResult:
        result: CreateResult = _lifecycle().LIFECYCLE.create(props)
        return result

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        result: ReadResult = _lifecycle().LIFECYCLE.read(id_, props)
        return result

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        result: UpdateResult = _lifecycle().LIFECYCLE.update(_id, olds, news)
        return result

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        _lifecycle().LIFECYCLE.delete(_id, props)
