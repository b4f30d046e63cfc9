"""Fixtures for driving the provider's methods directly, the way the dynamic-provider server calls them."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from mrs_emulator import EmulatorHandle, start_emulator
from mrs_iam_sync.lifecycle import LIFECYCLE
from mrs_iam_sync.provider import ClusterIamSyncProvider

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
CLUSTER = "f7f45c04-4303-411c-9b71-d2cb730dd162"
OTHER_CLUSTER = "3c1e9a52-8d47-4f0b-a6e2-5b9d0c7f1e24"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No credential or region from the developer's shell may leak into a test."""
    for name in list(os.environ):
        if name.startswith(("HW_", "HUAWEICLOUD_SDK_", "OS_")):
            monkeypatch.delenv(name)
    LIFECYCLE.process.reset()
    # configure() sets it for the provider process it normally runs in; keep it out of other tests.
    monkeypatch.setattr(sys, "tracebacklimit", getattr(sys, "tracebacklimit", 1000), raising=False)
    yield
    LIFECYCLE.process.reset()


@pytest.fixture
def provider() -> ClusterIamSyncProvider:
    return ClusterIamSyncProvider()


@pytest.fixture
def offline_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings that resolve without any server: enough for check and diff, which make no API call."""
    monkeypatch.setenv("HW_REGION_NAME", "cn-north-4")
    monkeypatch.setenv("HW_PROJECT_ID", PROJECT)
    monkeypatch.setenv("HW_ACCESS_KEY", "UNITTESTAK0000000001")
    monkeypatch.setenv("HW_SECRET_KEY", "unit-test-secret-key")


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    with start_emulator(sync_seconds=0.05) as handle:
        yield handle


def configure(provider: ClusterIamSyncProvider, emulator: EmulatorHandle) -> None:
    """Configure the provider from stack config aimed at ``emulator``, exactly as `pulumi up` hands it over."""
    raw = {
        "huaweicloud:region": "cn-north-4",
        "huaweicloud:project_id": PROJECT,
        "huaweicloud:endpoints": f'{{"mrs": "{emulator.url}"}}',
        "huaweicloud:access_key": "EMULATORDEMOAK000001",
        "huaweicloud:secret_key": "emulator-demo-secret-key--not-a-real-secret",
    }
    provider.configure(ConfigureRequest(config=Config(raw_config=raw, project_name="mrs-iam-sync")))


@pytest.fixture
def configured(provider: ClusterIamSyncProvider, emulator: EmulatorHandle) -> ClusterIamSyncProvider:
    """The provider configured for the ``emulator`` fixture."""
    configure(provider, emulator)
    return provider
