"""The WSGI application: one request's path through gateway, faults and service.

For the emulated API, in this order:

1. faults planned for the request (latency, throttle, ``before`` errors/drops);
2. gateway: body size (413 APIGW.0201), route (404 APIGW.0101), authentication
   (401 APIGW.0301/0307, 403 APIGW.0302);
3. service: path ids, body, then state (400 12000002/12000003, 409 MRS.0409);
4. ``after`` faults: the operation was applied, the answer is replaced (an error or a malformed
   success) or dropped;
5. a request-log entry and, at INFO level, an access-log line on stderr.

Every response carries ``X-Request-Id``.  No exception escapes as a
traceback to the client: anything unexpected becomes 500 APIGW.0601, and the
traceback goes to the ``mrs_emulator`` logger (stderr) only.  The
single exception on purpose is a dropped connection (:class:`ConnectionDropped`),
which must reach the server so it sends nothing.

Whether the connection stays open is the server's business (``wsgi_server``):
it knows whether the body was read, so no response here asks for a close.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, assert_never
from urllib.parse import quote, urlsplit

from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from mrs_emulator import routes
from mrs_emulator.auth import ReceivedRequest, presented_kind
from mrs_emulator.backend import EmulatorBackend
from mrs_emulator.clock import iso_utc
from mrs_emulator.context import EmulatorContext
from mrs_emulator.control import ControlCall
from mrs_emulator.errors import (
    APIGW_INTERNAL,
    ApiError,
    api_not_found,
    body_too_large,
    body_unreadable,
    control_error,
    error_response,
    internal_error,
)
from mrs_emulator.faults import MALFORMED_STATUS, Answer, Drop, FaultPlan, Malformed
from mrs_emulator.handlers import ApiCall
from mrs_emulator.reqlog import LogEntry

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

MAX_BODY_BYTES: Final = 12 * 1024 * 1024
"""The gateway's documented body limit, 12 MB (taken as MiB)."""
REPEATED_HEADERS_KEY: Final = "mrs_emulator.repeated_headers"
"""WSGI environ key under which the emulator's server lists the header names sent more than once.

WSGI joins repeated headers into one value, so without it the app could not tell
``Authorization: a`` + ``Authorization: b`` from one header ``a,b``.
"""

_log = logging.getLogger("mrs_emulator")
_access_log = logging.getLogger("mrs_emulator.access")


@dataclass
class _Outcome:
    """What the request log needs to know about a response, or its absence (a drop)."""

    response: Response | None = None
    error_code: str | None = None
    fault_id: str | None = None


class ConnectionDropped(ConnectionAbortedError):
    """Raised out of the app for a ``drop`` fault, once the request log has its entry.

    The emulator's server answers it by cutting the connection, writing and
    logging nothing.  In process (no socket, e.g. ``httpx.WSGITransport``)
    it reaches the caller, which is the closest thing to "no response".
    """


