"""The ``--state`` file: cluster state that survives a restart, written so a crash never tears it.

Only what the emulated API and the control API can change is stored: each
cluster (:class:`~.clusters.Cluster`, the backend's own object) with its
synchronised users and groups, its ``is_synchronous`` flag, and its tasks.
The IAM directory and the credentials always come from the seed, so editing
the seed and restarting keeps the clusters' state.

Running tasks are persisted as they are, with their absolute finish time on
the emulator clock; after a restart they complete when that time has passed,
exactly as if the emulator had kept running.

:meth:`StateStore.open` checks the file before anything listens: an existing
one must be a regular file that can be read and written, of at most
:data:`MAX_STATE_BYTES`, holding UTF-8 JSON whose values pass the same rules
as a seed's.  It also takes an advisory lock on a sidecar file
(``.<name>.lock``, kept beside the state file), so two emulators never share
one state file, and only then removes the temporary files a killed emulator
may have left.

Every save writes a temporary file in the target's directory, flushes and
fsyncs it, then ``os.replace``-s it over the target: readers see the old file
or the new one, never a mix.  A save that fails raises :class:`StateWriteError`
and leaves the old file in place.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from mrs_emulator.clusters import Cluster
from mrs_emulator.jsonbody import JsonError, parse_json
from mrs_emulator.seed import ProjectId
from mrs_emulator.validation import first_error

STATE_FORMAT: Final = "mrs-emulator-state/1"
MAX_STATE_BYTES: Final = 64 * 1024 * 1024
"""A state file larger than this is refused at start, and a save that would make one is refused."""


def _require_unique_ids(ids: list[str], what: str) -> None:
    """Refuse the document at the first id that repeats an earlier one."""
    seen: dict[str, int] = {}
    for index, value in enumerate(ids):
        if value in seen:
            problem = f"{what}[{index}].id is a duplicate of {what}[{seen[value]}].id"
            raise PydanticCustomError("duplicate", problem)
        seen[value] = index


class ProjectState(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ProjectId
    clusters: list[Cluster]

    @model_validator(mode="after")
    def _unique_clusters(self) -> ProjectState:
        _require_unique_ids([cluster.id for cluster in self.clusters], "clusters")
        return self


class StateDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["mrs-emulator-state/1"] = STATE_FORMAT
    saved_at: str
    projects: list[ProjectState]

    @model_validator(mode="after")
    def _unique_projects(self) -> StateDocument:
        _require_unique_ids([project.id for project in self.projects], "projects")
        return self


class StateFileError(ValueError):
    """The state file cannot be used; the message names the file, the field and the reason."""


class StateWriteError(Exception):
    """A save failed; the previous file is intact."""


class StateTooLarge(StateWriteError):
    """A save would have made the file larger than :data:`MAX_STATE_BYTES`; nothing was written."""


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


class StateStore:
    """One state file, held by this emulator alone until :meth:`close`; see :meth:`open`."""

    def __init__(self, path: Path, lock_fd: int, loaded: StateDocument | None) -> None:
        self.path = path
        self._lock_fd: int | None = lock_fd
        self._loaded = loaded

    @property
    def lock_path(self) -> Path:
        return lock_path_of(self.path)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> StateStore:
        """Check, lock and read the file (a missing one is fine); raises :class:`StateFileError`."""
        path = Path(path)
        exists = _existing_regular_file(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateFileError(f"{path}: (file): its directory cannot be created: {_reason(exc)}") from None
        lock_fd = _lock(path)
        try:
            _remove_stale_temporaries(path)
            loaded = _read(path) if exists else None
        except BaseException:
            os.close(lock_fd)
            raise
        return cls(path, lock_fd, loaded)

    def load(self) -> StateDocument | None:
        """What the file held when it was opened; ``None`` when there was no file yet."""
        return self._loaded

    def save(self, document: StateDocument) -> dict[str, Any]:
        """Replace the file atomically and return what it now holds, as JSON values.

        Raises :class:`StateWriteError`, keeping the old file, when the write fails.
        """
        if self._lock_fd is None:
            raise StateWriteError("the emulator has stopped and released its state file")
        content = document.model_dump(mode="json")
        data = json.dumps(content, indent=2, sort_keys=True).encode("utf-8") + b"\n"
        if len(data) > MAX_STATE_BYTES:
            raise StateTooLarge(
                f"the state would take {len(data)} bytes, over the limit of {MAX_STATE_BYTES} bytes"
            )
        directory = self.path.parent
        try:
            fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".tmp")
        except OSError as exc:
            raise StateWriteError(_reason(exc)) from None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise StateWriteError(_reason(exc)) from None
        _fsync_directory(directory)
        return content

    def close(self) -> None:
        """Release the lock; later saves fail.  Safe to call twice."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def lock_path_of(path: Path) -> Path:
    """The sidecar file whose lock marks ``path`` as in use; it stays after the emulator stops."""
    return path.with_name(f".{path.name}.lock")


def _existing_regular_file(path: Path) -> bool:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StateFileError(f"{path}: (file): cannot be used: {_reason(exc)}") from None
    if stat.S_ISDIR(status.st_mode):
        raise StateFileError(f"{path}: (file): is a directory, not a file")
    if not stat.S_ISREG(status.st_mode):
        raise StateFileError(f"{path}: (file): is not a regular file")
    return True


def _lock(path: Path) -> int:
    lock_path = lock_path_of(path)
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise StateFileError(
            f"{path}: (file): cannot be written: no lock file {lock_path.name} can be made: {_reason(exc)}"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if isinstance(exc, BlockingIOError):
            raise StateFileError(
                f"{path}: (file): is in use by another emulator (it holds the lock on {lock_path.name})"
            ) from None
        raise StateFileError(f"{path}: (file): cannot be locked: {_reason(exc)}") from None
    return fd


def _remove_stale_temporaries(path: Path) -> None:
    """Temporary files of a save that never finished (a killed emulator); only safe under the lock."""
    pattern = os.path.join(glob.escape(str(path.parent)), f".{glob.escape(path.name)}.*.tmp")
    for leftover in glob.glob(pattern, include_hidden=True):
        with contextlib.suppress(OSError):
            os.unlink(leftover)


def _read(path: Path) -> StateDocument:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        raise StateFileError(
            f"{path}: (file): cannot be opened for reading and writing: {_reason(exc)}"
        ) from None
    try:
        with os.fdopen(fd, "rb") as handle:
            if os.fstat(handle.fileno()).st_size > MAX_STATE_BYTES:
                raise StateFileError(f"{path}: (file): is larger than {MAX_STATE_BYTES} bytes")
            data = handle.read(MAX_STATE_BYTES + 1)
    except OSError as exc:
        raise StateFileError(f"{path}: (file): cannot be read: {_reason(exc)}") from None
    if len(data) > MAX_STATE_BYTES:
        raise StateFileError(f"{path}: (file): is larger than {MAX_STATE_BYTES} bytes")
    try:
        content = parse_json(data)
    except JsonError as exc:
        raise StateFileError(f"{path}: (file): {exc}") from None
    try:
        return StateDocument.model_validate(content)
    except ValidationError as exc:
        where, reason = first_error(exc)
        raise StateFileError(f"{path}: {where or '(root)'}: {reason}") from None


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
