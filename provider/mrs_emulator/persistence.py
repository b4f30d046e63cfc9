"""The ``--state`` file: cluster state that survives a restart, written so a crash never tears it.

Only what the emulated API and the control API can change is stored: each
cluster (:class:`~.clusters.Cluster`, the backend's own object) with its
synchronised users and groups, its ``is_synchronous`` flag, and its tasks.
The IAM directory and the credentials always come from the seed, so editing
the seed and restarting keeps the clusters' state.

Running tasks are persisted as they are, with their absolute finish time on
the emulator clock; after a restart they complete when that time has passed,
exactly as if the emulator had kept running.

Every save writes a temporary file in the target's directory, flushes and
fsyncs it, then ``os.replace``-s it over the target: readers see the old file
or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from mrs_emulator.clusters import Cluster
from mrs_emulator.validation import first_error

STATE_FORMAT: Final = "mrs-emulator-state/1"


class ProjectState(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    clusters: list[Cluster]


class StateDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["mrs-emulator-state/1"] = STATE_FORMAT
    saved_at: str
    projects: list[ProjectState]


class StateFileError(ValueError):
    """The state file exists but cannot be used; the message names the file, the field and the reason."""


class StateStore:
    """Load and atomically save one state file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> StateDocument | None:
        """``None`` when there is no file yet: the emulator then starts from the seed."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateFileError(f"{self.path}: (file): cannot be read: {exc}") from None
        try:
            return StateDocument.model_validate(json.loads(text))
        except ValueError as exc:
            if isinstance(exc, ValidationError):
                path, reason = first_error(exc)
                raise StateFileError(f"{self.path}: {path or '(root)'}: {reason}") from None
            raise StateFileError(f"{self.path}: (file): is not valid JSON: {exc}") from None

    def save(self, document: StateDocument) -> None:
        data = json.dumps(document.model_dump(mode="json"), indent=2, sort_keys=True).encode("utf-8")
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable; not every platform lets a directory be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
