"""Where region, project, credentials and endpoint come from, decided in one place.

Each source reports what it sets and where it read it, as pydantic-settings sources do; ``_choose``
holds the precedence, and the ``Settings`` model coerces and checks the values. Precedence, highest
first (a source is skipped for a setting it does not set; a value that is empty once stripped of
surrounding whitespace counts as not set):

1. Pulumi stack config, ``huaweicloud:<key>``, as ``ConfigureRequest.config`` delivers it;
2. ``HW_*`` environment variables, the names the Terraform provider and pulumi-huaweicloud use;
3. ``HUAWEICLOUD_SDK_*`` environment variables, the names the official Python SDK uses.

Credentials are taken as a unit from the highest source that sets any of them: mixing an access
key from one place with a secret key from another would fail later as a puzzling signature error,
so it is refused up front instead.

The endpoint is ``huaweicloud:endpoints``'s ``mrs`` entry; failing that, the region's, as
``endpoints.region_endpoint`` finds it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Final, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
)
from pydantic_core import ErrorDetails

from mrs_iam_sync.endpoints import normalise_endpoint, region_endpoint, region_overrides, without_user_info
from mrs_iam_sync.errors import ConfigurationError
from mrs_iam_sync.rules import PROJECT_ID_PATTERN, PROJECT_ID_RULE

NAMESPACE: Final = "huaweicloud"
REGION_PATTERN: Final = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

_CREDENTIALS: Final = ("access_key", "secret_key", "security_token", "auth_token")
_SECRETS: Final = frozenset({"secret_key", "security_token", "auth_token"})
_HW_ENV: Final = {
    "region": "HW_REGION_NAME",
    "project_id": "HW_PROJECT_ID",
    "access_key": "HW_ACCESS_KEY",
    "secret_key": "HW_SECRET_KEY",
    "security_token": "HW_SECURITY_TOKEN",
    "auth_token": "HW_AUTH_TOKEN",
    "max_retries": "HW_MAX_RETRIES",
    "insecure": "HW_INSECURE",
}
_STACK_SETTINGS: Final = tuple(_HW_ENV)
"""As in pulumi-huaweicloud, each setting with an ``HW_*`` variable is also a stack config key."""
STACK_CONFIG_KEYS: Final = (*_STACK_SETTINGS, "endpoints")
"""Every ``huaweicloud:`` stack config key read here, as pulumi-huaweicloud names them."""
_SDK_ENV: Final = {
    "project_id": "HUAWEICLOUD_SDK_PROJECT_ID",
    "access_key": "HUAWEICLOUD_SDK_AK",
    "secret_key": "HUAWEICLOUD_SDK_SK",
    "security_token": "HUAWEICLOUD_SDK_SECURITY_TOKEN",
}


class Sourced(NamedTuple):
    """A setting's value as a source holds it, and the key or variable it was read from."""

    value: str
    where: str


@dataclass(frozen=True)
class SettingsSource:
    """One place settings are read from: its name for messages, and what it sets."""

    label: str
    values: Mapping[str, Sourced]


def stack_config_source(config: Mapping[str, str]) -> SettingsSource:
    """The ``huaweicloud:`` keys of the stack config; the ``endpoints`` object gives the endpoint."""
    values = {
        setting: Sourced(text, f"stack config {key}")
        for setting in _STACK_SETTINGS
        if (text := config.get(key := f"{NAMESPACE}:{setting}", "").strip())
    }
    endpoints_key = f"{NAMESPACE}:endpoints"
    if config.get(endpoints_key, "").strip():
        entry = _EndpointsConfig.of(config[endpoints_key], endpoints_key).mrs
        if entry is not None and entry.strip():
            values["endpoint"] = Sourced(entry.strip(), f"stack config {endpoints_key} (mrs entry)")
    return SettingsSource("the Pulumi stack config", values)


def environment_source(label: str, names: Mapping[str, str], environ: Mapping[str, str]) -> SettingsSource:
    """The settings that ``names`` maps to environment variables, as far as ``environ`` sets them."""
    values = {
        setting: Sourced(text, f"environment variable {name}")
        for setting, name in names.items()
        if (text := environ.get(name, "").strip())
    }
    return SettingsSource(label, values)


