"""The guardrails policy pack's policies for ClusterIamSync; ``policy/__main__.py`` serves them."""

from __future__ import annotations

from typing import Final

from pulumi_policy import Policy

from mrs_guardrails.resource_policies import (
    ALLOWED_CLUSTERS,
    NO_FULL_SYNC,
    PRINCIPAL_LIMIT,
    PRINCIPAL_NAMES,
    PROTECT_IN_PROD,
)
from mrs_guardrails.stack_policies import SINGLE_OWNER

PACK_NAME: Final = "mrs-iam-sync-guardrails"
POLICIES: Final[list[Policy]] = [
    NO_FULL_SYNC,
    ALLOWED_CLUSTERS,
    PRINCIPAL_NAMES,
    PRINCIPAL_LIMIT,
    SINGLE_OWNER,
    PROTECT_IN_PROD,
]
