"""Declare, in a Pulumi stack, which IAM users and groups an MRS cluster's Manager receives.

``ClusterIamSync`` is imported lazily so that the client and the emulator can
be used without loading the Pulumi SDK (which takes a noticeable part of a
second and is not needed by ``mrs-emulator``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mrs_iam_sync.resource import ClusterIamSync

__all__ = ["ClusterIamSync", "__version__"]

__version__ = "0.1.0"
"""The package's version, stated only here: pyproject.toml reads it (setuptools' dynamic version)."""


def __getattr__(name: str) -> Any:
    if name == "ClusterIamSync":
        from mrs_iam_sync.resource import ClusterIamSync  # noqa: PLC0415 - lazy on purpose

        return ClusterIamSync
    raise AttributeError(f"module 'mrs_iam_sync' has no attribute {name!r}")
