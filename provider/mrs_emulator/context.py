"""The parts of one running emulator, bundled so the app and the control API receive one object.

Each part guards itself (the backend with its lock, the fault list and the
request log with their own), so holding this bundle needs no lock.
"""

from __future__ import annotations

from dataclasses import dataclass

from mrs_emulator.auth import Authenticator
from mrs_emulator.backend import EmulatorBackend
from mrs_emulator.clock import Clock
from mrs_emulator.faults import FaultInjector
from mrs_emulator.reqlog import RequestLog


@dataclass(frozen=True)
class EmulatorContext:
    backend: EmulatorBackend
    authenticator: Authenticator
    faults: FaultInjector
    requests: RequestLog
    clock: Clock

    def reset(self) -> None:
        """Back to the seed; faults, the request log and the clock offset are cleared; options stay.

        The backend goes first: when its state file cannot be written it raises, and then nothing
        else has changed either.
        """
        self.backend.reset()
        self.faults.clear()
        self.requests.clear()
        self.clock.set_offset(0.0)

    def close(self) -> None:
        """Release what outlives requests: the state file's lock."""
        self.backend.close()
