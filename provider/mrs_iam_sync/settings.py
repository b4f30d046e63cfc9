"""Where region, project, credentials and endpoint come from, decided in one place.

Precedence, highest first (a level is skipped for a setting it does not set;
an empty string counts as not set):

1. explicit values passed by the caller (``resolve_settings(explicit=...)``);
2. Pulumi stack config, ``huaweicloud:<key>``, as ``ConfigureRequest.config`` delivers it;
3. ``HW_*`` environment variables, the names the Terraform provider and pulumi-huaweicloud use;
4. ``HUAWEICLOUD_SDK_*`` environment variables, the names the official Python SDK uses.

Credentials are taken as a unit from the highest level that sets any of them:
mixing an access key from one place with a secret key from another would fail
later as a puzzling signature error, so it is refused up front instead.

The endpoint is the explicit ``endpoint`` or ``huaweicloud:endpoints``'s
``mrs`` entry; failing that, the SDK's per-region override variable; failing
that, the SDK's host for the region.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from mrs_iam_sync.errors import ConfigurationError
from mrs_iam_sync.rules import PROJECT_ID_PATTERN, PROJECT_ID_RULE

NAMESPACE: Final = "huaweicloud"
REGION_PATTERN: Final = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

_CREDENTIALS: Final = ("access_key", "secret_key", "security_token", "auth_token")
_SECRETS: Final = frozenset({"secret_key", "security_token", "auth_token"})
_EXPLICIT_ONLY: Final = ("endpoint", "connect_timeout", "read_timeout")
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
_SDK_REGION_ENDPOINT_PREFIX: Final = "HUAWEICLOUD_SDK_REGION_MRS_"

# The official SDK's region table puts these regions on other top-level domains.
_DOMAIN_EXCEPTIONS: Final = {
    "ap-southeast-1": "myhuaweicloud.cn",
    "ap-southeast-4": "myhuaweicloud.cn",
    "ru-northwest-2": "myhuaweicloud.cn",
    "eu-west-101": "myhuaweicloud.eu",
}
_DEFAULT_DOMAIN: Final = "myhuaweicloud.com"

_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


class Settings(BaseModel):
    """Everything the client needs, validated.

    The access key is a ``SecretStr`` too: it is not secret on its own, but it
    names whose keys these are, and keeping it out of every repr and dump is
    simpler than deciding case by case.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str | None = None
    project_id: str
    access_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    security_token: SecretStr | None = None
    auth_token: SecretStr | None = None
    endpoint: str
    endpoint_explicit: bool = False
    max_retries: int = Field(default=5, ge=0)
    insecure: bool = False
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)
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
        changes: dict[str, object] = {}
        sources = dict(self.sources)
        if project_id is not None and project_id != self.project_id:
            _check_project_id(project_id, where="the resource's project_id")
            changes["project_id"] = project_id
            sources["project_id"] = "the resource's project_id"
        if region is not None and region != self.region:
            _check_region(region, where="the resource's region")
            changes["region"] = region
            sources["region"] = "the resource's region"
            if not self.endpoint_explicit:
                changes["endpoint"] = _region_endpoint(region, self.region_endpoints)
                sources["endpoint"] = _region_endpoint_source(region, self.region_endpoints)
        if not changes:
            return self
        changes["sources"] = sources
        return self.model_copy(update=changes)


@dataclass(frozen=True)
class _Level:
    label: str
    values: Mapping[str, object]
    keys: Mapping[str, str]
    """Setting name -> the key or variable the value was read from, for messages."""

    def get(self, setting: str) -> tuple[object, str] | None:
        value = self.values.get(setting)
        if value is None or value == "":
            return None
        return value, self.keys[setting]


def _where_to_set(setting: str) -> str:
    """Every way to provide a setting, so a 'missing' message is a complete recipe."""
    ways = [f"pass {setting}=... explicitly"]
    if setting in _STACK_SETTINGS:
        secret = " --secret" if setting in _SECRETS else ""
        ways.append(f"run `pulumi config set{secret} {NAMESPACE}:{setting} <value>`")
    variables = [name for table in (_HW_ENV, _SDK_ENV) if (name := table.get(setting))]
    if variables:
        ways.append("set " + " or ".join(variables))
    return "; ".join(ways)


