"""The planner against the emulator's own backend, on random declarations and changes (hypothesis).

Before: some resources declare principals on one cluster and the cluster holds them. Then the
program changes: resources appear, change or go. The planner decides one round for all of them
(what each asks, what the cluster has, what the others declare afterwards) and the backend
carries it out: the sync task, then the cancel task. Whatever the change, every principal a
resource still declares is on the cluster afterwards, and nothing was cancelled that no resource
stopped declaring.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.demo import PROJECT
from kit.emulator import LocalEmulator
from mrs_emulator.payloads import CancelRequest, SyncRequest
from mrs_iam_sync.planner import Request, plan_cancel, plan_sync
from mrs_iam_sync.principals import NOBODY, Principals

CLUSTER = "f7f45c04-4303-411c-9b71-d2cb730dd162"
USERS = ("alice", "bob", "carol", "erin", "frank")
"""The demo world's users that hold an MRS policy: a sync of them always arrives."""
GROUPS = ("data-engineers", "analysts", "platform-admins", "auditors")
OWNERS = ("r0", "r1", "r2", "r3")

principals = st.builds(
    Principals.of, st.frozensets(st.sampled_from(USERS)), st.frozensets(st.sampled_from(GROUPS))
)
declarations = st.dictionaries(st.sampled_from(OWNERS), principals, max_size=len(OWNERS))


@pytest.fixture(scope="module")
def backend_of() -> Iterator[Callable[[], LocalEmulator]]:
    emulator = LocalEmulator.start("in-process", sync_seconds=0)
    yield lambda: emulator
    emulator.close()


def synced(emulator: LocalEmulator) -> Principals:
    users, groups = emulator.backend.synced_principals(PROJECT, CLUSTER)
    return Principals.of(users, groups)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=declarations, after=declarations)
def test_after_a_round_every_live_declaration_is_synced_and_only_dropped_names_were_cancelled(
    backend_of: Callable[[], LocalEmulator], before: dict[str, Principals], after: dict[str, Principals]
) -> None:
    emulator = backend_of()
    held_before = Principals.union(before.values())
    emulator.backend.patch_cluster(
        PROJECT, CLUSTER, synced_users=held_before.users, synced_groups=held_before.groups
    )
    requests = [
        Request(
            owner=owner,
            sync=after.get(owner, NOBODY),
            cancel=before.get(owner, NOBODY) - after.get(owner, NOBODY),
        )
        for owner in sorted(set(before) | set(after))
    ]

    def protected(owner: str) -> Principals:
        return Principals.union(held for other, held in after.items() if other != owner)

    sync_step = plan_sync(requests, synced(emulator))
    if sync_step.sends:
        emulator.backend.start_sync(
            PROJECT, CLUSTER, SyncRequest(False, sync_step.names.users, sync_step.names.groups)
        )
    between = synced(emulator)
    cancel_step = plan_cancel(requests, between, protected)
    if cancel_step.sends:
        emulator.backend.start_cancel(
            PROJECT, CLUSTER, CancelRequest(cancel_step.names.users, cancel_step.names.groups)
        )
    final = synced(emulator)

    still_declared = Principals.union(after.values())
    assert still_declared <= final
    dropped = held_before - still_declared
    assert between - final <= dropped
