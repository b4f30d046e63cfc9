"""``mrs-iam-sync show``: what each cluster has synced today, asked of the API with the stack's own settings.

The clusters are those of the stack's ``mrs-iam-sync:clusters`` config (this repository's program)
or, when it has none, those of the ClusterIamSync resources in the stack's state (a program that
declares them in code). With ``--as-config`` the answer is a ``mrs-iam-sync:clusters`` block, with
``--as-code`` the Python declarations: either declares exactly what is synced, so the first
``pulumi up`` adopts it without starting a task (``pulumi import`` does not work for dynamic
resources).

The HTTP client and the settings (httpx, pydantic) are imported only when the command runs, so
``mrs-iam-sync plan`` and ``--help`` do not pay for them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
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
The clusters are those of the stack's {CLUSTERS_KEY} or, without it, those of the stack's
ClusterIamSync resources (their state), or the ones named with --cluster.
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
        help="a cluster to read (repeatable; default: every cluster the stack declares)",
    )
    adopt = parser.add_mutually_exclusive_group()
    adopt.add_argument(
        "--as-config",
        action="store_true",
        help=f"print a ready-to-paste {CLUSTERS_KEY} block that adopts what is synced",
    )
    adopt.add_argument(
        "--as-code",
        action="store_true",
        help="print the ClusterIamSync declarations (Python) that adopt what is synced",
    )
    parser.set_defaults(run=run)


@dataclass(frozen=True)
class Target:
    """A cluster to read, named as the stack names it."""

    name: str
    cluster_id: str
    overrides: Mapping[str, str] = field(default_factory=dict)
    """The entry's own project_id / region, if it sets them."""

    def without_defaults(self, settings: Settings) -> Target:
        """The target without the project and region that are the stack's own: a declaration that
        adopts it need not spell them out."""
        own = {"project_id": settings.project_id, "region": settings.region}
        return replace(self, overrides={k: v for k, v in self.overrides.items() if v != own.get(k)})


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


def in_config(entries: object) -> list[Target]:
    """The clusters of a ``mrs-iam-sync:clusters`` list."""
    return [
        Target(
            name=str(entry.get("name") or entry["cluster_id"]),
            cluster_id=str(entry["cluster_id"]),
            overrides={key: str(entry[key]) for key in TARGET_KEYS if entry.get(key)},
        )
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, Mapping) and entry.get("cluster_id")
    ]


def in_state(deployment: Mapping[str, Any]) -> tuple[list[Target], list[str]]:
    """The clusters of the ClusterIamSync resources in a ``pulumi stack export`` document, and the
    names of those whose cluster id cannot be read (a secret). By name: the state's order is the
    order the engine finished them in.

    The project and region are where each resource really went (its outputs): the provider's
    defaults may have changed since.
    """
    from mrs_iam_sync.checkpoint import stored_resources  # noqa: PLC0415 - see the module docstring

    targets: list[Target] = []
    unreadable: list[str] = []
    for stored in sorted(stored_resources(deployment), key=lambda stored: stored.name):
        cluster = stored.declared.cluster
        if cluster.cluster_id is None:
            unreadable.append(stored.name)
            continue
        where = {"project_id": cluster.project_id, "region": cluster.region}
        overrides = {key: value for key, value in where.items() if value is not None}
        targets.append(Target(name=stored.name, cluster_id=cluster.cluster_id, overrides=overrides))
    return targets, unreadable


def _targets(declared: Sequence[Target], wanted: Sequence[str] | None) -> list[Target]:
    if not wanted:
        if not declared:
            raise CommandFailed(
                f"the stack declares no clusters: no {CLUSTERS_KEY} in its config and no ClusterIamSync "
                "in its state; name some with --cluster"
            )
        return list(declared)
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


def adoptions(found: Sequence[Synced]) -> tuple[list[dict[str, Any]], list[str]]:
    """What ``--as-config`` and ``--as-code`` both declare: one entry (name, cluster_id, overrides,
    names) per cluster with something synced, and a note for each cluster without."""
    entries: list[dict[str, Any]] = []
    notes: list[str] = []
    for item in found:
        if not item.users and not item.groups:
            notes.append(
                f"{item.target.name} ({item.target.cluster_id}): nothing is synced, so there is "
                "nothing to adopt (a declaration needs at least one user or group)"
            )
            continue
        entry: dict[str, Any] = {"name": item.target.name, "cluster_id": item.target.cluster_id}
        entry.update(item.target.overrides)
        if item.users:
            entry["user_names"] = list(item.users)
        if item.groups:
            entry["group_names"] = list(item.groups)
        entries.append(entry)
    return entries, notes


def as_config(found: Sequence[Synced]) -> str:
    """A block for ``config:`` of a stack file that declares exactly what is synced."""
    import yaml  # noqa: PLC0415 - only this output needs it

    entries, notes = adoptions(found)
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
    lines += [f"  # {note}" for note in notes]
    return "\n".join(lines) + "\n"


CODE_WIDTH = 100
"""A declaration longer than this is printed one argument per line, as a formatter would."""


def _declaration(entry: Mapping[str, Any]) -> str:
    # JSON's string and list literals are Python's too (non-ASCII comes out as \u escapes).
    arguments = [json.dumps(entry["name"])]
    arguments += [f"{key}={json.dumps(value)}" for key, value in entry.items() if key != "name"]
    one_line = f"ClusterIamSync({', '.join(arguments)})"
    if len(one_line) <= CODE_WIDTH:
        return one_line
    return "ClusterIamSync(\n" + "".join(f"    {argument},\n" for argument in arguments) + ")"


def as_code(found: Sequence[Synced]) -> str:
    """The Python declarations, for a program that declares its resources in code, of exactly what is
    synced: the same entries as :func:`as_config`."""
    entries, notes = adoptions(found)
    lines = ["# Add to the stack's program: declaring what is synced adopts it."]
    if entries:
        lines += ["from mrs_iam_sync import ClusterIamSync", ""]
        lines += [_declaration(entry) for entry in entries]
    lines += [f"# {note}" for note in notes]
    return "\n".join(lines) + "\n"


def _render(args: argparse.Namespace, found: Sequence[Synced]) -> str:
    if args.as_config:
        return as_config(found)
    return as_code(found) if args.as_code else as_text(found)


def run(args: argparse.Namespace, extra: Sequence[str]) -> Outcome:
    if extra:
        raise CommandFailed("show takes no arguments after --")
    config = pulumi_cli.stack_config(args.stack, cwd=args.cwd)
    declared = in_config(config.get(CLUSTERS_KEY))
    unreadable: list[str] = []
    if not declared:
        declared, unreadable = in_state(pulumi_cli.stack_export(args.stack, cwd=args.cwd))
    if unreadable and not declared and not args.clusters:
        raise CommandFailed(
            f"the cluster_id of {', '.join(unreadable)} is secret in the stack's state; name the "
            "clusters with --cluster"
        )
    targets = _targets(declared, args.clusters)
    settings = _settings(config)
    targets = [target.without_defaults(settings) for target in targets]
    found, failures = read_all(settings, targets)
    if not args.clusters:
        failures += [f"{name}: its cluster_id is secret in the stack's state" for name in unreadable]
    sys.stdout.write(_render(args, found))
    if failures:
        raise CommandFailed(f"could not read {plural(len(failures), 'cluster')}: " + "; ".join(failures))
    return Outcome.NO_CHANGES
