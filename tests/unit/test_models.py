from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from mrs_iam_sync.models import (
    CancelSyncRequest,
    ClusterSyncStatus,
    StartSyncRequest,
    SyncDispatch,
    SyncedPrincipals,
    SyncTaskStatus,
)

VECTORS = json.loads(
    (Path(__file__).parents[1] / "data" / "signing-vectors.json").read_text(encoding="utf-8")
)["vectors"]


def _vector_body(prefix: str) -> bytes:
    return next(v for v in VECTORS if v["name"].startswith(prefix))["body"].encode("utf-8")


def test_start_body_is_byte_identical_to_the_sdk():
    body = StartSyncRequest(is_all_sync=False, group_names=["group1"], user_names=["user1", "user2"])
    assert body.to_bytes() == _vector_body("V1")


def test_cancel_body_is_byte_identical_to_the_sdk():
    body = CancelSyncRequest(group_names=["group1"], user_names=["user2"])
    assert body.to_bytes() == _vector_body("V3")


def test_none_fields_are_omitted():
    assert StartSyncRequest(is_all_sync=True).to_bytes() == b'{"is_all_sync": true}'
    assert CancelSyncRequest(user_names=["a"]).to_bytes() == b'{"user_names": ["a"]}'


def test_non_ascii_names_are_escaped_like_the_sdk():
    assert StartSyncRequest(user_names=["zoë"]).to_bytes() == b'{"user_names": ["zo\\u00eb"]}'


def test_cancel_accepts_1000_names_and_refuses_1001():
    CancelSyncRequest(user_names=["u"] * 1000)
    with pytest.raises(ValidationError, match="at most 1000"):
        CancelSyncRequest(group_names=["g"] * 1001)


@pytest.mark.parametrize("names", [[""], [1], [None]])
def test_request_names_must_be_non_empty_strings(names):
    with pytest.raises(ValidationError):
        StartSyncRequest(user_names=names)


def test_request_models_refuse_unknown_fields():
    with pytest.raises(ValidationError):
        CancelSyncRequest.model_validate({"is_all_sync": True})


def test_synced_principals_tolerate_missing_null_and_extra_keys():
    assert SyncedPrincipals.model_validate({}) == SyncedPrincipals(user_names=[], group_names=[])
    parsed = SyncedPrincipals.model_validate({"user_names": None, "group_names": ["g"], "new_field": 1})
    assert parsed == SyncedPrincipals(user_names=[], group_names=["g"])


def test_dispatch_state_is_optional():
    assert SyncDispatch.model_validate({}).state is None
    assert SyncDispatch.model_validate({"state": "synchronizing", "x": 1}).state == "synchronizing"


def test_status_flags_are_required():
    assert SyncTaskStatus.model_validate({"is_synchronizing": True}).is_synchronizing is True
    assert ClusterSyncStatus.model_validate({"is_synchronous": False}).is_synchronous is False
    with pytest.raises(ValidationError):
        SyncTaskStatus.model_validate({})
    with pytest.raises(ValidationError):
        ClusterSyncStatus.model_validate({})
