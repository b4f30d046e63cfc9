"""A full sync beside named resources on one cluster: removals there do less than they say.

The provider keeps everything a live full sync brought (a full sync has no owner to cancel it), so
a name dropped from a named resource on that cluster stays synced. ``mrs-iam-sync plan`` and the
guardrails warn about the layout; both find it here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from mrs_iam_sync.inputs import ClusterKey

FULL_SYNC_KEEPS: Final = (
    "while it lives, nothing its full sync brought is cancelled when they stop declaring it"
)
"""Why the layout deserves a warning, in the words of every warning about it."""


@dataclass(frozen=True)
class SharedFullSync:
    """One full-sync resource and the named resources that may be on its cluster."""

    full_sync: str
    cluster: ClusterKey
    named: tuple[str, ...]
    """Sorted resource names."""


def full_syncs_beside_names(resources: Iterable[tuple[str, ClusterKey, bool]]) -> list[SharedFullSync]:
    """Each full sync among ``(name, cluster, is full sync)`` that shares a cluster with named resources.

    "Shares" is :meth:`ClusterKey.may_be`: where a default or a value is not known, it may.
    """
    listed = list(resources)
    found = []
    for name, cluster, full_sync in listed:
        if not full_sync:
            continue
        named = tuple(
            sorted(
                other
                for other, where, other_full_sync in listed
                if other != name and not other_full_sync and where.may_be(cluster)
            )
        )
        if named:
            found.append(SharedFullSync(name, cluster, named))
    return found