class _EndpointsConfig(BaseModel):
    """``huaweicloud:endpoints``: a JSON object of service URLs, of which only ``mrs`` is read."""

    model_config = ConfigDict(extra="allow", strict=True)

    mrs: str | None = None

    @classmethod
    def of(cls, text: str, key: str) -> _EndpointsConfig:
        try:
            return cls.model_validate_json(text)
        except ValidationError as error:
            first = error.errors()[0]
            if first["type"] == "json_invalid":
                message = f'{key} must be a JSON object such as {{"mrs": "https://..."}}'
            elif first["loc"]:
                message = f"{key}: the 'mrs' entry must be a string URL"
            else:
                message = f"{key} must be a JSON object, not {type(first['input']).__name__}"
            raise ConfigurationError(message, setting="endpoint") from None


_RULES: Final = {
    "region": "{setting} {value} from {where} must look like 'cn-north-4': lowercase letters, digits and '-'",
    "project_id": "{setting} {value} from {where} " + PROJECT_ID_RULE,
    "endpoint": "{setting} {value} from {where} {reason}",
    "max_retries": "{setting} from {where} must be a non-negative integer, got {value}",
    "insecure": "{setting} from {where} must be true or false, got {value}",
}
"""The message for a value the model refuses; every other field's falls back to pydantic's own text."""

Region = Annotated[str, StringConstraints(pattern=REGION_PATTERN.pattern)]
ProjectId = Annotated[str, StringConstraints(pattern=PROJECT_ID_PATTERN.pattern)]
Endpoint = Annotated[str, AfterValidator(normalise_endpoint)]


