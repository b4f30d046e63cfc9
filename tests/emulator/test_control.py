"""The control API under /_emulator/: reset, request log, clock, settings, clusters, state."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from kit.api import cluster_path
from kit.demo import ANALYTICS, DEMO_AK, PROJECT, SANDBOX, SECRETS, STREAMING

from .helpers import OTHER_PROJECT, assert_error

CLUSTER = f"projects/{PROJECT}/clusters/{ANALYTICS}"


def test_reset_restores_the_seed_and_clears_faults_log_and_clock(emulator, api):
    api.sync({"user_names": ["alice"]})
    emulator.ok("DELETE", f"projects/{PROJECT}/clusters/{SANDBOX}")
    emulator.ok("POST", "faults", {"kind": "latency", "latency_seconds": 0.01})
    emulator.ok("PUT", "clock", {"offset_seconds": 60})

    assert emulator.ok("POST", "reset") == {"reset": True}

    assert emulator.ok("GET", "faults") == {"faults": []}
    assert emulator.log() == []
    assert emulator.ok("GET", "clock")["offset_seconds"] == 0
    assert api.show().json() == {"user_names": [], "group_names": []}
    assert api.show(SANDBOX).json() == {"user_names": ["erin"], "group_names": ["data-engineers"]}


def test_the_request_log_records_api_calls_only(emulator, api):
    api.sync({"user_names": ["alice"]})
    emulator.client().get(cluster_path())
    emulator.ok("GET", "state")

    entries = emulator.log()

    assert [
        (entry["method"], entry["path"], entry["status"], entry["error_code"], entry["auth"])
        for entry in entries
    ] == [
        ("POST", cluster_path(), 202, None, "aksk"),
        ("GET", cluster_path(), 401, "APIGW.0301", "none"),
    ]
    assert set(entries[0]) == {
        "method",
        "path",
        "status",
        "error_code",
        "time",
        "duration_ms",
        "auth",
        "request_id",
        "fault",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entries[0]["time"])
    assert entries[0]["duration_ms"] >= 0


def test_the_request_log_holds_no_query_headers_or_credentials(emulator, api):
    api.http.get(cluster_path() + "?secret=query-value")

    text = json.dumps(emulator.log())

    assert "query-value" not in text
    for needle in (*SECRETS, DEMO_AK, "Signature", "SDK-HMAC"):
        assert needle not in text


def test_the_request_log_can_be_cleared(emulator, api):
    api.status()

    assert emulator.ok("DELETE", "requests") == {"requests": []}
    assert emulator.log() == []


def test_the_request_log_is_bounded(make_emulator):
    emulator = make_emulator(request_log_size=3)
    api = emulator.api()
    for _ in range(5):
        api.status()
    api.show()

    entries = emulator.log()

    assert len(entries) == 3
    assert entries[-1]["path"] == cluster_path()


def test_the_clock_can_be_offset_or_set(emulator):
    assert emulator.ok("PUT", "clock", {"offset_seconds": -30.5})["offset_seconds"] == -30.5

    clock = emulator.ok("PUT", "clock", {"now": "20240102T030405Z"})
    assert clock["now"].startswith("2024-01-02T03:04:0")

    clock = emulator.ok("PUT", "clock", {"now": "2030-06-01T00:00:00Z"})
    assert clock["now"].startswith("2030-06-01T00:00:0")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "give exactly one of offset_seconds and now"),
        ({"offset_seconds": 1, "now": "20240102T030405Z"}, "give exactly one of offset_seconds and now"),
        ({"now": "soon"}, "now: 'soon' is neither ISO 8601 nor YYYYMMDDTHHMMSSZ"),
        (
            {"offset_seconds": "x"},
            "offset_seconds: Input should be a valid number",
        ),
    ],
)
def test_a_bad_clock_setting_is_refused(emulator, body, message):
    assert_error(emulator.control("PUT", "clock", body), 400, "EMULATOR.0400", message)


def test_settings_can_be_read_and_changed_at_run_time(make_emulator):
    emulator = make_emulator(sync_seconds=30)
    api = emulator.api()
    assert emulator.ok("GET", "settings") == {
        "sync_seconds": 30.0,
        "cluster_sync_seconds": {},
        "concurrent_sync": "reject",
        "unknown_names": "ignore",
        "empty_sync": "reject",
        "all_sync_with_names": "reject",
        "missing_cluster_status": 400,
        "missing_cluster_code": "12000003",
        "max_clock_skew_seconds": 900.0,
    }

    changed = emulator.ok("PUT", "settings", {"concurrent_sync": "queue", "sync_seconds": 0})

    assert changed["concurrent_sync"] == "queue" and changed["sync_seconds"] == 0
    assert api.sync({"user_names": ["alice"]}).status_code == 202
    assert api.show().json()["user_names"] == ["alice"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"concurrent_sync": "maybe"}, "concurrent_sync: Input should be 'reject' or 'queue'"),
        ({"sync_seconds": -1}, "sync_seconds: Input should be greater than or equal to 0"),
        ({"missing_cluster_status": 500}, "missing_cluster_status: Input should be 400 or 404"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"port": 1}, "port: is fixed when the emulator starts; it cannot change at run time"),
        ({"seed": None}, "seed: is fixed when the emulator starts; it cannot change at run time"),
        ([1], "the body must be a JSON object"),
    ],
)
def test_a_bad_setting_is_refused_and_nothing_changes(emulator, body, message):
    before = emulator.ok("GET", "settings")

    assert_error(emulator.control("PUT", "settings", body), 400, "EMULATOR.0400", message)
    assert emulator.ok("GET", "settings") == before


def test_a_cluster_can_be_inspected(emulator, api):
    api.sync({"user_names": ["bob"]})

    state = emulator.cluster(ANALYTICS)

    assert {key: state[key] for key in state if key != "tasks"} == {
        "project_id": PROJECT,
        "cluster_id": ANALYTICS,
        "name": "analytics",
        "synced_users": ["bob"],
        "synced_groups": ["analysts"],
        "is_synchronizing": False,
        "is_synchronous": True,
    }
    [task] = state["tasks"]
    assert {key: task[key] for key in ("kind", "users", "groups", "state")} == {
        "kind": "sync",
        "users": ["bob"],
        "groups": ["analysts"],
        "state": "completed",
    }


def test_a_cluster_can_be_patched_behind_the_apis_back(emulator, api):
    state = emulator.ok(
        "PATCH", CLUSTER, {"synced_users": ["ghost"], "synced_groups": ["g"], "is_synchronous": True}
    )

    assert (state["synced_users"], state["synced_groups"], state["is_synchronous"]) == (
        ["ghost"],
        ["g"],
        True,
    )
    assert api.synchronous().json() == {"is_synchronous": True}
    emulator.ok("PATCH", CLUSTER, {"is_synchronous": False})
    assert api.synchronous().json() == {"is_synchronous": False}
    assert api.show().json() == {"user_names": ["ghost"], "group_names": ["g"]}


def test_a_bad_patch_is_refused(emulator):
    assert_error(
        emulator.control("PATCH", CLUSTER, {"synced_users": "alice"}),
        400,
        "EMULATOR.0400",
        "synced_users: Input should be a valid list",
    )


def test_a_cluster_can_be_created_and_used(emulator):
    created = emulator.control("PUT", f"projects/{PROJECT}/clusters/new-cluster-1", {"name": "fresh"})
    again = emulator.control("PUT", f"projects/{PROJECT}/clusters/new-cluster-1")

    assert created.status_code == 201
    assert created.json()["name"] == "fresh" and created.json()["synced_users"] == []
    assert again.status_code == 200
    api = emulator.api()
    assert api.sync({"user_names": ["frank"]}, cluster="new-cluster-1").status_code == 202
    assert api.show("new-cluster-1").json() == {"user_names": ["frank"], "group_names": []}


def test_creating_a_cluster_needs_a_known_project_and_valid_ids(emulator):
    assert_error(
        emulator.control("PUT", f"projects/{OTHER_PROJECT}/clusters/c1"),
        404,
        "EMULATOR.0404",
        f"Project {OTHER_PROJECT} is unknown to the emulator (cluster c1).",
    )
    assert_error(
        emulator.control("PUT", f"projects/{PROJECT}/clusters/bad%20id"),
        400,
        "EMULATOR.0400",
        "cluster_id must be 1 to 64 characters: letters, digits, '_' and '-' only",
    )


def test_a_cluster_can_be_deleted_once(emulator):
    assert emulator.ok("DELETE", CLUSTER) == {"deleted": {"project_id": PROJECT, "cluster_id": ANALYTICS}}

    assert_error(
        emulator.control("DELETE", CLUSTER),
        404,
        "EMULATOR.0404",
        f"No cluster {ANALYTICS} in project {PROJECT}.",
    )
    assert_error(emulator.control("GET", CLUSTER), 404, "EMULATOR.0404")


def test_the_state_dump_has_everything_but_secrets(emulator, api):
    api.sync({"user_names": ["carol"]})

    response = emulator.control("GET", "state")

    state = response.json()
    assert set(state) == {"projects", "options", "clock", "faults"}
    [project] = state["projects"]
    assert project["id"] == PROJECT and project["region"] == "cn-north-4"
    assert [cluster["name"] for cluster in project["clusters"]] == ["analytics", "streaming", "sandbox"]
    assert {"name": "dave", "groups": ["auditors"], "mrs_policy": False} in project["iam"]["users"]
    for needle in (*SECRETS, DEMO_AK, "secret", "token"):
        assert needle not in response.text


@pytest.mark.parametrize(("method", "path"), [("GET", "nowhere"), ("POST", "state"), ("GET", "reset")])
def test_an_unknown_control_endpoint_is_404(emulator, method, path):
    assert_error(
        emulator.control(method, path),
        404,
        "EMULATOR.0404",
        f"no control endpoint {method} /_emulator/{path}",
    )


def test_invalid_json_to_the_control_api_is_refused(emulator):
    client = emulator.client()

    response = client.post("/_emulator/faults", content=b"{nope")

    text = assert_error(response, 400, "EMULATOR.0400")
    assert text.startswith("the body is not valid JSON")


def test_health_answers(emulator):
    assert emulator.ok("GET", "health") == {"status": "ok"}


# -- numbers are finite and in range, checked before anything changes ------------------------------

CLOCK_RANGE = "the emulator clock must stay from 1970-01-01T00:00:00Z to 9000-01-01T00:00:00Z"


def _raw_control(emulator, method: str, path: str, raw: bytes):
    return emulator.client().request(method, f"/_emulator/{path}", content=raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"offset_seconds": NaN}', "the body is not valid JSON: NaN is not a JSON value"),
        (b'{"offset_seconds": Infinity}', "the body is not valid JSON: Infinity is not a JSON value"),
        (b'{"offset_seconds": 1e400}', "the body is not valid JSON: a number is too large for a double"),
        (b'{"offset_seconds": 1e20}', f"offset_seconds: {CLOCK_RANGE}"),
        (b'{"offset_seconds": -1e10}', f"offset_seconds: {CLOCK_RANGE}"),
        (b'{"now": "9999-12-31T23:59:59Z"}', f"now: {CLOCK_RANGE}"),
        (b'{"now": "0001-01-01T00:00:00+14:00"}', f"now: {CLOCK_RANGE}"),
        (b'{"now": "19691231T235959Z"}', f"now: {CLOCK_RANGE}"),
    ],
    ids=["nan", "infinity", "overflow", "1e20", "before-1970", "year-9999", "year-1", "sdk-date-1969"],
)
def test_an_odd_clock_value_is_refused_and_the_clock_and_api_stay_usable(emulator, api, raw, message):
    emulator.ok("PUT", "clock", {"offset_seconds": 12.5})

    assert_error(_raw_control(emulator, "PUT", "clock", raw), 400, "EMULATOR.0400", message)

    assert emulator.ok("GET", "clock")["offset_seconds"] == 12.5
    assert api.status().status_code == 200


def test_the_clock_can_reach_the_ends_of_its_range(emulator):
    assert emulator.ok("PUT", "clock", {"now": "1970-01-01T00:00:00Z"})["now"] == "1970-01-01T00:00:00.000Z"
    assert emulator.ok("PUT", "clock", {"now": "8999-12-31T23:59:00Z"})["now"].startswith("8999-12-31T23:59")
    assert emulator.api().status().status_code == 401  # a date of today is far from the clock, not a 500


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"sync_seconds": NaN}', "the body is not valid JSON: NaN is not a JSON value"),
        (b'{"sync_seconds": 1e300}', "sync_seconds: Input should be less than or equal to 3600"),
        (
            b'{"max_clock_skew_seconds": 1e308}',
            "max_clock_skew_seconds: Input should be less than or equal to",
        ),
        (b'{"max_clock_skew_seconds": 0}', "max_clock_skew_seconds: Input should be greater than 0"),
        (b'{"request_log_size": 5}', "request_log_size: is fixed when the emulator starts"),
        (b'{"sync_seconds": true}', "sync_seconds: Input should be a valid number"),
        (b'{"sync_seconds": "30"}', "sync_seconds: Input should be a valid number"),
    ],
)
def test_odd_settings_are_refused_and_nothing_changes(emulator, raw, message):
    before = emulator.ok("GET", "settings")

    response = _raw_control(emulator, "PUT", "settings", raw)

    text = assert_error(response, 400, "EMULATOR.0400")
    assert text.startswith(message), text
    assert emulator.ok("GET", "settings") == before


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"kind": "throttle", "retry_after": 10**12},
            "retry_after: Input should be less than or equal to 86400",
        ),
        ({"kind": "throttle", "count": 10**12}, "count: Input should be less than or equal to 1000000000"),
        ({"kind": "throttle", "count": 0}, "count: Input should be greater than or equal to 1"),
        ({"kind": "throttle", "seed": -1}, "seed: Input should be greater than or equal to 0"),
        ({"kind": "throttle", "seed": 2**64}, "seed: Input should be less than or equal to"),
        (
            {"kind": "latency", "latency_seconds": 1e9},
            "latency_seconds: Input should be less than or equal to 600",
        ),
        ({"kind": "throttle", "rate": -0.1}, "rate: Input should be greater than or equal to 0"),
        ({"kind": "throttle", "count": True}, "count: Input should be a valid integer"),
        ({"kind": "throttle", "rate": "0.5"}, "rate: Input should be a valid number"),
    ],
)
def test_odd_fault_numbers_are_refused_and_no_fault_is_added(emulator, spec, message):
    text = assert_error(emulator.control("POST", "faults", spec), 400, "EMULATOR.0400")

    assert text.startswith(message), text
    assert emulator.ok("GET", "faults") == {"faults": []}


def test_a_control_body_nested_too_deep_is_refused(emulator):
    response = _raw_control(emulator, "POST", "faults", b'{"methods": ' + b"[" * 5000 + b"]" * 5000 + b"}")

    assert_error(response, 400, "EMULATOR.0400", "the body nests arrays or objects deeper than 64 levels")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"synced_users": ["alice", ""]}, "synced_users[1]: must be a non-empty string"),
        ({"synced_groups": [None]}, "synced_groups[0]: Input should be a valid string"),
    ],
)
def test_a_patch_follows_the_seeds_name_rule(emulator, body, message):
    assert_error(emulator.control("PATCH", CLUSTER, body), 400, "EMULATOR.0400", message)
    assert emulator.cluster(ANALYTICS)["synced_users"] == []


def test_a_cluster_name_follows_the_seeds_name_rule(emulator):
    response = emulator.control("PUT", f"projects/{PROJECT}/clusters/named", {"name": ""})

    assert_error(response, 400, "EMULATOR.0400", "name: must be a non-empty string")


def test_a_cluster_can_run_slower_tasks_than_the_others(make_emulator):
    emulator = make_emulator(sync_seconds=2, cluster_sync_seconds={ANALYTICS: 30})
    api = emulator.api()

    for cluster in (ANALYTICS, STREAMING):
        assert api.sync({"user_names": ["alice"]}, cluster=cluster).status_code == 202

    durations = {
        cluster: {(task["starts_at"], task["finishes_at"]) for task in emulator.cluster(cluster)["tasks"]}
        for cluster in (ANALYTICS, STREAMING)
    }
    assert [_seconds(*pair) for cluster in (ANALYTICS, STREAMING) for pair in durations[cluster]] == [30.0, 2.0]
    changed = emulator.ok("PUT", "settings", {"cluster_sync_seconds": {STREAMING: 5}})
    assert changed["cluster_sync_seconds"] == {STREAMING: 5.0}


def _seconds(started: str, finished: str) -> float:
    return (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
