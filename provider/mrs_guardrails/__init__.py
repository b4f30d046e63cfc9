"""The guardrails policy pack for ClusterIamSync: its policies, and :func:`serve` that runs them.

The pack directory that ``--policy-pack`` takes ships inside this package (``pack/``, printed by
``mrs-iam-sync policy-pack``); this repository's ``policy/`` runs the same pack in its ``.venv``.
"""

from __future__ import annotations

from typing import Final

from pulumi_policy import Policy, PolicyPack

from mrs_guardrails.resource_policies import (
    ALLOWED_CLUSTERS,
    NO_FULL_SYNC,
    PRINCIPAL_LIMIT,
    PRINCIPAL_NAMES,
    PROTECT_IN_PROD,
)
from mrs_guardrails.stack_policies import FULL_SYNC_BESIDE_NAMES, SINGLE_OWNER

PACK_NAME: Final = "mrs-iam-sync-guardrails"
POLICIES: Final[list[Policy]] = [
    NO_FULL_SYNC,
    ALLOWED_CLUSTERS,
    PRINCIPAL_NAMES,
    PRINCIPAL_LIMIT,
    SINGLE_OWNER,
    FULL_SYNC_BESIDE_NAMES,
    PROTECT_IN_PROD,
]


def serve() -> None:
    """Run the pack: building it starts its gRPC server and blocks, so this is the pack process."""
    PolicyPack(name=PACK_NAME, policies=list(POLICIES))
