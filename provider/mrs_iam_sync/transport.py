"""``Transport``: signed requests, retries inside one ``Budget``, and the rule for lost answers.

It knows nothing of the five endpoints; :mod:`mrs_iam_sync.client` gives it paths, bodies and,
for a task-starting write, a way to look at the cluster.

Reads are retried freely. A write only *dispatches* an asynchronous task, so after an ambiguous
failure (a 5xx, or a connection that broke after the request may have left) the transport asks
the caller to look at the cluster instead of sending it again: a running task, or an effect of
the request, means it ran. When the cluster shows neither, a task that ran and failed for every
name looks exactly like a request that never started one, and the API has no task id to tell them
apart, so the call fails as :class:`OutcomeUnknownError` rather than risk a second task. A 429 and
a failure to connect are different: the request never reached MRS, so it is simply sent again.

What an answer means (which error, and whether a success is a well-formed answer) is decided in
:mod:`mrs_iam_sync.responses`; the transport only adds what it alone knows: the secrets to scrub.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Final, NoReturn, TypedDict, TypeVar, Unpack

import httpx
from pydantic import BaseModel

from mrs_iam_sync.budget import Budget
from mrs_iam_sync.errors import (
    ApiError,
    OperationTimeoutError,
    OutcomeUnknownError,
    ServerError,
    ThrottledError,
    TransportError,
)
from mrs_iam_sync.models import ClusterAddress
from mrs_iam_sync.responses import decode, describe_request, error_from_response
from mrs_iam_sync.settings import Settings
from mrs_iam_sync.signing import AkSkAuth, TokenAuth
from mrs_iam_sync.text import scrub

logger = logging.getLogger("mrs_iam_sync.client")

try:
    _VERSION = version("pulumi-mrs-iam-sync")
except PackageNotFoundError:  # running from a source tree that was never installed
    _VERSION = "0+unknown"

USER_AGENT: Final = f"pulumi-mrs-iam-sync/{_VERSION}"
"""Set explicitly so it can be signed: httpx's default would be added after signing."""

CONTENT_TYPE_BODY: Final = "application/json;charset=utf-8"
CONTENT_TYPE_GET: Final = "application/json"

CONNECT_TIMEOUT: Final = 10.0
READ_TIMEOUT: Final = 60.0
"""Seconds per request, each cut short to what is left of the call's budget; no user sets them."""

BACKOFF_BASE: Final = 0.2
BACKOFF_CAP: Final = 5.0

