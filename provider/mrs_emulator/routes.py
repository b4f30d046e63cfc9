"""Which handler serves which method and path: the emulated API, and the control API.

Path parameters are named groups (``<project_id>``, ``<cluster_id>``) and
reach handlers by name.  Matching uses the decoded path, as a gateway routes;
signature checks use the raw one (see ``app``).  A wrong method on a known
path is reported as an unknown API (404 APIGW.0101), as APIG does, so this
module only answers "which handler, with which parameters" or "none".

Two strict rules (docs/emulator.md, "Leniencies"): methods are case-sensitive, so ``get`` is
no method of any API; and an encoded slash (``%2F``) never splits a segment: no path of
either API has a segment that can hold ``/``, so a raw path with ``%2F`` matches nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.routing.exceptions import RequestRedirect
from werkzeug.wrappers import Response

from mrs_emulator import control, handlers

CONTROL_PREFIX: Final = "/_emulator"

_CLUSTER: Final = "/v2/<project_id>/clusters/<cluster_id>"
_CONTROL_CLUSTER: Final = f"{CONTROL_PREFIX}/projects/<project_id>/clusters/<cluster_id>"


def _map(rules: list[Rule]) -> Map:
    # No slash merging or redirects: a gateway answers the path it was given, or 404.
    return Map(rules, strict_slashes=True, merge_slashes=False, redirect_defaults=False)


API_ROUTES: Final = _map(
    [
        Rule(f"{_CLUSTER}/iam-sync-user", methods=["POST"], endpoint=handlers.update_sync_iam_user),
        Rule(f"{_CLUSTER}/iam-sync-user", methods=["GET"], endpoint=handlers.show_sync_iam_user),
        Rule(f"{_CLUSTER}/iam-sync-user", methods=["DELETE"], endpoint=handlers.cancel_sync_iam_user),
        Rule(f"{_CLUSTER}/iam-sync", methods=["GET"], endpoint=handlers.list_sync_status),
        Rule(
            f"{_CLUSTER}/iam-sync/is-synchronous", methods=["GET"], endpoint=handlers.list_sync_requirements
        ),
    ]
)

CONTROL_ROUTES: Final = _map(
    [
        Rule(f"{CONTROL_PREFIX}/health", methods=["GET"], endpoint=control.health),
        Rule(f"{CONTROL_PREFIX}/reset", methods=["POST"], endpoint=control.reset),
        Rule(f"{CONTROL_PREFIX}/requests", methods=["GET"], endpoint=control.list_requests),
        Rule(f"{CONTROL_PREFIX}/requests", methods=["DELETE"], endpoint=control.clear_requests),
        Rule(f"{CONTROL_PREFIX}/faults", methods=["GET"], endpoint=control.list_faults),
        Rule(f"{CONTROL_PREFIX}/faults", methods=["POST"], endpoint=control.add_fault),
        Rule(f"{CONTROL_PREFIX}/faults", methods=["DELETE"], endpoint=control.clear_faults),
        Rule(f"{CONTROL_PREFIX}/faults/<fault_id>", methods=["DELETE"], endpoint=control.delete_fault),
        Rule(f"{CONTROL_PREFIX}/clock", methods=["GET"], endpoint=control.show_clock),
        Rule(f"{CONTROL_PREFIX}/clock", methods=["PUT"], endpoint=control.set_clock),
        Rule(f"{CONTROL_PREFIX}/settings", methods=["GET"], endpoint=control.show_settings),
        Rule(f"{CONTROL_PREFIX}/settings", methods=["PUT"], endpoint=control.update_settings),
        Rule(f"{CONTROL_PREFIX}/state", methods=["GET"], endpoint=control.show_state),
        Rule(_CONTROL_CLUSTER, methods=["GET"], endpoint=control.show_cluster),
        Rule(_CONTROL_CLUSTER, methods=["PATCH"], endpoint=control.patch_cluster),
        Rule(_CONTROL_CLUSTER, methods=["PUT"], endpoint=control.create_cluster),
        Rule(_CONTROL_CLUSTER, methods=["DELETE"], endpoint=control.delete_cluster),
    ]
)


def is_control_path(path: str) -> bool:
    return path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")


def has_encoded_slash(raw_path: str) -> bool:
    return "%2f" in raw_path.lower()


def match(
    routes: Map, method: str, path: str, raw_path: str
) -> tuple[Callable[..., Response], Mapping[str, str]] | None:
    """The handler and its named path parameters, or None for an unknown method + path.

    ``path`` is decoded, ``raw_path`` as sent (only checked for encoded slashes).
    """
    if method == "HEAD":  # werkzeug adds HEAD to every GET rule; the gateway does not
        return None
    if method != method.upper() or has_encoded_slash(raw_path):  # werkzeug would upper-case it
        return None
    try:
        endpoint, args = routes.bind("emulator").match(path, method=method)
    except (HTTPException, RequestRedirect):
        return None
    return endpoint, {name: str(value) for name, value in args.items()}
