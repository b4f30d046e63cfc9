"""Every failure the client can report, as one tree.

::

    MrsError
    ├── ConfigurationError        a setting is missing or contradictory (before any request)
    ├── InvalidRequestError       an argument breaks an API rule (before any request)
    ├── ApiError                  the gateway or MRS answered with an error status
    │   ├── AuthenticationError   401: AK/SK, signature, clock skew or token
    │   ├── PermissionDeniedError 403: the IAM user lacks the sync permission
    │   ├── ThrottledError        429 / APIGW.0308: too many calls, may carry Retry-After
    │   ├── ClusterNotFoundError  MRS's own "no such cluster" codes (12000003, 0023), nothing else
    │   ├── SyncInProgressError   409: another IAM sync task is running on the cluster
    │   ├── BadRequestError       any other 4xx with an MRS or gateway error code
    │   ├── ServerError           5xx
    │   └── UnexpectedResponseError  an answer that is not the MRS API's: a success whose body is
    │                                not the documented shape, or a 4xx without any error code
    ├── TransportError            no usable answer at all (refused, reset, timed out)
    ├── OperationTimeoutError     the operation's timeout_seconds ran out while a request was open
    ├── SyncTimeoutError          a sync task outlived the time we were willing to wait
    ├── OutcomeUnknownError       a write's answer was lost and reading cannot tell whether it ran
    └── ProvisioningError         a lifecycle step failed; one readable message for `pulumi up`

The messages are what a person reads in a ``pulumi up`` log, so each one says
what went wrong *and* what to check.  They are built only from the API's
answer and from identifiers (project, cluster, host); credentials never reach
them, and text echoed by the gateway is scrubbed of anything that looks like a
credential because a rejected canonical request can contain signed headers.

``error_from_response`` is the one place that turns a status into a class, so
that every operation reports the same failure the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import httpx

IAM_SYNC_ACTION: Final = "mrs:cluster:syncUser"
CLUSTER_NOT_FOUND_CODES: Final = frozenset({"12000003", "0023"})
"""MRS's codes for a cluster it does not know (the reference's candidates, unverified: both count).

