"""MrsClient.within: one time budget for every request, retry and timeout of an operation."""

from __future__ import annotations

import httpx
import pytest

from mrs_iam_sync.errors import OperationTimeoutError, TransportError

from .helpers import FakeClock, Script


def test_each_request_timeout_is_cut_to_what_is_left_of_the_budget(client, script: Script, clock: FakeClock):
    script.json("GET", "iam-sync", 200, {"is_synchronizing": False})
    with client.within(7.5):
        clock.now += 2.5
        client.is_synchronizing(cluster_id="f7f45c04-4303-411c-9b71-d2cb730dd162")
    timeout = script.received[0].extensions["timeout"]
    assert timeout["read"] == pytest.approx(5.0)
    assert timeout["connect"] == pytest.approx(5.0)


def test_without_a_budget_the_configured_timeouts_apply(client, script: Script):
    script.json("GET", "iam-sync", 200, {"is_synchronizing": False})
    client.is_synchronizing(cluster_id="f7f45c04-4303-411c-9b71-d2cb730dd162")
    timeout = script.received[0].extensions["timeout"]
    assert (timeout["read"], timeout["connect"]) == (60, 10)


def test_retries_stop_when_the_budget_is_spent_even_with_retries_left(client_factory, script, clock):
    def hang(request: httpx.Request) -> httpx.Response:
        clock.now += request.extensions["timeout"]["read"]
        raise httpx.ReadTimeout("no answer", request=request)

    for _ in range(3):
        script.expect("GET", "iam-sync", hang)
    client = client_factory()
    started = clock.now
    with client.within(3.0), pytest.raises(OperationTimeoutError) as raised:
        client.is_synchronizing(cluster_id="f7f45c04-4303-411c-9b71-d2cb730dd162")
    assert clock.now - started <= 3.0 + 1e-6
    # The budget, not the network, ended the request, and the message says so.
    assert str(raised.value).startswith(
        "timeout_seconds (3 s) ran out while waiting for the answer to GET https://"
    )
    assert "could not get an answer" not in str(raised.value)
    script.steps.clear()  # the budget, not the retry count, ended the attempts


def test_a_request_is_not_even_sent_when_the_budget_is_spent(client, script: Script, clock: FakeClock):
    with client.within(1.0), pytest.raises(OperationTimeoutError, match=r"it had 0.0 s left"):
        clock.now += 1.0
        client.is_synchronizing(cluster_id="f7f45c04-4303-411c-9b71-d2cb730dd162")
    assert script.received == []


def test_a_network_timeout_with_budget_to_spare_is_still_a_transport_error(client_factory, script, clock):
    def hang(request: httpx.Request) -> httpx.Response:
        clock.now += request.extensions["timeout"]["read"]
        raise httpx.ReadTimeout("no answer", request=request)

    for _ in range(4):
        script.expect("GET", "iam-sync", hang)
    client = client_factory()
    with client.within(1000.0), pytest.raises(TransportError, match="could not get an answer"):
        client.is_synchronizing(cluster_id="f7f45c04-4303-411c-9b71-d2cb730dd162")
