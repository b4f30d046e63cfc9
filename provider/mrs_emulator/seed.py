"""Seed files: the IAM directory, clusters and credentials an emulator starts from.

A seed is validated completely before the emulator starts, in two passes:
pydantic checks shapes, types and id formats; :func:`_check_references`
then checks what pydantic cannot see field by field (duplicates, groups that
must exist, credentials scoped to projects that exist).  Both passes report
the same way, ``<file>: <field path>: <reason>``, so a typo in a hand-written
seed is found in one reading.  Values are never echoed: a seed holds secret
keys and tokens.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, InstanceOf, SecretStr, ValidationError
from pydantic_core import PydanticCustomError

from mrs_emulator.jsonbody import JsonError, parse_json
from mrs_emulator.validation import first_error
from mrs_iam_sync.rules import (
    CLUSTER_ID_PATTERN,
    CLUSTER_ID_RULE,
    NAME_RULE,
    PROJECT_ID_PATTERN,
    PROJECT_ID_RULE,
)

DEMO_SEED_NAME: Final = "demo-seed.yaml"

_ACCESS_KEY_PATTERN: Final = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_ACCESS_KEY_RULE: Final = "must be 1 to 128 characters: letters, digits, '.', '_' and '-' only"


def _matching(pattern: re.Pattern[str], rule: str, error_type: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise PydanticCustomError(error_type, rule)
        return value

    return AfterValidator(check)


def _non_empty(value: str) -> str:
    if not value:
        raise PydanticCustomError("name", NAME_RULE)
    return value


ProjectId = Annotated[str, _matching(PROJECT_ID_PATTERN, PROJECT_ID_RULE, "project_id")]
ClusterId = Annotated[str, _matching(CLUSTER_ID_PATTERN, CLUSTER_ID_RULE, "cluster_id")]
AccessKey = Annotated[str, _matching(_ACCESS_KEY_PATTERN, _ACCESS_KEY_RULE, "access_key")]
Name = Annotated[str, AfterValidator(_non_empty)]


def _non_empty_secret(value: SecretStr) -> SecretStr:
    if not value.get_secret_value():
        raise PydanticCustomError("secret", NAME_RULE)
    return value


Secret = Annotated[SecretStr, AfterValidator(_non_empty_secret)]


class _SeedModel(BaseModel):
    # strict: YAML already yields real booleans and numbers; "yes" or 1 for a flag is a typo.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SyncedSeed(_SeedModel):
    users: list[Name] = Field(default_factory=list)
    groups: list[Name] = Field(default_factory=list)


class ClusterSeed(_SeedModel):
    id: ClusterId
    name: Name | None = None
    synced: SyncedSeed = Field(default_factory=SyncedSeed)
    is_synchronous: bool = False


class UserSeed(_SeedModel):
    name: Name
    groups: list[Name] = Field(default_factory=list)
    mrs_policy: bool
    """Required on purpose: a user without an MRS policy is silently skipped by every sync."""


class IamSeed(_SeedModel):
    groups: list[Name] = Field(default_factory=list)
    users: list[UserSeed] = Field(default_factory=list)


class ProjectSeed(_SeedModel):
    id: ProjectId
    region: Name
    clusters: list[ClusterSeed] = Field(default_factory=list)
    iam: IamSeed = Field(default_factory=IamSeed)


class AccessKeySeed(_SeedModel):
    access_key: AccessKey
    secret_key: Secret
    security_token: Secret | None = None
    """Set for temporary credentials: requests must then carry a matching, signed X-Security-Token."""
    projects: list[ProjectId] | None = None
    """``None``: every project; otherwise requests to other projects get 403 APIGW.0302."""


class TokenSeed(_SeedModel):
    token: Secret
    projects: list[ProjectId] | None = None
    """``None``: every project; otherwise other projects get 401 APIGW.0307, like a foreign-scoped token."""


class CredentialsSeed(_SeedModel):
    access_keys: list[AccessKeySeed] = Field(default_factory=list)
    tokens: list[TokenSeed] = Field(default_factory=list)


class Seed(_SeedModel):
    projects: list[ProjectSeed] = Field(min_length=1)
    credentials: CredentialsSeed = Field(default_factory=CredentialsSeed)


class SeedError(ValueError):
    """A seed was refused; ``str()`` is one line naming the source, the field path and the reason."""

    def __init__(self, source: str, path: str, reason: str) -> None:
        super().__init__(f"{source}: {path}: {reason}")
        self.source = source
        self.path = path
        self.reason = reason


SeedSource = InstanceOf[Seed] | Path | dict[str, Any] | None
"""A file path (YAML or JSON by extension), an already parsed mapping, a Seed, or None for the demo seed.

