"""The ``pulumi`` commands the CLI runs: the JSON preview behind ``plan``, the stack config behind ``show``.

Both run the ``pulumi`` on PATH in the current directory (the project), with the caller's
environment, so the backend, passphrase and credentials are exactly the ones ``pulumi up`` uses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from mrs_iam_sync.cli.outcome import CommandFailed

EVENT_LOG_SWITCH: Final = {"PULUMI_DEBUG_COMMANDS": "true"}
"""``--event-log`` is only accepted with this set (Pulumi's Automation API sets it the same way).

The event log is the only place a ``--json`` preview reports policy violations.
"""


class PulumiFailed(CommandFailed):
    """A ``pulumi`` command failed before it produced anything to read; the message is one line."""


@dataclass(frozen=True)
class PreviewRun:
    returncode: int
    digest: str
    """stdout: the ``--json`` digest (empty when the CLI failed before the preview started)."""
    stderr: str
    events: str
    """The ``--event-log`` file's text: one JSON engine event per line."""


def _pulumi() -> str:
    found = shutil.which("pulumi")
    if found is None:
        raise PulumiFailed(
            "pulumi is not on PATH (put the directory printed by toolchain/get-pulumi.sh on PATH)"
        )
    return found


def last_error(stderr: str) -> str:
    """The most telling line of a failed command's stderr."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or ["(no output)"])[-1].removeprefix("error: ")


def preview_arguments(
    *, stack: str | None, refresh: bool, event_log: Path, extra: Sequence[str] = ()
) -> list[str]:
    """The arguments of the preview ``plan`` runs (run them with :data:`EVENT_LOG_SWITCH` set).

    ``--show-sames`` puts unchanged resources in the digest too: what they declare decides whether a
    principal that one resource drops is really cancelled (see ``preview._keep_still_declared``).
    """
    arguments = ["preview", "--json", "--show-sames", "--non-interactive", "--event-log", str(event_log)]
    if stack:
        arguments += ["--stack", stack]
    if refresh:
        arguments.append("--refresh")
    return [*arguments, *extra]


def preview(*, stack: str | None, refresh: bool, extra: Sequence[str]) -> PreviewRun:
    """``pulumi preview --json``, with the engine's event log captured next to it."""
    with tempfile.TemporaryDirectory(prefix="mrs-iam-sync-plan-") as scratch:
        events = Path(scratch) / "events.jsonl"
        command = [_pulumi(), *preview_arguments(stack=stack, refresh=refresh, event_log=events, extra=extra)]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env={**os.environ, **EVENT_LOG_SWITCH},
            stdin=subprocess.DEVNULL,
            check=False,
        )
        log = events.read_text(errors="replace") if events.exists() else ""
    return PreviewRun(result.returncode, result.stdout, result.stderr, log)


def stack_config(stack: str | None) -> dict[str, Any]:
    """The stack's config with secrets decrypted, as ``{key: value}`` (objects and lists parsed).

    Secret values stay in this process: callers hand them to ``resolve_settings`` and print none.
    """
    command = [_pulumi(), "config", "--json", "--show-secrets"]
    if stack:
        command += ["--stack", stack]
    result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    if result.returncode != 0:
        raise PulumiFailed(f"pulumi config failed: {last_error(result.stderr)}")
    try:
        document = json.loads(result.stdout)
    except ValueError:
        raise PulumiFailed("pulumi config --json printed something that is not JSON") from None
    return {
        key: entry["objectValue"] if "objectValue" in entry else entry.get("value")
        for key, entry in document.items()
        if isinstance(entry, dict)
    }
