"""Many clients at once: every request answered, state consistent, exactly one task wins a race."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from kit.demo import ANALYTICS, SANDBOX, STREAMING

from .conftest import EmulatorFactory

USERS = ["alice", "bob", "carol", "erin", "frank"]


def test_concurrent_clients_get_answers_and_a_consistent_state(make_emulator):
    emulator = make_emulator(concurrent_sync="queue")

    def worker(index: int) -> list[int]:
        api = emulator.api()
        cluster = (ANALYTICS, STREAMING, SANDBOX)[index % 3]
        statuses = []
        for step in range(15):
            user = USERS[(index + step) % len(USERS)]
            statuses.append(api.sync({"user_names": [user]}, cluster=cluster).status_code)
            statuses.append(api.show(cluster).status_code)
            statuses.append(api.status(cluster).status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [status for statuses in pool.map(worker, range(8)) for status in statuses]

    assert set(results) == {200, 202}
    api = emulator.api()
    for cluster in (ANALYTICS, STREAMING, SANDBOX):
        assert api.show(cluster).json()["user_names"] == USERS
        assert api.status(cluster).json() == {"is_synchronizing": False}
    assert len(emulator.log()) == 8 * 15 * 3 + 6


def test_of_simultaneous_syncs_exactly_one_starts_a_task(make_emulator: EmulatorFactory):
    emulator = make_emulator(sync_seconds=30)

    def attempt(index: int) -> int:
        return emulator.api().sync({"user_names": [USERS[index % len(USERS)]]}).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(attempt, range(10)))

    assert sorted(statuses) == [202] + [409] * 9
    assert len(emulator.cluster(ANALYTICS)["tasks"]) == 1