class Settings(BaseModel):
    """Everything the client needs, validated.

    The access key is a ``SecretStr`` too: it is not secret on its own, but it
    names whose keys these are, and keeping it out of every repr and dump is
    simpler than deciding case by case.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: Region | None = None
    project_id: ProjectId
    access_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    security_token: SecretStr | None = None
    auth_token: SecretStr | None = None
    endpoint: Endpoint
    endpoint_explicit: bool = False
    """The endpoint was configured, not derived from the region, so another region keeps it."""
    max_retries: int = Field(default=5, ge=0)
    insecure: bool = False
    region_endpoints: Mapping[str, str] = Field(default_factory=dict, repr=False)
    """SDK per-region endpoint overrides seen at resolution time (as written, checked when used), so
    ``for_target`` needs no environment."""
    sources: Mapping[str, str] = Field(default_factory=dict, repr=False)
    """Setting name -> where its value came from (a key or variable name, never a value)."""

    def describe_sources(self) -> str:
        """One line for logs: tells a confused user which of several configured values won."""
        return ", ".join(f"{name} from {where}" for name, where in sorted(self.sources.items()))

    def for_target(self, *, region: str | None = None, project_id: str | None = None) -> Settings:
        """Aim at another region or project with the same credentials, as a per-resource override does."""
        changes: dict[str, Sourced] = {}
        if project_id is not None and project_id != self.project_id:
            changes["project_id"] = Sourced(project_id, "the resource's project_id")
        if region is not None and region != self.region:
            changes["region"] = Sourced(region, "the resource's region")
            if not self.endpoint_explicit:
                changes["endpoint"] = Sourced(*region_endpoint(region, self.region_endpoints))
        if not changes:
            return self
        return _validated(changes, over=dict(self), sources=self.sources)


def _where_to_set(setting: str) -> str:
    """Every way to provide a setting, so a 'missing' message is a complete recipe."""
    ways = []
    if setting in _STACK_SETTINGS:
        secret = " --secret" if setting in _SECRETS else ""
        ways.append(f"run `pulumi config set{secret} {NAMESPACE}:{setting} <value>`")
    variables = [name for table in (_HW_ENV, _SDK_ENV) if (name := table.get(setting))]
    if variables:
        ways.append("set " + " or ".join(variables))
    return "; ".join(ways)


def _choose(stack_config: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, Sourced]:
    """Each setting from the highest source that sets it, in the order of the module docstring."""
    sources = (
        stack_config_source(stack_config),
        environment_source("the HW_* environment variables", _HW_ENV, environ),
        environment_source("the HUAWEICLOUD_SDK_* environment variables", _SDK_ENV, environ),
    )
    chosen: dict[str, Sourced] = {}
    for source in reversed(sources):
        chosen.update((name, hit) for name, hit in source.values.items() if name not in _CREDENTIALS)
    chosen.update(_credentials(sources))
    return chosen


def _credentials(sources: tuple[SettingsSource, ...]) -> dict[str, Sourced]:
    """All credentials from the first source that has any, once checked to make one coherent set."""
    for source in sources:
        found = {name: hit for name, hit in source.values.items() if name in _CREDENTIALS}
        if found:
            _check_credentials(found, source.label)
            return found
    raise ConfigurationError(
        "no credentials: provide an access key and secret key (access_key: "
        + _where_to_set("access_key")
        + "; secret_key: "
        + _where_to_set("secret_key")
        + "), or an IAM token (auth_token: "
        + _where_to_set("auth_token")
        + ")",
        setting="access_key",
    )


def _check_credentials(found: Mapping[str, Sourced], label: str) -> None:
    has_ak, has_sk = "access_key" in found, "secret_key" in found
    if has_ak and not has_sk:
        raise ConfigurationError(
            f"an access key is set in {label} without its secret key: also set secret_key there "
            f"({_where_to_set('secret_key')})",
            setting="secret_key",
        )
    if has_sk and not has_ak:
        raise ConfigurationError(
            f"a secret key is set in {label} without its access key: also set access_key there "
            f"({_where_to_set('access_key')})",
            setting="access_key",
        )
    if has_ak and "auth_token" in found:
        raise ConfigurationError(
            f"both an access key/secret key pair and an auth_token are set in {label}; "
            "they are alternatives: remove one of them",
            setting="auth_token",
        )
    if "security_token" in found and not has_ak:
        raise ConfigurationError(
            f"a security_token is set in {label} without the temporary access key and secret key "
            "it belongs to: set access_key and secret_key at the same place",
            setting="security_token",
        )


def _validated(
    chosen: Mapping[str, Sourced], *, over: Mapping[str, object], sources: Mapping[str, str]
) -> Settings:
    """``Settings`` of the chosen values over ``over``; a refusal names the setting, its source, the rule."""
    values = {**over, **{name: hit.value for name, hit in chosen.items()}}
    try:
        return Settings.model_validate(
            {**values, "sources": {**sources, **{name: hit.where for name, hit in chosen.items()}}}
        )
    except ValidationError as error:
        raise _refusal(error.errors()[0], chosen) from None


def _refusal(error: ErrorDetails, chosen: Mapping[str, Sourced]) -> ConfigurationError:
    """The first refusal only: later ones are often its echo (a bad region makes a bad endpoint)."""
    setting = str(error["loc"][0]) if error["loc"] else "settings"
    hit = chosen.get(setting)
    where = hit.where if hit else "the settings"
    rule = _RULES.get(setting)
    if rule is None or hit is None:
        # Never echo the value: it may be a credential.
        return ConfigurationError(f"{setting} from {where}: {error['msg']}", setting=setting)
    reason = str(error.get("ctx", {}).get("error", ""))
    message = rule.format(
        setting=setting, value=repr(without_user_info(hit.value)), where=where, reason=reason
    )
    return ConfigurationError(message, setting=setting)


def resolve_settings(
    *, stack_config: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Merge all sources by the precedence in the module docstring (``environ`` defaults to os.environ)."""
    env = os.environ if environ is None else environ
    chosen = _choose(stack_config or {}, env)
    if "project_id" not in chosen:
        raise ConfigurationError(
            f"project_id is not set: {_where_to_set('project_id')}. It is shown in the console under "
            "My Credentials > API Credentials, per region",
            setting="project_id",
        )
    overrides = region_overrides(env)
    endpoint_explicit = "endpoint" in chosen
    if not endpoint_explicit:
        region = chosen.get("region")
        if region is None:
            raise ConfigurationError(
                f"region is not set, and no endpoint either: {_where_to_set('region')}; or give the MRS "
                f'endpoint with `pulumi config set {NAMESPACE}:endpoints \'{{"mrs": "https://..."}}\'`',
                setting="region",
            )
        # A malformed region makes a malformed endpoint; the region, validated first, is the one reported.
        chosen["endpoint"] = Sourced(*region_endpoint(region.value, overrides))
    return _validated(
        chosen, over={"endpoint_explicit": endpoint_explicit, "region_endpoints": overrides}, sources={}
    )
