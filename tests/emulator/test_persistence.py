"""The --state file: checked and locked at start, saved after every change, loaded on the next start."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from kit.demo import ANALYTICS, PROJECT, SANDBOX, STREAMING, demo_seed
from kit.emulator import LocalEmulator
from mrs_emulator import create_app
from mrs_emulator import persistence as persistence_module
from mrs_emulator.clusters import Cluster
from mrs_emulator.persistence import MAX_STATE_BYTES, StateFileError, StateStore

from .helpers import OTHER_PROJECT, assert_error, unwritable

CLUSTER = f"projects/{PROJECT}/clusters/{ANALYTICS}"


def _emulator(state: Path, **options) -> LocalEmulator:
    """An in-process emulator on the state file ``state``."""
    return LocalEmulator(create_app(state_file=state, **options))


def _saved(path: Path) -> dict[str, Any]:
    saved: dict[str, Any] = json.loads(path.read_text())
    return saved


def _cluster(document: dict[str, Any], cluster_id: str = ANALYTICS) -> dict[str, Any]:
    [project] = [p for p in document["projects"] if p["id"] == PROJECT]
    [cluster] = [c for c in project["clusters"] if c["id"] == cluster_id]
    cluster_json: dict[str, Any] = cluster
    return cluster_json


def _refused(state: Path) -> str:
    """The one-line message with which ``create_app`` refuses the state file ``state``."""
    with pytest.raises(StateFileError) as caught:
        create_app(state_file=state)
    return str(caught.value)


def _existing_state(directory: Path) -> Path:
    """The state file of an emulator that ran in ``directory`` and stopped."""
    state = directory / "state.json"
    with create_app(state_file=state):
        pass
    return state


def _leftovers(directory: Path) -> list[str]:
    """Files beside the state file other than the lock file, which stays on purpose."""
    return sorted(path.name for path in directory.iterdir() if not path.name.endswith(".lock"))


# -- saved and loaded ---------------------------------------------------------------------------


def test_every_change_is_saved_and_survives_a_restart(tmp_path):
    state = tmp_path / "state.json"
    with _emulator(state, sync_seconds=0) as app:
        api = app.api()
        api.sync({"user_names": ["alice"]})
        api.show()  # completes the task, which is a change too

        saved = _cluster(_saved(state))
        assert (saved["synced_users"], saved["synced_groups"], saved["is_synchronous"]) == (
            ["alice"],
            ["data-engineers"],
            True,
        )
    with _emulator(state, sync_seconds=0) as restarted:
        assert restarted.api().show().json() == {"user_names": ["alice"], "group_names": ["data-engineers"]}
        assert restarted.api().synchronous().json() == {"is_synchronous": True}


def test_a_missing_state_file_is_created_at_start_from_the_seed(tmp_path):
    state = tmp_path / "sub" / "state.json"

    with _emulator(state) as app:
        assert app.api().show(SANDBOX).json() == {"user_names": ["erin"], "group_names": ["data-engineers"]}
        assert _cluster(_saved(state), SANDBOX)["synced_users"] == ["erin"]


def test_a_running_task_is_saved_and_finishes_after_a_restart(tmp_path):
    state = tmp_path / "state.json"
    with _emulator(state, sync_seconds=30) as app:
        app.api().sync({"user_names": ["bob"]})

    [task] = _cluster(_saved(state))["tasks"]
    assert task["completed_at"] is None

    with _emulator(state, sync_seconds=30) as running:
        assert running.api().status().json() == {"is_synchronizing": True}
    with _emulator(state, clock_offset_seconds=31) as later:
        assert later.api().show().json() == {"user_names": ["bob"], "group_names": ["analysts"]}


def test_control_changes_are_saved_too(tmp_path):
    state = tmp_path / "state.json"
    with _emulator(state) as app:
        app.context.backend.delete_cluster(PROJECT, SANDBOX)
        app.context.backend.create_cluster(PROJECT, "made-later", name="later")

    with _emulator(state) as restarted:
        assert [c["cluster_id"] for c in restarted.context.backend.dump()[0]["clusters"]] == [
            ANALYTICS,
            STREAMING,
            "made-later",
        ]


def test_reset_rewrites_the_state_file_from_the_seed(tmp_path):
    state = tmp_path / "state.json"
    with _emulator(state) as app:
        app.api().sync({"user_names": ["alice"]})

        app.context.reset()

        assert _cluster(_saved(state))["synced_users"] == []


def test_saving_leaves_no_temporary_files(tmp_path):
    state = tmp_path / "state.json"
    with _emulator(state, sync_seconds=0) as app:
        api = app.api()
        for name in ("alice", "bob", "carol"):
            api.sync({"user_names": [name]})

        assert _leftovers(tmp_path) == ["state.json"]


def test_projects_no_longer_in_the_seed_are_dropped_with_a_warning(tmp_path, caplog):
    state = tmp_path / "state.json"
    seed = demo_seed()
    seed["projects"].append({"id": OTHER_PROJECT, "region": "cn-east-3", "clusters": [{"id": "c1"}]})
    with _emulator(state, seed=seed):
        pass

    with caplog.at_level(logging.WARNING), _emulator(state) as app:
        assert [project["id"] for project in app.context.backend.dump()] == [PROJECT]
    assert OTHER_PROJECT in caplog.text


def test_the_state_file_holds_the_backends_own_clusters(tmp_path):
    state = tmp_path / "state.json"
    with _emulator(state, sync_seconds=30) as app:
        app.api().sync({"user_names": ["bob"]})
        view = app.context.backend.cluster_json(PROJECT, ANALYTICS)
        now = app.context.clock.now()

    store = StateStore.open(state)
    try:
        document = store.load()
    finally:
        store.close()

    assert document is not None
    [project] = [p for p in document.projects if p.id == PROJECT]
    [cluster] = [c for c in project.clusters if c.id == ANALYTICS]
    assert isinstance(cluster, Cluster)
    assert cluster.to_json(PROJECT, now) == view


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

    with _emulator(state) as app:
        api = app.api()
        assert api.show().json() == {"user_names": ["alice"], "group_names": ["data-engineers"]}
        assert api.status().json() == {"is_synchronizing": True}
        tasks = app.context.backend.cluster_json(PROJECT, ANALYTICS)["tasks"]
        assert [(task["id"], task["state"]) for task in tasks] == [("t1", "completed"), ("t2", "running")]


def test_whatever_the_control_api_accepts_loads_again(tmp_path):
    state = tmp_path / "state.json"
    with _emulator(state) as app:
        app.ok("PUT", f"projects/{PROJECT}/clusters/x_1-Y", {"name": "é ü"})
        patch = {"synced_users": ["ghost", " padded ", "ünï"], "synced_groups": ["g"], "is_synchronous": True}
        app.ok("PATCH", CLUSTER, patch)
        assert app.api().sync({"group_names": ["analysts"]}, cluster=STREAMING).status_code == 202
        app.ok("PUT", "clock", {"offset_seconds": 86400 * 365 * 100})
        app.ok("GET", "state")  # completes the task far in the future

    with _emulator(state) as restarted:
        assert restarted.context.backend.cluster_json(PROJECT, ANALYTICS)["synced_users"] == [
            " padded ",
            "ghost",
            "ünï",
        ]


# -- a write that fails -------------------------------------------------------------------------


def _break_replace(monkeypatch) -> None:
    def broken_replace(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)


def test_an_api_write_that_cannot_be_saved_is_a_503_and_changes_nothing(tmp_path, monkeypatch):
    state = tmp_path / "state.json"
    with _emulator(state, sync_seconds=0) as app:
        api = app.api()
        api.sync({"user_names": ["alice"]})
        api.show()
        before_file = state.read_text()
        before_memory = app.context.backend.cluster_json(PROJECT, ANALYTICS)

        _break_replace(monkeypatch)
        response = api.sync({"user_names": ["bob"]})

        text = assert_error(response, 503, "APIGW.0201")
        assert text == (
            "Backend unavailable: the emulator could not write its state file, so nothing was changed: "
            "No space left on device"
        )
        assert app.context.backend.cluster_json(PROJECT, ANALYTICS) == before_memory
        assert state.read_text() == before_file
        assert _leftovers(tmp_path) == ["state.json"]
        monkeypatch.undo()
        assert api.show().json() == {"user_names": ["alice"], "group_names": ["data-engineers"]}


def test_a_task_completion_that_cannot_be_saved_fails_the_read_and_is_found_later(tmp_path, monkeypatch):
    state = tmp_path / "state.json"
    with _emulator(state, sync_seconds=0) as app:
        api = app.api()
        api.sync({"user_names": ["alice"]})  # the task completes at the next request that looks

        _break_replace(monkeypatch)
        assert_error(api.show(), 503, "APIGW.0201")
        assert _cluster(_saved(state))["tasks"][0]["completed_at"] is None
        monkeypatch.undo()

        assert api.show().json() == {"user_names": ["alice"], "group_names": ["data-engineers"]}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", CLUSTER, {"synced_users": ["ghost"]}),
        ("PUT", f"projects/{PROJECT}/clusters/brand-new", None),
        ("DELETE", f"projects/{PROJECT}/clusters/{SANDBOX}", None),
        ("POST", "reset", None),
    ],
)
def test_a_control_write_that_cannot_be_saved_is_a_503_and_changes_nothing(
    tmp_path, monkeypatch, method, path, body
):
    state = tmp_path / "state.json"
    with _emulator(state, sync_seconds=0) as app:
        app.api().sync({"user_names": ["alice"]})
        before = app.ok("GET", "state")

        _break_replace(monkeypatch)
        response = app.control(method, path, body)

        text = assert_error(response, 503, "EMULATOR.0503")
        assert text.startswith("the state file could not be written, so nothing was changed: ")
        monkeypatch.undo()
        assert app.ok("GET", "state")["projects"] == before["projects"]


def test_an_api_change_that_would_make_the_state_file_too_large_is_a_413(tmp_path, monkeypatch):
    state = tmp_path / "state.json"
    with _emulator(state, sync_seconds=30) as app:
        api = app.api()
        monkeypatch.setattr(persistence_module, "MAX_STATE_BYTES", state.stat().st_size + 100)

        response = api.cancel({"user_names": [f"user-{i}" for i in range(1000)]})

        text = assert_error(response, 413, "APIGW.0201")
        assert text.startswith("Request entity too large: nothing was changed, as the state would take ")
        assert app.context.backend.cluster_json(PROJECT, ANALYTICS)["tasks"] == []


def test_a_change_that_would_make_the_state_file_too_large_is_refused(tmp_path, monkeypatch):
    state = tmp_path / "state.json"
    with _emulator(state) as app:
        monkeypatch.setattr(persistence_module, "MAX_STATE_BYTES", state.stat().st_size + 1000)

        response = app.control("PATCH", CLUSTER, {"synced_users": [f"user-{i}" for i in range(500)]})

        text = assert_error(response, 413, "EMULATOR.0413")
        assert text.startswith("nothing was changed, as the state would take ")
        assert app.ok("GET", CLUSTER)["synced_users"] == []


# -- checked at start -----------------------------------------------------------------------------


def _task(**changes: Any) -> dict[str, Any]:
    return {
        "id": "t1",
        "kind": "sync",
        "users": ["alice"],
        "groups": [],
        "accepted_at": 1.0,
        "starts_at": 1.0,
        "finishes_at": 2.0,
        "completed_at": None,
        **changes,
    }


def _document(*clusters: dict[str, Any], projects: list[dict[str, Any]] | None = None) -> str:
    return json.dumps(
        {
            "format": "mrs-emulator-state/1",
            "saved_at": "x",
            "projects": projects if projects is not None else [{"id": PROJECT, "clusters": list(clusters)}],
        }
    )


def _named(cluster_id: str = ANALYTICS, **changes: Any) -> dict[str, Any]:
    return {"id": cluster_id, "name": "n", **changes}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "(file): is not valid JSON: "),
        ('{"saved_at": "x", "projects": "no"}', "projects: Input should be a valid list"),
        (
            '{"format": "other/9", "saved_at": "x", "projects": []}',
            "format: Input should be 'mrs-emulator-state/1'",
        ),
        ("[" * 100_000, "(file): nests arrays or objects deeper than 64 levels"),
        (
            _document(_named(tasks=[_task(finishes_at=float("nan"))])),
            "(file): is not valid JSON: NaN is not a JSON value",
        ),
        (
            _document(_named(tasks=[_task(finishes_at=1e300)])),
            "projects[0].clusters[0].tasks[0].finishes_at: Input should be less than or equal to 253402300799",
        ),
        (
            _document(_named(tasks=[_task(accepted_at=-5.0)])),
            "projects[0].clusters[0].tasks[0].accepted_at: Input should be greater than or equal to 0",
        ),
        (
            _document(_named(tasks=[_task(starts_at=3.0)])),
            "projects[0].clusters[0].tasks[0]: accepted_at <= starts_at <= finishes_at must hold",
        ),
        (
            _document(_named("../../etc")),
            "projects[0].clusters[0].id: must be 1 to 64 characters: letters, digits, '_' and '-' only",
        ),
        (
            _document(_named(), _named(STREAMING), _named()),
            "projects[0]: clusters[2].id is a duplicate of clusters[0].id",
        ),
        (
            _document(projects=[{"id": PROJECT, "clusters": []}, {"id": PROJECT, "clusters": []}]),
            "(root): projects[1].id is a duplicate of projects[0].id",
        ),
        (
            _document(projects=[{"id": "../p", "clusters": []}]),
            "projects[0].id: must be 1 to 64 characters, letters and digits only",
        ),
        (
            _document(_named(synced_users=[""])),
            "projects[0].clusters[0].synced_users[0]: must be a non-empty string",
        ),
        (_document(_named(name="")), "projects[0].clusters[0].name: must be a non-empty string"),
    ],
    ids=[
        "json",
        "shape",
        "format",
        "deep",
        "nan",
        "far-future",
        "before-1970",
        "out-of-order",
        "cluster-id",
        "duplicate-cluster",
        "duplicate-project",
        "project-id",
        "empty-name",
        "empty-cluster-name",
    ],
)
def test_a_broken_state_file_is_refused_naming_the_file(tmp_path, text, message):
    state = tmp_path / "state.json"
    state.write_text(text)

    refusal = _refused(state)

    assert refusal.startswith(f"{state}: {message}")
    assert "\n" not in refusal


def test_a_state_file_that_is_not_utf8_is_refused_naming_the_file(tmp_path):
    state = tmp_path / "state.json"
    state.write_bytes(_document(_named()).encode().replace(b'"n"', b'"\xff"'))

    refusal = _refused(state)

    assert refusal.startswith(f"{state}: (file): is not UTF-8: invalid byte at offset ")


def test_a_state_file_over_the_size_limit_is_refused_without_reading_it(tmp_path):
    state = tmp_path / "state.json"
    with state.open("wb") as handle:
        handle.truncate(MAX_STATE_BYTES + 1)  # sparse: nothing of it is ever read

    refusal = _refused(state)

    assert refusal == f"{state}: (file): is larger than {MAX_STATE_BYTES} bytes"


@pytest.mark.parametrize(
    ("path", "message"),
    [("/dev/zero", "is not a regular file"), (".", "is a directory, not a file")],
)
def test_a_state_path_that_is_not_a_regular_file_is_refused(tmp_path, path, message):
    state = Path(path) if path.startswith("/") else tmp_path

    refusal = _refused(state)

    assert refusal == f"{state}: (file): {message}"


def test_a_state_file_in_a_place_that_cannot_be_written_is_refused(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    state = blocker / "state.json"

    refusal = _refused(state)

    assert refusal.startswith(f"{state}: (file): ")


def test_an_existing_state_file_that_cannot_be_written_is_refused(tmp_path):
    state = _existing_state(tmp_path)

    with unwritable(state):
        refusal = _refused(state)

    assert refusal.startswith(f"{state}: (file): cannot be opened for reading and writing: ")


def test_a_state_directory_that_refuses_new_files_is_refused(tmp_path):
    state = _existing_state(tmp_path)

    with unwritable(tmp_path):
        refusal = _refused(state)

    assert refusal.startswith(f"{state}: (file): cannot be written: ")


def test_one_state_file_serves_one_emulator_at_a_time(tmp_path):
    state = tmp_path / "state.json"
    first = create_app(state_file=state)

    refusal = _refused(state)
    first.close()

    assert refusal == (
        f"{state}: (file): is in use by another emulator (it holds the lock on .state.json.lock)"
    )
    with _emulator(state) as second:
        assert second.api().status().status_code == 200


def test_stale_temporary_files_are_removed_at_start_but_never_under_a_running_emulator(tmp_path):
    state = tmp_path / "state.json"
    stale = tmp_path / ".state.json.abc123.tmp"
    stale.write_text("{half a file")
    other = tmp_path / ".other.json.abc123.tmp"
    other.write_text("not ours")

    with create_app(state_file=state):
        assert not stale.exists()
        assert other.exists()
        stale.write_text("{a save in progress")
        with pytest.raises(StateFileError):
            create_app(state_file=state)
        assert stale.exists()


def test_an_emulator_that_was_closed_can_no_longer_save(tmp_path):
    state = tmp_path / "state.json"
    with _emulator(state) as emulator:
        emulator.app.close()

        response = emulator.api().sync({"user_names": ["alice"]})

    assert_error(response, 503, "APIGW.0201")
    assert _cluster(_saved(state))["tasks"] == []
