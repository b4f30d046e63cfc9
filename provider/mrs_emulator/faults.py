"""Injected faults: latency, throttling, server errors, dropped connections and malformed successes.

A fault matches requests to the emulated API (never the control API) by
optional method and path filters, and fires either with a probability
(``rate``, reproducible with ``seed``) or for the next ``count`` matching
requests, or, with neither, on every matching request.

Each request is planned once, when it arrives, consulting the faults in the
order they were added: every firing ``latency`` fault adds its delay; the
first firing terminal fault (``throttle``, ``server_error``, ``drop``,
``malformed``) decides the outcome, and later terminal faults are not
consulted (so they do not use up their count).

``phase`` says when a fault acts.  ``before``: the request is not applied.
``after`` (every kind but ``throttle``): the operation IS applied, then the
response is replaced, dropped or delayed: the ambiguous case a client must
handle by reading state before retrying a POST/DELETE.

``malformed`` answers ``200`` with a body that is not the MRS API's answer
(:data:`MALFORMED_BODIES`): what a proxy, a health page or a wrong port may
send, and what a client must not read as "nothing is synced".

What a kind does is one entry of :data:`EFFECTS`, which has an entry for
every kind (a test holds it to that); the app acts on the resulting
:data:`Effect`, whose variants a type checker sees exhaustively.  There is no
fallback branch, so a kind without an entry cannot become something else.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mrs_emulator.errors import ApiError, injected_server_error, throttled

FaultKind = Literal["latency", "throttle", "server_error", "drop", "malformed"]
Phase = Literal["before", "after"]
MalformedAnswer = Literal["empty_object", "empty_body", "wrong_type"]

MALFORMED_STATUS: Final = 200
MALFORMED_BODIES: Final[Mapping[MalformedAnswer, bytes]] = {
    "empty_object": b"{}",
    "empty_body": b"",
    # Every field of the five answers, each with a JSON type the reference does not give it, so
    # that one body is wrong for whichever endpoint the fault hits.
    "wrong_type": json.dumps(
        {
            "user_names": "alice",
            "group_names": "analysts",
            "is_synchronizing": "false",
            "is_synchronous": "false",
            "state": 0,
        }
    ).encode(),
}


MAX_COUNT: Final = 1_000_000_000
MAX_LATENCY_SECONDS: Final = 600.0
MAX_RETRY_AFTER: Final = 86_400
MAX_SEED: Final = 2**63 - 1


class FaultSpec(BaseModel):
    """The body of ``POST /_emulator/faults``; every number is finite and bounded (docs/emulator.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind
    rate: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False, strict=True)
    count: int | None = Field(default=None, ge=1, le=MAX_COUNT, strict=True)
    latency_seconds: float = Field(
        default=0.0, ge=0.0, le=MAX_LATENCY_SECONDS, allow_inf_nan=False, strict=True
    )
    status: Literal[500, 502, 503] = 500
    answer: MalformedAnswer = "empty_object"
    retry_after: int | None = Field(default=None, ge=0, le=MAX_RETRY_AFTER, strict=True)
    methods: tuple[str, ...] | None = None
    path_contains: str | None = None
    phase: Phase = "before"
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED, strict=True)

    @field_validator("methods")
    @classmethod
    def _upper(cls, methods: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if methods is None else tuple(method.upper() for method in methods)

    @model_validator(mode="after")
    def _consistent(self) -> FaultSpec:
        if self.rate is not None and self.count is not None:
            raise ValueError("give rate or count, not both")
        if self.kind == "latency" and self.latency_seconds <= 0:
            raise ValueError("a latency fault needs latency_seconds > 0")
        if self.kind == "throttle" and self.phase == "after":
            raise ValueError("a throttle always acts before the operation; phase 'after' is meaningless")
        return self


@dataclass
class Fault:
    id: str
    spec: FaultSpec
    remaining: int | None
    rng: random.Random
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.remaining == 0:
            return False
        if self.spec.methods is not None and method not in self.spec.methods:  # methods are case-sensitive
            return False
        return self.spec.path_contains is None or self.spec.path_contains in path

    def fires(self) -> bool:
        """Consume one use: a count decrements, a rate draws from this fault's own generator."""
        if self.remaining is not None:
            self.remaining -= 1
        elif self.spec.rate is not None and self.rng.random() >= self.spec.rate:
            return False
        self.fired += 1
        return True

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            **self.spec.model_dump(mode="json"),
            "remaining": self.remaining,
            "fired": self.fired,
        }


@dataclass(frozen=True)
class Delay:
    """The request goes on, later; delays of several firing faults add up."""

    seconds: float


@dataclass(frozen=True)
class Answer:
    """The request gets this error instead of (``before``) or after (``after``) being applied."""

    error: ApiError


@dataclass(frozen=True)
class Drop:
    """The connection is cut without any response."""


@dataclass(frozen=True)
class Malformed:
    """The request gets :data:`MALFORMED_STATUS` with this body instead of (or after) being applied."""

    content: bytes


Effect = Delay | Answer | Drop | Malformed
"""Answer, Drop and Malformed decide the outcome (terminal); Delay does not."""

EFFECTS: Final[Mapping[FaultKind, Callable[[Fault], Effect]]] = {
    "latency": lambda fault: Delay(fault.spec.latency_seconds),
    "throttle": lambda fault: Answer(
        throttled(f"injected fault {fault.id}", retry_after=fault.spec.retry_after)
    ),
    "server_error": lambda fault: Answer(injected_server_error(fault.spec.status, fault.id)),
    "drop": lambda fault: Drop(),
    "malformed": lambda fault: Malformed(MALFORMED_BODIES[fault.spec.answer]),
}


@dataclass(frozen=True)
class Terminal:
    """The fault that decides a request's outcome, and what it does."""

    fault: Fault
    effect: Answer | Drop | Malformed


@dataclass(frozen=True)
class FaultPlan:
    """What to do to one request; the empty plan does nothing."""

    delay_before: float = 0.0
    delay_after: float = 0.0
    terminal: Terminal | None = None
    fault_ids: tuple[str, ...] = field(default_factory=tuple)

    def terminal_in(self, phase: Phase) -> Terminal | None:
        if self.terminal is not None and self.terminal.fault.spec.phase == phase:
            return self.terminal
        return None


class FaultInjector:
    """The list of active faults; its own small lock, independent of the backend's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, spec: FaultSpec) -> Fault:
        with self._lock:
            fault = Fault(
                id=f"fault-{next(self._ids)}", spec=spec, remaining=spec.count, rng=random.Random(spec.seed)
            )
            self._faults.append(fault)
            return fault

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_json() for fault in self._faults]

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            kept = [fault for fault in self._faults if fault.id != fault_id]
            removed = len(kept) != len(self._faults)
            self._faults = kept
            return removed

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def plan(self, method: str, path: str) -> FaultPlan:
        with self._lock:
            delays = {"before": 0.0, "after": 0.0}
            fired: list[str] = []
            for fault in self._faults:
                if not fault.matches(method, path) or not fault.fires():
                    continue
                fired.append(fault.id)
                effect = EFFECTS[fault.spec.kind](fault)
                if isinstance(effect, Delay):
                    delays[fault.spec.phase] += effect.seconds
                else:
                    terminal = Terminal(fault, effect)
                    return FaultPlan(delays["before"], delays["after"], terminal, tuple(fired))
            return FaultPlan(delays["before"], delays["after"], None, tuple(fired))
