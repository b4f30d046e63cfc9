"""Fixtures for driving the provider's methods directly, the way the dynamic-provider server calls them."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from kit.demo import ANALYTICS, DEMO_AK, DEMO_SK, PROJECT, REGION, STREAMING
from kit.emulator import LocalEmulator
from kit.process import StoredState, fresh_process
from mrs_iam_sync.process import ProviderProcess
from mrs_iam_sync.provider import ClusterIamSyncProvider

CLUSTER = ANALYTICS
"""The cluster most tests are about."""
OTHER_CLUSTER = STREAMING


@pytest.fixture
def stored_state() -> StoredState:
    """What the stack's checkpoint holds for a test: nothing, unless the test adds to it."""
    return StoredState()


@pytest.fixture(autouse=True)
def fresh_provider_process(
    monkeypatch: pytest.MonkeyPatch, stored_state: StoredState
) -> Iterator[ProviderProcess]:
    """Each test starts as a new provider process would: no stack config, clients or declarations."""
    # configure() sets it for the provider process it normally runs in; keep it out of other tests.
    monkeypatch.setattr(sys, "tracebacklimit", getattr(sys, "tracebacklimit", 1000), raising=False)
    with fresh_process(stored_state) as process:
        yield process


@pytest.fixture
def by_hand(stored_state: StoredState) -> Iterator[ProviderProcess]:
    """A provider process whose rounds run only when the test runs them (``kit.process.run_together``)."""
    with fresh_process(stored_state, autostart_rounds=False) as process:
        yield process


@pytest.fixture
def provider() -> ClusterIamSyncProvider:
    return ClusterIamSyncProvider()


@pytest.fixture
def offline_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings that resolve without any server: enough for check and diff, which make no API call."""
    monkeypatch.setenv("HW_REGION_NAME", REGION)
    monkeypatch.setenv("HW_PROJECT_ID", PROJECT)
    monkeypatch.setenv("HW_ACCESS_KEY", "UNITTESTAK0000000001")
    monkeypatch.setenv("HW_SECRET_KEY", "unit-test-secret-key")


@pytest.fixture
def emulator(local_emulators: Callable[..., LocalEmulator]) -> LocalEmulator:
    return local_emulators(sync_seconds=0.05)


def configure(
    provider: ClusterIamSyncProvider, emulator: LocalEmulator, *, secret_key: str = DEMO_SK
) -> None:
    """Configure the provider from stack config aimed at ``emulator``, exactly as `pulumi up` hands it over."""
    raw = {
        "huaweicloud:region": REGION,
        "huaweicloud:project_id": PROJECT,
        "huaweicloud:endpoints": f'{{"mrs": "{emulator.url}"}}',
        "huaweicloud:access_key": DEMO_AK,
        "huaweicloud:secret_key": secret_key,
    }
    provider.configure(ConfigureRequest(config=Config(raw_config=raw, project_name="mrs-iam-sync")))


@pytest.fixture
def configured(provider: ClusterIamSyncProvider, emulator: LocalEmulator) -> ClusterIamSyncProvider:
    """The provider configured for the ``emulator`` fixture."""
    configure(provider, emulator)
    return provider
