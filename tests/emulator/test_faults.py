"""Injected faults: throttling, server errors, latency, dropped connections and malformed successes."""

from __future__ import annotations

import logging
import random
import time
from typing import get_args

import httpx
import pytest

from mrs_emulator import ConnectionDropped
from mrs_emulator.faults import (
    EFFECTS,
    MALFORMED_BODIES,
    Answer,
    Delay,
    Drop,
    Fault,
    FaultKind,
    FaultSpec,
    Malformed,
)

from .helpers import assert_error


def _add(emulator, **spec) -> str:
    response = emulator.control("POST", "faults", spec)
    assert response.status_code == 201, response.text
    fault_id: str = response.json()["id"]
    return fault_id


def test_a_counted_throttle_answers_429_with_retry_after_then_stops(emulator, api):
    fault_id = _add(emulator, kind="throttle", count=2, retry_after=3)

    first, second, third = api.status(), api.status(), api.status()

    for response in (first, second):
        assert_error(
            response,
            429,
            "APIGW.0308",
            f"The throttling threshold has been reached: injected fault {fault_id}",
        )
        assert response.headers["Retry-After"] == "3"
    assert third.status_code == 200
    [fault] = emulator.ok("GET", "faults")["faults"]
    assert (fault["id"], fault["remaining"], fault["fired"]) == (fault_id, 0, 2)


def test_a_rate_with_a_seed_fires_reproducibly(emulator, api):
    _add(emulator, kind="throttle", rate=0.5, seed=7)
    draws = random.Random(7)
    expected = [429 if draws.random() < 0.5 else 200 for _ in range(30)]

    statuses = [api.status().status_code for _ in range(30)]

    assert statuses == expected
    assert {200, 429} <= set(statuses)


def test_rate_zero_never_fires_and_rate_one_always_does(emulator, api):
    _add(emulator, kind="server_error", rate=0.0, methods=["GET"])
    assert api.status().status_code == 200

    emulator.ok("DELETE", "faults")
    _add(emulator, kind="server_error", rate=1.0, methods=["GET"])
    assert [api.status().status_code for _ in range(3)] == [500, 500, 500]


def test_server_error_before_does_not_apply_the_operation(emulator, api):
    fault_id = _add(emulator, kind="server_error", status=503, methods=["POST"], count=1)

    response = api.sync({"user_names": ["alice"]})

    assert_error(response, 503, "APIGW.0201", f"Backend unavailable: injected fault {fault_id}")
    assert api.show().json() == {"user_names": [], "group_names": []}
    assert emulator.log()[-2]["fault"] == fault_id


def test_server_error_after_applies_the_operation_and_hides_it(emulator, api):
    fault_id = _add(emulator, kind="server_error", status=500, phase="after", methods=["POST"], count=1)

    response = api.sync({"user_names": ["alice"]})

    assert_error(response, 500, "APIGW.0601", f"Internal server error: injected fault {fault_id}")
    assert api.show().json() == {"user_names": ["alice"], "group_names": ["data-engineers"]}


def test_filters_select_the_requests_a_fault_affects(emulator, api):
    _add(emulator, kind="server_error", status=502, path_contains="is-synchronous")

    assert api.status().status_code == 200
    assert api.synchronous().status_code == 502


def test_latency_delays_the_answer(emulator, api):
    _add(emulator, kind="latency", latency_seconds=0.2, count=1)

    started = time.perf_counter()
    response = api.status()
    elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert elapsed >= 0.2
    assert emulator.log()[-1]["duration_ms"] >= 200
    assert api.status().status_code == 200


def test_latency_combines_with_a_terminal_fault(emulator, api):
    _add(emulator, kind="latency", latency_seconds=0.05, count=1)
    _add(emulator, kind="throttle", count=1)

    started = time.perf_counter()
    response = api.status()

    assert response.status_code == 429
    assert time.perf_counter() - started >= 0.05


@pytest.mark.parametrize("answer", sorted(MALFORMED_BODIES))
def test_a_malformed_fault_answers_200_with_its_body_in_place_of_the_listing(emulator, api, answer):
    fault_id = _add(emulator, kind="malformed", answer=answer, methods=["GET"], count=1)

    response, after = api.show(), api.show()

    assert (response.status_code, response.content) == (200, MALFORMED_BODIES[answer])
    assert after.json() == {"user_names": [], "group_names": []}
    entry = emulator.log()[-2]
    assert (entry["status"], entry["error_code"], entry["fault"]) == (200, None, fault_id)


def test_the_wrong_type_answer_gives_every_answers_field_a_type_the_api_does_not_use(emulator, api):
    _add(emulator, kind="malformed", answer="wrong_type")

    real = {"user_names": list, "group_names": list, "is_synchronizing": bool, "is_synchronous": bool, "state": str}
    wrong = api.status().json()

    assert sorted(wrong) == sorted(real)
    assert all(not isinstance(wrong[field], kind) for field, kind in real.items())


