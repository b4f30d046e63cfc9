"""The guardrails policy pack: CrossGuard policies that previews and updates of ClusterIamSync pass.

Run with ``pulumi preview --policy-pack policy --policy-pack-config stacks/policy.<env>.json``;
the README's "Guardrails" section says what each policy protects against. Building the pack
starts its gRPC server and blocks: this module is the pack process itself.
"""

from __future__ import annotations

from pulumi_policy import PolicyPack

from mrs_guardrails import PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, policies=list(POLICIES))
