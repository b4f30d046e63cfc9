"""Errors as a client of the emulator sees them: HTTP status, Huawei error code, message.

Three layers can refuse a request, and each has its own family of codes:

* the gateway (``APIGW.*``): routing, body size, authentication, throttling;
* the MRS service (``12000002``, ``12000003``, ``MRS.0409``): parameters and state;
* the control API (``EMULATOR.*``): the emulator's own ``/_emulator/`` endpoints.

Whatever the layer, an error is an :class:`ApiError` and is turned into a
response by :func:`error_response` alone, so the body shape
``{"error_code", "error_msg", "request_id"}`` (the shape the official SDK
parses first) is decided in exactly one place.  The factories below exist so
that the same situation gets the same code and wording in every operation.
"""

from __future__ import annotations

import json
from typing import Final

from werkzeug.wrappers import Response

APIGW_NOT_FOUND: Final = "APIGW.0101"
APIGW_BAD_REQUEST: Final = "APIGW.0201"
APIGW_AUTH_FAILED: Final = "APIGW.0301"
APIGW_FORBIDDEN: Final = "APIGW.0302"
APIGW_TOKEN_EXPIRED: Final = "APIGW.0307"
APIGW_THROTTLED: Final = "APIGW.0308"
APIGW_INTERNAL: Final = "APIGW.0601"
MRS_INVALID_PARAMETER: Final = "12000002"
MRS_CLUSTER_NOT_FOUND: Final = "12000003"
_CLUSTER_NOT_FOUND_TEXTS: Final = {
    "12000003": "The cluster does not exist.",
    "0023": "Failed to obtain cluster details.",
}
"""The MRS error table's two candidates for an unknown cluster, with their documented texts."""
MRS_SYNC_IN_PROGRESS: Final = "MRS.0409"

AUTH_PREFIX: Final = "Incorrect IAM authentication information: "
"""Every APIGW.0301 message starts with this, as the gateway's documented messages do."""

SYNC_ACTION: Final = "mrs:cluster:syncUser"
"""The one IAM action documented for these endpoints; named in every 403."""


class ApiError(Exception):
    """A refusal with everything needed to render it; raised anywhere, rendered once."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_body(error: ApiError, request_id: str) -> bytes:
    """Huawei's error body; the HTTP server renders its own refusals with it too."""
    body = {"error_code": error.code, "error_msg": error.message, "request_id": request_id}
    return json.dumps(body).encode("utf-8")


def error_response(error: ApiError, request_id: str) -> Response:
    """Render any :class:`ApiError` as Huawei's error body plus the request-id header."""
    response = Response(error_body(error, request_id), status=error.status, mimetype="application/json")
    response.headers["X-Request-Id"] = request_id
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def api_not_found(method: str, path: str) -> ApiError:
    """APIG answers an unknown path and a wrong method alike: the API "does not exist"."""
    return ApiError(
        404,
        APIGW_NOT_FOUND,
        f"The API does not exist or has not been published in the environment: {method} {path}",
    )


def body_too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        APIGW_BAD_REQUEST,
        f"Request entity too large: the gateway accepts bodies of at most {limit} bytes",
    )


def malformed_http(status: int, detail: str) -> ApiError:
    """The HTTP layer's own refusals (framing, sizes, timeouts): the gateway's catch-all code."""
    return ApiError(status, APIGW_BAD_REQUEST, detail)


def body_unreadable() -> ApiError:
    """The connection ended inside the body, or its chunked framing is broken: the server closes it."""
    return ApiError(400, APIGW_BAD_REQUEST, "Bad request: the request body is incomplete or malformed")


def authentication_failed(detail: str) -> ApiError:
    return ApiError(401, APIGW_AUTH_FAILED, AUTH_PREFIX + detail)


def token_must_be_updated(detail: str) -> ApiError:
    return ApiError(401, APIGW_TOKEN_EXPIRED, f"The token must be updated: {detail}")


def not_authorized(detail: str) -> ApiError:
    return ApiError(
        403,
        APIGW_FORBIDDEN,
        f"The IAM user is not authorized to access the API: {detail} (required action {SYNC_ACTION})",
    )


def throttled(detail: str, *, retry_after: int | None) -> ApiError:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return ApiError(
        429, APIGW_THROTTLED, f"The throttling threshold has been reached: {detail}", headers=headers
    )


def internal_error(detail: str) -> ApiError:
    return ApiError(500, APIGW_INTERNAL, f"Internal server error: {detail}")


def injected_server_error(status: int, fault_id: str) -> ApiError:
    """500 looks like the gateway's own failure; 502/503 like an unavailable backend behind it."""
    if status == 500:
        return internal_error(f"injected fault {fault_id}")
    return ApiError(status, APIGW_BAD_REQUEST, f"Backend unavailable: injected fault {fault_id}")


def state_not_saved(detail: str, *, too_large: bool) -> ApiError:
    """The change could not be saved to the state file and was undone.

    A write that failed is the backend's trouble (503: safe to retry); a state that would outgrow
    the file's limit is the request's (413: retrying cannot help).
    """
    if too_large:
        return ApiError(413, APIGW_BAD_REQUEST, f"Request entity too large: nothing was changed, as {detail}")
    return ApiError(
        503,
        APIGW_BAD_REQUEST,
        f"Backend unavailable: the emulator could not write its state file, so nothing was changed: {detail}",
    )


def invalid_parameter(detail: str) -> ApiError:
    return ApiError(400, MRS_INVALID_PARAMETER, f"The parameter is invalid: {detail}")


def cluster_not_found(detail: str, *, status: int, code: str = MRS_CLUSTER_NOT_FOUND) -> ApiError:
    return ApiError(status, code, f"{_CLUSTER_NOT_FOUND_TEXTS[code]} {detail}")


def sync_in_progress(cluster_id: str) -> ApiError:
    return ApiError(
        409,
        MRS_SYNC_IN_PROGRESS,
        f"An IAM synchronization task is already running on cluster {cluster_id}; "
        "poll GET .../iam-sync until is_synchronizing is false, then retry",
    )


def control_error(status: int, message: str) -> ApiError:
    """Errors of the ``/_emulator/`` API carry ``EMULATOR.<status>`` so they never pass for real ones."""
    return ApiError(status, f"EMULATOR.{status:04d}", message)
