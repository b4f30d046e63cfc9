"""``python -m mrs_iam_sync.cli``: the same as the ``mrs-iam-sync`` console script."""

from __future__ import annotations

import sys

from mrs_iam_sync.cli.main import main

sys.exit(main())
