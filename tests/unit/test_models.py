from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from kit.demo import PROJECT
from kit.vectors import vectors_by_version
from mrs_iam_sync import models
from mrs_iam_sync.budget import Budget
from mrs_iam_sync.client import MrsClient
from mrs_iam_sync.coordinator import wait_until_idle
from mrs_iam_sync.errors import InvalidRequestError
from mrs_iam_sync.target import ClusterRef

from .helpers import CLUSTER, ENDPOINT, WHERE, Script


def _vector_body(version: str) -> bytes:
    body: str = vectors_by_version()[version]["body"]
    return body.encode("utf-8")


def test_update_body_is_byte_identical_to_the_sdk():
    body = models.UpdateSyncRequest.of(is_all_sync=False, group_names=["group1"], user_names=["user1", "user2"])
    assert body.to_bytes() == _vector_body("V1")


def test_cancel_body_is_byte_identical_to_the_sdk():
    body = models.CancelSyncRequest.of(group_names=["group1"], user_names=["user2"])
    assert body.to_bytes() == _vector_body("V3")


def test_none_fields_are_omitted():
    assert models.UpdateSyncRequest(is_all_sync=True).to_bytes() == b'{"is_all_sync": true}'
    assert models.CancelSyncRequest(user_names=["a"]).to_bytes() == b'{"user_names": ["a"]}'


def test_non_ascii_names_are_escaped_like_the_sdk():
    body = models.UpdateSyncRequest.of(user_names=["zoë"]).to_bytes()
    assert body == b'{"is_all_sync": false, "user_names": ["zo\\u00eb"]}'


def test_cancel_accepts_1000_names_and_refuses_1001():
    models.CancelSyncRequest(user_names=["u"] * 1000)
    with pytest.raises(ValidationError, match="at most 1000"):
        models.CancelSyncRequest(group_names=["g"] * 1001)


@pytest.mark.parametrize("names", [[""], [1], [None]])
def test_request_names_must_be_non_empty_strings(names):
    with pytest.raises(ValidationError):
        models.UpdateSyncRequest(user_names=names)


def test_request_models_refuse_unknown_fields():
    with pytest.raises(ValidationError):
        models.CancelSyncRequest.model_validate({"is_all_sync": True})


def test_synced_principals_tolerate_one_missing_or_null_list_and_extra_keys():
    assert models.SyncedPrincipals.model_validate({"group_names": []}) == models.SyncedPrincipals(
        user_names=[], group_names=[]
    )
    parsed = models.SyncedPrincipals.model_validate({"user_names": None, "group_names": ["g"], "new_field": 1})
    assert parsed == models.SyncedPrincipals(user_names=[], group_names=["g"])


def test_synced_principals_without_either_list_are_not_a_listing():
    with pytest.raises(ValidationError, match="carries neither user_names nor group_names"):
        models.SyncedPrincipals.model_validate({"state": "synchronizing"})


def test_dispatch_state_is_optional():
    assert models.SyncDispatch.model_validate({}).state is None
    assert models.SyncDispatch.model_validate({"state": "synchronizing", "x": 1}).state == "synchronizing"


def test_status_flags_are_required():
    assert models.SyncTaskStatus.model_validate({"is_synchronizing": True}).is_synchronizing is True
    assert models.ClusterSyncStatus.model_validate({"is_synchronous": False}).is_synchronous is False
    with pytest.raises(ValidationError):
        models.SyncTaskStatus.model_validate({})
    with pytest.raises(ValidationError):
        models.ClusterSyncStatus.model_validate({})


# -- the rules, checked once, before any request ---------------------------------------------------------


Send = Callable[[MrsClient, Budget], object]


def _to_address(**ids: object) -> Send:
    """Start a valid sync on a cluster address built from ``ids``."""

    def send(client: MrsClient, budget: Budget) -> object:
        where = models.ClusterAddress.of(**{"project_id": PROJECT, "cluster_id": CLUSTER, **ids})
        return client.update_sync_iam_user(where, models.UpdateSyncRequest.of(user_names=["u"]), budget=budget)

    return send


def _with_body(**values: Any) -> Send:
    """Start a sync on the test cluster with a body built from ``values``."""

    def send(client: MrsClient, budget: Budget) -> object:
        return client.update_sync_iam_user(WHERE, models.UpdateSyncRequest.of(**values), budget=budget)

    return send


@pytest.mark.parametrize(
    ("send", "field", "rule_part"),
    [
        (_to_address(cluster_id="bad/id"), "cluster_id", "letters, digits, '_' and '-'"),
        (_to_address(cluster_id=""), "cluster_id", "1 to 64 characters"),
        (_to_address(cluster_id="c" * 65), "cluster_id", "1 to 64 characters"),
        (_to_address(project_id="has-dash"), "project_id", "letters and digits"),
        (_with_body(user_names=["ok", ""]), "user_names[1]", "non-empty string"),
        (_with_body(group_names=[None]), "group_names[0]", "non-empty string"),
        (_with_body(user_names="alice"), "user_names", "not a single string"),
        (_with_body(group_names=5), "group_names", "must be a list of names"),
        (_with_body(), "user_names/group_names", "unless is_all_sync is true"),
        (_with_body(is_all_sync="yes"), "is_all_sync", "true or false"),
    ],
)
def test_a_sync_with_bad_input_is_refused_without_a_request(
    client: MrsClient, script: Script, budget, send, field, rule_part
):
    with pytest.raises(InvalidRequestError) as caught:
        send(client, budget)
    assert caught.value.field == field
    assert rule_part in caught.value.rule
    assert field in str(caught.value) and caught.value.rule in str(caught.value)
    assert script.received == []


def test_a_cancel_of_more_than_1000_names_is_refused_without_a_request(
    client: MrsClient, script: Script, budget
):
    with pytest.raises(InvalidRequestError) as caught:
        client.cancel_sync_iam_user(
            WHERE, models.CancelSyncRequest.of(group_names=[f"g{i}" for i in range(1001)]), budget=budget
        )
    assert caught.value.field == "group_names"
    assert str(caught.value) == "invalid group_names: must hold at most 1000 names, got 1001"
    assert script.received == []


def test_a_cancel_requires_a_name(client: MrsClient, script: Script, budget):
    with pytest.raises(InvalidRequestError, match="at least one name is required"):
        client.cancel_sync_iam_user(WHERE, models.CancelSyncRequest.of(), budget=budget)
    assert script.received == []


@pytest.mark.parametrize(
    "read",
    [
        lambda client, where, budget: client.show_sync_iam_user(where, budget=budget),
        lambda client, where, budget: client.list_sync_status(where, budget=budget),
        lambda client, where, budget: client.list_sync_requirements(where, budget=budget),
        lambda client, where, budget: wait_until_idle(
            client, ClusterRef(ENDPOINT, where), budget=budget, ours=True
        ),
    ],
    ids=["show_sync_iam_user", "list_sync_status", "list_sync_requirements", "wait_until_idle"],
)
def test_reads_need_a_valid_cluster_id(client: MrsClient, script: Script, budget, read):
    with pytest.raises(InvalidRequestError) as caught:
        read(client, models.ClusterAddress.of(project_id=PROJECT, cluster_id="../etc"), budget)
    assert caught.value.field == "cluster_id"
    assert script.received == []
