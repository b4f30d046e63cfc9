"""The ``pulumi`` commands the CLI runs: the JSON preview of ``plan``, the config and state of ``show``.

Each runs the ``pulumi`` on PATH with the caller's environment, so the backend, passphrase and
credentials are exactly the ones ``pulumi up`` uses, in the project of the current directory or
of ``-C/--cwd`` (see :func:`_run`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
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


def _run(
    arguments: Sequence[str], *, cwd: str | None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Every ``pulumi`` command of the CLI, run here so that ``-C/--cwd`` reaches each of them."""
    where: list[str] = []
    if cwd is not None:
        # Checked here: pulumi's own message for a bad --cwd does not look like its other errors.
        if not Path(cwd).is_dir():
            raise PulumiFailed(f"--cwd {cwd}: no such directory")
        # A global flag before the command, so that no argument passed after `--` can swallow it.
        where = ["--cwd", cwd]
    return subprocess.run(
        [_pulumi(), *where, *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        check=False,
    )


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


def preview(*, stack: str | None, refresh: bool, extra: Sequence[str], cwd: str | None = None) -> PreviewRun:
    """``pulumi preview --json``, with the engine's event log captured next to it."""
    with tempfile.TemporaryDirectory(prefix="mrs-iam-sync-plan-") as scratch:
        events = Path(scratch) / "events.jsonl"
        arguments = preview_arguments(stack=stack, refresh=refresh, event_log=events, extra=extra)
        result = _run(arguments, cwd=cwd, env=EVENT_LOG_SWITCH)
        log = events.read_text(errors="replace") if events.exists() else ""
    return PreviewRun(result.returncode, result.stdout, result.stderr, log)


def _stack_flag(stack: str | None) -> list[str]:
    return ["--stack", stack] if stack else []


def _json_of(command: str, arguments: Sequence[str], *, cwd: str | None) -> dict[str, Any]:
    """The JSON object that ``pulumi <command> <arguments>`` prints; its failure as one line."""
    arguments = [*command.split(), *arguments]
    result = _run(arguments, cwd=cwd)
    if result.returncode != 0:
        raise PulumiFailed(f"pulumi {command} failed: {last_error(result.stderr)}")
    try:
        document = json.loads(result.stdout)
    except ValueError:
        raise PulumiFailed(f"pulumi {command} printed something that is not JSON") from None
    if not isinstance(document, dict):
        raise PulumiFailed(f"pulumi {command} printed no JSON object")
    return document


def stack_config(stack: str | None, *, cwd: str | None = None) -> dict[str, Any]:
    """The stack's config with secrets decrypted, as ``{key: value}`` (objects and lists parsed).

    Secret values stay in this process: callers hand them to ``resolve_settings`` and print none.
    """
    document = _json_of("config", ["--json", "--show-secrets", *_stack_flag(stack)], cwd=cwd)
    return {
        key: entry["objectValue"] if "objectValue" in entry else entry.get("value")
        for key, entry in document.items()
        if isinstance(entry, dict)
    }


def stack_export(stack: str | None, *, cwd: str | None = None) -> dict[str, Any]:
    """The stack's state (``pulumi stack export``), for the resources a program declares in code.

    Without ``--show-secrets``: secret values stay ciphertext, and no secret is decrypted to be printed.
    """
    return _json_of("stack export", ["--non-interactive", *_stack_flag(stack)], cwd=cwd)
