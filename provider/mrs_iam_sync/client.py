"""``MrsClient``: one method per IAM-sync operation, with retries that never start a task twice.

Reads are retried freely.  Start and cancel only *dispatch* an asynchronous
task, so after an ambiguous failure (a 5xx, or a connection that broke after
the request may have left) the client looks at the cluster instead of sending
again: a running task, or an effect of the request (a requested name that
arrived, or left), means the call took effect.  When the cluster shows
neither, a task that ran and failed for every name looks exactly like a
request that never started one, and the API has no task id to tell them
apart, so the call fails as :class:`OutcomeUnknownError` rather than risk a
second task.  A 429 and a failure to connect are different: the request never
reached MRS, so it is simply sent again.

Everything a request needs (signing, headers, error mapping, logging) happens
in ``_send``; the methods only build paths and bodies.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Final, NoReturn, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from mrs_iam_sync.errors import (
    ApiError,
    InvalidRequestError,
    OperationTimeoutError,
    OutcomeUnknownError,
    ServerError,
    SyncTimeoutError,
    ThrottledError,
    TransportError,
    UnexpectedResponseError,
    describe_request,
    error_from_response,
    scrub,
)
from mrs_iam_sync.models import (
    CancelSyncRequest,
    ClusterSyncStatus,
    StartSyncRequest,
    SyncDispatch,
    SyncedPrincipals,
    SyncTaskStatus,
)
from mrs_iam_sync.rules import (
    CLUSTER_ID_PATTERN,
    CLUSTER_ID_RULE,
    MAX_CANCEL_NAMES,
    NAME_RULE,
    PROJECT_ID_PATTERN,
    PROJECT_ID_RULE,
    principal_name_problem,
)
from mrs_iam_sync.settings import Settings
from mrs_iam_sync.signing import AkSkAuth, TokenAuth

logger = logging.getLogger("mrs_iam_sync.client")

try:
    _VERSION = version("pulumi-mrs-iam-sync")
except PackageNotFoundError:  # running from a source tree that was never installed
    _VERSION = "0+unknown"

USER_AGENT: Final = f"pulumi-mrs-iam-sync/{_VERSION}"
"""Set explicitly so it can be signed: httpx's default would be added after signing."""

CONTENT_TYPE_BODY: Final = "application/json;charset=utf-8"
CONTENT_TYPE_GET: Final = "application/json"
STATE_SYNCHRONIZING: Final = "synchronizing"

BACKOFF_BASE: Final = 0.2
BACKOFF_CAP: Final = 5.0

_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures before the request left this machine: re-sending cannot duplicate anything."""
_RETRYABLE_TRANSPORT: Final = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)

_Model = TypeVar("_Model", bound=BaseModel)

MIN_REQUEST_SECONDS: Final = 0.05
"""Less budget than this left: a request could not get an answer, so we stop and say why instead."""


@dataclass(frozen=True)
class _OperationBudget:
    ends_at: float
    seconds: float


_operation_deadline: ContextVar[_OperationBudget | None] = ContextVar(
    "mrs_iam_sync_operation_deadline", default=None
)
"""The caller's whole operation (monotonic end and length); set by ``MrsClient.within``.

