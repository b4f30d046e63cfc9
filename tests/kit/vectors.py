"""The signing vectors (``tests/data/signing-vectors.json``): requests signed by Huawei's own SDK.

The client's signer must reproduce them byte for byte and the emulator's gateway must accept them.
A missing file fails the run; it is never a reason to skip.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Final

VECTORS_FILE: Final = Path(__file__).resolve().parents[1] / "data" / "signing-vectors.json"


@cache
def _document() -> dict[str, Any]:
    if not VECTORS_FILE.is_file():
        raise FileNotFoundError(f"signing vectors not found at {VECTORS_FILE}")
    document: dict[str, Any] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    return document


def load_vectors() -> list[dict[str, Any]]:
    """Every vector, in the file's order (V0 to V6)."""
    vectors: list[dict[str, Any]] = _document()["vectors"]
    return vectors


def vectors_by_version() -> dict[str, dict[str, Any]]:
    """The vectors by the version their name starts with: ``V0`` ... ``V6``."""
    return {vector["name"].split("-", 1)[0]: vector for vector in load_vectors()}
