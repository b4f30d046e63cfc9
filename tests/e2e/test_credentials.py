"""Credentials: a wrong key is reported as a signature problem, and a right one is never written down.

Each test's emulator has its own AK/SK pair (``Credentials.unique``), long and distinctive, so
that finding it anywhere in what Pulumi prints or stores is a real leak and not a coincidence.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .harness import ANALYTICS, CliResult, Credentials, Emulator, Project, assert_failed, entry

pytestmark = pytest.mark.e2e

def places_holding(secret: str, places: dict[str, str]) -> list[str]:
    return sorted(name for name, text in places.items() if secret in text)


def files_holding(secret: str, directory: Path) -> list[str]:
    return sorted(
        str(path.relative_to(directory))
        for path in directory.rglob("*")
        if path.is_file() and secret.encode() in path.read_bytes()
    )


def deploy_verbosely_and_collect_everything(project: Project, emulator: Emulator) -> dict[str, str]:
    """Run ``up``, a refresh and a destroy with the engine's most verbose logs; return all text produced."""
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi"], groups=["guests"])])
    up: CliResult = project.up("-v=9", "--logtostderr")
    assert emulator.synced(ANALYTICS) == ({"heidi"}, {"guests"})
    places = {
        "up output and verbose engine log": up.output,
        "stack export": project.run("stack", "export").stdout,
        "stack outputs": project.run("stack", "output", "--json").stdout,
        "refresh output and verbose engine log": project.refresh("-v=9", "--logtostderr").output,
        "emulator request log": json.dumps(emulator.log()),
        "emulator stderr": emulator.stderr_file.read_text(errors="replace"),
    }
    places["destroy output and verbose engine log"] = project.destroy("-v=9", "--logtostderr").output
    assert emulator.synced(ANALYTICS) == (set(), set())
    return places


def up_with(project: Project, config: dict[str, str]) -> CliResult:
    """``pulumi up`` of heidi on analytics with ``config`` added to the stack's, allowed to fail."""
    project.set_config(config)
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi"])])
    return project.up(check=False)


def test_a_wrong_secret_key_fails_up_with_the_signature_error_and_no_traceback(
    project: Project, emulator: Emulator
) -> None:
    result = up_with(project, {"huaweicloud:secret_key": "e2e-a-wrong-secret-key-that-signs-nothing"})

    assert_failed(
        result,
        "authentication failed: APIGW.0301 Incorrect IAM authentication information",
        "the request signature was not accepted",
    )
    assert "e2e-a-wrong-secret-key-that-signs-nothing" not in result.output
    assert {item["error_code"] for item in emulator.log()} == {"APIGW.0301"}
    assert emulator.writes() == []
    assert project.resources() == {}


def test_a_refused_iam_token_is_reported_as_a_token_problem(bare_project: Project, emulator: Emulator) -> None:
    result = up_with(bare_project, {"huaweicloud:auth_token": "e2e-not-a-valid-token"})

    assert_failed(result, "authentication failed: APIGW.0301", "The IAM token (auth_token) was not accepted")
    assert "access key" not in result.stdout, result


def test_credentials_set_as_secret_config_appear_in_no_output_log_or_state(
    bare_project: Project, emulator: Emulator, credentials: Credentials
) -> None:
    bare_project.set_secret("huaweicloud:access_key", credentials.access_key)
    bare_project.set_secret("huaweicloud:secret_key", credentials.secret_key)
    assert credentials.secret_key not in bare_project.stack_file_text()

    places = deploy_verbosely_and_collect_everything(bare_project, emulator)

    for secret in (credentials.access_key, credentials.secret_key):
        assert places_holding(secret, places) == []
    # The engine keeps all stack config as the inputs of the dynamic provider, secrets encrypted.
    assert files_holding(credentials.secret_key, bare_project.state_dir) == []


def test_credentials_from_environment_variables_appear_in_no_output_log_or_state(
    bare_project: Project, emulator: Emulator, credentials: Credentials
) -> None:
    bare_project.env.update(HW_ACCESS_KEY=credentials.access_key, HW_SECRET_KEY=credentials.secret_key)

    places = deploy_verbosely_and_collect_everything(bare_project, emulator)
    places["stack export --show-secrets"] = bare_project.run("stack", "export", "--show-secrets").stdout

    for secret in (credentials.access_key, credentials.secret_key):
        assert places_holding(secret, places) == []
        assert files_holding(secret, bare_project.state_dir) == []


def test_plain_config_is_stored_in_clear_and_debug_grpc_prints_it_as_the_readme_warns(
    project: Project, emulator: Emulator, credentials: Credentials, tmp_path: Path
) -> None:
    """The README's "Credentials" section tells the truth: plain config lands in state, and
    ``PULUMI_DEBUG_GRPC`` logs the provider configuration in clear."""
    grpc_log = tmp_path / "grpc.log"
    project.env["PULUMI_DEBUG_GRPC"] = str(grpc_log)
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi"])])

    project.up()

    providers = [
        resource
        for resource in project.export()["deployment"]["resources"]
        if resource["type"] == "pulumi:providers:pulumi-python"
    ]
    assert [provider["inputs"]["huaweicloud:secret_key"] for provider in providers] == [
        credentials.secret_key
    ]
    assert credentials.secret_key in grpc_log.read_text(errors="replace")
