"""Handlers of the five IAM-sync endpoints: parse the request, call the backend, render JSON.

A handler receives an :class:`ApiCall` whose path parameters have been
checked against the rules in :mod:`mrs_iam_sync.rules`, and returns a
response or raises :class:`~.errors.ApiError`.  The backend's refusals are
translated in one place, :func:`service_errors`, so a missing cluster or a
running task reads the same whichever operation met it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from werkzeug.wrappers import Response

from mrs_emulator.backend import (
    BackendError,
    ClusterNotFound,
    EmulatorBackend,
    StateNotSaved,
    TaskAlreadyRunning,
    UnknownNames,
)
from mrs_emulator.errors import (
    cluster_not_found,
    internal_error,
    invalid_parameter,
    state_not_saved,
    sync_in_progress,
)
from mrs_emulator.payloads import parse_cancel_request, parse_sync_request
from mrs_iam_sync.rules import CLUSTER_ID_PATTERN, CLUSTER_ID_RULE, PROJECT_ID_PATTERN, PROJECT_ID_RULE

_T = TypeVar("_T")

DISPATCHED = {"state": "synchronizing"}
"""The one documented value of ``state`` in the 202 answers."""


@dataclass(frozen=True)
class ApiCall:
    backend: EmulatorBackend
    project_id: str
    cluster_id: str
    body: bytes

    @classmethod
    def from_route(cls, backend: EmulatorBackend, args: Mapping[str, str], body: bytes) -> ApiCall:
        """Check the path parameters by name; the service refuses malformed ids with 12000002."""
        project_id, cluster_id = args["project_id"], args["cluster_id"]
        if not PROJECT_ID_PATTERN.match(project_id):
            raise invalid_parameter(f"project_id {PROJECT_ID_RULE}")
        if not CLUSTER_ID_PATTERN.match(cluster_id):
            raise invalid_parameter(f"cluster_id {CLUSTER_ID_RULE}")
        return cls(backend=backend, project_id=project_id, cluster_id=cluster_id, body=body)


def json_reply(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


@contextmanager
def service_errors(backend: EmulatorBackend) -> Iterator[None]:
    try:
        yield
    except ClusterNotFound as exc:
        options = backend.options
        raise cluster_not_found(
            exc.message, status=options.missing_cluster_status, code=options.missing_cluster_code
        ) from None
    except UnknownNames as exc:
        raise invalid_parameter(exc.message) from None
    except TaskAlreadyRunning as exc:
        raise sync_in_progress(exc.cluster_id) from None
    except StateNotSaved as exc:
        raise state_not_saved(exc.message, too_large=exc.too_large) from None
    except BackendError as exc:  # a new refusal without a mapping is a bug, not a client error
        raise internal_error(exc.message) from exc


def _on_cluster(call: ApiCall, operation: Callable[..., _T], *args: Any) -> _T:
    """``operation(project_id, cluster_id, *args)`` of the backend, its refusals read as API errors."""
    with service_errors(call.backend):
        return operation(call.project_id, call.cluster_id, *args)


def update_sync_iam_user(call: ApiCall) -> Response:
    """POST .../iam-sync-user: start a sync task (users drag their IAM groups along)."""
    _on_cluster(call, call.backend.start_sync, parse_sync_request(call.body, call.backend.options))
    return json_reply(202, DISPATCHED)


def show_sync_iam_user(call: ApiCall) -> Response:
    """GET .../iam-sync-user: the synchronised users and groups, sorted."""
    users, groups = _on_cluster(call, call.backend.synced_principals)
    return json_reply(200, {"user_names": users, "group_names": groups})


def cancel_sync_iam_user(call: ApiCall) -> Response:
    """DELETE .../iam-sync-user (with a body): start a task removing exactly the listed names."""
    _on_cluster(call, call.backend.start_cancel, parse_cancel_request(call.body, call.backend.options))
    return json_reply(202, DISPATCHED)


def list_sync_status(call: ApiCall) -> Response:
    """GET .../iam-sync: whether a task is running (or queued) on the cluster."""
    return json_reply(200, {"is_synchronizing": _on_cluster(call, call.backend.is_synchronizing)})


def list_sync_requirements(call: ApiCall) -> Response:
    """GET .../iam-sync/is-synchronous: whether a task has completed on the cluster."""
    return json_reply(200, {"is_synchronous": _on_cluster(call, call.backend.is_synchronous)})
