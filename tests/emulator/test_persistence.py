"""The --state file: saved after every change, atomically, and loaded on the next start."""

from __future__ import annotations

import json
import logging
import os

import httpx
import pytest

from mrs_emulator import create_app
from mrs_emulator.clusters import Cluster
from mrs_emulator.persistence import StateFileError, StateStore

from .helpers import (
    ANALYTICS,
    IN_PROCESS_BASE,
    OTHER_PROJECT,
    PROJECT,
    SANDBOX,
    STREAMING,
    Api,
    demo_auth,
    demo_seed,
)


def _api(app) -> Api:
    return Api(
        httpx.Client(transport=httpx.WSGITransport(app=app), base_url=IN_PROCESS_BASE, auth=demo_auth())
    )


def _saved(path) -> dict:
    return json.loads(path.read_text())


def _cluster(document: dict, cluster_id: str = ANALYTICS) -> dict:
    [project] = [p for p in document["projects"] if p["id"] == PROJECT]
    [cluster] = [c for c in project["clusters"] if c["id"] == cluster_id]
    return cluster


def test_every_change_is_saved_and_survives_a_restart(tmp_path):
    state = tmp_path / "state.json"
    api = _api(create_app(state_file=state, sync_seconds=0))

    api.sync({"user_names": ["alice"]})
    api.show()  # completes the task, which is a change too

    saved = _cluster(_saved(state))
    assert (saved["synced_users"], saved["synced_groups"], saved["is_synchronous"]) == (
        ["alice"],
        ["data-engineers"],
        True,
    )
    restarted = _api(create_app(state_file=state, sync_seconds=0))
    assert restarted.show().json() == {"user_names": ["alice"], "group_names": ["data-engineers"]}
    assert restarted.synchronous().json() == {"is_synchronous": True}


def test_a_missing_state_file_means_starting_from_the_seed(tmp_path):
    state = tmp_path / "sub" / "state.json"

    api = _api(create_app(state_file=state))

    assert api.show(SANDBOX).json() == {"user_names": ["erin"], "group_names": ["data-engineers"]}
    assert not state.exists()  # nothing changed yet


def test_a_running_task_is_saved_and_finishes_after_a_restart(tmp_path):
    state = tmp_path / "state.json"
    _api(create_app(state_file=state, sync_seconds=30)).sync({"user_names": ["bob"]})

    [task] = _cluster(_saved(state))["tasks"]
    assert task["completed_at"] is None

    running = _api(create_app(state_file=state, sync_seconds=30))
    assert running.status().json() == {"is_synchronizing": True}
    later = _api(create_app(state_file=state, clock_offset_seconds=31))
    assert later.show().json() == {"user_names": ["bob"], "group_names": ["analysts"]}


def test_control_changes_are_saved_too(tmp_path):
    state = tmp_path / "state.json"
    app = create_app(state_file=state)
    context = app.context
    context.backend.delete_cluster(PROJECT, SANDBOX)
    context.backend.create_cluster(PROJECT, "made-later", name="later")

    restarted = create_app(state_file=state).context.backend

    assert [c["cluster_id"] for c in restarted.dump()[0]["clusters"]] == [
        ANALYTICS,
        STREAMING,
        "made-later",
    ]


def test_reset_rewrites_the_state_file_from_the_seed(tmp_path):
    state = tmp_path / "state.json"
    app = create_app(state_file=state)
    _api(app).sync({"user_names": ["alice"]})

    app.context.reset()

    assert _cluster(_saved(state))["synced_users"] == []


def test_saving_leaves_no_temporary_files(tmp_path):
    state = tmp_path / "state.json"
    api = _api(create_app(state_file=state, sync_seconds=0))
    for name in ("alice", "bob", "carol"):
        api.sync({"user_names": [name]})

    assert sorted(path.name for path in tmp_path.iterdir()) == ["state.json"]


def test_a_failed_save_keeps_the_previous_file_whole(tmp_path, monkeypatch):
    state = tmp_path / "state.json"
    api = _api(create_app(state_file=state, sync_seconds=0))
    api.sync({"user_names": ["alice"]})
    before = state.read_text()

    def broken_replace(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    response = api.sync({"user_names": ["bob"]})

    assert response.status_code == 500
    assert state.read_text() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["state.json"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "(file): is not valid JSON: "),
        ('{"saved_at": "x", "projects": "no"}', "projects: Input should be a valid list"),
        (
            '{"format": "other/9", "saved_at": "x", "projects": []}',
            "format: Input should be 'mrs-emulator-state/1'",
        ),
    ],
)
def test_a_broken_state_file_is_refused_naming_the_file(tmp_path, text, message):
    state = tmp_path / "state.json"
    state.write_text(text)

    with pytest.raises(StateFileError) as caught:
        create_app(state_file=state)

    assert str(caught.value).startswith(f"{state}: {message}")


def test_projects_no_longer_in_the_seed_are_dropped_with_a_warning(tmp_path, caplog):
    state = tmp_path / "state.json"
    seed = demo_seed()
    seed["projects"].append({"id": OTHER_PROJECT, "region": "cn-east-3", "clusters": [{"id": "c1"}]})
    create_app(seed=seed, state_file=state).context.backend.save()

    with caplog.at_level(logging.WARNING):
        backend = create_app(state_file=state).context.backend

    assert [project["id"] for project in backend.dump()] == [PROJECT]
    assert OTHER_PROJECT in caplog.text


def test_the_state_file_holds_the_backends_own_clusters(tmp_path):
    state = tmp_path / "state.json"
    app = create_app(state_file=state, sync_seconds=30)
    _api(app).sync({"user_names": ["bob"]})

    document = StateStore(state).load()

    assert document is not None
    [project] = [p for p in document.projects if p.id == PROJECT]
    [cluster] = [c for c in project.clusters if c.id == ANALYTICS]
    assert isinstance(cluster, Cluster)
    now = app.context.clock.now()
    assert cluster.to_json(PROJECT, now) == app.context.backend.cluster_json(PROJECT, ANALYTICS)


def test_a_state_file_of_format_1_as_written_before_still_loads(tmp_path):
    state = tmp_path / "state.json"
    task = {"users": ["alice"], "groups": ["data-engineers"], "accepted_at": 1.0, "starts_at": 1.0}
    cluster = {
        "id": ANALYTICS,
        "name": "analytics",
        "synced_users": ["alice"],
        "synced_groups": ["data-engineers"],
        "is_synchronous": True,
        "tasks": [
            {**task, "id": "t1", "kind": "sync", "finishes_at": 2.0, "completed_at": 2.0},
            {**task, "id": "t2", "kind": "cancel", "finishes_at": 4e9, "completed_at": None},
        ],
    }
    document = {
        "format": "mrs-emulator-state/1",
        "saved_at": "x",
        "projects": [{"id": PROJECT, "clusters": [cluster]}],
    }
    state.write_text(json.dumps(document))

    app = create_app(state_file=state)
    api = _api(app)

    assert api.show().json() == {"user_names": ["alice"], "group_names": ["data-engineers"]}
    assert api.status().json() == {"is_synchronizing": True}
    tasks = app.context.backend.cluster_json(PROJECT, ANALYTICS)["tasks"]
    assert [(task["id"], task["state"]) for task in tasks] == [("t1", "completed"), ("t2", "running")]
