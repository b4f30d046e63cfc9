"""Where a resource's calls go: its settings and its cluster, resolved once per lifecycle call.

A resource may override the provider's project and region; the endpoint follows the region unless
it is pinned. That resolution happens here and nowhere else, so the project and region a resource
reports, the cluster it locks, coalesces and compares on, and the client it uses always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from mrs_iam_sync.inputs import SyncSpec
from mrs_iam_sync.models import ClusterAddress
from mrs_iam_sync.settings import Settings


@dataclass(frozen=True)
class ClusterRef:
    """A cluster as the provider keys it: the endpoint, and the project and id the API takes."""

    endpoint: str
    address: ClusterAddress

    @property
    def cluster_id(self) -> str:
        return self.address.cluster_id

    @property
    def project_id(self) -> str:
        return self.address.project_id


@dataclass(frozen=True)
class Target:
    """A resource's resolved settings and cluster."""

    settings: Settings
    cluster: ClusterRef

    @property
    def region(self) -> str | None:
        return self.settings.region


def resolve_target(spec: SyncSpec, provider_settings: Settings) -> Target:
    """The provider's settings aimed at the resource's own project and region, if it has them."""
    settings = provider_settings.for_target(region=spec.region, project_id=spec.project_id)
    address = ClusterAddress.of(project_id=settings.project_id, cluster_id=spec.cluster_id)
    return Target(settings, ClusterRef(settings.endpoint, address))