_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures before the request left this machine: re-sending cannot duplicate anything."""
_RETRYABLE_TRANSPORT: Final = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)

Looked = TypeVar("Looked")
Model = TypeVar("Model", bound=BaseModel)


class _Attempts:
    """Counts the attempts of one request and sleeps between them (equal-jitter backoff) within the budget."""

    def __init__(
        self, *, max_retries: int, budget: Budget, sleep: Callable[[float], None], rng: random.Random
    ) -> None:
        self.max_retries = max_retries
        self.budget = budget
        self.retries = 0
        self._sleep = sleep
        self._rng = rng

    @property
    def made(self) -> int:
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
        if delay > self.budget.remaining():
            return False
        self.retries += 1
        logger.debug(
            "retry %d/%d in %.2f s after %s", self.retries, self.max_retries, delay, type(error).__name__
        )
        self._sleep(delay)
        return True


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


def _cause(error: Exception, *, secrets: tuple[str, ...]) -> str:
    if isinstance(error, ApiError):
        return f"HTTP {error.status} {error.code}"
    return scrub(f"{type(error).__name__}: {error}".rstrip(": "), secrets=secrets)


class TransportOptions(TypedDict, total=False):
    """What tests inject in place of the network, the sleep and the chance (defaults: the real ones)."""

    transport: httpx.BaseTransport | None
    sleep: Callable[[float], None]
    rng: random.Random | None


class Transport:
    """One pooled, signing HTTP client for one endpoint; safe to share between threads.

    ``transport``, ``sleep`` and ``rng`` are injectable so that tests exercise retries without
    waiting; the clock is the one of the Budget each call brings.
    """

    def __init__(self, settings: Settings, **options: Unpack[TransportOptions]) -> None:
        self.settings = settings
        self.sleep = options.get("sleep", time.sleep)
        self._rng = options.get("rng") or random.Random()
        credentials = (settings.access_key, settings.secret_key, settings.security_token, settings.auth_token)
        self._secrets = tuple(secret.get_secret_value() for secret in credentials if secret is not None)
        self.host = httpx.URL(settings.endpoint).netloc.decode("ascii")
        self._base = settings.endpoint.rstrip("/")
        self._http = httpx.Client(
            base_url=settings.endpoint,
            auth=_auth_for(settings),
            transport=options.get("transport"),
            headers={"User-Agent": USER_AGENT},
            timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
            verify=not settings.insecure,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    # -- the two kinds of request ----------------------------------------------------------------

    def read(self, where: ClusterAddress, path: str, *, budget: Budget) -> httpx.Response:
        """GET with retries on throttling, 5xx and network errors, within ``budget``."""
        attempts = self._attempts(budget)
        while True:
            try:
                return self._send("GET", path, where=where, body=None, budget=budget, attempt=attempts.made)
            except (ServerError, ThrottledError, *_RETRYABLE_TRANSPORT) as exc:
                if not attempts.wait_before_retry(exc):
                    self._give_up(exc, attempts)
            except httpx.TransportError as exc:
                # A proxy or protocol misconfiguration, say: another attempt would fail the same way.
                self._give_up(exc, attempts)

    def write(
        self,
        method: str,
        where: ClusterAddress,
        path: str,
        body: bytes,
        *,
        budget: Budget,
        look: Callable[[Budget], Looked | None],
    ) -> httpx.Response | Looked:
        """Send a task-starting request once; after an ambiguous failure, ``look`` decides.

        ``look`` reads the cluster and returns what the lost answer stood for when the request
        visibly ran, or None when the cluster cannot tell; then the call fails as
        OutcomeUnknownError and nothing is sent again.
        """
        attempts = self._attempts(budget)
        while True:
            try:
                return self._send(method, path, where=where, body=body, budget=budget, attempt=attempts.made)
            except (ThrottledError, *_NOT_SENT) as exc:  # never reached MRS, so nothing was dispatched
                if not attempts.wait_before_retry(exc):
                    self._give_up(exc, attempts)
            except (ServerError, *_RETRYABLE_TRANSPORT) as exc:
                try:
                    outcome = look(budget)
                except (ApiError, TransportError, OperationTimeoutError) as check_error:
                    # Still in doubt; the caller's own request failing is the failure to report.
                    self._give_up(
                        exc,
                        attempts,
                        note=f"Checking whether the request took effect also failed: {check_error}",
                    )
                if outcome is not None:
                    return outcome
                raise OutcomeUnknownError(
                    operation=f"{method} {self._base}{path}",
                    cluster_id=where.cluster_id,
                    cause=_cause(exc, secrets=self._secrets),
                ) from None
            except httpx.TransportError as exc:
                self._give_up(exc, attempts)

    def decode(self, model: type[Model], response: httpx.Response, where: ClusterAddress) -> Model:
        """A success's body as ``model``; a body that is not that answer is an UnexpectedResponseError."""
        return decode(
            model, response, cluster_id=where.cluster_id, project_id=where.project_id, secrets=self._secrets
        )

    # -- plumbing ---------------------------------------------------------------------------------

    def _attempts(self, budget: Budget) -> _Attempts:
        return _Attempts(
            max_retries=self.settings.max_retries, budget=budget, sleep=self.sleep, rng=self._rng
        )

    def _give_up(self, error: Exception, attempts: _Attempts, *, note: str | None = None) -> NoReturn:
        """Raise the last failure as the caller should see it: httpx errors become ``TransportError``."""
        final: Exception = error
        if isinstance(error, httpx.TransportError):
            detail = scrub(f"{type(error).__name__}: {error}".rstrip(": "), secrets=self._secrets)
            final = TransportError(host=self.host, detail=detail, attempts=attempts.made)
        if note is not None:
            final.add_note(note)
        if final is error:
            raise error
        # Not chained: httpx's own message is not scrubbed, and ``detail`` already carries its gist.
        raise final from None

    def _timeout(self, budget: Budget, operation: str) -> tuple[httpx.Timeout, float | None]:
        """The request timeouts, cut short to what is left of the budget.

        Also returns what was left when the budget was what set the limit (None otherwise), so that a
        timeout it caused is reported as the budget running out, not as a network failure.
        """
        read, connect = READ_TIMEOUT, CONNECT_TIMEOUT
        left = budget.remaining()
        if not budget.can_afford_a_request():
            raise OperationTimeoutError(operation=operation, budget_seconds=budget.seconds, left_seconds=left)
        cut = left if left < read else None
        return httpx.Timeout(min(read, left), connect=min(connect, left)), cut

    def _send(
        self,
        method: str,
        path: str,
        *,
        where: ClusterAddress,
        body: bytes | None,
        budget: Budget,
        attempt: int,
    ) -> httpx.Response:
        """Sign, send and classify one request; the one place that touches the HTTP client."""
        headers = {
            "Content-Type": CONTENT_TYPE_GET if body is None else CONTENT_TYPE_BODY,
            "X-Project-Id": where.project_id,
        }
        timeout, cut_to = self._timeout(budget, f"{method} {self._base}{path}")
        started = budget.monotonic()
        try:
            response = self._http.request(method, path, content=body, headers=headers, timeout=timeout)
        except httpx.TransportError as exc:
            elapsed = budget.monotonic() - started
            logger.debug(
                "%s %s failed: %s (attempt %d, %.3f s)", method, path, type(exc).__name__, attempt, elapsed
            )
            if isinstance(exc, httpx.TimeoutException) and cut_to is not None:
                raise OperationTimeoutError(
                    operation=describe_request(exc.request),
                    budget_seconds=budget.seconds,
                    left_seconds=cut_to,
                ) from None
            raise
        elapsed = budget.monotonic() - started
        logger.debug("%s %s -> %d (attempt %d, %.3f s)", method, path, response.status_code, attempt, elapsed)
        if response.is_success:
            return response
        raise error_from_response(
            response, cluster_id=where.cluster_id, project_id=where.project_id, secrets=self._secrets
        )
