"""The ``mrs-iam-sync`` entry point: one parser, a subcommand per module, exit codes from ``outcome``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from mrs_iam_sync.cli import plan, policy_pack, show
from mrs_iam_sync.cli.outcome import CommandFailed, Outcome, exit_code_help

PROG = "mrs-iam-sync"
PASS_THROUGH = "--"
"""Everything after it goes to the command that runs pulumi (``plan``), untouched."""


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on a usage error, which here means "changes"; exit with ERROR instead."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(Outcome.ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Review and adopt the IAM users and groups that stacks sync into MRS clusters.",
        epilog=exit_code_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    plan.register(subcommands)
    show.register(subcommands)
    policy_pack.register(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if PASS_THROUGH in arguments:
        cut = arguments.index(PASS_THROUGH)
        arguments, extra = arguments[:cut], arguments[cut + 1 :]
    args = build_parser().parse_args(arguments)
    try:
        return int(args.run(args, extra))
    except CommandFailed as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return int(Outcome.ERROR)
