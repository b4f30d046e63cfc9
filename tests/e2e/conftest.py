"""Fixtures of the end-to-end suite; the machinery they use lives in ``harness``.

Run: ``make test``, or ``PULUMI_BIN_DIR=$(bash toolchain/get-pulumi.sh) .venv/bin/pytest tests/e2e -n 2``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kit.pulumi import find_bin_dir

from .harness import Credentials, Emulator, Project, provider_config


@pytest.fixture(scope="session")
def pulumi_bin_dir() -> Path:
    """The directory with pulumi, its Python language host and the dynamic-provider launcher."""
    return find_bin_dir()


@pytest.fixture
def credentials() -> Credentials:
    return Credentials.unique()


@pytest.fixture
def sync_seconds() -> float:
    """How long each emulated sync task runs; a test overrides this fixture to slow tasks down."""
    return 0.2


@pytest.fixture
def emulator(tmp_path: Path, credentials: Credentials, sync_seconds: float) -> Iterator[Emulator]:
    instance = Emulator(tmp_path / "emulator", credentials, sync_seconds=sync_seconds)
    yield instance
    instance.stop()


@pytest.fixture
def bare_project(tmp_path: Path, pulumi_bin_dir: Path, emulator: Emulator) -> Iterator[Project]:
    """A stack aimed at the emulator, without credentials and clusters: for tests of where keys come from.

    Afterwards, anything still running in the project directory is killed: a CLI that was
    killed leaves its plugins behind (each runs in a process group of its own).
    """
    project = Project(tmp_path, pulumi_bin_dir)
    project.set_config(provider_config(emulator, with_keys=False))
    yield project
    project.reap()


@pytest.fixture
def project(bare_project: Project, emulator: Emulator) -> Project:
    """A stack aimed at the emulator, with the test's AK/SK in plain stack config and no clusters yet."""
    bare_project.set_config(provider_config(emulator))
    return bare_project
