"""Fuzzing: random and adversarial requests to the emulated API and the control API.

Every request, however malformed, must get an answer within :data:`WAIT` seconds that is never a
5xx, and every error answer must carry the gateway's body (``error_code``, ``error_msg``,
``request_id``, the latter equal to ``X-Request-Id``).  Where a connection is left open after an
exactly framed request, a second request on it must be answered as if it were the first: the
server read neither too little nor too much of the first one.

The requests go over raw sockets (methods, targets, header fields, framing, chunking, truncated
bodies: what no HTTP library would send) and through httpx (what a real client sends, with odd
methods, paths, headers and bodies), to emulators on the loopback interface, fault injection
off (a fault the fuzzer manages to add is removed at once).  The count is fixed
(:data:`RAW_API_CASES` + :data:`RAW_CONTROL_CASES` + :data:`HTTPX_CASES`).

Replay: every failure message starts with the seed.  ``MRS_EMULATOR_FUZZ_SEED=<n>`` runs with
seed ``n``; ``MRS_EMULATOR_FUZZ_SEED=random`` draws a new one; without it the seed is fixed, so
the suite is deterministic.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from kit.demo import ANALYTICS, AUTH_TOKEN, DEMO_AK, PROJECT, SANDBOX, STREAMING
from kit.emulator import LocalEmulator
from kit.signer import sign
from mrs_emulator import create_app
from mrs_emulator.app import MAX_BODY_BYTES

from .helpers import RawResponse, sdk_now

DEFAULT_SEED = 20_260_515
SEED_VARIABLE = "MRS_EMULATOR_FUZZ_SEED"
RAW_API_CASES = 1500
RAW_CONTROL_CASES = 1000
HTTPX_CASES = 1000
WAIT = 8.0
"""Seconds a case may take, from the first byte sent to the last byte of the answer."""


def _seed() -> int:
    chosen = os.environ.get(SEED_VARIABLE, "")
    if chosen == "random":
        return random.SystemRandom().randrange(2**32)
    return int(chosen) if chosen else DEFAULT_SEED


SEED = _seed()


def _rng(name: str) -> random.Random:
    """One generator per test, so each replays alone (``pytest -k``) with the same cases."""
    return random.Random(f"{SEED}:{name}")


def _context(index: int, data: bytes) -> str:
    shown = data if len(data) <= 400 else data[:300] + b"..." + data[-60:]
    return f"{SEED_VARIABLE}={SEED} case {index}: {shown!r}"


# -- raw HTTP over a socket ---------------------------------------------------------------------------


@dataclass
class Case:
    """Bytes to send; ``cut``: the request is deliberately incomplete, so the client half-closes."""

    data: bytes
    head_only: bool = False
    cut: bool = False
    exact: bool = True
    """The bytes are exactly one request: a follow-up on the same connection must work."""


class Wire:
    """One TCP connection to the emulator, read against a deadline."""

    def __init__(self, address: tuple[str, int], where: str) -> None:
        self.sock = socket.create_connection(address, timeout=WAIT)
        self.buffer = b""
        self.deadline = time.monotonic() + WAIT
        self.where = where

    def send(self, data: bytes) -> None:
        # The server may answer early and close; the answer is still there to be read.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.sock.sendall(data)

    def _fill(self) -> bool:
        left = self.deadline - time.monotonic()
        assert left > 0, f"{self.where}: no complete answer within {WAIT} s; got {self.buffer[:300]!r}"
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 16)
        except ConnectionResetError:
            data = b""
        except TimeoutError:
            raise AssertionError(
                f"no complete answer within {WAIT} s; received {self.buffer[:300]!r}"
            ) from None
        self.buffer += data
        return bool(data)

    def answer(self, *, head_only: bool) -> RawResponse:
        """The next final answer (interim 1xx answers are skipped)."""
        while True:
            while b"\r\n\r\n" not in self.buffer:
                assert self._fill(), (
                    f"{self.where}: the connection ended before an answer: {self.buffer[:300]!r}"
                )
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            status_line, *lines = head.decode("latin-1").split("\r\n")
            version, status, *_ = status_line.split(" ")
            assert version == "HTTP/1.1", status_line
            headers = [(name, value) for name, _, value in (line.partition(": ") for line in lines)]
            if 100 <= int(status) < 200:
                continue
            answer = RawResponse(int(status), headers, b"")
            [length] = answer.header_values("Content-Length")
            size = 0 if head_only else int(length)
            while len(self.buffer) < size:
                assert self._fill(), (
                    f"{self.where}: the connection ended inside an answer: {self.buffer[:300]!r}"
                )
            answer.body, self.buffer = self.buffer[:size], self.buffer[size:]
            return answer

    def close(self) -> None:
        self.sock.close()


def check(answer: RawResponse, *, head_only: bool, where: str) -> None:
    """No 5xx; an error has the gateway's body and the request id; one Connection header at most."""
    assert answer.status < 500, f"{where}: {answer.status} {answer.body[:300]!r}"
    assert len(answer.header_values("Connection")) <= 1, f"{where}: {answer.headers}"
    [request_id] = answer.header_values("X-Request-Id")
    if answer.status >= 400 and not head_only:
        body = json.loads(answer.body)
        assert set(body) == {"error_code", "error_msg", "request_id"}, f"{where}: {body}"
        assert body["request_id"] == request_id, where


