"""Exit codes of ``mrs-iam-sync``, declared once: the parser's help and the README are checked against them.

CI tells outcomes apart by these codes alone (``drift.yml`` fails on drift and on error with
different messages), so each value is part of the command's interface and never changes meaning.
"""

from __future__ import annotations

import argparse
from enum import IntEnum
from typing import Any


class Outcome(IntEnum):
    """What a command found; the process exits with the value."""

    NO_CHANGES = 0
    ERROR = 1
    CHANGES = 2
    POLICY_VIOLATION = 3

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    Outcome.NO_CHANGES: "success; for plan: no changes (the clusters have what the stack declares)",
    Outcome.ERROR: "error: the preview or an API call failed, or wrong arguments (one line on stderr)",
    Outcome.CHANGES: "plan: changes (including drift found by --refresh)",
    Outcome.POLICY_VIOLATION: "plan: a mandatory policy is violated, so `pulumi up` would refuse the changes",
}


def exit_code_help() -> str:
    """The exit-code table for ``--help`` epilogs."""
    return "exit codes:\n" + "\n".join(f"  {code.value}  {code.meaning}" for code in Outcome)


def add_command(
    subparsers: Any, name: str, *, summary: str, description: str, stack_help: str
) -> argparse.ArgumentParser:
    """A subcommand as every one is shaped: its description as written, the exit codes as the
    epilog of its ``--help``, ``-s/--stack`` and ``-C/--cwd`` (the project that holds the stack)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=summary,
        description=description,
        epilog=exit_code_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-s", "--stack", help=stack_help)
    parser.add_argument(
        "-C",
        "--cwd",
        metavar="DIR",
        help="the Pulumi project's directory, for every pulumi command this runs (default: the current one)",
    )
    return parser


class CommandFailed(Exception):
    """A command could not do its job; the message is one line for a person, printed on stderr."""
