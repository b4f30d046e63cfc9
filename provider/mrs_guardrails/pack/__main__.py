"""The guardrails pack as installed with the package (``mrs-iam-sync policy-pack`` prints this directory)."""

from mrs_guardrails import serve

serve()
