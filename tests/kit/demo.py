"""The emulator's demo world, read from its demo seed instead of copied.

The dev stack, the docs and the tests are written against ``mrs_emulator/demo-seed.yaml``; the ids,
keys and tokens below are derived from that file, so a change there reaches every test.  The file is
located without importing ``mrs_emulator`` (which needs the ``emulator`` extra): unit tests of the
client use these ids too.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import SecretStr

from mrs_iam_sync.signing import AkSkAuth, TokenAuth


def _seed_file() -> Path:
    spec = find_spec("mrs_emulator")
    assert spec is not None and spec.origin is not None, "mrs_emulator is not installed"
    return Path(spec.origin).with_name("demo-seed.yaml")


SEED_FILE: Final = _seed_file()


def demo_seed(**changes: Any) -> dict[str, Any]:
    """A fresh copy of the demo seed as a mapping, with top-level ``changes`` (tests build variants from it)."""
    seed: dict[str, Any] = yaml.safe_load(SEED_FILE.read_text(encoding="utf-8"))
    seed.update(changes)
    return seed


_SEED: Final = demo_seed()
_PROJECT: Final = _SEED["projects"][0]
_CLUSTERS: Final = {cluster["name"]: cluster["id"] for cluster in _PROJECT["clusters"]}
_KEYS: Final = _SEED["credentials"]["access_keys"]
_PERMANENT: Final = next(key for key in _KEYS if "security_token" not in key)
_TEMPORARY: Final = next(key for key in _KEYS if "security_token" in key)

PROJECT: Final[str] = _PROJECT["id"]
REGION: Final[str] = _PROJECT["region"]
ANALYTICS: Final[str] = _CLUSTERS["analytics"]
STREAMING: Final[str] = _CLUSTERS["streaming"]
SANDBOX: Final[str] = _CLUSTERS["sandbox"]
"""Already holds principals that no stack declares."""

DEMO_AK: Final[str] = _PERMANENT["access_key"]
DEMO_SK: Final[str] = _PERMANENT["secret_key"]
TEMP_AK: Final[str] = _TEMPORARY["access_key"]
TEMP_SK: Final[str] = _TEMPORARY["secret_key"]
TEMP_TOKEN: Final[str] = _TEMPORARY["security_token"]
AUTH_TOKEN: Final[str] = _SEED["credentials"]["tokens"][0]["token"]
SECRETS: Final = (DEMO_SK, TEMP_SK, TEMP_TOKEN, AUTH_TOKEN)
"""What must never appear in a log, an error or a state file."""


def demo_auth(project_id: str | None = PROJECT) -> AkSkAuth:
    return AkSkAuth(access_key=DEMO_AK, secret_key=SecretStr(DEMO_SK), project_id=project_id)


def temp_auth(token: str = TEMP_TOKEN) -> AkSkAuth:
    return AkSkAuth(
        access_key=TEMP_AK, secret_key=SecretStr(TEMP_SK), security_token=SecretStr(token), project_id=PROJECT
    )


def token_auth(token: str = AUTH_TOKEN) -> TokenAuth:
    return TokenAuth(token=SecretStr(token), project_id=PROJECT)
