"""``mrs-iam-sync show``: what each cluster has synced today, asked of the API with the stack's own settings.

With ``--as-config`` the answer is a ``mrs-iam-sync:clusters`` block: pasted into a stack, it
declares exactly what is synced, so the first ``pulumi up`` adopts it without starting a task
(``pulumi import`` does not work for dynamic resources).

The HTTP client and the settings (httpx, pydantic) are imported only when the command runs, so
``mrs-iam-sync plan`` and ``--help`` do not pay for them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mrs_iam_sync.cli import pulumi_cli
from mrs_iam_sync.cli.outcome import CommandFailed, Outcome, add_command
from mrs_iam_sync.cli.render import plural

if TYPE_CHECKING:
    from mrs_iam_sync.client import MrsClient
    from mrs_iam_sync.settings import Settings

CLUSTERS_KEY = "mrs-iam-sync:clusters"
TARGET_KEYS = ("project_id", "region")
"""Per-entry keys that aim an entry at another project or region, kept in the --as-config output."""

DESCRIPTION = f"""\
Print the IAM users and groups synced on each cluster, read from the MRS API with the settings and
credentials the stack uses (its huaweicloud:* config, then the HW_* / HUAWEICLOUD_SDK_* environment).
The clusters are those of the stack's {CLUSTERS_KEY}, or the ones named with --cluster.
No credential is ever printed.
"""


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "show",
        summary="what each cluster has synced today (read from the MRS API)",
        description=DESCRIPTION,
        stack_help="the stack whose settings to use (default: the selected stack)",
    )
    parser.add_argument(
        "--cluster",
        metavar="ID",
        action="append",
        dest="clusters",
        help=f"a cluster to read (repeatable; default: every cluster of {CLUSTERS_KEY})",
    )
    parser.add_argument(
        "--as-config",
        action="store_true",
        help=f"print a ready-to-paste {CLUSTERS_KEY} block that adopts what is synced",
    )
    parser.set_defaults(run=run)


@dataclass(frozen=True)
class Target:
    """A cluster to read, named as the stack names it."""

    name: str
    cluster_id: str
    overrides: Mapping[str, str] = field(default_factory=dict)
    """The entry's own project_id / region, if it sets them."""


@dataclass(frozen=True)
class Synced:
    target: Target
    where: str
    users: tuple[str, ...]
    groups: tuple[str, ...]


READ_SECONDS = 60.0
"""The time one cluster's read may take, retries included."""


def synced_on(client: MrsClient, cluster_id: str, project_id: str) -> tuple[list[str], list[str]]:
    """The CLI's one API call (ShowSyncIamUser): the users and groups synced on a cluster."""
    from mrs_iam_sync.budget import Budget  # noqa: PLC0415 - see the module docstring
    from mrs_iam_sync.models import ClusterAddress  # noqa: PLC0415

    where = ClusterAddress.of(project_id=project_id, cluster_id=cluster_id)
    answer = client.show_sync_iam_user(where, budget=Budget(READ_SECONDS))
    return sorted(answer.user_names), sorted(answer.group_names)


def _targets(entries: object, wanted: Sequence[str] | None) -> list[Target]:
    declared = [
        Target(
            name=str(entry.get("name") or entry["cluster_id"]),
            cluster_id=str(entry["cluster_id"]),
            overrides={key: str(entry[key]) for key in TARGET_KEYS if entry.get(key)},
        )
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, Mapping) and entry.get("cluster_id")
    ]
    if not wanted:
        if not declared:
            raise CommandFailed(f"the stack declares no clusters ({CLUSTERS_KEY}); name some with --cluster")
        return declared
    by_id = {target.cluster_id: target for target in reversed(declared)}
    return [by_id.get(cluster_id, Target(name=cluster_id, cluster_id=cluster_id)) for cluster_id in wanted]


