"""The --state file: saved after every change, atomically, and loaded on the next start."""

from __future__ import annotations

import json
import logging
import os

import httpx
import pytest

from mrs_iam_sync.emulator import create_app
from mrs_iam_sync.emulator.persistence import StateFileError

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
