"""``mrs-iam-sync plan``: the principals each cluster gains and loses, from one ``pulumi preview --json``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mrs_iam_sync.cli import config_credentials, pulumi_cli
from mrs_iam_sync.cli.outcome import CommandFailed, Outcome, add_command
from mrs_iam_sync.cli.preview import PreviewFailed, build_plan, parse_event_log
from mrs_iam_sync.cli.preview_document import load_preview
from mrs_iam_sync.cli.render import FAILURE_RENDERERS, RENDERERS

DESCRIPTION = """\
Run `pulumi preview --json` for a stack (or read its saved output) and show, per cluster, the IAM
users and groups that `pulumi up` will sync and cancel: as sets, never by list position. Drift
found with --refresh, replacements that move to another cluster, and is_all_sync switched on or
off are called out, policy violations are included, and a one-line total ends the output.

Arguments after `--` go to `pulumi preview` unchanged, for example:
  mrs-iam-sync plan --stack staging --format markdown -- \\
      --policy-pack policy --policy-pack-config stacks/policy.staging.json
"""


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "plan",
        summary="who will be synced and cancelled on which cluster (from pulumi preview --json)",
        description=DESCRIPTION,
        stack_help="the stack to preview (default: the selected stack)",
    )
    parser.add_argument(
        "--format", choices=sorted(RENDERERS), default="text", help="output format (default: text)"
    )
    parser.add_argument(
        "--input",
        metavar="PREVIEW_JSON",
        help="read a saved `pulumi preview --json --show-sames` output instead of running a preview "
        "('-': stdin)",
    )
    parser.add_argument(
        "--policy-events",
        metavar="EVENT_LOG",
        help="with --input: the preview's --event-log file, for its policy violations",
    )
    parser.add_argument(
        "--refresh", action="store_true", help="refresh first, so that drift shows (pulumi preview --refresh)"
    )
    parser.add_argument(
        "--commit",
        default=os.environ.get("GITHUB_SHA") or None,
        help="the commit the plan is for, named in the output (default: $GITHUB_SHA when set)",
    )
    parser.set_defaults(run=run)


def _read(path: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise CommandFailed(f"cannot read {path}: {exc.strerror}") from None


def _from_saved(args: argparse.Namespace) -> tuple[Mapping[str, Any], Iterable[Mapping[str, Any]]]:
    digest = load_preview(_read(args.input), where="standard input" if args.input == "-" else args.input)
    events = parse_event_log(_read(args.policy_events)) if args.policy_events else ()
    return digest, events


def run(args: argparse.Namespace, extra: Sequence[str]) -> Outcome:
    try:
        return _plan(args, extra)
    except CommandFailed as exc:
        stack = args.stack or "(the selected stack)"
        sys.stdout.write(FAILURE_RENDERERS[args.format](stack, str(exc), commit=args.commit))
        raise


def _plan(args: argparse.Namespace, extra: Sequence[str]) -> Outcome:
    if args.input and (extra or args.refresh):
        raise CommandFailed("--input reads a finished preview: --refresh and flags after -- do not apply")
    if args.policy_events and not args.input:
        raise CommandFailed("--policy-events goes with --input; when plan runs the preview it collects them")
    returncode, stderr = 0, ""
    if args.input:
        digest, events = _from_saved(args)
    else:
        config_credentials.refuse_stored_credentials(args.stack, cwd=args.cwd)
        preview = pulumi_cli.preview(stack=args.stack, refresh=args.refresh, extra=extra, cwd=args.cwd)
        returncode, stderr = preview.returncode, preview.stderr
        if not preview.digest.strip():
            raise PreviewFailed(f"pulumi preview failed: {pulumi_cli.last_error(preview.stderr)}")
        digest = load_preview(preview.digest, where="the output of pulumi preview")
        events = parse_event_log(preview.events)
    plan = build_plan(digest, events, stack=args.stack)
    if returncode != 0 and plan.outcome is not Outcome.POLICY_VIOLATION:
        raise PreviewFailed(f"pulumi preview failed: {pulumi_cli.last_error(stderr)}")
    sys.stdout.write(RENDERERS[args.format](plan, commit=args.commit))
    return plan.outcome
