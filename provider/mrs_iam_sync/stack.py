"""The stack program: the ``clusters`` list from stack config in, ClusterIamSync resources and exports out.

It is a plain function so that ``__main__.py`` (the CLI path) and anything
driving the Automation API run the very same program.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import pulumi

from mrs_iam_sync.inputs import INPUT_NAMES, parse_inputs
from mrs_iam_sync.resource import ClusterIamSync

OPTION_KEYS: Final = frozenset({"protect"})
"""Resource options an entry may set: ``protect`` keeps `pulumi destroy` from revoking its access."""
ENTRY_KEYS: Final = frozenset({"name", *OPTION_KEYS, *INPUT_NAMES})


def _entry_problems(index: int, entry: object) -> list[str]:
    """Shape errors of one ``clusters`` entry; field values are checked by the resource itself."""
    where = f"mrs-iam-sync:clusters[{index}]"
    if not isinstance(entry, Mapping):
        return [f"{where} must be an object with at least name and cluster_id, got {type(entry).__name__}"]
    problems = [
        f"{where}.{key} is not a known key (known: {', '.join(sorted(ENTRY_KEYS))})"
        for key in sorted(set(entry) - ENTRY_KEYS)
    ]
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        problems.append(f"{where}.name must be a non-empty string: it names the resource in the stack")
    if "protect" in entry and not isinstance(entry["protect"], bool):
        problems.append(f"{where}.protect must be true or false")
    return problems


def _field_problems(index: int, entry: Mapping[str, Any]) -> list[str]:
    _, problems = parse_inputs({key: value for key, value in entry.items() if key in INPUT_NAMES})
    return [f"mrs-iam-sync:clusters[{index}] ({entry['name']}).{p.property} {p.reason}" for p in problems]


def read_clusters(config: pulumi.Config) -> list[Mapping[str, Any]]:
    """The configured clusters, or one error listing every shape problem at once."""
    clusters = config.require_object("clusters")
    if not isinstance(clusters, list):
        raise pulumi.RunError(
            f"mrs-iam-sync:clusters must be a list of objects, got {type(clusters).__name__}"
        )
    problems = [problem for index, entry in enumerate(clusters) for problem in _entry_problems(index, entry)]
    names = [
        entry["name"]
        for entry in clusters
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str)
    ]
    problems += [
        f"mrs-iam-sync:clusters has the name {n!r} more than once"
        for n in sorted({n for n in names if names.count(n) > 1})
    ]
    if not problems:
        # Each resource's check would report its own fields, but the engine stops at the first
        # resource that fails; validating every entry here lists all of them in one preview.
        problems = [
            problem for index, entry in enumerate(clusters) for problem in _field_problems(index, entry)
        ]
    if problems:
        raise pulumi.RunError("invalid stack config:\n  - " + "\n  - ".join(problems))
    return clusters


def program() -> None:
    """Declare one ClusterIamSync per configured cluster and export what each one synced."""
    synced: dict[str, pulumi.Output[Any]] = {}
    for entry in read_clusters(pulumi.Config()):
        inputs = {key: value for key, value in entry.items() if key in INPUT_NAMES and key != "cluster_id"}
        # A missing cluster_id is reported by the resource's check, with the other field errors.
        resource = ClusterIamSync(
            entry["name"],
            cluster_id=entry.get("cluster_id", ""),
            opts=pulumi.ResourceOptions(protect=entry.get("protect", False)),
            **inputs,
        )
        synced[entry["name"]] = pulumi.Output.all(
            cluster_id=resource.cluster_id,
            users=resource.synced_user_names,
            groups=resource.synced_group_names,
            complete=resource.cluster_sync_complete,
        )
    pulumi.export("synced", synced)
