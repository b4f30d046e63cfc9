"""No credential in the config of a team stack: ``plan`` refuses a stack that keeps one there.

Whoever holds a stack's passphrase can decrypt every ``--secret`` value of its config, and a pull
request's preview holds it; stack config also wins over ``HW_*``, so a key kept there would make
every preview run with it. Deploying credentials therefore come from the environment of the job
that needs them. A stack aimed at a local emulator (a loopback host) is exempt: the dev stack keeps
the emulator's public demo keys in its file, and they open nothing else.

One person's own stack may keep its keys as ``--secret`` config (nobody else has its passphrase);
:data:`ALLOW_VARIABLE` lets ``plan`` run on it. No workflow sets it.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from mrs_iam_sync.cli import pulumi_cli
from mrs_iam_sync.cli.outcome import CommandFailed

ALLOW_VARIABLE: Final = "MRS_IAM_SYNC_ALLOW_CONFIG_CREDENTIALS"
"""Set to ``1`` for a single person's stack whose credentials are its own ``--secret`` config."""


class CredentialsInConfig(CommandFailed):
    """A team stack's config holds a credential."""


def stored_credentials(config: Mapping[str, Any]) -> list[str]:
    """The credential keys the config sets, as ``huaweicloud:<name>``, in settings' order."""
    # The credential names are settings' own list; this module must not keep a second copy.
    from mrs_iam_sync.settings import _CREDENTIALS, NAMESPACE  # noqa: PLC0415 - pydantic, only when run

    keys = (f"{NAMESPACE}:{name}" for name in _CREDENTIALS)
    return [key for key in keys if config.get(key) not in (None, "")]


def endpoint_of(config: Mapping[str, Any], environ: Mapping[str, str]) -> str | None:
    """The MRS endpoint the provider would call with this config, or ``None`` when it cannot tell.

    The provider's own resolution decides it (stack config, then the SDK's region variable, then
    the region's default host), so ``plan`` and ``up`` cannot disagree about where keys go.
    """
    from mrs_iam_sync.errors import MrsError  # noqa: PLC0415 - pydantic, only when run
    from mrs_iam_sync.process import stack_config_of  # noqa: PLC0415
    from mrs_iam_sync.settings import resolve_settings  # noqa: PLC0415

    try:
        return resolve_settings(stack_config=stack_config_of(config.get), environ=environ).endpoint
    except MrsError:
        return None


def is_local(endpoint: str | None) -> bool:
    """A loopback host: an emulator on this machine, never an account in the cloud."""
    host = urlsplit(endpoint).hostname if endpoint else None
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check(config: Mapping[str, Any], *, stack: str | None, environ: Mapping[str, str] = os.environ) -> None:
    """Raise :class:`CredentialsInConfig` (one line) when ``config`` keeps a key for a real endpoint."""
    keys = stored_credentials(config)
    if not keys or environ.get(ALLOW_VARIABLE) == "1":
        return
    endpoint = endpoint_of(config, environ)
    if is_local(endpoint):
        return
    name = f"stack {stack}" if stack else "the selected stack"
    where = f"endpoint {endpoint}" if endpoint else "an endpoint that is not a local emulator"
    raise CredentialsInConfig(
        f"{name} keeps {', '.join(keys)} in its config for {where}: anyone with the stack's passphrase, "
        f"every pull request's preview included, can read them; remove them (pulumi config rm {keys[0]}) "
        "and give credentials as HW_ACCESS_KEY/HW_SECRET_KEY in the environment of the job that needs them "
        f"(a single person's stack may keep them and set {ALLOW_VARIABLE}=1)"
    )


def refuse_stored_credentials(stack: str | None, *, cwd: str | None = None) -> None:
    """:func:`check` on the stack's config as ``pulumi config`` reads it."""
    check(pulumi_cli.stack_config(stack, cwd=cwd), stack=stack)
