"""Where MRS answers: the endpoint grammar, the SDK's per-region hosts and its override variables.

Kept apart from settings so the rule an endpoint must follow is read in one short place, whatever
source the endpoint came from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

ENDPOINT_RULE: Final = (
    "an endpoint is a scheme (http:// or https://), a host, an optional :port and an optional path, "
    "with no query, fragment, user name or spaces"
)

REGION_VARIABLE_PREFIX: Final = "HUAWEICLOUD_SDK_REGION_MRS_"
"""The official SDK's per-region override: ``<prefix><REGION>``, a comma-separated list of URLs."""

# The official SDK's region table puts these regions on other top-level domains.
_DOMAIN_EXCEPTIONS: Final = {
    "ap-southeast-1": "myhuaweicloud.cn",
    "ap-southeast-4": "myhuaweicloud.cn",
    "ru-northwest-2": "myhuaweicloud.cn",
    "eu-west-101": "myhuaweicloud.eu",
}
_DEFAULT_DOMAIN: Final = "myhuaweicloud.com"

_SCHEMES: Final = ("https://", "http://")
_HOST_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_PATTERN: Final = re.compile(rf"^(?:{_HOST_LABEL}(?:\.{_HOST_LABEL})*|\[[0-9A-Fa-f:.]+\])$")
_PATH_PATTERN: Final = re.compile(r"^(?:/[A-Za-z0-9._~!$&'()*+,;=:@%-]*)*$")
_USER_INFO: Final = re.compile(r"(?<=://)[^/@]*@")


def without_user_info(value: str) -> str:
    """The endpoint as a message may quote it: a user name in a URL may come with a password."""
    return _USER_INFO.sub("***@", value)


def normalise_endpoint(value: str) -> str:
    """Check an endpoint against ENDPOINT_RULE; return it without a final '/'.

    Raises ValueError with the reason, for the caller to say where the value came from. No scheme
    is ever guessed: ``mrs.example.com`` could be meant as https or as a plain-http emulator, and a
    guess shows up much later as a TLS error that does not say why.
    """

    def refuse(reason: str) -> ValueError:
        return ValueError(f"{reason}; {ENDPOINT_RULE}")

    text = value.strip()
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        raise refuse("contains a space or a control character")
    if not text.lower().startswith(_SCHEMES):
        if "://" in text:
            raise refuse(f"has the scheme {text.split('://', 1)[0]!r}, not http or https")
        suggestion = f"https://{without_user_info(text)}"
        raise refuse(f"has no scheme: write {suggestion} (or http:// for a local emulator)")
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


def region_overrides(environ: Mapping[str, str]) -> dict[str, str]:
    """Each region's override variable, keeping the first URL of its list: the SDK's first choice.

    Kept as written (keyed by the variable's suffix) and checked only when their region is used: a
    malformed variable for a region nobody targets must not break every call.
    """
    overrides: dict[str, str] = {}
    for name, value in environ.items():
        if name.startswith(REGION_VARIABLE_PREFIX):
            first = next((part.strip() for part in value.split(",") if part.strip()), "")
            if first:
                overrides[name.removeprefix(REGION_VARIABLE_PREFIX)] = first
    return overrides


def region_endpoint(region: str, overrides: Mapping[str, str]) -> tuple[str, str]:
    """The region's endpoint as the SDK finds it, and where it came from: its override, else its host.

    An override is returned as written; the caller checks it with ``normalise_endpoint``.
    """
    suffix = region.upper().replace("-", "_")
    override = overrides.get(suffix)
    if override:
        return override, f"environment variable {REGION_VARIABLE_PREFIX}{suffix}"
    domain = _DOMAIN_EXCEPTIONS.get(region, _DEFAULT_DOMAIN)
    return f"https://mrs.{region}.{domain}", f"the default for region {region}"
