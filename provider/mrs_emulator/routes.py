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


Handler = Callable[..., Response]


def _map(routes: Mapping[str, Mapping[str, Handler]]) -> Map:
    """One rule per path and method, from ``{path: {method: handler}}``."""
    rules = [
        Rule(path, methods=[method], endpoint=handler)
        for path, handlers_by_method in routes.items()
        for method, handler in handlers_by_method.items()
    ]
    # No slash merging or redirects: a gateway answers the path it was given, or 404.
    return Map(rules, strict_slashes=True, merge_slashes=False, redirect_defaults=False)


API_ROUTES: Final = _map(
    {
        f"{_CLUSTER}/iam-sync-user": {
            "POST": handlers.update_sync_iam_user,
            "GET": handlers.show_sync_iam_user,
            "DELETE": handlers.cancel_sync_iam_user,
        },
        f"{_CLUSTER}/iam-sync": {"GET": handlers.list_sync_status},
        f"{_CLUSTER}/iam-sync/is-synchronous": {"GET": handlers.list_sync_requirements},
    }
)

CONTROL_ROUTES: Final = _map(
    {
        f"{CONTROL_PREFIX}/health": {"GET": control.health},
        f"{CONTROL_PREFIX}/reset": {"POST": control.reset},
        f"{CONTROL_PREFIX}/requests": {"GET": control.list_requests, "DELETE": control.clear_requests},
        f"{CONTROL_PREFIX}/faults": {
            "GET": control.list_faults,
            "POST": control.add_fault,
            "DELETE": control.clear_faults,
        },
        f"{CONTROL_PREFIX}/faults/<fault_id>": {"DELETE": control.delete_fault},
        f"{CONTROL_PREFIX}/clock": {"GET": control.show_clock, "PUT": control.set_clock},
        f"{CONTROL_PREFIX}/settings": {"GET": control.show_settings, "PUT": control.update_settings},
        f"{CONTROL_PREFIX}/state": {"GET": control.show_state},
        _CONTROL_CLUSTER: {
            "GET": control.show_cluster,
            "PATCH": control.patch_cluster,
            "PUT": control.create_cluster,
            "DELETE": control.delete_cluster,
        },
    }
)


def is_control_path(path: str) -> bool:
    return path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")


def has_encoded_slash(raw_path: str) -> bool:
    return "%2f" in raw_path.lower()


def match(routes: Map, method: str, path: str, raw_path: str) -> tuple[Handler, Mapping[str, str]] | None:
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
