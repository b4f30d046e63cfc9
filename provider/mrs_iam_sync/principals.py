"""``Principals``: users and groups as sets, the unit every decision about a cluster is made in."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypedDict

from mrs_iam_sync.rules import MAX_CANCEL_NAMES

if TYPE_CHECKING:  # the plan CLI uses Principals without loading pydantic
    from mrs_iam_sync.models import SyncedPrincipals


class PrincipalNames(TypedDict):
    user_names: list[str]
    group_names: list[str]


@dataclass(frozen=True)
class Principals:
    """Users and groups, as sets."""

    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    @classmethod
    def of(cls, users: Collection[str], groups: Collection[str]) -> Principals:
        return cls(frozenset(users), frozenset(groups))

    @classmethod
    def synced(cls, listing: SyncedPrincipals) -> Principals:
        return cls.of(listing.user_names, listing.group_names)

    @classmethod
    def union(cls, sets: Iterable[Principals]) -> Principals:
        users: set[str] = set()
        groups: set[str] = set()
        for each in sets:
            users |= each.users
            groups |= each.groups
        return cls(frozenset(users), frozenset(groups))

    def describe(self) -> str:
        """For messages: sorted names, users first."""
        return ", ".join([*sorted(self.users), *sorted(self.groups)])

    @property
    def names(self) -> PrincipalNames:
        """The keyword arguments of the request models, sorted so requests are reproducible."""
        return {"user_names": sorted(self.users), "group_names": sorted(self.groups)}

    def chunks(self, size: int = MAX_CANCEL_NAMES) -> Iterator[Principals]:
        """Pieces with at most ``size`` users and ``size`` groups each: the API's limit per list."""
        users, groups = sorted(self.users), sorted(self.groups)
        for start in range(0, max(len(users), len(groups)), size):
            yield Principals.of(users[start : start + size], groups[start : start + size])

    def __bool__(self) -> bool:
        return bool(self.users or self.groups)

    def __sub__(self, other: Principals) -> Principals:
        return Principals(self.users - other.users, self.groups - other.groups)

    def __and__(self, other: Principals) -> Principals:
        return Principals(self.users & other.users, self.groups & other.groups)

    def __or__(self, other: Principals) -> Principals:
        return Principals(self.users | other.users, self.groups | other.groups)

    def __le__(self, other: Principals) -> bool:
        """Every user and group here is also in ``other``."""
        return self.users <= other.users and self.groups <= other.groups


NOBODY: Final = Principals()
