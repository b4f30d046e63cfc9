"""``ProviderProcess``: what the provider process keeps between Pulumi's calls, in one object.

The stack config that ``configure`` hands over, the pooled clients (one per endpoint), the live
declarations of the deployment, and one coordinator per cluster. It lives only in the provider
process (never in the pickled provider), so no credential can reach state; tests build their own.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping

from mrs_iam_sync.checkpoint import CheckpointSource, StackExport
from mrs_iam_sync.client import MrsClient
from mrs_iam_sync.coordinator import ClusterCoordinator
from mrs_iam_sync.declarations import Declarations
from mrs_iam_sync.inputs import ClusterKey, Sketch, SyncSpec
from mrs_iam_sync.models import ClusterAddress
from mrs_iam_sync.planner import Request
from mrs_iam_sync.principals import Principals
from mrs_iam_sync.settings import NAMESPACE, STACK_CONFIG_KEYS, Settings, resolve_settings
from mrs_iam_sync.status import StatusBoard, process_board
from mrs_iam_sync.target import ClusterRef, Target, resolve_target


def stack_config_of(get: Callable[[str], object]) -> dict[str, str]:
    """The ``huaweicloud:`` keys this provider reads, as strings (objects arrive as JSON text).

    ``get`` looks a full key up, as ``ConfigureRequest.config.get`` does.
    """
    values: dict[str, str] = {}
    for key in STACK_CONFIG_KEYS:
        value = get(f"{NAMESPACE}:{key}")
        if value is not None:
            values[f"{NAMESPACE}:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return values


class ProviderProcess:
    """Shared by every worker thread of the provider server; each part guards itself."""

    def __init__(self, *, checkpoint: CheckpointSource | None = None, autostart_rounds: bool = True) -> None:
        """``checkpoint`` says what the stack's state declares (by default read with the CLI);
        with ``autostart_rounds`` off, rounds run only when a test runs them."""
        self._lock = threading.Lock()
        self.stack_config: dict[str, str] = {}
        self.declarations = Declarations(checkpoint if checkpoint is not None else StackExport())
        self._autostart_rounds = autostart_rounds
        self._clients: dict[str, MrsClient] = {}
        self._coordinators: dict[ClusterRef, ClusterCoordinator] = {}
        self.status: StatusBoard = process_board()

    def configure(self, stack_config: Mapping[str, str]) -> None:
        with self._lock:
            self.stack_config = dict(stack_config)

    def settings(self) -> Settings:
        """Provider settings as of now: stack config (from configure) over the environment."""
        return resolve_settings(stack_config=self.stack_config, environ=os.environ)

    def target(self, spec: SyncSpec) -> Target:
        return resolve_target(spec, self.settings())

    def settings_for(self, cluster: ClusterKey) -> Settings:
        """The provider's settings aimed at a resource's own project and region, where it sets them."""
        return self.settings().for_target(region=cluster.region, project_id=cluster.project_id)

    def locate(self, declared: Sketch) -> ClusterRef:
        """Where a resource known only from stored state would send its calls."""
        settings = self.settings_for(declared.cluster)
        address = ClusterAddress.of(
            project_id=settings.project_id, cluster_id=declared.cluster.cluster_id or ""
        )
        return ClusterRef(settings.endpoint, address)

    def client(self, settings: Settings) -> MrsClient:
        """One pooled client per endpoint, shared by the provider's worker threads."""
        with self._lock:
            client = self._clients.get(settings.endpoint)
            if client is None:
                client = self._clients[settings.endpoint] = MrsClient(settings)
            return client

    def coordinator(self, target: Target) -> ClusterCoordinator:
        client = self.client(target.settings)
        cluster = target.cluster

        def protection(request: Request, wanted: Principals) -> Principals:
            return self.declarations.held_by_others(
                cluster, owner=request.owner, wanted=wanted, urn=request.urn, locate=self.locate
            )

        with self._lock:
            found = self._coordinators.get(cluster)
            if found is None:
                found = self._coordinators[cluster] = ClusterCoordinator(
                    cluster,
                    client,
                    protection,
                    quiet=lambda quiet, at_most: self.declarations.wait_until_quiet(
                        quiet=quiet, at_most=at_most
                    ),
                    warm=self.declarations.warm,
                    autostart=self._autostart_rounds,
                    status=self.status,
                )
            return found

    def coordinators(self) -> list[ClusterCoordinator]:
        with self._lock:
            return list(self._coordinators.values())

    def close(self) -> None:
        """Close the pooled clients (a test's process ends here; the real one ends with its process)."""
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
            self._coordinators.clear()