def exchange(address: tuple[str, int], case: Case, where: str) -> int:
    """Send one case, check its answer (and a follow-up on the same connection); the status."""
    wire = Wire(address, where)
    try:
        wire.send(case.data)
        if case.cut:
            wire.sock.shutdown(socket.SHUT_WR)
        answer = wire.answer(head_only=case.head_only)
        check(answer, head_only=case.head_only, where=where)
        if case.exact and not case.cut and answer.header_values("Connection") != ["close"]:
            wire.deadline = time.monotonic() + WAIT
            wire.send(b"GET /_emulator/health HTTP/1.1\r\nHost: h\r\n\r\n")
            follow_up = wire.answer(head_only=False)
            assert (follow_up.status, follow_up.body) == (200, b'{"status": "ok"}'), f"{where}: desync"
        return answer.status
    finally:
        wire.close()


# -- what the cases are made of -------------------------------------------------------------------

USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "ghost", "", " alice", "é", "a" * 300]
GROUPS = ["data-engineers", "analysts", "platform-admins", "auditors", "nobody", ""]
CLUSTERS = [ANALYTICS, STREAMING, SANDBOX, "missing-cluster", "a" * 65, "../../etc", "x%2Fy", "%00", "é"]
PROJECTS = [PROJECT, "ffffffffffffffffffffffffffffffff", "not-hex!", "p" * 65, "%2E%2E"]
METHODS = [
    "GET",
    "POST",
    "DELETE",
    "PUT",
    "PATCH",
    "HEAD",
    "OPTIONS",
    "TRACE",
    "get",
    "Post",
    "BREW",
    "M-SEARCH",
]
NUMBER_TEXTS = [
    "0",
    "-0",
    "1",
    "-1",
    "0.5",
    "12.5",
    "3600",
    "3601",
    "86400",
    "1e9",
    "1e20",
    "-1e20",
    "1e300",
    "1e308",
    "1e400",
    "-1e400",
    "5e-324",
    "1e-400",
    "9223372036854775808",
    "18446744073709551616",
    "1" * 4400,
    "NaN",
    "Infinity",
    "-Infinity",
    "true",
    "null",
    '"5"',
    '"NaN"',
    "[1]",
    "{}",
]
STRING_TEXTS = [
    '""',
    '"x"',
    '"\\u0000"',
    '"\\ud800"',
    '"é"',
    '"' + "z" * 5000 + '"',
    '"\\"["',
    '"20240102T030405Z"',
]


