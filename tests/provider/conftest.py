"""Fixtures for driving the provider's methods directly, the way the dynamic-provider server calls them."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from mrs_iam_sync import lifecycle as lifecycle_module
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
    lifecycle_module._stack_config.clear()
    lifecycle_module._clients.clear()
    # configure() sets it for the provider process it normally runs in; keep it out of other tests.
    monkeypatch.setattr(sys, "tracebacklimit", getattr(sys, "tracebacklimit", 1000), raising=False)
    yield
    lifecycle_module._stack_config.clear()
    lifecycle_module._clients.clear()


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