def _explicit_level(explicit: Mapping[str, object]) -> _Level:
    known = set(_STACK_SETTINGS) | set(_EXPLICIT_ONLY)
    for name in explicit:
        if name not in known:
            raise ConfigurationError(
                f"unknown setting {name!r}; known settings: {', '.join(sorted(known))}", setting=name
            )
    return _Level(
        "the explicit arguments", explicit, {name: f"explicit argument {name}" for name in explicit}
    )


def _stack_level(config: Mapping[str, str]) -> _Level:
    values: dict[str, object] = {}
    keys: dict[str, str] = {}
    for setting in _STACK_SETTINGS:
        key = f"{NAMESPACE}:{setting}"
        if key in config:
            values[setting], keys[setting] = config[key], f"stack config {key}"
    endpoints_key = f"{NAMESPACE}:endpoints"
    if config.get(endpoints_key):
        values["endpoint"] = _mrs_entry(config[endpoints_key], endpoints_key)
        keys["endpoint"] = f"stack config {endpoints_key} (mrs entry)"
    return _Level("the Pulumi stack config", values, keys)


def _mrs_entry(text: str, key: str) -> str | None:
    try:
        endpoints = json.loads(text)
    except ValueError:
        raise ConfigurationError(
            f'{key} must be a JSON object such as {{"mrs": "https://..."}}', setting="endpoint"
        ) from None
    if not isinstance(endpoints, dict):
        raise ConfigurationError(
            f"{key} must be a JSON object, not {type(endpoints).__name__}", setting="endpoint"
        )
    entry = endpoints.get("mrs")
    if entry is not None and not isinstance(entry, str):
        raise ConfigurationError(f"{key}: the 'mrs' entry must be a string URL", setting="endpoint")
    return entry


def _env_level(label: str, table: Mapping[str, str], environ: Mapping[str, str]) -> _Level:
    values = {setting: environ[var] for setting, var in table.items() if var in environ}
    return _Level(label, values, {setting: f"environment variable {var}" for setting, var in table.items()})


def _region_endpoint_overrides(environ: Mapping[str, str]) -> dict[str, str]:
    """Collect ``HUAWEICLOUD_SDK_REGION_MRS_<REGION>`` lists, keeping the first URL: the SDK's first choice.

    Kept as written and checked only when their region is used: a malformed variable for a region
    nobody targets must not break every call.
    """
    overrides: dict[str, str] = {}
    for name, value in environ.items():
        if name.startswith(_SDK_REGION_ENDPOINT_PREFIX):
            first = next((part.strip() for part in value.split(",") if part.strip()), "")
            if first:
                overrides[name.removeprefix(_SDK_REGION_ENDPOINT_PREFIX)] = first
    return overrides


def _region_env_suffix(region: str) -> str:
    return region.upper().replace("-", "_")


def _region_endpoint(region: str, overrides: Mapping[str, str]) -> str:
    suffix = _region_env_suffix(region)
    override = overrides.get(suffix)
    if override:
        return normalise_endpoint(override, f"environment variable {_SDK_REGION_ENDPOINT_PREFIX}{suffix}")
    domain = _DOMAIN_EXCEPTIONS.get(region, _DEFAULT_DOMAIN)
    return f"https://mrs.{region}.{domain}"


def _region_endpoint_source(region: str, overrides: Mapping[str, str]) -> str:
    suffix = _region_env_suffix(region)
    if suffix in overrides:
        return f"environment variable {_SDK_REGION_ENDPOINT_PREFIX}{suffix}"
    return f"the default for region {region}"


_SCHEMES: Final = ("https://", "http://")
_HOST_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_PATTERN: Final = re.compile(rf"^(?:{_HOST_LABEL}(?:\.{_HOST_LABEL})*|\[[0-9A-Fa-f:.]+\])$")
_PATH_PATTERN: Final = re.compile(r"^(?:/[A-Za-z0-9._~!$&'()*+,;=:@%-]*)*$")
ENDPOINT_RULE: Final = (
    "an endpoint is a scheme (http:// or https://), a host, an optional :port and an optional path, "
    "with no query, fragment, user name or spaces"
)


