"""Every setting of an emulator, declared once: the command line, the settings API and the server read it.

:class:`EmulatorOptions` is the single declaration.  Each field carries an :class:`Option` (in its
``Annotated`` metadata) with its help text and how it appears on the command line; ``__main__``
builds the argparse flags from it, ``control`` exposes the :data:`LIVE_SETTINGS` over
``/_emulator/settings``, and ``server`` builds and binds the emulator from one instance.

The behaviour switches (``live`` options) cover what the real service's documentation leaves open
(see the API reference, "Open points"): each has a default and at least one alternative, so a
client can be tested against every plausible variant.  None of these defaults was verified
against the real service.  They can be changed at run time without restarting and are not part of
the persisted state; the other options shape the process and are fixed once it runs.

Numbers are finite and bounded, and the live ones strict (``true`` or ``"5"`` is no number of
seconds), so no value taken at run time can leave the emulator unable to answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from mrs_emulator.clock import checked_offset
from mrs_emulator.reqlog import DEFAULT_LIMIT
from mrs_emulator.seed import SeedSource
from mrs_emulator.validation import first_error

ConcurrentSync = Literal["reject", "queue"]
UnknownNames = Literal["ignore", "reject"]
EmptySync = Literal["reject", "accept"]
AllSyncWithNames = Literal["reject", "allow"]
MissingClusterStatus = Literal[400, 404]
MissingClusterCode = Literal["12000003", "0023"]

MAX_SYNC_SECONDS: Final = 3600.0
MAX_CLOCK_SKEW_SECONDS: Final = 366 * 24 * 3600.0
"""A year: wider windows say nothing more about a client's dates."""
MAX_REQUEST_LOG_SIZE: Final = 1_000_000

_SAME: Final[Any] = object()


@dataclass(frozen=True)
class Option:
    """What a field means to a person, and where it can be set besides Python."""

    help: str
    """One line for ``--help``; ``%(default)s`` shows the command-line default."""
    live: bool = False
    """Readable and changeable while running, through ``/_emulator/settings``."""
    flag: str | None = ""
    """The command-line flag: ``""`` derives ``--field-name``; None keeps the option off the command line."""
    metavar: str | None = None
    command_line_default: Any = _SAME
    """Only where a person and a test want different defaults (the port: a known one vs a free one)."""

    def flag_for(self, name: str) -> str | None:
        return "--" + name.replace("_", "-") if self.flag == "" else self.flag

    def default_for_command_line(self, field: FieldInfo) -> Any:
        """The flag's default; a field built by a factory has none there (``flag_values`` drops it)."""
        if self.command_line_default is not _SAME:
            return self.command_line_default
        return None if field.default_factory is not None else field.default


