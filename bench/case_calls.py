"""Case 4, API calls per lifecycle step, counted in the emulator's request log, against the API's minimum.

The provider (``ClusterIamSyncProvider``, the code the CLI's provider process runs) is driven directly
in this process against the emulator process (``sync_seconds`` 0, so every wait ends at its first
poll and the counts are the fewest our code can make). The request log is cleared before each step.

The minimum the API allows, with ``wait`` on (the default) and the result verified as the resource
promises:

* create: 1 POST + at least 1 GET iam-sync (a task is asynchronous; only polling says it finished)
  + 1 GET iam-sync-user (verify every declared principal arrived) = 3;
* update adding a user: the same 3; update replacing a user: 1 DELETE + 1 poll + 1 POST + 1 poll
  + 1 GET iam-sync-user = 5 (one task per cluster, so the cancel must finish before the sync);
* refresh: 1 GET iam-sync-user = 1;
* delete: 1 DELETE + 1 poll = 2 (the cluster must be idle again before the next step may start).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from case_engine import EngineResult
from common import PROJECT_ID, Emulator, Row, provider_env

CASE = "4 API calls"
CLUSTER = "bench-cluster-03"
MINIMUM = {"create": 3, "update (add a user)": 3, "update (replace a user)": 5, "refresh": 1, "delete": 2}


@contextmanager
def _provider_environment(endpoint: str) -> Iterator[None]:
    """The provider reads its settings from the environment, as in the CLI's provider process."""
    values = provider_env(endpoint)
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _label(entry: dict[str, Any]) -> str:
    suffix = entry["path"].split(f"/clusters/{CLUSTER}/", 1)[-1]
    return f"{entry['method']} {suffix}"


def lifecycle(emulator: Emulator) -> dict[str, list[str]]:
    """Run create, two updates, refresh and delete of one resource; the requests of each step."""
    from mrs_iam_sync.provider import ClusterIamSyncProvider  # noqa: PLC0415 - loads pulumi: only here

    emulator.reset(sync_seconds=0)
    provider = ClusterIamSyncProvider()
    seen: dict[str, list[str]] = {}

    def step(name: str, call: Callable[[], Any]) -> Any:
        emulator.clear_requests()
        result = call()
        seen[name] = [_label(entry) for entry in emulator.requests()]
        return result

    def checked(users: list[str]) -> dict[str, Any]:
        result = provider.check({}, {"cluster_id": CLUSTER, "user_names": users})
        if result.failures:
            raise RuntimeError(f"check failed: {result.failures}")
        return dict(result.inputs)

    with _provider_environment(emulator.url):
        first, added, replaced = checked(["u001"]), checked(["u001", "u002"]), checked(["u001", "u003"])
        created = step("create", lambda: provider.create(first))
        outs = dict(created.outs)
        outs = dict(step("update (add a user)", lambda: provider.update(created.id, outs, added)).outs)
        olds = outs
        outs = dict(step("update (replace a user)", lambda: provider.update(created.id, olds, replaced)).outs)
        read = step("refresh", lambda: provider.read(created.id, outs))
        step("delete", lambda: provider.delete(created.id, dict(read.outs)))
    synced = emulator.cluster(CLUSTER)["synced_users"]
    if synced:
        raise RuntimeError(f"delete left {synced} synced on {CLUSTER} in project {PROJECT_ID}")
    return seen


def run(emulator: Emulator, engine: EngineResult | None) -> tuple[list[Row], dict[str, list[str]]]:
    seen = lifecycle(emulator)
    rows = [
        Row.compare(CASE, f"{name}: requests", "requests", len(seen[name]), "API minimum", MINIMUM[name])
        for name in MINIMUM
    ]
    if engine is not None:
        size = max(size for _, size in engine.stacks)
        for command, step in (("up", "create"), ("destroy", "delete")):
            per_resource = engine.requests("ours", size, command) / size
            rows.append(
                Row.compare(
                    CASE,
                    f"pulumi {command} of N={size} (case 3): requests per resource",
                    "requests",
                    per_resource,
                    f"provider {step} called directly",
                    len(seen[step]),
                )
            )
        rows.append(
            Row(
                CASE,
                f"pulumi preview of N={size} (case 3): requests",
                "requests",
                engine.requests("ours", size, "preview"),
                "API minimum",
                0,
                None,
            )
        )
    return rows, seen
