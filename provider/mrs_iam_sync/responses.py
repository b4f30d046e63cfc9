"""What an answer means: an error status becomes one :class:`~mrs_iam_sync.errors.ApiError`
subclass, and a success becomes its model only when its body is a well-formed MRS answer.

Both are decided here, once, so that every operation reports the same answer the same way.
A success is not believed on its status alone: a proxy, a health page or a wrong port can
answer ``200 {}``, and reading that as "nothing is synced" would make ``refresh`` forget and
``destroy`` skip principals that are still on the cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from mrs_iam_sync.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ClusterNotFoundError,
    PermissionDeniedError,
    ServerError,
    SyncInProgressError,
    ThrottledError,
    UnexpectedResponseError,
)
from mrs_iam_sync.text import one_line, scrub

CLUSTER_NOT_FOUND_CODES: Final = frozenset({"12000003", "0023"})
"""MRS's codes for a cluster it does not know (the reference's candidates, unverified: both count).

Nothing else means "the cluster is gone": a bare 404 may come from a proxy or a wrong host, and
treating it as gone would make refresh forget, and destroy skip, principals that are still synced.
"""
_RAW_BODY_LIMIT: Final = 500
_MESSAGE_LIMIT: Final = 2000
_SHOWN_BODY_LIMIT: Final = 200
"""How much of a malformed success is shown: enough to recognise a proxy's page or a stray ``{}``."""

_MESSAGE_PAIRS: Final = (
    ("error_code", "error_msg"),
    ("errorCode", "errorMsg"),
    ("code", "message"),
    ("error_code", "message"),
)
"""Shapes seen across MRS V2 and the API gateway, tried in this order (the SDK's order, plus the last one)."""

_Model = TypeVar("_Model", bound=BaseModel)


def _find_pair(body: Mapping[str, object]) -> tuple[str, str, Mapping[str, object]] | None:
    """Depth-first: a flat pair wins over a nested one, as in the official SDK."""
    for code_key, message_key in _MESSAGE_PAIRS:
        if code_key in body and message_key in body:
            return str(body[code_key]), str(body[message_key]), body
    for value in body.values():
        if isinstance(value, Mapping):
            found = _find_pair(value)
            if found is not None:
                return found
    return None


@dataclass(frozen=True)
class _ParsedBody:
    code: str
    message: str
    request_id: str | None
    coded: bool
    """True when the body carried an error code pair, i.e. came from MRS or the API gateway."""


def _parse_body(response: httpx.Response) -> _ParsedBody:
    text = response.text
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    status = str(response.status_code)
    if isinstance(body, Mapping):
        found = _find_pair(body)
        if found is not None:
            code, message, holder = found
            request_id = body.get("request_id") or holder.get("request_id")
            return _ParsedBody(
                code, one_line(message, _MESSAGE_LIMIT), str(request_id) if request_id else None, True
            )
        request_id = body.get("request_id")
        return _ParsedBody(
            status, one_line(text, _RAW_BODY_LIMIT), str(request_id) if request_id else None, False
        )
    return _ParsedBody(status, one_line(text, _RAW_BODY_LIMIT), None, False)


def parse_retry_after(response: httpx.Response) -> float | None:
    """Only the delta-seconds form: the gateway is not known to send dates, and a bad value means none."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _classify(status: int, code: str, *, coded: bool) -> type[ApiError]:
    if status == 429 or code == "APIGW.0308":
        return ThrottledError  # a proxy's or the gateway's, the answer is the same: wait and retry
    if 400 <= status < 500 and not coded:
        # Neither MRS nor the gateway answers an error without a code: this is a proxy, a plain web
        # server or a typo in the host, and nothing (least of all "the cluster is gone") follows from it.
        return UnexpectedResponseError
    if status == 401 or code in {"APIGW.0301", "APIGW.0303", "APIGW.0305", "APIGW.0307"}:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if code in CLUSTER_NOT_FOUND_CODES:
        return ClusterNotFoundError
    if status == 409:
        return SyncInProgressError
    if status >= 500:
        return ServerError
    if status >= 400:
        return BadRequestError
    return ApiError


def describe_request(request: httpx.Request) -> str:
    """Method and URL without the query: names the endpoint, so a wrong one is obvious in any message."""
    url = request.url
    return f"{request.method} {url.scheme}://{url.netloc.decode('ascii')}{url.path}"


def _request_of(response: httpx.Response) -> httpx.Request | None:
    try:
        return response.request
    except RuntimeError:  # a hand-built response has no request attached
        return None


def _context(response: httpx.Response, *, cluster_id: str | None, project_id: str | None) -> dict[str, Any]:
    """What an :class:`ApiError` knows of the request an answer came to, whatever the answer was."""
    request = _request_of(response)
    return {
        "operation": describe_request(request) if request is not None else None,
        "cluster_id": cluster_id,
        "project_id": project_id,
        "host": request.url.netloc.decode("ascii") if request is not None else None,
        "scheme": None if request is None else ("token" if "X-Auth-Token" in request.headers else "aksk"),
    }


def error_from_response(
    response: httpx.Response,
    *,
    cluster_id: str | None = None,
    project_id: str | None = None,
    secrets: Iterable[str] = (),
) -> ApiError:
    """Classify an error answer; ``secrets`` are blanked from the echoed text as a last line of defence."""
    parsed = _parse_body(response)
    cls = _classify(response.status_code, parsed.code, coded=parsed.coded)
    return cls(
        status=response.status_code,
        code=parsed.code,
        message=scrub(parsed.message, secrets=secrets),
        request_id=response.headers.get("X-Request-Id") or parsed.request_id,
        retry_after=parse_retry_after(response),
        **_context(response, cluster_id=cluster_id, project_id=project_id),
    )


def decode(
    model: type[_Model],
    response: httpx.Response,
    *,
    cluster_id: str | None = None,
    project_id: str | None = None,
    secrets: Iterable[str] = (),
) -> _Model:
    """A success's body as ``model``, or :class:`UnexpectedResponseError` when it is not that answer.

    An empty body reads as ``{}``: a complete answer where every field is optional (a dispatch's
    ``state``), and refused by the models whose answer has a field that must be there.
    """
    try:
        return model.model_validate_json(response.content or b"{}")
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        shown = (
            repr(one_line(scrub(response.text, secrets=secrets), _SHOWN_BODY_LIMIT))
            if response.content
            else "an empty body"
        )
        raise UnexpectedResponseError(
            status=response.status_code,
            code=str(response.status_code),
            message=f"{problems}; it answered {shown}",
            request_id=response.headers.get("X-Request-Id"),
            **_context(response, cluster_id=cluster_id, project_id=project_id),
        ) from None