Nothing else means "the cluster is gone": a bare 404 may come from a proxy or a wrong host, and
treating it as gone would make refresh forget, and destroy skip, principals that are still synced.
"""
_RAW_BODY_LIMIT: Final = 500
_MESSAGE_LIMIT: Final = 2000
_REDACTED: Final = "<redacted>"

_MESSAGE_PAIRS: Final = (
    ("error_code", "error_msg"),
    ("errorCode", "errorMsg"),
    ("code", "message"),
    ("error_code", "message"),
)
"""Shapes seen across MRS V2 and the API gateway, tried in this order (the SDK's order, plus the last one)."""

_CREDENTIAL_HEADER_LINE: Final = re.compile(
    r"(?i)\b(x-security-token|x-auth-token|authorization)(\s*:\s*)[^|\r\n]*"
)
_SIGNATURE_FIELD: Final = re.compile(r"(?i)\b(signature=)[0-9a-f]+")
_ACCESS_FIELD: Final = re.compile(r"(?i)\b(access=)[^,\s|]+")


def scrub(text: str, *, secrets: Iterable[str] = ()) -> str:
    """Remove known secrets and credential-shaped fragments from text we did not write ourselves."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    text = _CREDENTIAL_HEADER_LINE.sub(lambda m: m.group(1) + m.group(2) + _REDACTED, text)
    text = _SIGNATURE_FIELD.sub(lambda m: m.group(1) + _REDACTED, text)
    return _ACCESS_FIELD.sub(lambda m: m.group(1) + _REDACTED, text)


def _one_line(text: str, limit: int) -> str:
    flat = " | ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class MrsError(Exception):
    """Root of the tree, so callers can catch everything this package raises and nothing else."""


class ConfigurationError(MrsError):
    """A setting is missing or contradictory; ``setting`` names it so the fix is obvious."""

    def __init__(self, message: str, *, setting: str) -> None:
        self.setting = setting
        super().__init__(message)


class InvalidRequestError(MrsError):
    """Raised before sending, so a typo costs no API call and cannot start a half-valid task."""

    def __init__(self, *, field: str, rule: str, value: object = None) -> None:
        self.field = field
        self.rule = rule
        shown = "" if value is None else f" {_one_line(repr(value), 80)}"
        super().__init__(f"invalid {field}{shown}: {rule}")


class ApiError(MrsError):
    """An error answer; ``str()`` is one line with the code and request id support will ask for.

    It carries everything known about the answer and the request it answered; each subclass only
    knows its usual causes (``hint``), so the context is declared once, here.
    """

    headline = "the MRS API rejected the request"

    def __init__(
        self,
        *,
        status: int,
        code: str,
        message: str,
        request_id: str | None = None,
        operation: str | None = None,
        cluster_id: str | None = None,
        project_id: str | None = None,
        host: str | None = None,
        scheme: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.operation = operation
        self.cluster_id = cluster_id
        self.project_id = project_id
        self.host = host
        self.scheme = scheme
        """``token`` or ``aksk``: which credential was presented, so a hint names the right one."""
        self.retry_after = retry_after
        """The server's Retry-After, in seconds."""
        super().__init__(self._render())

    def hint(self) -> str | None:
        """What the reader should check; subclasses know their usual causes."""
        return None

    def _render(self) -> str:
        where = f"{self.operation}: " if self.operation else ""
        request_id = self.request_id or "none"
        text = (
            f"{where}{self.headline}: {self.code} {self.message} "
            f"(HTTP {self.status}, request id {request_id})"
        )
        hint = self.hint()
        return f"{text}. {hint}" if hint else text


class AuthenticationError(ApiError):
    headline = "authentication failed"

    def hint(self) -> str | None:
        if self.code == "APIGW.0307":
            return "The IAM token has expired or was issued for another region: obtain a new token"
        if self.scheme == "token":
            return (
                "The IAM token (auth_token) was not accepted: check that it is complete and current, "
                "and that it was issued for a project scope in this region"
            )
        if self.code == "APIGW.0301":
            return (
                "The access key/secret key pair or the request signature was not accepted: check the "
                "keys, and check this machine's clock, since a signature is refused when the clock is "
                "more than 15 minutes off"
            )
        return "Check the access key, secret key, security token or IAM token in use"


class PermissionDeniedError(ApiError):
    headline = "permission denied"

    def hint(self) -> str | None:
        if self.code in {"APIGW.0302", "APIGW.0306"}:
            return (
                f"The IAM user needs the action {IAM_SYNC_ACTION}, for example through the "
                "MRS FullAccess policy or the Tenant Administrator role"
            )
        return "Check that the project is available to this IAM user in this region"


class ThrottledError(ApiError):
    headline = "request throttled"

    def hint(self) -> str | None:
        wait = f"; the server asked to wait {self.retry_after:g} s" if self.retry_after is not None else ""
        return f"Too many calls to the API gateway{wait}. Retry later or raise max_retries"


class ClusterNotFoundError(ApiError):
    headline = "cluster not found"

    def hint(self) -> str | None:
        cluster = self.cluster_id or "?"
        project = self.project_id or "?"
        host = self.host or "the endpoint"
        return (
            f"No cluster {cluster} in project {project} at {host}: check the cluster ID, and that the "
            "region and project ID are the ones the cluster was created in"
        )


class SyncInProgressError(ApiError):
    headline = "IAM sync already running"

    def hint(self) -> str | None:
        return "Another IAM sync task is running on the cluster: wait for it to finish, then retry"


class BadRequestError(ApiError):
    headline = "bad request"

    def hint(self) -> str | None:
        if self.code == "APIGW.0101":
            return "The gateway does not know this API: check the endpoint and the region"
        return None


class ServerError(ApiError):
    headline = "MRS server error"


class UnexpectedResponseError(ApiError):
    headline = "the endpoint did not answer like the MRS API"

    def hint(self) -> str | None:
        return (
            "Check that the huaweicloud:endpoints 'mrs' entry (or the region) points at the MRS API and "
            "not at a proxy or another web server; nothing was concluded from this answer"
        )


class TransportError(MrsError):
    """No HTTP answer was obtained, so it says where we tried to go rather than what the API said."""

    def __init__(self, *, host: str, detail: str, attempts: int) -> None:
        self.host = host
        self.detail = detail
        self.attempts = attempts
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        super().__init__(
            f"could not get an answer from {host} after {tries} ({detail}): check network access and "
            "any proxy, and that the region or the huaweicloud:endpoints 'mrs' entry points at a "
            "reachable MRS endpoint"
        )


class OperationTimeoutError(MrsError):
    """The operation's own budget ended a request: the endpoint was slow for us, not known to be down."""

    def __init__(self, *, operation: str, budget_seconds: float, left_seconds: float) -> None:
        self.operation = operation
        self.budget_seconds = budget_seconds
        super().__init__(
            f"timeout_seconds ({budget_seconds:.4g} s) ran out while waiting for the answer to {operation} "
            f"(it had {left_seconds:.1f} s left when the request was sent); raise timeout_seconds if "
            "this cluster's tasks take longer"
        )


class SyncTimeoutError(MrsError):
    """The task may still finish on its own; the message says so, so nobody starts a second one blindly."""

    def __init__(self, *, cluster_id: str, waited: float, ours: bool = True) -> None:
        self.cluster_id = cluster_id
        self.waited = waited
        self.ours = ours
        if ours:
            text = (
                f"the sync task on cluster {cluster_id} was still running after {waited:.1f} s "
                "(the cluster still reports is_synchronizing: true) when timeout_seconds ran out; "
                "it may still complete on its own"
            )
        else:
            text = (
                f"cluster {cluster_id} was still running another IAM-sync task after {waited:.1f} s "
                "(is_synchronizing: true), so this operation's task was never started; wait for it "
                "or raise timeout_seconds"
            )
        super().__init__(text)


class OutcomeUnknownError(MrsError):
    """The API has no task id: when reading cannot tell "ran" from "never started", we stop and say so."""

    def __init__(self, *, operation: str, cluster_id: str, cause: str) -> None:
        self.operation = operation
        self.cluster_id = cluster_id
        super().__init__(
            f"the answer to {operation} was lost ({cause}); the cluster {cluster_id} runs no task and shows "
            "no effect of it, which is what both a task that ran and failed for every name and a request "
            "that never started a task look like. It was not sent again, so that no second task can "
            "start: run `pulumi refresh` and `pulumi up` to reconcile"
        )


class QueuedTimeoutError(MrsError):
    """The call's time ran out while it waited for its turn on the cluster: nothing was sent for it."""

    def __init__(self, *, cluster_id: str, waited: float) -> None:
        self.cluster_id = cluster_id
        self.waited = waited
        super().__init__(
            f"timeout_seconds ran out after {waited:.1f} s while this operation waited for its turn on "
            f"cluster {cluster_id} (another task or round of this deployment ran there first); nothing "
            "was sent for it, so the cluster is as it was for this resource; raise timeout_seconds or run "
            "`pulumi up` again"
        )


class CheckpointUnreadableError(MrsError):
    """The stack's checkpoint could not be read; the reason only (the caller says what it means)."""


class ProtectionUnknownError(MrsError):
    """A cancel could not be judged safe, so nothing was cancelled."""

    def __init__(self, *, cluster_id: str, names: str, reason: str) -> None:
        super().__init__(
            f"nothing was cancelled on cluster {cluster_id}: before cancelling {names}, the provider reads "
            f"the stack's state to check that no other resource of the stack still declares them, and "
            f"{reason}. Run the same command without --target/--exclude, or make the state readable "
            "(the backend and passphrase the CLI uses), then run it again"
        )


class ProvisioningError(MrsError):
    """A lifecycle step failed; reported to the user as one readable message, without a traceback."""


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
                code, _one_line(message, _MESSAGE_LIMIT), str(request_id) if request_id else None, True
            )
        request_id = body.get("request_id")
        return _ParsedBody(
            status, _one_line(text, _RAW_BODY_LIMIT), str(request_id) if request_id else None, False
        )
    return _ParsedBody(status, _one_line(text, _RAW_BODY_LIMIT), None, False)


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


def error_from_response(
    response: httpx.Response,
    *,
    cluster_id: str | None = None,
    project_id: str | None = None,
    secrets: Iterable[str] = (),
) -> ApiError:
    """Classify an error answer; ``secrets`` are blanked from the echoed text as a last line of defence."""
    parsed = _parse_body(response)
    request = _request_of(response)
    cls = _classify(response.status_code, parsed.code, coded=parsed.coded)
    return cls(
        status=response.status_code,
        code=parsed.code,
        message=scrub(parsed.message, secrets=secrets),
        request_id=response.headers.get("X-Request-Id") or parsed.request_id,
        operation=describe_request(request) if request is not None else None,
        cluster_id=cluster_id,
        project_id=project_id,
        host=request.url.netloc.decode("ascii") if request is not None else None,
        scheme=None if request is None else ("token" if "X-Auth-Token" in request.headers else "aksk"),
        retry_after=parse_retry_after(response),
    )