def _settings(config: Mapping[str, Any]) -> Settings:
    from mrs_iam_sync.errors import MrsError  # noqa: PLC0415 - see the module docstring
    from mrs_iam_sync.process import stack_config_of  # noqa: PLC0415
    from mrs_iam_sync.settings import resolve_settings  # noqa: PLC0415

    try:
        return resolve_settings(stack_config=stack_config_of(config.get))
    except MrsError as exc:
        raise CommandFailed(" ".join(str(exc).split())) from None


def read_all(settings: Settings, targets: Sequence[Target]) -> tuple[list[Synced], list[str]]:
    """Every target's synced principals, and a one-line failure for each target that could not be read."""
    from mrs_iam_sync.client import MrsClient  # noqa: PLC0415 - see the module docstring
    from mrs_iam_sync.errors import MrsError  # noqa: PLC0415

    found: list[Synced] = []
    failures: list[str] = []
    clients: dict[tuple[str, str], MrsClient] = {}
    try:
        for target in targets:
            try:
                aimed = settings.for_target(**target.overrides)
                key = (aimed.endpoint, aimed.project_id)
                if key not in clients:
                    clients[key] = MrsClient(aimed)
                client = clients[key]
                users, groups = synced_on(client, target.cluster_id, aimed.project_id)
            except MrsError as exc:
                failures.append(f"{target.name} ({target.cluster_id}): {' '.join(str(exc).split())}")
                continue
            where = f"{aimed.endpoint}, project {aimed.project_id}"
            found.append(Synced(target, where, tuple(users), tuple(groups)))
    finally:
        for client in clients.values():
            client.close()
    return found, failures


def as_text(found: Sequence[Synced]) -> str:
    lines: list[str] = []
    width = max((len(item.target.name) for item in found), default=0)
    for where in dict.fromkeys(item.where for item in found):
        lines.append(f"Synced on {where}:")
        for item in (item for item in found if item.where == where):
            lines.append(f"  {item.target.name:<{width}}  {item.target.cluster_id}")
            lines.append(f"    users:  {', '.join(item.users) or '-'}")
            lines.append(f"    groups: {', '.join(item.groups) or '-'}")
    return "\n".join(lines) + "\n" if lines else ""


def as_config(found: Sequence[Synced]) -> str:
    """A block for ``config:`` of a stack file that declares exactly what is synced."""
    import yaml  # noqa: PLC0415 - only this output needs it

    entries: list[dict[str, Any]] = []
    skipped: list[str] = []
    for item in found:
        if not item.users and not item.groups:
            skipped.append(
                f"  # {item.target.name} ({item.target.cluster_id}): nothing is synced, so there is "
                "nothing to adopt (an entry needs at least one user or group)"
            )
            continue
        entry: dict[str, Any] = {"name": item.target.name, "cluster_id": item.target.cluster_id}
        entry.update(item.target.overrides)
        if item.users:
            entry["user_names"] = list(item.users)
        if item.groups:
            entry["group_names"] = list(item.groups)
        entries.append(entry)
    lines = ["  # Paste under `config:` of stacks/Pulumi.<stack>.yaml: declaring what is synced adopts it."]

    class StackFileStyle(yaml.SafeDumper):
        """Indents list items under their key, as the stack files in stacks/ do."""

        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            super().increase_indent(flow, False)

    if entries:
        block = yaml.dump(
            {CLUSTERS_KEY: entries},
            Dumper=StackFileStyle,
            sort_keys=False,
            default_flow_style=None,
            width=100,
        )
        lines += [f"  {line}" for line in block.splitlines()]
    lines += skipped
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace, extra: Sequence[str]) -> Outcome:
    if extra:
        raise CommandFailed("show takes no arguments after --")
    config = pulumi_cli.stack_config(args.stack)
    targets = _targets(config.get(CLUSTERS_KEY), args.clusters)
    found, failures = read_all(_settings(config), targets)
    sys.stdout.write(as_config(found) if args.as_config else as_text(found))
    if failures:
        raise CommandFailed(f"could not read {plural(len(failures), 'cluster')}: " + "; ".join(failures))
    return Outcome.NO_CHANGES