class EmulatorOptions(BaseModel):
    """Immutable; a change produces a new object, so a request sees one consistent set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: Annotated[str, Option("address to listen on (default %(default)s)")] = "127.0.0.1"
    port: Annotated[
        int,
        Option("port to listen on; 0 picks a free one (default %(default)s)", command_line_default=8470),
    ] = Field(default=0, ge=0, le=65535)
    seed: Annotated[
        SeedSource,
        Option("seed file, .yaml/.yml or .json (default: the demo seed)", metavar="FILE"),
    ] = None
    state_file: Annotated[
        Path | None,
        Option(
            "keep cluster state in FILE across restarts (default: memory only)",
            flag="--state",
            metavar="FILE",
        ),
    ] = None
    sync_seconds: Annotated[
        float,
        Option(
            "how long a sync or cancel task runs; 0 = done at the next request (default %(default)s)",
            live=True,
            metavar="SECONDS",
        ),
    ] = Field(default=1.0, ge=0.0, le=MAX_SYNC_SECONDS, allow_inf_nan=False, strict=True)
    cluster_sync_seconds: Annotated[
        dict[str, Annotated[float, Field(ge=0.0, le=MAX_SYNC_SECONDS, allow_inf_nan=False, strict=True)]],
        Option(
            "task durations of some clusters, overriding --sync-seconds there: JSON such as "
            "'{\"<cluster id>\": 30}' (default: none)",
            live=True,
            metavar="JSON",
        ),
    ] = Field(default_factory=dict)
    concurrent_sync: Annotated[
        ConcurrentSync,
        Option(
            "POST/DELETE while a task runs: 409 MRS.0409, or queue the task (default %(default)s)", live=True
        ),
    ] = "reject"
    unknown_names: Annotated[
        UnknownNames,
        Option("names unknown to IAM in a POST: skipped, or 400 12000002 (default %(default)s)", live=True),
    ] = "ignore"
    empty_sync: Annotated[
        EmptySync,
        Option(
            "POST/DELETE naming nothing: 400 12000002, or accept a no-op task (default %(default)s)",
            live=True,
        ),
    ] = "reject"
    all_sync_with_names: Annotated[
        AllSyncWithNames,
        Option(
            "is_all_sync=true together with names: 400 12000002, or a full sync (default %(default)s)",
            live=True,
        ),
    ] = "reject"
    missing_cluster_status: Annotated[
        MissingClusterStatus,
        Option("HTTP status of 12000003 'The cluster does not exist.' (default %(default)s)", live=True),
    ] = 400
    missing_cluster_code: Annotated[
        MissingClusterCode,
        Option(
            "error code for an unknown project or cluster: 12000003 'The cluster does not exist.' or "
            "0023 'Failed to obtain cluster details.' (default %(default)s)",
            live=True,
        ),
    ] = "12000003"
    max_clock_skew_seconds: Annotated[
        float,
        Option(
            "how far X-Sdk-Date may be from the emulator clock; the gateway allows 15 minutes "
            "(default %(default)s)",
            live=True,
            flag="--max-clock-skew",
            metavar="SECONDS",
        ),
    ] = Field(default=900.0, gt=0.0, le=MAX_CLOCK_SKEW_SECONDS, allow_inf_nan=False, strict=True)
    request_log_size: Annotated[
        int, Option("entries kept by GET /_emulator/requests (default %(default)s)", metavar="N")
    ] = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_REQUEST_LOG_SIZE)
    clock_offset_seconds: Annotated[
        float,
        Option("initial offset of the emulator clock, for tests (PUT /_emulator/clock)", flag=None),
        AfterValidator(checked_offset),
    ] = Field(default=0.0, allow_inf_nan=False)

    def updated(self, changes: dict[str, Any]) -> EmulatorOptions:
        """Validate ``changes`` on top of the current values; raises :class:`OptionsError`."""
        current = {name: getattr(self, name) for name in type(self).model_fields}
        return parse_options({**current, **changes})

    def live_settings(self) -> dict[str, Any]:
        """The behaviour switches, as ``GET /_emulator/settings`` shows them."""
        return self.model_dump(mode="json", include=set(LIVE_SETTINGS))

    def with_live_settings(self, changes: dict[str, Any]) -> EmulatorOptions:
        """``PUT /_emulator/settings``: only live options can change; raises :class:`OptionsError`."""
        for name in changes:
            if name in type(self).model_fields and name not in LIVE_SETTINGS:
                raise OptionsError(f"{name}: is fixed when the emulator starts; it cannot change at run time")
        return self.updated(changes)


def option_of(field: FieldInfo) -> Option:
    """The :class:`Option` every field declares (a field without one is a bug caught at import)."""
    found = [item for item in field.metadata if isinstance(item, Option)]
    if len(found) != 1:
        raise TypeError(f"every EmulatorOptions field needs exactly one Option, got {found!r}")
    return found[0]


OPTIONS: Final = {name: option_of(field) for name, field in EmulatorOptions.model_fields.items()}
LIVE_SETTINGS: Final = tuple(name for name, option in OPTIONS.items() if option.live)


class OptionsError(ValueError):
    """An option value was refused; the message names the option and the reason."""


def parse_options(values: dict[str, Any]) -> EmulatorOptions:
    try:
        return EmulatorOptions.model_validate(values)
    except ValidationError as exc:
        path, reason = first_error(exc)
        raise OptionsError(f"{path or 'options'}: {reason}") from None


def options_from(base: EmulatorOptions | None, changes: dict[str, Any]) -> EmulatorOptions:
    """``base`` (or the defaults) with keyword ``changes``: what create_app and start_emulator take."""
    if base is None:
        return parse_options(changes)
    return base.updated(changes) if changes else base