def normalise_endpoint(value: str, where: str) -> str:
    """Check an endpoint against ENDPOINT_RULE, the one rule for every source; return it without a final '/'.

    No scheme is ever guessed: ``mrs.example.com`` could be meant as https or as a plain-http
    emulator, and a guess shows up much later as a TLS error that does not say why.
    """

    # A user name in the URL may come with a password: never echo that part.
    shown = re.sub(r"(?<=://)[^/@]*@", "***@", value)

    def refuse(reason: str) -> ConfigurationError:
        return ConfigurationError(
            f"endpoint {shown!r} from {where} {reason}; {ENDPOINT_RULE}", setting="endpoint"
        )

    text = value.strip()
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        raise refuse("contains a space or a control character")
    lowered = text.lower()
    if not lowered.startswith(_SCHEMES):
        if "://" in text:
            raise refuse(f"has the scheme {text.split('://', 1)[0]!r}, not http or https")
        raise refuse(f"has no scheme: write https://{shown.strip()} (or http:// for a local emulator)")
    parts = urlsplit(text)
    if "?" in text:
        raise refuse("has a query string")
    if "#" in text:
        raise refuse("has a fragment")
    if "@" in parts.netloc:
        raise refuse("has a user name in it")
    host = parts.netloc
    port_text = ""
    if host.startswith("["):
        end = host.find("]")
        host, port_text = host[: end + 1], host[end + 1 :].removeprefix(":")
    elif ":" in host:
        host, port_text = host.rsplit(":", 1)
    if not host or not _HOST_PATTERN.match(host):
        raise refuse(f"has no valid host (got {host!r})")
    if port_text and not (port_text.isdigit() and 0 < int(port_text) < 65536):
        raise refuse(f"has an invalid port {port_text!r}")
    if not _PATH_PATTERN.match(parts.path):
        raise refuse(f"has an invalid path {parts.path!r}")
    return f"{parts.scheme.lower()}://{parts.netloc}{parts.path}".rstrip("/")


def _check_project_id(value: str, *, where: str) -> None:
    if not PROJECT_ID_PATTERN.fullmatch(value):
        raise ConfigurationError(f"project_id {value!r} from {where} {PROJECT_ID_RULE}", setting="project_id")


def _check_region(value: str, *, where: str) -> None:
    if not REGION_PATTERN.fullmatch(value):
        raise ConfigurationError(
            f"region {value!r} from {where} must look like 'cn-north-4': lowercase letters, digits and '-'",
            setting="region",
        )