Written for pydantic (the ``seed`` option holds one): a ``str`` becomes a ``Path``.
"""


def load_seed(source: SeedSource | str | os.PathLike[str] | Mapping[str, Any]) -> Seed:
    if isinstance(source, Seed):
        return source
    if source is None:
        return demo_seed()
    if isinstance(source, Mapping):
        return parse_seed(source, source="<seed mapping>")
    return parse_seed(_read_file(Path(source)), source=str(source))


@functools.cache
def demo_seed() -> Seed:
    """The packaged demo seed, parsed once per process (a Seed is immutable)."""
    text = resources.files("mrs_emulator").joinpath(DEMO_SEED_NAME).read_text(encoding="utf-8")
    return parse_seed(yaml.safe_load(text), source=f"{DEMO_SEED_NAME} (packaged)")


def _read_file(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix not in {".yaml", ".yml", ".json"}:
        raise SeedError(str(path), "(file)", "unsupported extension: use .yaml, .yml or .json")
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedError(str(path), "(file)", f"cannot be read: {exc}") from None
    if suffix == ".json":
        try:
            return parse_json(data)
        except JsonError as exc:
            raise SeedError(str(path), "(file)", " ".join(str(exc).split())) from None
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        reason = " ".join(str(exc).split())
        raise SeedError(str(path), "(file)", f"is not valid YAML: {reason}") from None


def parse_seed(data: Any, *, source: str) -> Seed:
    if not isinstance(data, Mapping):
        raise SeedError(source, "(root)", "must be a mapping with 'projects' and 'credentials'")
    try:
        seed = Seed.model_validate(dict(data))
    except ValidationError as exc:
        path, reason = first_error(exc)
        raise SeedError(source, path or "(root)", reason) from None
    for path, reason in _check_references(seed):
        raise SeedError(source, path, reason)
    return seed


def _duplicates(values: list[str], where: str, field: str = "") -> Iterator[tuple[str, str]]:
    seen: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in seen:
            yield f"{where}[{index}]{field}", f"duplicate of {where}[{seen[value]}]{field}"
        seen.setdefault(value, index)


def _check_references(seed: Seed) -> Iterator[tuple[str, str]]:
    """Yield (field path, reason) for every cross-field problem, first problem first."""
    project_ids = [project.id for project in seed.projects]
    yield from _duplicates(project_ids, "projects", ".id")
    for p_index, project in enumerate(seed.projects):
        where = f"projects[{p_index}]"
        yield from _check_project(project, where)
    known_projects = set(project_ids)
    credentials = seed.credentials
    access_keys = [entry.access_key for entry in credentials.access_keys]
    yield from _duplicates(access_keys, "credentials.access_keys", ".access_key")
    tokens = [entry.token.get_secret_value() for entry in credentials.tokens]
    yield from _duplicates(tokens, "credentials.tokens", ".token")
    scoped: list[tuple[str, list[str] | None]] = [
        (f"credentials.access_keys[{i}]", entry.projects) for i, entry in enumerate(credentials.access_keys)
    ] + [(f"credentials.tokens[{i}]", entry.projects) for i, entry in enumerate(credentials.tokens)]
    for where, projects in scoped:
        for index, project_id in enumerate(projects or []):
            if project_id not in known_projects:
                yield f"{where}.projects[{index}]", f"unknown project {project_id!r} (not in projects)"


def _check_project(project: ProjectSeed, where: str) -> Iterator[tuple[str, str]]:
    yield from _duplicates([cluster.id for cluster in project.clusters], f"{where}.clusters", ".id")
    groups = set(project.iam.groups)
    yield from _duplicates(project.iam.groups, f"{where}.iam.groups")
    users = [user.name for user in project.iam.users]
    yield from _duplicates(users, f"{where}.iam.users", ".name")
    for u_index, user in enumerate(project.iam.users):
        for g_index, group in enumerate(user.groups):
            if group not in groups:
                yield (
                    f"{where}.iam.users[{u_index}].groups[{g_index}]",
                    f"unknown group {group!r} (not in {where}.iam.groups)",
                )
    known_users = set(users)
    for c_index, cluster in enumerate(project.clusters):
        synced = f"{where}.clusters[{c_index}].synced"
        for index, name in enumerate(cluster.synced.users):
            if name not in known_users:
                yield f"{synced}.users[{index}]", f"unknown user {name!r} (not in {where}.iam.users)"
        for index, name in enumerate(cluster.synced.groups):
            if name not in groups:
                yield f"{synced}.groups[{index}]", f"unknown group {name!r} (not in {where}.iam.groups)"
