"""``plan`` refuses a stack whose config keeps a credential for a real endpoint (cli/config_credentials).

The rule runs on the config ``pulumi config --json --show-secrets`` returns; the real CLI's path
through it, in the preview workflow, is in tests/toolchain/test_workflow_steps.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mrs_iam_sync.cli.config_credentials import ALLOW_VARIABLE, CredentialsInConfig, check, is_local

STACKS = Path(__file__).resolve().parents[2] / "stacks"
TEAM = {"huaweicloud:region": "cn-north-4", "huaweicloud:project_id": "5f2d8c0a41b94e6f9d3a7c1e08b2f4a6"}
KEYS = {"huaweicloud:access_key": "AKINCONFIG", "huaweicloud:secret_key": "sk-in-config"}


def stack_file(name: str) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((STACKS / f"Pulumi.{name}.yaml").read_text())["config"]
    return config


def refusal(config: dict[str, Any], **environ: str) -> str:
    with pytest.raises(CredentialsInConfig) as refused:
        check(config, stack="staging", environ=environ)
    return str(refused.value)


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_the_repositorys_stack_files_pass(name: str) -> None:
    check(stack_file(name), stack=name, environ={})


def test_access_and_secret_key_for_the_default_cloud_endpoint_are_refused_in_one_line() -> None:
    message = refusal({**TEAM, **KEYS})

    assert message.startswith(
        "stack staging keeps huaweicloud:access_key, huaweicloud:secret_key in its config for endpoint "
        "https://mrs.cn-north-4.myhuaweicloud.com: anyone with the stack's passphrase"
    )
    assert "pulumi config rm huaweicloud:access_key" in message
    assert "HW_ACCESS_KEY/HW_SECRET_KEY in the environment" in message
    assert "\n" not in message
    assert "AKINCONFIG" not in message and "sk-in-config" not in message


@pytest.mark.parametrize(
    "credentials",
    [
        {"huaweicloud:auth_token": "token"},
        {**KEYS, "huaweicloud:security_token": "temporary"},
        {"huaweicloud:secret_key": "only-half"},
    ],
)
def test_every_credential_key_is_refused_even_in_a_set_the_provider_would_reject(
    credentials: dict[str, str],
) -> None:
    message = refusal({**TEAM, **credentials})

    for key in credentials:
        assert key in message


def test_the_dev_stacks_emulator_keys_would_be_refused_on_a_real_endpoint() -> None:
    config = {**stack_file("dev"), "huaweicloud:endpoints": {"mrs": "https://mrs.example.com"}}

    assert "for endpoint https://mrs.example.com:" in refusal(config)


@pytest.mark.parametrize(
    "endpoint", ["http://127.0.0.1:8470", "http://127.9.0.1:1", "http://localhost:8470/x", "http://[::1]:8470"]
)
def test_keys_for_an_emulator_on_a_loopback_host_are_allowed(endpoint: str) -> None:
    check({**TEAM, **KEYS, "huaweicloud:endpoints": {"mrs": endpoint}}, stack="dev", environ={})


def test_the_sdks_region_variable_decides_the_endpoint_as_it_does_for_the_provider() -> None:
    environ = {"HUAWEICLOUD_SDK_REGION_MRS_CN_NORTH_4": "http://127.0.0.1:9000"}
    check({**TEAM, **KEYS}, stack="staging", environ=environ)


@pytest.mark.parametrize("endpoint", ["http://10.0.0.5:8470", "http://localhost.example.com", "http://0.0.0.0"])
def test_hosts_that_only_look_local_are_not_loopback(endpoint: str) -> None:
    assert not is_local(endpoint)


def test_an_endpoint_that_cannot_be_resolved_counts_as_not_local() -> None:
    message = refusal({**KEYS, "huaweicloud:endpoints": {"mrs": "mrs.example.com"}})

    assert "for an endpoint that is not a local emulator:" in message


def test_a_single_persons_stack_may_keep_its_keys_with_the_switch() -> None:
    check({**TEAM, **KEYS}, stack="mine", environ={ALLOW_VARIABLE: "1"})

    assert ALLOW_VARIABLE in refusal({**TEAM, **KEYS}, **{ALLOW_VARIABLE: "yes"})


def test_no_credential_in_config_is_nothing_to_refuse_whatever_the_endpoint() -> None:
    check({"huaweicloud:endpoints": {"mrs": "not even a url"}}, stack="staging", environ={})
