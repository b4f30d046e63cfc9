"""The pack's modules live in policy/, which the CLI puts on the pack's path; tests do the same."""

from __future__ import annotations

import sys
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parents[2] / "policy"
if str(PACK_DIR) not in sys.path:
    sys.path.insert(0, str(PACK_DIR))
