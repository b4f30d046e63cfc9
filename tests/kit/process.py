"""A provider process for tests that call the provider's methods directly, as the dynamic server does.

Outside Pulumi's dynamic-provider server there is no stack to read a checkpoint from, so these
processes are told what the stack's state holds (:class:`StoredState`: nothing, unless a test
says otherwise). ``fresh_process`` swaps the one ``LIFECYCLE`` uses for the duration of a test.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from mrs_iam_sync.checkpoint import StoredResource
from mrs_iam_sync.errors import CheckpointUnreadableError
from mrs_iam_sync.lifecycle import LIFECYCLE
from mrs_iam_sync.process import ProviderProcess

JOIN_SECONDS: Final = 120.0
"""A bound on a hung test, not a timing assertion."""


@dataclass
class StoredState:
    """A stand-in for the stack's checkpoint: the resources it holds, or why it cannot be read."""

    stored: list[StoredResource] = field(default_factory=list)
    unreadable: str | None = None
    reads: int = 0

    def prefetch(self, urn: str | None) -> None:
        pass

    def resources(self, urn: str | None) -> Sequence[StoredResource]:
        self.reads += 1
        if self.unreadable is not None:
            raise CheckpointUnreadableError(self.unreadable)
        return self.stored


@contextlib.contextmanager
def fresh_process(
    state: StoredState | None = None, *, autostart_rounds: bool = True
) -> Iterator[ProviderProcess]:
    """LIFECYCLE runs on a new provider process (no config, clients or declarations) until the end."""
    process = ProviderProcess(checkpoint=state or StoredState(), autostart_rounds=autostart_rounds)
    previous, LIFECYCLE.process = LIFECYCLE.process, process
    try:
        yield process
    finally:
        LIFECYCLE.process = previous
        process.close()


def run_together(process: ProviderProcess, *calls: Callable[[], Any], pending: int) -> list[Any]:
    """Run ``calls`` on threads, as the dynamic server does, with rounds run by hand on this thread.

    The first round starts only once ``pending`` requests wait for it (the process must not start
    rounds itself), so what shares a round is decided by what is pending, not by a clock; later
    rounds (a roll-back) run as soon as they are asked for. Returns each result or exception.
    """
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            results[index] = calls[index]()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    give_up = time.monotonic() + JOIN_SECONDS
    while sum(each.pending() for each in process.coordinators()) < pending:
        if time.monotonic() > give_up or not any(thread.is_alive() for thread in threads):
            raise AssertionError(f"{pending} requests never waited together: {results}")
        time.sleep(0.005)
    while any(thread.is_alive() for thread in threads):
        if time.monotonic() > give_up:
            raise AssertionError("the calls did not return")
        if not any(each.run_round() for each in process.coordinators()):
            time.sleep(0.005)
    return results