def _as_int(value: object, *, setting: str, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("+").isdigit():
        number = int(value)
    else:
        raise ConfigurationError(
            f"{setting} from {where} must be a non-negative integer, got {value!r}", setting=setting
        )
    if number < 0:
        raise ConfigurationError(
            f"{setting} from {where} must be a non-negative integer, got {value!r}", setting=setting
        )
    return number


def _as_bool(value: object, *, setting: str, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigurationError(f"{setting} from {where} must be true or false, got {value!r}", setting=setting)


def _as_seconds(value: object, *, setting: str, where: str) -> float:
    seconds = -1.0
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        with contextlib.suppress(ValueError):
            seconds = float(value)
    if not seconds > 0:
        raise ConfigurationError(
            f"{setting} from {where} must be a positive number of seconds", setting=setting
        )
    return seconds


def _as_str(value: object, *, setting: str, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"{setting} from {where} must be a string", setting=setting)
    return value


def _credentials(levels: list[_Level]) -> tuple[dict[str, str], dict[str, str]]:
    """Take all credentials from the first level that has any, then check they make one coherent set."""
    for level in levels:
        found = {name: hit for name in _CREDENTIALS if (hit := level.get(name)) is not None}
        if not found:
            continue
        values = {
            name: _as_str(value, setting=name, where=where).strip() for name, (value, where) in found.items()
        }
        sources = {name: where for name, (_, where) in found.items()}
        _check_credentials(values, level)
        return values, sources
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


def _check_credentials(values: Mapping[str, str], level: _Level) -> None:
    has_ak, has_sk = "access_key" in values, "secret_key" in values
    if has_ak and not has_sk:
        raise ConfigurationError(
            f"an access key is set in {level.label} without its secret key: also set secret_key there "
            f"({_where_to_set('secret_key')})",
            setting="secret_key",
        )
    if has_sk and not has_ak:
        raise ConfigurationError(
            f"a secret key is set in {level.label} without its access key: also set access_key there "
            f"({_where_to_set('access_key')})",
            setting="access_key",
        )
    if has_ak and "auth_token" in values:
        raise ConfigurationError(
            f"both an access key/secret key pair and an auth_token are set in {level.label}; "
            "they are alternatives: remove one of them",
            setting="auth_token",
        )
    if "security_token" in values and not has_ak:
        raise ConfigurationError(
            f"a security_token is set in {level.label} without the temporary access key and secret key "
            "it belongs to: set access_key and secret_key at the same place",
            setting="security_token",
        )


def resolve_settings(
    *,
    explicit: Mapping[str, object] | None = None,
    stack_config: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Merge all sources by the precedence in the module docstring (``environ`` defaults to os.environ)."""
    env = os.environ if environ is None else environ
    levels = [
        _explicit_level(explicit or {}),
        _stack_level(stack_config or {}),
        _env_level("the HW_* environment variables", _HW_ENV, env),
        _env_level("the HUAWEICLOUD_SDK_* environment variables", _SDK_ENV, env),
    ]

    def pick(setting: str) -> tuple[object, str] | None:
        return next((hit for level in levels if (hit := level.get(setting)) is not None), None)

    sources: dict[str, str] = {}
    fields: dict[str, object] = {}

    region_hit = pick("region")
    region = None
    if region_hit is not None:
        region = _as_str(region_hit[0], setting="region", where=region_hit[1]).strip()
        _check_region(region, where=region_hit[1])
        fields["region"], sources["region"] = region, region_hit[1]

    project_hit = pick("project_id")
    if project_hit is None:
        raise ConfigurationError(
            f"project_id is not set: {_where_to_set('project_id')}. It is shown in the console under "
            "My Credentials > API Credentials, per region",
            setting="project_id",
        )
    project_id = _as_str(project_hit[0], setting="project_id", where=project_hit[1]).strip()
    _check_project_id(project_id, where=project_hit[1])
    fields["project_id"], sources["project_id"] = project_id, project_hit[1]

    overrides = _region_endpoint_overrides(env)
    endpoint_hit = pick("endpoint")
    if endpoint_hit is not None:
        raw = _as_str(endpoint_hit[0], setting="endpoint", where=endpoint_hit[1])
        fields["endpoint"] = normalise_endpoint(raw, endpoint_hit[1])
        fields["endpoint_explicit"] = True
        sources["endpoint"] = endpoint_hit[1]
    elif region is not None:
        fields["endpoint"] = _region_endpoint(region, overrides)
        sources["endpoint"] = _region_endpoint_source(region, overrides)
    else:
        raise ConfigurationError(
            f"region is not set, and no endpoint either: {_where_to_set('region')}; or give the MRS "
            f'endpoint with `pulumi config set {NAMESPACE}:endpoints \'{{"mrs": "https://..."}}\'`',
            setting="region",
        )

    credentials, credential_sources = _credentials(levels)
    for name, value in credentials.items():
        fields[name] = SecretStr(value)
    sources.update(credential_sources)

    converters = {"max_retries": _as_int, "insecure": _as_bool}
    for setting, convert in converters.items():
        if (hit := pick(setting)) is not None:
            fields[setting] = convert(hit[0], setting=setting, where=hit[1])
            sources[setting] = hit[1]
    for setting in ("connect_timeout", "read_timeout"):
        if (hit := pick(setting)) is not None:
            fields[setting] = _as_seconds(hit[0], setting=setting, where=hit[1])
            sources[setting] = hit[1]

    return Settings.model_validate({**fields, "region_endpoints": overrides, "sources": sources})
