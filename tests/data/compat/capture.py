"""Re-make ``stack-<version>.json``: a stack deployed by the provider as it was at that commit.

Run from the repository root with the code of that commit extracted somewhere (its ``provider/``,
``Pulumi.yaml`` and ``__main__.py``), for example::

    mkdir /tmp/old && git archive f1d8dba provider Pulumi.yaml __main__.py | tar -x -C /tmp/old
    PULUMI_BIN_DIR=... .venv/bin/python tests/data/compat/capture.py /tmp/old f1d8dba

(``0.1.0`` is commit 06682f1.)

It deploys the stack of ``tests/e2e/test_compat.py`` with that code against an emulator, through the
end-to-end harness, and writes the exported state here. Settings that would change from one run to
the next (the endpoint, the credentials) go through the environment, so the state holds none of
them and the test can aim the stored stack at its own emulator.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from e2e.harness import Credentials, Emulator, Project  # noqa: E402
from e2e.test_compat import DEPLOYED, STACK_CONFIG, environment_for  # noqa: E402
from kit.pulumi import find_bin_dir  # noqa: E402


def main(old_tree: Path, version: str) -> None:
    root = Path(tempfile.mkdtemp(prefix="compat-capture-"))
    emulator = Emulator(root / "emulator", Credentials.unique(), sync_seconds=0.1)
    try:
        project = Project(root, find_bin_dir())
        for name in ("Pulumi.yaml", "__main__.py"):
            (project.dir / name).write_text((old_tree / name).read_text())
        project.set_config({**STACK_CONFIG, "mrs-iam-sync:clusters": DEPLOYED[version]})
        project.env.update(environment_for(emulator), PYTHONPATH=str(old_tree / "provider"))
        project.up()
        state = project.export()
        (HERE / f"stack-{version}.json").write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    finally:
        emulator.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), sys.argv[2])