def test_a_malformed_answer_after_a_post_hides_an_applied_operation(emulator, api):
    _add(emulator, kind="malformed", phase="after", methods=["POST"], count=1)

    response = api.sync({"user_names": ["alice"]})

    assert (response.status_code, response.json()) == (200, {})
    assert api.show().json() == {"user_names": ["alice"], "group_names": ["data-engineers"]}


def test_a_malformed_answer_before_a_post_does_not_apply_it(emulator, api):
    _add(emulator, kind="malformed", answer="empty_body", methods=["POST"], count=1)

    assert api.sync({"user_names": ["alice"]}).content == b""
    assert api.show().json() == {"user_names": [], "group_names": []}


def test_faults_never_touch_the_control_api(emulator):
    _add(emulator, kind="server_error")

    assert emulator.control("GET", "state").status_code == 200


def test_faults_can_be_deleted_one_by_one_or_all(emulator, api):
    first = _add(emulator, kind="throttle")
    _add(emulator, kind="server_error")

    assert emulator.ok("DELETE", f"faults/{first}") == {"deleted": first}
    assert api.status().status_code == 500
    assert emulator.ok("DELETE", "faults") == {"faults": []}
    assert api.status().status_code == 200
    assert emulator.control("DELETE", f"faults/{first}").status_code == 404


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"kind": "bogus"},
            "kind: Input should be 'latency', 'throttle', 'server_error', 'drop' or 'malformed'",
        ),
        (
            {"kind": "malformed", "answer": "html"},
            "answer: Input should be 'empty_object', 'empty_body' or 'wrong_type'",
        ),
        ({"kind": "throttle", "rate": 0.5, "count": 2}, "give rate or count, not both"),
        ({"kind": "throttle", "rate": 1.5}, "rate: Input should be less than or equal to 1"),
        ({"kind": "latency"}, "a latency fault needs latency_seconds > 0"),
        ({"kind": "server_error", "status": 504}, "status: Input should be 500, 502 or 503"),
        (
            {"kind": "throttle", "phase": "after"},
            "a throttle always acts before the operation; ",
        ),
        ({"kind": "drop", "colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_a_bad_fault_is_refused(emulator, spec, message):
    response = emulator.control("POST", "faults", spec)

    text = assert_error(response, 400, "EMULATOR.0400")
    assert text.startswith(message)


# -- dropped connections (a socket is needed to drop one) ----------------------------------------


def test_drop_closes_the_connection_without_any_response(socket_emulator, capfd, caplog):
    emulator = socket_emulator
    api = emulator.api()
    fault_id = _add(emulator, kind="drop", methods=["POST"], count=1)

    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.sync({"user_names": ["alice"]})

    assert api.show().json() == {"user_names": [], "group_names": []}
    dropped = emulator.log()[-2]
    assert (dropped["method"], dropped["status"], dropped["fault"]) == ("POST", None, fault_id)
    assert capfd.readouterr().err == ""
    assert [record for record in caplog.records if record.levelno >= logging.INFO] == []


def test_drop_after_applies_the_operation_then_drops_the_answer(socket_emulator, capfd):
    emulator = socket_emulator
    api = emulator.api()
    _add(emulator, kind="drop", phase="after", methods=["POST"], count=1)

    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.sync({"user_names": ["alice"]})

    assert api.show().json() == {"user_names": ["alice"], "group_names": ["data-engineers"]}
    assert api.sync({"user_names": ["bob"]}).status_code == 202
    assert capfd.readouterr().err == ""
    dropped = emulator.log()[-3]
    assert (dropped["method"], dropped["status"]) == ("POST", None)


def test_the_server_keeps_serving_after_many_drops(socket_emulator):
    _add(socket_emulator, kind="drop", rate=0.5, seed=1, methods=["GET"])
    api = socket_emulator.api()
    outcomes = []
    for _ in range(20):
        try:
            outcomes.append(api.status().status_code)
        except (httpx.RemoteProtocolError, httpx.ReadError):
            outcomes.append("dropped")

    assert {200, "dropped"} == set(outcomes)


def test_drop_in_process_raises_connection_dropped(local_emulators):
    emulator = local_emulators("in-process", sync_seconds=0)
    emulator.context.faults.add(FaultSpec(kind="drop"))

    with pytest.raises(ConnectionDropped):
        emulator.api().status()


# -- the table of effects ---------------------------------------------------------------------------


def test_the_effect_table_has_an_entry_for_every_fault_kind():
    assert sorted(EFFECTS) == sorted(get_args(FaultKind))


@pytest.mark.parametrize(
    ("spec", "effect"),
    [
        ({"kind": "latency", "latency_seconds": 0.5}, Delay),
        ({"kind": "throttle"}, Answer),
        ({"kind": "server_error", "status": 503}, Answer),
        ({"kind": "drop"}, Drop),
        ({"kind": "malformed", "answer": "wrong_type"}, Malformed),
    ],
    ids=lambda value: value["kind"] if isinstance(value, dict) else value.__name__,
)
def test_each_kind_has_its_own_effect(spec, effect):
    fault = Fault(id="fault-1", spec=FaultSpec(**spec), remaining=None, rng=random.Random(0))

    assert type(EFFECTS[fault.spec.kind](fault)) is effect