def number_text(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return repr(rng.uniform(-1e10, 1e10))
    return rng.choice(NUMBER_TEXTS)


def json_text(rng: random.Random, depth: int = 0) -> str:
    """A random JSON-ish value, odd numbers and non-JSON literals included, written by hand."""
    roll = rng.random()
    if depth > 3 or roll < 0.45:
        return rng.choice([number_text(rng), rng.choice(STRING_TEXTS), "true", "false", "null"])
    if roll < 0.7:
        return "[" + ",".join(json_text(rng, depth + 1) for _ in range(rng.randint(0, 4))) + "]"
    keys = ["user_names", "group_names", "is_all_sync", "name", "kind", "x", ""]
    items = (f"{json.dumps(rng.choice(keys))}:{json_text(rng, depth + 1)}" for _ in range(rng.randint(0, 4)))
    return "{" + ",".join(items) + "}"


def deep_text(rng: random.Random) -> str:
    depth = rng.choice([63, 64, 65, 200, 1000, 20_000, 100_000])
    opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
    closing = closer * depth if rng.random() < 0.7 else ""
    return opener * depth + "1" + closing


def names_text(rng: random.Random, pool: list[str]) -> str:
    roll = rng.random()
    if roll < 0.6:
        return json.dumps(rng.sample(pool, rng.randint(0, 3)))
    if roll < 0.7:
        return json.dumps([f"n{index}" for index in range(rng.choice([1000, 1001, 5000]))])
    return json_text(rng, 1)


def some_fields(rng: random.Random, *fields: tuple[float, str, Callable[[], str]]) -> bytes:
    """A JSON object with each ``(chance, name, value)`` field in it at that chance."""
    chosen = [f'"{name}": {value()}' for chance, name, value in fields if rng.random() < chance]
    return ("{" + ", ".join(chosen) + "}").encode()


def api_body(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.35:
        return some_fields(
            rng,
            (0.7, "user_names", lambda: names_text(rng, USERS)),
            (0.5, "group_names", lambda: names_text(rng, GROUPS)),
            (0.3, "is_all_sync", lambda: rng.choice(["true", "false", "null", "1", number_text(rng)])),
        )
    if roll < 0.6:
        return json_text(rng).encode()
    if roll < 0.7:
        return deep_text(rng).encode()
    if roll < 0.8:
        return b""
    if roll < 0.9:
        return rng.randbytes(rng.randint(1, 300))
    return json_text(rng).encode("utf-16") if rng.random() < 0.5 else b"\xef\xbb\xbf{}"


def control_body(rng: random.Random, endpoint: str) -> bytes:
    roll = rng.random()
    if roll < 0.15:
        return json_text(rng).encode()
    if roll < 0.2:
        return deep_text(rng).encode()
    if roll < 0.25:
        return rng.randbytes(rng.randint(0, 100))
    if endpoint == "clock":
        if rng.random() < 0.6:
            return f'{{"offset_seconds": {number_text(rng)}}}'.encode()
        moments = ["20240102T030405Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00", "1970-01-01", "x"]
        return f'{{"now": {json.dumps(rng.choice(moments))}}}'.encode()
    if endpoint == "settings":
        names = [
            "sync_seconds",
            "max_clock_skew_seconds",
            "concurrent_sync",
            "missing_cluster_status",
            "port",
        ]
        chosen = rng.sample(names, rng.randint(1, 3))
        values = [number_text(rng) if rng.random() < 0.8 else '"queue"' for _ in chosen]
        return (
            "{" + ", ".join(f'"{name}": {value}' for name, value in zip(chosen, values, strict=True)) + "}"
        ).encode()
    if endpoint == "faults":
        kind = rng.choice(['"latency"', '"throttle"', '"server_error"', '"drop"', '"x"', "1"])
        numbers = ["rate", "count", "latency_seconds", "retry_after", "seed", "status"]
        chosen = rng.sample(numbers, rng.randint(0, 3))
        fields = [f'"kind": {kind}'] + [f'"{name}": {number_text(rng)}' for name in chosen]
        if rng.random() < 0.3:
            fields.append(f'"methods": {json_text(rng, 2)}')
        return ("{" + ", ".join(fields) + "}").encode()
    if endpoint == "cluster":
        return some_fields(
            rng,
            (0.6, "synced_users", lambda: names_text(rng, USERS)),
            (0.4, "synced_groups", lambda: names_text(rng, GROUPS)),
            (0.3, "is_synchronous", lambda: rng.choice(["true", "false", "1", "null"])),
            (0.3, "name", lambda: rng.choice(STRING_TEXTS)),
        )
    return b""


def api_target(rng: random.Random, method: str) -> str:
    """Mostly a path the method has (POST and DELETE: iam-sync-user), so cases reach the service."""
    roll = rng.random()
    if roll < 0.75:
        project = PROJECT if rng.random() < 0.8 else rng.choice(PROJECTS)
        cluster = rng.choice([ANALYTICS, STREAMING, SANDBOX]) if rng.random() < 0.8 else rng.choice(CLUSTERS)
        suffixes = ["iam-sync-user", "iam-sync", "iam-sync/is-synchronous"]
        if method in {"POST", "DELETE"} and rng.random() < 0.8:
            suffixes = ["iam-sync-user"]
        suffix = rng.choice(suffixes) if rng.random() < 0.9 else rng.choice(["iam-sync-user/", "x", ""])
        path = f"/v2/{project}/clusters/{cluster}/{suffix}"
    elif roll < 0.85:
        path = rng.choice(["/", "/v2", "/v2/", "//v2//x", "/v2/%", "/v2/%zz", "/%2F%2F", "/.."])
    else:
        path = "/" + "".join(rng.choice("abc/%.-_~2F") for _ in range(rng.randint(0, 40)))
    if rng.random() < 0.1:
        path += "?" + rng.choice(["a=1", "a=%", "&&=", "x=" + "y" * 100, "secret=1&secret=2"])
    if rng.random() < 0.03:
        path = "http://emulator" + path
    return path


CONTROL_METHODS = {
    "clock": ["GET", "PUT"],
    "settings": ["GET", "PUT"],
    "faults": ["GET", "POST", "DELETE"],
    "cluster": ["GET", "PATCH", "PUT", "DELETE"],
    "health": ["GET"],
    "state": ["GET"],
    "requests": ["GET", "DELETE"],
    "reset": ["POST"],
}


def control_method(rng: random.Random, endpoint: str) -> str:
    """Mostly a method the endpoint has, so most cases reach its body checks."""
    if rng.random() < 0.8:
        return rng.choice(CONTROL_METHODS[endpoint])
    return rng.choice(METHODS)


def api_method(rng: random.Random) -> str:
    return rng.choice(["GET", "POST", "DELETE"]) if rng.random() < 0.8 else rng.choice(METHODS)


def control_target(rng: random.Random) -> tuple[str, str]:
    endpoint = rng.choice(
        ["clock", "settings", "faults", "cluster", "cluster", "health", "state", "requests", "reset"]
    )
    if endpoint == "cluster":
        project = PROJECT if rng.random() < 0.85 else rng.choice(PROJECTS)
        cluster = (
            rng.choice([ANALYTICS, STREAMING, SANDBOX, "fuzz-1", "fuzz_2"])
            if rng.random() < 0.8
            else rng.choice(CLUSTERS)
        )
        return endpoint, f"/_emulator/projects/{project}/clusters/{cluster}"
    if endpoint == "faults" and rng.random() < 0.2:
        return endpoint, f"/_emulator/faults/fault-{rng.randint(0, 5)}"
    return endpoint, f"/_emulator/{endpoint}" + ("/" if rng.random() < 0.05 else "")


def credentials(
    rng: random.Random, method: str, target: str, headers: dict[str, str], body: bytes
) -> list[tuple[str, str]]:
    """Token (usually), a real signature, a broken one, repeated ones, or none."""
    roll = rng.random()
    if roll < 0.5:
        return [("X-Auth-Token", AUTH_TOKEN)]
    if roll < 0.7:
        signed = {**headers, "X-Sdk-Date": sdk_now()}
        path = target.split("?", 1)[0]
        value = sign(method, path, signed, body=body, query=target.partition("?")[2])
        return [("X-Sdk-Date", signed["X-Sdk-Date"]), ("Authorization", value)]
    if roll < 0.8:
        return [("X-Auth-Token", AUTH_TOKEN), ("X-Auth-Token", "other")]
    if roll < 0.9:
        garbage = rng.choice(
            [
                "SDK-HMAC-SHA256",
                f"SDK-HMAC-SHA256 Access={DEMO_AK}, SignedHeaders=host, Signature=00",
                f"SDK-HMAC-SHA256 Access={DEMO_AK}, SignedHeaders={'a;' * 3000}x-sdk-date, Signature=1",
                "SDK-HMAC-SHA256 ,,,===,",
            ]
        )
        return [("X-Sdk-Date", rng.choice([sdk_now(), "99999999T999999Z", ""])), ("Authorization", garbage)]
    return []


ODD_HEADERS = [
    ("X-Fuzz", ""),
    ("X-Fuzz", "a" * 500),
    ("X_Under", "score"),
    ("Accept", "é"),
    ("X-Project-Id", PROJECT),
    ("X-Project-Id", "ffff"),
    ("Content-Type", "text/plain"),
    ("Connection", "close"),
    ("Connection", "keep-alive, close"),
    ("Connection", "upgrade"),
    ("Expect", "100-continue"),
    ("Expect", "200-ok"),
    ("Keep-Alive", "timeout=1"),
    ("X-Security-Token", "t"),
]


def odd_headers(rng: random.Random) -> list[tuple[str, str]]:
    return rng.sample(ODD_HEADERS, rng.choice([0] * 6 + [1, 1, 2, 4]))


def frame(rng: random.Random, method: str, target: str, fields: list[tuple[str, str]], body: bytes) -> Case:
    """Write the request with one of many framings, some broken on purpose."""
    version = (
        "HTTP/1.1" if rng.random() < 0.93 else rng.choice(["HTTP/1.0", "HTTP/2.0", "HTTP/1.1 ", "http/1.1"])
    )
    head_fields = list(fields)
    if rng.random() > 0.03:
        head_fields.insert(0, ("Host", "emulator"))
    if rng.random() < 0.02:
        head_fields.append(("Host", "other"))
    roll = rng.random()
    cut = exact = False
    payload = body
    if roll < 0.6:
        head_fields.append(("Content-Length", str(len(body))))
        exact = True
    elif roll < 0.75:
        sizes = []
        rest = body
        while rest:
            size = rng.randint(1, max(1, len(rest)))
            sizes.append(rest[:size])
            rest = rest[size:]
        payload = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in sizes) + b"0\r\n\r\n"
        head_fields.append(("Transfer-Encoding", "chunked"))
        exact = True
    elif roll < 0.8:  # malformed chunked framing
        payload = (
            rng.choice([b"zz\r\n", b"-1\r\n", b"0x4\r\nabcd\r\n", b"4\r\nabcdef", b"ffffffffffffffffff\r\n"])
            + body
        )
        head_fields.append(("Transfer-Encoding", "chunked"))
        cut = True
    elif roll < 0.88:  # the body is cut short, the client says no more
        head_fields.append(("Content-Length", str(len(body) + rng.randint(1, 10_000))))
        cut = True
    elif roll < 0.92:
        head_fields.append(("Content-Length", str(rng.choice([MAX_BODY_BYTES + 1, 10**15, 10**30]))))
        cut = True
    elif roll < 0.95:
        head_fields += [
            ("Content-Length", str(len(body))),
            ("Transfer-Encoding", rng.choice(["chunked", "gzip"])),
        ]
        cut = True
    elif roll < 0.97:
        head_fields += [("Content-Length", str(len(body))), ("Content-Length", str(len(body) + 1))]
        cut = True
    else:
        head_fields.append(("Content-Length", rng.choice(["-1", "1e3", " ", "0x10", "²"])))
        cut = True
    lines = [f"{method} {target} {version}"] + [f"{name}: {value}" for name, value in head_fields]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    if rng.random() < 0.02:
        head = head.replace(b"\r\n", b"\n")
    if rng.random() < 0.02:
        cut_at = rng.randint(1, len(head) - 1)
        return Case(head[:cut_at], head_only=method == "HEAD", cut=True, exact=False)
    return Case(head + payload, head_only=method == "HEAD", cut=cut, exact=exact and version == "HTTP/1.1")


def raw_garbage(rng: random.Random) -> Case:
    choices: list[Callable[[], bytes]] = [
        lambda: rng.randbytes(rng.randint(1, 200)),
        lambda: b"GET /" + bytes(rng.choice(range(256)) for _ in range(20)) + b" HTTP/1.1\r\nHost: h\r\n\r\n",
        lambda: (
            b"GET /_emulator/health HTTP/1.1\r\nHost: h\r\n" + b"X: y\r\n" * rng.randint(90, 120) + b"\r\n"
        ),
        lambda: b"GET /" + b"a" * rng.randint(8000, 9000) + b" HTTP/1.1\r\nHost: h\r\n\r\n",
        lambda: b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"v" * rng.randint(60_000, 70_000) + b"\r\n\r\n",
        lambda: b"\r\n" * rng.randint(1, 8) + b"GET /_emulator/health HTTP/1.1\r\nHost: h\r\n\r\n",
        lambda: b"GET /_emulator/health HTTP/1.1\r\nHost: h\r\nX: a\r\n continued\r\n\r\n",
        lambda: b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ]
    return Case(rng.choice(choices)(), cut=True, exact=False)


def huge_body_case(rng: random.Random, target: str) -> Case:
    """A body over the gateway's limit, sent whole or chunked: a 413 and a close, never a hang."""
    size = MAX_BODY_BYTES + rng.randint(1, 1024)
    if rng.random() < 0.5:
        head = f"POST {target} HTTP/1.1\r\nHost: h\r\nX-Auth-Token: {AUTH_TOKEN}\r\nContent-Length: {size}\r\n\r\n"
        return Case(head.encode() + b" " * size, cut=True, exact=False)
    chunk = b" " * (1 << 20)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(size // len(chunk) + 1))
    head = f"POST {target} HTTP/1.1\r\nHost: h\r\nX-Auth-Token: {AUTH_TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n"
    return Case(head.encode() + chunks + b"0\r\n\r\n", cut=True, exact=False)


# -- the tests ---------------------------------------------------------------------------------------


@dataclass
class Fuzzed:
    """An emulator under fuzz, served on a socket; its control API removes any fault a case added."""

    emulator: LocalEmulator
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def address(self) -> tuple[str, int]:
        assert self.emulator.handle is not None
        return self.emulator.handle.host, self.emulator.handle.port

    @property
    def url(self) -> str:
        return self.emulator.url

    def count(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def succeeded(self) -> int:
        return sum(count for status, count in self.statuses.items() if status < 300)

    def settle(self) -> None:
        """Faults stay off: whatever a case managed to add is removed before the next case."""
        if self.emulator.ok("GET", "faults")["faults"]:
            self.emulator.clear_faults()


@pytest.fixture
def fuzzed(tmp_path) -> Iterator[Fuzzed]:
    with LocalEmulator.start(sync_seconds=0, state_file=tmp_path / "state.json") as emulator:
        yield Fuzzed(emulator)
        health, state = emulator.control("GET", "health"), emulator.control("GET", "state")
    assert (health.status_code, state.status_code) == (200, 200)
    with create_app(state_file=tmp_path / "state.json"):  # whatever was saved loads again
        pass


def test_raw_requests_to_the_api_get_an_answer_and_never_a_5xx(fuzzed):
    rng = _rng("raw-api")
    big = set(rng.sample(range(RAW_API_CASES), 2))
    for index in range(RAW_API_CASES):
        if index in big:
            case = huge_body_case(rng, api_target(rng, "POST"))
        elif rng.random() < 0.05:
            case = raw_garbage(rng)
        else:
            method = api_method(rng)
            target = api_target(rng, method)
            body = api_body(rng) if method != "GET" or rng.random() < 0.1 else b""
            base = [("Content-Type", "application/json;charset=utf-8")] if rng.random() < 0.8 else []
            fields = base + credentials(rng, method, target, {"Host": "emulator", **dict(base)}, body)
            case = frame(rng, method, target, fields + odd_headers(rng), body)
        fuzzed.count(exchange(fuzzed.address, case, _context(index, case.data)))
    assert fuzzed.succeeded() > RAW_API_CASES // 40, (
        f"{SEED_VARIABLE}={SEED}: too few successes {fuzzed.statuses}"
    )


def test_raw_requests_to_the_control_api_get_an_answer_and_never_a_5xx(fuzzed):
    rng = _rng("raw-control")
    for index in range(RAW_CONTROL_CASES):
        endpoint = ""
        if rng.random() < 0.04:
            case = raw_garbage(rng)
        else:
            endpoint, target = control_target(rng)
            method = control_method(rng, endpoint)
            body = control_body(rng, endpoint) if method not in {"GET", "HEAD"} or rng.random() < 0.1 else b""
            case = frame(rng, method, target, odd_headers(rng), body)
        fuzzed.count(exchange(fuzzed.address, case, _context(index, case.data)))
        if endpoint == "faults":
            fuzzed.settle()
    assert fuzzed.succeeded() > RAW_CONTROL_CASES // 40, (
        f"{SEED_VARIABLE}={SEED}: too few successes {fuzzed.statuses}"
    )


def test_httpx_requests_to_both_apis_get_an_answer_and_never_a_5xx(fuzzed):
    rng = _rng("httpx")
    with httpx.Client(base_url=fuzzed.url, timeout=WAIT) as client:
        for index in range(HTTPX_CASES):
            endpoint = ""
            if rng.random() < 0.4:
                endpoint, target = control_target(rng)
                body = control_body(rng, endpoint)
                method = control_method(rng, endpoint).upper()  # httpx upper-cases methods anyway
                headers: list[tuple[str, str]] = []
            else:
                method = api_method(rng).upper()
                target = api_target(rng, method).removeprefix("http://emulator")  # loopback only
                body = api_body(rng)
                headers = [("Content-Type", "application/json;charset=utf-8")]
                headers += credentials(
                    rng, method, target, {"Host": httpx.URL(fuzzed.url).netloc.decode()}, body
                )
            headers += [(name, value) for name, value in odd_headers(rng) if name != "Connection"]
            content: bytes | Iterator[bytes] = body
            if rng.random() < 0.2:  # streamed: chunked on the wire
                content = iter([body[: len(body) // 2], body[len(body) // 2 :]])
            where = f"{SEED_VARIABLE}={SEED} case {index}: {method} {target} {body[:200]!r}"
            try:
                # Raw UTF-8 values on the wire; names as httpx itself would encode them.
                sent = [(name.encode("ascii"), value.encode("utf-8")) for name, value in headers]
                response = client.request(method, target, content=content, headers=sent)
            except (httpx.LocalProtocolError, httpx.InvalidURL):
                continue  # httpx refused to send it (e.g. a path starting with //): nothing to test
            fuzzed.count(response.status_code)
            answer = RawResponse(response.status_code, list(response.headers.multi_items()), response.content)
            check(answer, head_only=method == "HEAD", where=where)
            if endpoint == "faults":
                fuzzed.settle()
    assert fuzzed.succeeded() > HTTPX_CASES // 40, (
        f"{SEED_VARIABLE}={SEED}: too few successes {fuzzed.statuses}"
    )
