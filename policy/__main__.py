"""This repository's entry to the guardrails pack: the pack shipped in ``mrs_guardrails``, run in ``.venv``.

``make up`` and the workflows pass ``--policy-pack policy``; the policies live in the package.
"""

from mrs_guardrails import serve

serve()
