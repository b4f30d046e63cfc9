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

Which answer becomes which class is decided in :mod:`mrs_iam_sync.responses`;
this module holds the classes only.
"""

from __future__ import annotations

from typing import ClassVar

from mrs_iam_sync.text import one_line


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
        shown = "" if value is None else f" {one_line(repr(value), 80)}"
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
    action: ClassVar[str] = "mrs:cluster:syncUser"
    """The documented IAM action that grants IAM sync."""

    def hint(self) -> str | None:
        if self.code in {"APIGW.0302", "APIGW.0306"}:
            return (
                f"The IAM user needs the action {self.action}, for example through the "
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
