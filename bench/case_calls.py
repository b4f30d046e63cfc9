"""Case 4, requests per lifecycle step: the provider called directly against the emulator (0 s tasks),
then cross-checked with case 3's ``pulumi`` commands of 50 resources."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from case_engine import SIZES
from common import CLUSTERS, USERS, Row, provider_in_process
from stacks import DEFAULT, Figures

from kit.emulator import EmulatorProcess

if TYPE_CHECKING:
    from mrs_iam_sync.provider import ClusterIamSyncProvider

CLUSTER: Final = CLUSTERS[3]
ALLOWED: Final = "API minimum + safety read + is-synchronous, per coalesced task"
STEPS: Final = {
    # step: (the API's minimum, with `wait` on and the result verified; the minimum plus what the
    # provider keeps on purpose, once per coalesced task: the safety read before it and the
    # is-synchronous read for cluster_sync_complete, which a delete does not report). See RESULTS.md.
    "create": (3, 5),
    "update (add a user)": (3, 5),
    "update (replace a user)": (5, 7),
    "refresh": (1, 1),
    "delete": (2, 3),
}


def _inputs(provider: ClusterIamSyncProvider, *users: str) -> dict[str, Any]:
    return dict(provider.check({}, {"cluster_id": CLUSTER, "user_names": list(users)}).inputs)


def lifecycle(emulator: EmulatorProcess) -> dict[str, list[str]]:
    """Create, two updates, refresh and delete of one resource: the requests of each step."""
    emulator.reset(sync_seconds=0)
    seen: dict[str, list[str]] = {}

    def step(name: str, call: Any, *args: Any) -> Any:
        emulator.clear_log()
        result = call(*args)
        seen[name] = [f"{e['method']} {e['path'].split(CLUSTER + '/')[-1]}" for e in emulator.log()]
        return result

    with provider_in_process(emulator.url) as provider:
        a, b, c = USERS[1:4]
        one, two, moved_on = (_inputs(provider, *users) for users in ([a], [a, b], [a, c]))
        made = step("create", provider.create, one)
        added = step("update (add a user)", provider.update, made.id, made.outs, two)
        moved = step("update (replace a user)", provider.update, made.id, added.outs, moved_on)
        read = step("refresh", provider.read, made.id, moved.outs)
        step("delete", provider.delete, made.id, read.outs)
    if emulator.cluster(CLUSTER)["synced_users"]:
        raise RuntimeError(f"delete left principals synced on {CLUSTER}")
    return seen


def run(emulator: EmulatorProcess, engine: Figures) -> tuple[list[Row], dict[str, list[str]]]:
    seen = lifecycle(emulator)
    rows = [
        row(f"{step}: requests", len(seen[step]), "API minimum", least) for step, (least, _) in STEPS.items()
    ]
    rows += [row(f"{step}: requests", len(seen[step]), ALLOWED, most) for step, (_, most) in STEPS.items()]
    n = SIZES[-1]
    for command, step in (("up", "create"), ("destroy", "delete")):
        per_resource = engine["ours", n, DEFAULT][f"{command} requests"] / n
        measure = f"pulumi {command} of N={n} (case 3): requests per resource"
        rows.append(row(measure, per_resource, f"provider {step} called directly", len(seen[step])))
    previews = engine["ours", n, DEFAULT]["preview requests"]
    rows.append(row(f"pulumi preview of N={n} (case 3): requests", previews, "API minimum", 0))
    return rows, seen


def row(measure: str, ours: float, baseline_name: str, baseline: float) -> Row:
    return Row("4 API calls", measure, "requests", ours, baseline_name, baseline)
