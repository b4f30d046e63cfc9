"""The round planner: what a round sends, decided from what is asked, held and synced, with no I/O."""

from __future__ import annotations

from mrs_iam_sync.budget import Budget
from mrs_iam_sync.planner import Request, plan_cancel, plan_sync
from mrs_iam_sync.principals import NOBODY, Principals


def users(*names: str) -> Principals:
    return Principals.of(names, ())


def groups(*names: str) -> Principals:
    return Principals.of((), names)


def nothing_held(_owner: str) -> Principals:
    return NOBODY


def test_the_post_asks_only_for_what_the_cluster_lacks_and_records_it_per_owner():
    step = plan_sync(
        [Request(owner="a", sync=users("alice", "bob")), Request(owner="b", sync=users("bob", "carol"))],
        synced=users("bob"),
    )
    assert step.names == users("alice", "carol")
    assert step.attempted == {"a": users("alice"), "b": users("carol")}
    assert not step.full_sync


def test_a_full_sync_in_the_round_is_sent_even_with_no_names():
    step = plan_sync([Request(owner="d", full_sync=True)], synced=NOBODY)
    assert step.sends and step.full_sync and not step.names


def test_cancels_leave_out_what_other_resources_hold_and_what_the_round_syncs():
    step = plan_cancel(
        [
            Request(owner="x", cancel=users("alice", "bob", "carol")),
            Request(owner="y", sync=users("carol")),
        ],
        synced=users("alice", "bob", "carol"),
        protected=lambda owner: users("alice") if owner == "x" else NOBODY,
    )
    assert step.names == users("bob")
    assert step.cancelled["x"] == users("bob")
    assert step.kept["x"] == users("alice", "carol")


def test_nothing_is_cancelled_that_the_cluster_does_not_have():
    step = plan_cancel([Request(owner="x", cancel=users("ghost"))], synced=NOBODY, protected=nothing_held)
    assert not step.sends


def test_a_request_whose_syncs_did_not_arrive_cancels_nothing():
    failing = Request(owner="x", sync=users("nopolicy"), cancel=groups("g-finance"))
    step = plan_cancel([failing], synced=groups("g-finance"), protected=nothing_held)
    assert not step.sends
    assert step.held_back == {"x"}


def test_a_request_whose_time_ran_out_before_its_cancels_cancels_nothing():
    clock = [0.0]
    late = Request(owner="x", cancel=users("alice"), budget=Budget(5, monotonic=lambda: clock[0]))
    assert plan_cancel([late], synced=users("alice"), protected=nothing_held, now=4.9).sends
    step = plan_cancel([late], synced=users("alice"), protected=nothing_held, now=5.0)
    assert not step.sends and step.held_back == {"x"}


def test_a_full_sync_in_the_round_covers_everything_the_cluster_has():
    step = plan_cancel(
        [Request(owner="c", cancel=groups("g-ml")), Request(owner="d", full_sync=True)],
        synced=groups("g-ml", "ops"),
        protected=nothing_held,
    )
    assert not step.sends
    assert step.kept["c"] == groups("g-ml")
