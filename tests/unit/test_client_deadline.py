"""The Budget a call brings: one time limit for every request, retry and timeout of an operation."""

from __future__ import annotations

import httpx
import pytest

from mrs_iam_sync.budget import Budget
from mrs_iam_sync.errors import OperationTimeoutError, TransportError

from .helpers import WHERE, FakeClock, Script


def test_each_request_timeout_is_cut_to_what_is_left_of_the_budget(client, script: Script, clock: FakeClock):
    script.json("GET", "iam-sync", 200, {"is_synchronizing": False})
    budget = Budget(7.5, monotonic=clock.monotonic)
    clock.now += 2.5
    client.list_sync_status(WHERE, budget=budget)
    timeout = script.received[0].extensions["timeout"]
    assert timeout["read"] == pytest.approx(5.0)
    assert timeout["connect"] == pytest.approx(5.0)


def expect_hanging_gets(script: Script, clock: FakeClock, count: int) -> None:
    """``count`` status GETs, each of which uses up its whole read timeout on the fake clock."""

    def hang(request: httpx.Request) -> httpx.Response:
        clock.now += request.extensions["timeout"]["read"]
        raise httpx.ReadTimeout("no answer", request=request)

    for _ in range(count):
        script.expect("GET", "iam-sync", hang)


def test_with_budget_to_spare_the_configured_timeouts_apply(client, script: Script, budget):
    script.json("GET", "iam-sync", 200, {"is_synchronizing": False})
    client.list_sync_status(WHERE, budget=budget)
    timeout = script.received[0].extensions["timeout"]
    assert (timeout["read"], timeout["connect"]) == (60, 10)


def test_retries_stop_when_the_budget_is_spent_even_with_retries_left(client_factory, script, clock):
    expect_hanging_gets(script, clock, 3)
    client = client_factory()
    started = clock.now
    with pytest.raises(OperationTimeoutError) as raised:
        client.list_sync_status(WHERE, budget=Budget(3.0, monotonic=clock.monotonic))
    assert clock.now - started <= 3.0 + 1e-6
    # The budget, not the network, ended the request, and the message says so.
    assert str(raised.value).startswith(
        "timeout_seconds (3 s) ran out while waiting for the answer to GET https://"
    )
    assert "could not get an answer" not in str(raised.value)
    script.steps.clear()  # the budget, not the retry count, ended the attempts


def test_a_request_is_not_even_sent_when_the_budget_is_spent(client, script: Script, clock: FakeClock):
    budget = Budget(1.0, monotonic=clock.monotonic)
    clock.now += 1.0
    with pytest.raises(OperationTimeoutError, match=r"it had 0.0 s left"):
        client.list_sync_status(WHERE, budget=budget)
    assert script.received == []


def test_a_network_timeout_with_budget_to_spare_is_still_a_transport_error(client_factory, script, clock):
    expect_hanging_gets(script, clock, 4)
    client = client_factory()
    with pytest.raises(TransportError, match="could not get an answer"):
        client.list_sync_status(WHERE, budget=Budget(1000.0, monotonic=clock.monotonic))