class EmulatorApp:
    """The WSGI callable; ``context`` exposes the backend, faults, log and clock."""

    def __init__(self, context: EmulatorContext) -> None:
        self.context = context

    @property
    def backend(self) -> EmulatorBackend:
        return self.context.backend

    def close(self) -> None:
        """Release the state file (its lock); the app still answers, but can no longer save."""
        self.context.close()

    def __enter__(self) -> EmulatorApp:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        request_id = uuid.uuid4().hex
        try:
            if routes.is_control_path(request.path):
                response = self._serve_control(request, request_id)
            else:
                response = self._serve_api(request, request_id)
        except ConnectionDropped:
            raise
        except Exception:
            response = _unexpected(request_id)
        response.headers["X-Request-Id"] = request_id
        return response(environ, start_response)

    # -- control API ---------------------------------------------------------------------------

    def _serve_control(self, request: Request, request_id: str) -> Response:
        raw_path = _raw_path(request.environ)
        found = routes.match(routes.CONTROL_ROUTES, _method(request), request.path, raw_path)
        try:
            if found is None:
                raise control_error(404, f"no control endpoint {_method(request)} {request.path}")
            handler, args = found
            try:
                content = _read_body(request)
            except ApiError as exc:  # too large or unreadable: said in the control API's own codes
                raise control_error(exc.status, exc.message) from None
            response = handler(ControlCall(context=self.context, content=content, args=args))
        except ApiError as exc:
            response = error_response(exc, request_id)
        _access_log.info("control %s %s %s", _method(request), request.path, response.status_code)
        return response

    # -- emulated API --------------------------------------------------------------------------

    def _serve_api(self, request: Request, request_id: str) -> Response:
        started = time.perf_counter()
        arrived = self.context.clock.now()
        raw_path = _raw_path(request.environ)
        plan = self.context.faults.plan(_method(request), raw_path)
        outcome = _Outcome()
        try:
            return self._faulted(plan, request, raw_path, request_id, outcome)
        except ConnectionDropped:
            raise
        except Exception:
            response = _unexpected(request_id)
            outcome.response, outcome.error_code = response, APIGW_INTERNAL
            return response
        finally:
            self._record(request, raw_path, request_id, outcome, arrived=arrived, started=started)

    def _faulted(
        self, plan: FaultPlan, request: Request, raw_path: str, request_id: str, outcome: _Outcome
    ) -> Response:
        """Run the request through its fault plan; ``outcome`` is filled in for the log."""
        if plan.delay_before:
            time.sleep(plan.delay_before)
        terminal = plan.terminal_in("before")
        if terminal is None:
            outcome.response, outcome.error_code = self._gateway(request, raw_path, request_id)
            if plan.delay_after:
                time.sleep(plan.delay_after)
            terminal = plan.terminal_in("after")
        if terminal is not None:
            outcome.fault_id = terminal.fault.id
            match terminal.effect:
                case Answer(error=error):
                    outcome.response, outcome.error_code = error_response(error, request_id), error.code
                case Malformed(content=content):
                    outcome.response = Response(content, status=MALFORMED_STATUS, mimetype="application/json")
                    outcome.error_code = None
                case Drop():
                    outcome.response = None
                    raise ConnectionDropped(f"connection dropped by injected fault {terminal.fault.id}")
                case unreachable:
                    assert_never(unreachable)
        assert outcome.response is not None
        return outcome.response

    def _record(
        self,
        request: Request,
        raw_path: str,
        request_id: str,
        outcome: _Outcome,
        *,
        arrived: float,
        started: float,
    ) -> None:
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        status = outcome.response.status_code if outcome.response is not None else None
        auth_kind = presented_kind(_received(request, raw_path, b""))
        self.context.requests.record(
            LogEntry(
                method=_method(request),
                path=raw_path,
                status=status,
                error_code=outcome.error_code,
                time=iso_utc(arrived),
                duration_ms=duration_ms,
                auth=auth_kind,
                request_id=request_id,
                fault=outcome.fault_id,
            )
        )
        _access_log.info(
            "%s %s %s %s %.1fms auth=%s request_id=%s",
            _method(request),
            raw_path,
            status if status is not None else "dropped",
            outcome.error_code or "-",
            duration_ms,
            auth_kind,
            request_id,
        )

    def _gateway(self, request: Request, raw_path: str, request_id: str) -> tuple[Response, str | None]:
        """Gateway checks, then the service; an :class:`ApiError` becomes its error response."""
        try:
            return self._authenticated_call(request, raw_path), None
        except ApiError as exc:
            return error_response(exc, request_id), exc.code

    def _authenticated_call(self, request: Request, raw_path: str) -> Response:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise body_too_large(MAX_BODY_BYTES)
        found = routes.match(routes.API_ROUTES, _method(request), request.path, raw_path)
        if found is None:
            raise api_not_found(_method(request), raw_path)
        handler, args = found
        body = _read_body(request)
        backend = self.context.backend
        self.context.authenticator.authenticate(
            _received(request, raw_path, body),
            project_id=args["project_id"],
            max_skew_seconds=backend.options.max_clock_skew_seconds,
        )
        return handler(ApiCall.from_route(backend, args, body))


def _unexpected(request_id: str) -> Response:
    """The catch-all: the traceback goes to stderr, the client gets a code and a request id."""
    _log.exception("unexpected error (request id %s)", request_id)
    return error_response(internal_error(f"unexpected error, request id {request_id}"), request_id)


def _read_body(request: Request) -> bytes:
    """The body, refused past the limit whether announced (Content-Length) or streamed (chunked)."""
    # One byte over the limit: a stream that is cut at the limit would otherwise pass as complete.
    request.max_content_length = MAX_BODY_BYTES + 1
    try:
        body = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise body_too_large(MAX_BODY_BYTES) from None
    except ClientDisconnected:
        raise body_unreadable() from None
    if len(body) > MAX_BODY_BYTES:
        raise body_too_large(MAX_BODY_BYTES)
    return body


def _method(request: Request) -> str:
    """The method as sent: werkzeug's ``Request.method`` upper-cases it, which would hide ``get``."""
    return str(request.environ.get("REQUEST_METHOD", ""))


def _raw_path(environ: WSGIEnvironment) -> str:
    """The path exactly as sent (percent-encoding intact), without the query.

    The emulator's server provides the request target as ``RAW_URI``; other
    WSGI callers (test clients) only give the decoded ``PATH_INFO``, which is
    re-encoded; canonicalisation decodes it again, so both verify alike.
    """
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(target, str) and target:
        if "://" in target.split("?", 1)[0]:
            try:
                target = urlsplit(target).path or "/"
            except ValueError:  # the emulator's server refuses such targets; another caller may not
                return "/"
        return target.split("?", 1)[0]
    path_info = str(environ.get("PATH_INFO", "/"))
    return quote(path_info.encode("latin-1"), safe="/-_.~!$&'()*+,;=:@")


def _wire_text(value: str) -> str:
    """WSGI hands header values over as latin-1; undo that to get the UTF-8 text the client sent."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _received(request: Request, raw_path: str, body: bytes) -> ReceivedRequest:
    headers: dict[str, str] = {}
    repeated = set(request.environ.get(REPEATED_HEADERS_KEY, ()))
    for name, value in request.headers.items():
        key = name.lower()
        text = _wire_text(value)
        if key in headers:
            repeated.add(key)
            headers[key] = f"{headers[key]},{text}"
        else:
            headers[key] = text
    return ReceivedRequest(
        method=_method(request),
        raw_path=raw_path,
        raw_query=_wire_text(str(request.environ.get("QUERY_STRING", ""))),
        headers=headers,
        body=body,
        repeated=frozenset(repeated),
    )