A context variable rather than client state: one client serves several
provider calls at once, each on its own thread with its own budget.
"""


class _RetryBudget:
    """Counts retries and time for one operation, and sleeps between attempts (equal-jitter backoff)."""

    def __init__(
        self,
        *,
        max_retries: int,
        deadline_at: float,
        sleep: Callable[[float], None],
        monotonic: Callable[[], float],
        rng: random.Random,
    ) -> None:
        self.max_retries = max_retries
        self.deadline_at = deadline_at
        self.retries = 0
        self._sleep = sleep
        self._monotonic = monotonic
        self._rng = rng

    @property
    def attempts(self) -> int:
        return self.retries + 1

    def _delay(self, error: Exception) -> float:
        if isinstance(error, ThrottledError) and error.retry_after is not None:
            return error.retry_after
        ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2.0**self.retries)
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def wait_before_retry(self, error: Exception) -> bool:
        """Sleep and return True when one more attempt fits; False means give up now, without sleeping."""
        if self.retries >= self.max_retries:
            return False
        delay = self._delay(error)
        if self._monotonic() + delay > self.deadline_at:
            return False
        self.retries += 1
        logger.debug(
            "retry %d/%d in %.2f s after %s", self.retries, self.max_retries, delay, type(error).__name__
        )
        self._sleep(delay)
        return True


def _check_target(*, cluster_id: object, project_id: object) -> None:
    if not isinstance(project_id, str) or not PROJECT_ID_PATTERN.fullmatch(project_id):
        raise InvalidRequestError(field="project_id", rule=PROJECT_ID_RULE, value=project_id)
    if not isinstance(cluster_id, str) or not CLUSTER_ID_PATTERN.fullmatch(cluster_id):
        raise InvalidRequestError(field="cluster_id", rule=CLUSTER_ID_RULE, value=cluster_id)


def _check_names(field: str, names: Iterable[str], *, limit: int | None = None) -> list[str]:
    if isinstance(names, str | bytes):
        # A bare string is iterable too; it would be sent as one name per character.
        raise InvalidRequestError(
            field=field, rule="must be a list of names, not a single string", value=names
        )
    try:
        checked = list(names)
    except TypeError:
        raise InvalidRequestError(field=field, rule="must be a list of names", value=names) from None
    for index, name in enumerate(checked):
        problem = principal_name_problem(name) if isinstance(name, str) else NAME_RULE
        if problem is not None:
            raise InvalidRequestError(field=f"{field}[{index}]", rule=problem, value=name)
    if limit is not None and len(checked) > limit:
        raise InvalidRequestError(field=field, rule=f"must hold at most {limit} names, got {len(checked)}")
    return checked


def _path(project_id: str, cluster_id: str, suffix: str) -> str:
    return f"/v2/{quote(project_id, safe='')}/clusters/{quote(cluster_id, safe='')}/{suffix}"


def _parse(model: type[_Model], response: httpx.Response) -> _Model:
    try:
        return model.model_validate_json(response.content or b"{}")
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        raise UnexpectedResponseError(
            status=response.status_code,
            code=str(response.status_code),
            message=f"{problems}; body: {response.text[:200]!r}",
            request_id=response.headers.get("X-Request-Id"),
            operation=f"{response.request.method} {response.request.url.path}",
        ) from None


class MrsClient:
    """Synchronous client for the five MRS API V2 IAM-synchronisation operations.

    Pulumi calls dynamic providers synchronously, so there is no async twin.
    ``sleep``, ``monotonic`` and ``rng`` are injectable so that tests exercise
    retries and deadlines without waiting.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._sleep = sleep
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        credentials = (settings.access_key, settings.secret_key, settings.security_token, settings.auth_token)
        self._secrets = tuple(secret.get_secret_value() for secret in credentials if secret is not None)
        self._host = httpx.URL(settings.endpoint).netloc.decode("ascii")
        self._base = settings.endpoint.rstrip("/")
        self._http = httpx.Client(
            base_url=settings.endpoint,
            auth=_auth_for(settings),
            transport=transport,
            headers={"User-Agent": USER_AGENT},
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            verify=not settings.insecure,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"MrsClient(endpoint={self._settings.endpoint!r}, project_id={self._settings.project_id!r})"

    def __enter__(self) -> MrsClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @contextmanager
    def within(self, seconds: float) -> Iterator[None]:
        """Bound every request, retry and wait made inside the block by one overall time budget.

        Without it each request has its own budget (``deadline_seconds``) and
        timeouts; a Pulumi resource's ``timeout_seconds`` must bound them all,
        including an API that accepts connections but never answers.
        """
        token = _operation_deadline.set(_OperationBudget(self._monotonic() + seconds, seconds))
        try:
            yield
        finally:
            _operation_deadline.reset(token)

    # -- operations ---------------------------------------------------------------------------------

    def start_sync(
        self,
        *,
        cluster_id: str,
        user_names: Iterable[str] = (),
        group_names: Iterable[str] = (),
        is_all_sync: bool = False,
        project_id: str | None = None,
    ) -> SyncDispatch:
        """Dispatch a sync of the named users (and, server-side, their groups) and groups.

        The caller names only principals that are not synced yet. Returns the
        202 answer.  If that answer was lost but the cluster shows the sync
        running, ``state`` is ``"synchronizing"``; if it shows a requested name
        arrived (the task ran), ``state`` is ``None``; otherwise
        :class:`OutcomeUnknownError`.
        """
        project = self._project(project_id)
        _check_target(cluster_id=cluster_id, project_id=project)
        if not isinstance(is_all_sync, bool):
            raise InvalidRequestError(field="is_all_sync", rule="must be true or false", value=is_all_sync)
        users = _check_names("user_names", user_names)
        groups = _check_names("group_names", group_names)
        if not (is_all_sync or users or groups):
            raise InvalidRequestError(
                field="user_names/group_names",
                rule="at least one name is required unless is_all_sync is true",
            )
        body = StartSyncRequest(is_all_sync=is_all_sync, group_names=groups or None, user_names=users or None)

        def took_effect(synced: SyncedPrincipals) -> bool:
            return bool(set(users) & set(synced.user_names) or set(groups) & set(synced.group_names))

        return self._dispatch(
            "POST",
            cluster_id=cluster_id,
            project_id=project,
            body=body.to_bytes(),
            took_effect=None if is_all_sync else took_effect,
        )

    def cancel_sync(
        self,
        *,
        cluster_id: str,
        user_names: Iterable[str] = (),
        group_names: Iterable[str] = (),
        project_id: str | None = None,
    ) -> SyncDispatch:
        """Dispatch removal of the named (synced) users and groups; ``state`` as for start."""
        project = self._project(project_id)
        _check_target(cluster_id=cluster_id, project_id=project)
        users = _check_names("user_names", user_names, limit=MAX_CANCEL_NAMES)
        groups = _check_names("group_names", group_names, limit=MAX_CANCEL_NAMES)
        if not (users or groups):
            raise InvalidRequestError(field="user_names/group_names", rule="at least one name is required")
        body = CancelSyncRequest(group_names=groups or None, user_names=users or None)

        def took_effect(synced: SyncedPrincipals) -> bool:
            return bool(set(users) - set(synced.user_names) or set(groups) - set(synced.group_names))

        return self._dispatch(
            "DELETE",
            cluster_id=cluster_id,
            project_id=project,
            body=body.to_bytes(),
            took_effect=took_effect,
        )

    def list_synced(self, *, cluster_id: str, project_id: str | None = None) -> SyncedPrincipals:
        return self._read(SyncedPrincipals, "iam-sync-user", cluster_id=cluster_id, project_id=project_id)

    def is_synchronizing(self, *, cluster_id: str, project_id: str | None = None) -> bool:
        """True while an IAM sync task runs on the cluster (the docs call this ListClusterSyncTaskStatus)."""
        status = self._read(SyncTaskStatus, "iam-sync", cluster_id=cluster_id, project_id=project_id)
        return status.is_synchronizing

    def is_synchronous(self, *, cluster_id: str, project_id: str | None = None) -> bool:
        """True once the cluster has completed IAM sync (the docs call this ListClusterSyncStatus)."""
        status = self._read(
            ClusterSyncStatus, "iam-sync/is-synchronous", cluster_id=cluster_id, project_id=project_id
        )
        return status.is_synchronous

    def wait_until_idle(
        self,
        *,
        cluster_id: str,
        project_id: str | None = None,
        timeout: float,
        ours: bool = True,
        initial_interval: float = 0.2,
        max_interval: float = 1.0,
    ) -> float:
        """Poll until no sync task runs; return the seconds waited.

        Start and cancel return as soon as the task is dispatched, so anything
        that reads the synced set afterwards has to wait here first. The 1 s cap
        on the interval bounds how late a finished task is noticed (bench case 6)
        at the price of one GET per second while a long task runs. ``ours`` says
        whose task is awaited, for the message when ``timeout`` runs out: the
        task is known to be running then, so that is what the message says,
        never a network problem.
        """
        started = self._monotonic()
        interval = initial_interval
        seen_running = False
        while True:
            try:
                running = self.is_synchronizing(cluster_id=cluster_id, project_id=project_id)
            except OperationTimeoutError:
                if not seen_running:
                    raise  # no poll was ever answered: the budget's story, not the task's
                raise SyncTimeoutError(
                    cluster_id=cluster_id, waited=self._monotonic() - started, ours=ours
                ) from None
            seen_running = running
            waited = self._monotonic() - started
            if not running:
                return waited
            if timeout - waited < 2 * MIN_REQUEST_SECONDS:  # no room left for one more answered poll
                raise SyncTimeoutError(cluster_id=cluster_id, waited=waited, ours=ours)
            # Wake up early enough that the last poll still has time to be answered.
            self._sleep(min(interval, timeout - waited - MIN_REQUEST_SECONDS))
            interval = min(interval * 2, max_interval)

    # -- plumbing ------------------------------------------------------------------------------------

    def _project(self, project_id: str | None) -> str:
        return self._settings.project_id if project_id is None else project_id

    def _budget(self, *, deadline_at: float | None = None) -> _RetryBudget:
        if deadline_at is None:
            deadline_at = self._monotonic() + self._settings.deadline_seconds
        operation = _operation_deadline.get()
        if operation is not None:
            deadline_at = min(deadline_at, operation.ends_at)
        return _RetryBudget(
            max_retries=self._settings.max_retries,
            deadline_at=deadline_at,
            sleep=self._sleep,
            monotonic=self._monotonic,
            rng=self._rng,
        )

    def _give_up(self, error: Exception, budget: _RetryBudget, *, note: str | None = None) -> NoReturn:
        """Raise the last failure as the caller should see it: httpx errors become ``TransportError``."""
        final: Exception = error
        if isinstance(error, httpx.TransportError):
            detail = scrub(f"{type(error).__name__}: {error}".rstrip(": "), secrets=self._secrets)
            final = TransportError(host=self._host, detail=detail, attempts=budget.attempts)
        if note is not None:
            final.add_note(note)
        if final is error:
            raise error
        # Not chained: httpx's own message is not scrubbed, and ``detail`` already carries its gist.
        raise final from None

    def _timeout(self, now: float, operation: str) -> tuple[httpx.Timeout, float | None]:
        """The configured timeouts, cut short to what is left of the operation's budget.

        Also returns what was left when the budget was what set the limit (None otherwise), so that a
        timeout it caused is reported as the budget running out, not as a network failure.
        """
        read, connect = self._settings.read_timeout, self._settings.connect_timeout
        budget = _operation_deadline.get()
        if budget is None:
            return httpx.Timeout(read, connect=connect), None
        left = budget.ends_at - now
        if left < MIN_REQUEST_SECONDS:
            raise OperationTimeoutError(
                operation=operation, budget_seconds=budget.seconds, left_seconds=max(left, 0.0)
            )
        cut = left if left < read else None
        return httpx.Timeout(min(read, left), connect=min(connect, left)), cut

    def _send(
        self, method: str, path: str, *, cluster_id: str, project_id: str, body: bytes | None, attempt: int
    ) -> httpx.Response:
        """Sign, send and classify one request; the one place that touches the HTTP client."""
        headers = {
            "Content-Type": CONTENT_TYPE_GET if body is None else CONTENT_TYPE_BODY,
            "X-Project-Id": project_id,
        }
        started = self._monotonic()
        timeout, cut_to = self._timeout(started, f"{method} {self._base}{path}")
        try:
            response = self._http.request(method, path, content=body, headers=headers, timeout=timeout)
        except httpx.TransportError as exc:
            elapsed = self._monotonic() - started
            logger.debug(
                "%s %s failed: %s (attempt %d, %.3f s)", method, path, type(exc).__name__, attempt, elapsed
            )
            budget = _operation_deadline.get()
            if isinstance(exc, httpx.TimeoutException) and cut_to is not None and budget is not None:
                raise OperationTimeoutError(
                    operation=describe_request(exc.request),
                    budget_seconds=budget.seconds,
                    left_seconds=cut_to,
                ) from None
            raise
        elapsed = self._monotonic() - started
        logger.debug("%s %s -> %d (attempt %d, %.3f s)", method, path, response.status_code, attempt, elapsed)
        if response.is_success:
            return response
        raise error_from_response(
            response, cluster_id=cluster_id, project_id=project_id, secrets=self._secrets
        )

    def _get(
        self, path: str, *, cluster_id: str, project_id: str, deadline_at: float | None
    ) -> httpx.Response:
        budget = self._budget(deadline_at=deadline_at)
        while True:
            try:
                return self._send(
                    "GET",
                    path,
                    cluster_id=cluster_id,
                    project_id=project_id,
                    body=None,
                    attempt=budget.attempts,
                )
            except (ServerError, ThrottledError, *_RETRYABLE_TRANSPORT) as exc:
                if not budget.wait_before_retry(exc):
                    self._give_up(exc, budget)
            except httpx.TransportError as exc:
                # A proxy or protocol misconfiguration, say: another attempt would fail the same way.
                self._give_up(exc, budget)

    def _read(
        self,
        model: type[_Model],
        suffix: str,
        *,
        cluster_id: str,
        project_id: str | None,
        deadline_at: float | None = None,
    ) -> _Model:
        project = self._project(project_id)
        _check_target(cluster_id=cluster_id, project_id=project)
        response = self._get(
            _path(project, cluster_id, suffix),
            cluster_id=cluster_id,
            project_id=project,
            deadline_at=deadline_at,
        )
        return _parse(model, response)

    def _dispatch(
        self,
        method: str,
        *,
        cluster_id: str,
        project_id: str,
        body: bytes,
        took_effect: Callable[[SyncedPrincipals], bool] | None,
    ) -> SyncDispatch:
        """Send a task-starting request; after an ambiguous failure, look, and never send it again."""
        path = _path(project_id, cluster_id, "iam-sync-user")
        budget = self._budget()
        while True:
            try:
                response = self._send(
                    method,
                    path,
                    cluster_id=cluster_id,
                    project_id=project_id,
                    body=body,
                    attempt=budget.attempts,
                )
                return _parse(SyncDispatch, response)
            except (ThrottledError, *_NOT_SENT) as exc:  # never reached MRS, so nothing was dispatched
                if not budget.wait_before_retry(exc):
                    self._give_up(exc, budget)
            except (ServerError, *_RETRYABLE_TRANSPORT) as exc:
                try:
                    outcome = self._outcome_of_doubtful_call(
                        cluster_id=cluster_id,
                        project_id=project_id,
                        took_effect=took_effect,
                        deadline_at=budget.deadline_at,
                    )
                except (ApiError, TransportError, OperationTimeoutError) as check_error:
                    # Still in doubt; the caller's own request failing is the failure to report.
                    self._give_up(
                        exc,
                        budget,
                        note=f"Checking whether the request took effect also failed: {check_error}",
                    )
                if outcome is not None:
                    return outcome
                raise OutcomeUnknownError(
                    operation=f"{method} {self._base}{path}",
                    cluster_id=cluster_id,
                    cause=_cause(exc, secrets=self._secrets),
                ) from None
            except httpx.TransportError as exc:
                self._give_up(exc, budget)

    def _outcome_of_doubtful_call(
        self,
        *,
        cluster_id: str,
        project_id: str,
        took_effect: Callable[[SyncedPrincipals], bool] | None,
        deadline_at: float,
    ) -> SyncDispatch | None:
        """The dispatch result the lost answer would have carried, or None when the cluster cannot tell."""
        task = self._read(
            SyncTaskStatus, "iam-sync", cluster_id=cluster_id, project_id=project_id, deadline_at=deadline_at
        )
        if task.is_synchronizing:
            logger.debug("a sync task is running on %s; treating the request as dispatched", cluster_id)
            return SyncDispatch(state=STATE_SYNCHRONIZING)
        if took_effect is None:  # a full sync names nobody, so nothing on the cluster can show it ran
            return None
        synced = self._read(
            SyncedPrincipals,
            "iam-sync-user",
            cluster_id=cluster_id,
            project_id=project_id,
            deadline_at=deadline_at,
        )
        if took_effect(synced):
            logger.debug("the requested change is visible on %s; the task ran", cluster_id)
            return SyncDispatch(state=None)
        return None


def _cause(error: Exception, *, secrets: Iterable[str]) -> str:
    if isinstance(error, ApiError):
        return f"HTTP {error.status} {error.code}"
    return scrub(f"{type(error).__name__}: {error}".rstrip(": "), secrets=secrets)


def _auth_for(settings: Settings) -> httpx.Auth:
    if settings.access_key and settings.secret_key:
        return AkSkAuth(
            access_key=settings.access_key.get_secret_value(),
            secret_key=settings.secret_key,
            security_token=settings.security_token,
        )
    if settings.auth_token:
        return TokenAuth(token=settings.auth_token)
    raise ValueError("settings carry no credentials")  # resolve_settings guarantees otherwise
