from __future__ import annotations

import json

import pytest

from kit.demo import PROJECT as P
from mrs_iam_sync.errors import ConfigurationError
from mrs_iam_sync.settings import Settings, resolve_settings

BASE_ENV = {
    "HW_REGION_NAME": "cn-north-4",
    "HW_PROJECT_ID": P,
    "HW_ACCESS_KEY": "ENVAK",
    "HW_SECRET_KEY": "ENVSK",
}


def _stack(**values: str) -> dict[str, str]:
    return {f"huaweicloud:{key}": value for key, value in values.items()}


def _pinned(endpoint: str) -> dict[str, str]:
    """Stack config that sets the MRS endpoint, the one way a user does."""
    return {"huaweicloud:endpoints": json.dumps({"mrs": endpoint})}


PINNED = _pinned("http://127.0.0.1:9")


# -- precedence ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "environ", "expected_region", "expected_source"),
    [
        (
            _stack(region="cn-south-1"),
            {"HW_REGION_NAME": "ap-southeast-2"},
            "cn-south-1",
            "stack config huaweicloud:region",
        ),
        (
            {},
            {"HW_REGION_NAME": "ap-southeast-2"},
            "ap-southeast-2",
            "environment variable HW_REGION_NAME",
        ),
        (
            _stack(region=" "),
            {"HW_REGION_NAME": "ap-southeast-2"},
            "ap-southeast-2",
            "environment variable HW_REGION_NAME",
        ),
    ],
)
def test_region_precedence(stack, environ, expected_region, expected_source):
    env = {**BASE_ENV, **environ}
    settings = resolve_settings(stack_config=stack, environ=env)
    assert settings.region == expected_region
    assert settings.sources["region"] == expected_source


@pytest.mark.parametrize(
    ("stack", "environ", "expected"),
    [
        (
            _stack(project_id="fromstack"),
            {"HW_PROJECT_ID": "fromhw", "HUAWEICLOUD_SDK_PROJECT_ID": "fromsdk"},
            "fromstack",
        ),
        ({}, {"HW_PROJECT_ID": "fromhw", "HUAWEICLOUD_SDK_PROJECT_ID": "fromsdk"}, "fromhw"),
        ({}, {"HUAWEICLOUD_SDK_PROJECT_ID": "fromsdk"}, "fromsdk"),
    ],
)
def test_project_id_precedence(stack, environ, expected):
    env = {"HW_REGION_NAME": "cn-north-4", "HW_AUTH_TOKEN": "t", **environ}
    assert resolve_settings(stack_config=stack, environ=env).project_id == expected


@pytest.mark.parametrize(
    ("stack", "environ", "expected_ak", "expected_sk"),
    [
        (
            _stack(access_key="S_AK", secret_key="S_SK"),
            {"HW_ACCESS_KEY": "H_AK", "HW_SECRET_KEY": "H_SK"},
            "S_AK",
            "S_SK",
        ),
        (
            {},
            {
                "HW_ACCESS_KEY": "H_AK",
                "HW_SECRET_KEY": "H_SK",
                "HUAWEICLOUD_SDK_AK": "K_AK",
                "HUAWEICLOUD_SDK_SK": "K_SK",
            },
            "H_AK",
            "H_SK",
        ),
        ({}, {"HUAWEICLOUD_SDK_AK": "K_AK", "HUAWEICLOUD_SDK_SK": "K_SK"}, "K_AK", "K_SK"),
    ],
)
def test_credential_precedence(stack, environ, expected_ak, expected_sk):
    env = {"HW_REGION_NAME": "cn-north-4", "HW_PROJECT_ID": P, **environ}
    settings = resolve_settings(stack_config=stack, environ=env)
    assert settings.access_key is not None and settings.access_key.get_secret_value() == expected_ak
    assert settings.secret_key is not None and settings.secret_key.get_secret_value() == expected_sk


def test_credentials_are_taken_as_a_unit_from_one_level():
    # The stack's token wins as a whole; the environment's AK/SK are not mixed in.
    env = {**BASE_ENV, "HW_SECURITY_TOKEN": "envtoken"}
    settings = resolve_settings(stack_config=_stack(auth_token="stacktoken"), environ=env)
    assert settings.auth_token is not None and settings.auth_token.get_secret_value() == "stacktoken"
    assert settings.access_key is None and settings.secret_key is None and settings.security_token is None


def test_higher_level_keys_win_over_a_lower_level_token():
    env = {"HW_REGION_NAME": "cn-north-4", "HW_PROJECT_ID": P, "HW_AUTH_TOKEN": "tok"}
    settings = resolve_settings(stack_config=_stack(access_key="a", secret_key="s"), environ=env)
    assert settings.access_key is not None and settings.access_key.get_secret_value() == "a"
    assert settings.auth_token is None


def test_temporary_credentials_come_with_their_token():
    env = {
        "HW_REGION_NAME": "cn-north-4",
        "HUAWEICLOUD_SDK_PROJECT_ID": P,
        "HUAWEICLOUD_SDK_AK": "tmpak",
        "HUAWEICLOUD_SDK_SK": "tmpsk",
        "HUAWEICLOUD_SDK_SECURITY_TOKEN": "sts",
    }
    settings = resolve_settings(environ=env)
    assert settings.security_token is not None and settings.security_token.get_secret_value() == "sts"
    assert settings.sources["security_token"] == "environment variable HUAWEICLOUD_SDK_SECURITY_TOKEN"


def test_credentials_are_stripped_of_surrounding_whitespace():
    settings = resolve_settings(environ={**BASE_ENV, "HW_SECRET_KEY": "ENVSK\n"})
    assert settings.secret_key is not None and settings.secret_key.get_secret_value() == "ENVSK"


def test_max_retries_and_insecure_precedence():
    env = {**BASE_ENV, "HW_MAX_RETRIES": "9", "HW_INSECURE": "true"}
    settings = resolve_settings(stack_config=_stack(max_retries="2"), environ=env)
    assert settings.max_retries == 2
    assert settings.insecure is True
    assert resolve_settings(stack_config=_stack(max_retries="0"), environ=env).max_retries == 0


def test_defaults():
    settings = resolve_settings(environ=BASE_ENV)
    assert (settings.max_retries, settings.insecure) == (5, False)


def test_environ_defaults_to_the_process_environment(monkeypatch):
    for name, value in BASE_ENV.items():
        monkeypatch.setenv(name, value)
    access_key = resolve_settings().access_key
    assert access_key is not None and access_key.get_secret_value() == "ENVAK"


# -- endpoint ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "endpoint"),
    [
        ("cn-north-4", "https://mrs.cn-north-4.myhuaweicloud.com"),
        ("ap-southeast-2", "https://mrs.ap-southeast-2.myhuaweicloud.com"),
        ("ap-southeast-1", "https://mrs.ap-southeast-1.myhuaweicloud.cn"),
        ("ap-southeast-4", "https://mrs.ap-southeast-4.myhuaweicloud.cn"),
        ("ru-northwest-2", "https://mrs.ru-northwest-2.myhuaweicloud.cn"),
        ("eu-west-101", "https://mrs.eu-west-101.myhuaweicloud.eu"),
    ],
)
def test_default_endpoint_per_region(region, endpoint):
    settings = resolve_settings(stack_config=_stack(region=region), environ=BASE_ENV)
    assert settings.endpoint == endpoint
    assert settings.endpoint_explicit is False


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://mrs.example.com/", "https://mrs.example.com"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/prefix/", "http://127.0.0.1:8080/prefix"),
    ],
)
def test_stack_endpoints_mrs_entry_is_normalised(given, expected):
    stack = {"huaweicloud:endpoints": f'{{"mrs": "{given}", "ecs": "https://ecs.example.com"}}'}
    settings = resolve_settings(stack_config=stack, environ=BASE_ENV)
    assert settings.endpoint == expected
    assert settings.endpoint_explicit is True
    assert settings.sources["endpoint"] == "stack config huaweicloud:endpoints (mrs entry)"


def test_endpoints_without_mrs_entry_fall_back_to_the_region():
    stack = {"huaweicloud:endpoints": '{"ecs": "https://ecs.example.com"}'}
    assert (
        resolve_settings(stack_config=stack, environ=BASE_ENV).endpoint
        == "https://mrs.cn-north-4.myhuaweicloud.com"
    )


def test_stack_endpoints_beat_the_sdk_region_variable():
    stack = {"huaweicloud:endpoints": '{"mrs": "https://stack.example.com"}'}
    env = {**BASE_ENV, "HUAWEICLOUD_SDK_REGION_MRS_CN_NORTH_4": "https://variable.example.com"}
    settings = resolve_settings(stack_config=stack, environ=env)
    assert settings.endpoint == "https://stack.example.com"


def test_sdk_region_override_takes_the_first_of_a_list():
    env = {
        **BASE_ENV,
        "HUAWEICLOUD_SDK_REGION_MRS_CN_NORTH_4": " https://mrs-a.example.com/ ,https://mrs-b.example.com",
    }
    settings = resolve_settings(environ=env)
    assert settings.endpoint == "https://mrs-a.example.com"
    assert settings.endpoint_explicit is False
    assert settings.sources["endpoint"] == "environment variable HUAWEICLOUD_SDK_REGION_MRS_CN_NORTH_4"


def test_a_configured_endpoint_needs_no_region():
    env = {key: value for key, value in BASE_ENV.items() if key != "HW_REGION_NAME"}
    settings = resolve_settings(stack_config=PINNED, environ=env)
    assert settings.region is None
    assert settings.endpoint == "http://127.0.0.1:9"


# -- for_target ----------------------------------------------------------------------------------------


def test_for_target_recomputes_a_derived_endpoint():
    env = {**BASE_ENV, "HUAWEICLOUD_SDK_REGION_MRS_CN_EAST_3": "https://override.example.com"}
    settings = resolve_settings(environ=env)
    assert settings.for_target(region="eu-west-101").endpoint == "https://mrs.eu-west-101.myhuaweicloud.eu"
    assert settings.for_target(region="cn-east-3").endpoint == "https://override.example.com"
    other = settings.for_target(project_id="otherproject")
    assert (other.project_id, other.endpoint, other.region) == (
        "otherproject",
        settings.endpoint,
        "cn-north-4",
    )
    assert other.sources["project_id"] == "the resource's project_id"


def test_for_target_keeps_a_configured_endpoint():
    settings = resolve_settings(stack_config=PINNED, environ=BASE_ENV)
    moved = settings.for_target(region="cn-east-3")
    assert moved.endpoint == "http://127.0.0.1:9"
    assert moved.region == "cn-east-3"


def test_for_target_without_changes_returns_the_same_object():
    settings = resolve_settings(environ=BASE_ENV)
    assert settings.for_target() is settings
    assert settings.for_target(region="cn-north-4", project_id=P) is settings


def test_for_target_validates():
    settings = resolve_settings(environ=BASE_ENV)
    with pytest.raises(ConfigurationError, match="project_id 'not-valid' from the resource's project_id"):
        settings.for_target(project_id="not-valid")
    with pytest.raises(ConfigurationError, match="region 'CN North' from the resource's region"):
        settings.for_target(region="CN North")


# -- errors --------------------------------------------------------------------------------------------


def _config_error(**kwargs: object) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(**kwargs)  # type: ignore[arg-type]
    return caught.value


def test_missing_region_and_endpoint_says_how_to_set_them():
    error = _config_error(environ={"HW_PROJECT_ID": P, "HW_AUTH_TOKEN": "t"})
    assert error.setting == "region"
    assert str(error) == (
        "region is not set, and no endpoint either: run "
        "`pulumi config set huaweicloud:region <value>`; set HW_REGION_NAME; or give the MRS endpoint with "
        '`pulumi config set huaweicloud:endpoints \'{"mrs": "https://..."}\'`'
    )


def test_missing_project_id():
    error = _config_error(environ={"HW_REGION_NAME": "cn-north-4", "HW_AUTH_TOKEN": "t"})
    assert error.setting == "project_id"
    assert "`pulumi config set huaweicloud:project_id <value>`" in str(error)
    assert "HW_PROJECT_ID or HUAWEICLOUD_SDK_PROJECT_ID" in str(error)


def test_missing_credentials_lists_every_way():
    error = _config_error(environ={"HW_REGION_NAME": "cn-north-4", "HW_PROJECT_ID": P})
    text = str(error)
    assert text.startswith("no credentials: provide an access key and secret key")
    for way in (
        "pulumi config set huaweicloud:access_key",
        "pulumi config set --secret huaweicloud:secret_key",
        "pulumi config set --secret huaweicloud:auth_token",
        "HW_ACCESS_KEY or HUAWEICLOUD_SDK_AK",
        "HW_SECRET_KEY or HUAWEICLOUD_SDK_SK",
        "HW_AUTH_TOKEN",
    ):
        assert way in text


@pytest.mark.parametrize(
    ("stack", "environ", "setting", "fragment"),
    [
        (
            _stack(access_key="a"),
            {"HW_SECRET_KEY": "s"},
            "secret_key",
            "an access key is set in the Pulumi stack config without its secret key",
        ),
        (
            _stack(secret_key="s"),
            {},
            "access_key",
            "a secret key is set in the Pulumi stack config without its access key",
        ),
        (
            {},
            {"HW_SECURITY_TOKEN": "st"},
            "security_token",
            "a security_token is set in the HW_* environment variables without",
        ),
        (
            _stack(access_key="a", secret_key="s", auth_token="t"),
            {},
            "auth_token",
            "both an access key/secret key pair and an auth_token are set in the Pulumi stack config",
        ),
    ],
)
def test_incoherent_credentials(stack, environ, setting, fragment):
    env = {"HW_REGION_NAME": "cn-north-4", "HW_PROJECT_ID": P, **environ}
    error = _config_error(stack_config=stack, environ=env)
    assert error.setting == setting
    assert fragment in str(error)


@pytest.mark.parametrize(
    ("stack", "environ", "setting", "message"),
    [
        (
            _stack(max_retries="many"),
            {},
            "max_retries",
            "max_retries from stack config huaweicloud:max_retries must be a "
            "non-negative integer, got 'many'",
        ),
        (
            {},
            {"HW_MAX_RETRIES": "-1"},
            "max_retries",
            "max_retries from environment variable HW_MAX_RETRIES must be a non-negative integer, got '-1'",
        ),
        (
            {},
            {"HW_INSECURE": "maybe"},
            "insecure",
            "insecure from environment variable HW_INSECURE must be true or false, got 'maybe'",
        ),
        (
            _stack(project_id="has-dash"),
            {},
            "project_id",
            "project_id 'has-dash' from stack config huaweicloud:project_id "
            "must be 1 to 64 characters, letters and digits only",
        ),
        (
            {"huaweicloud:endpoints": "not json"},
            {},
            "endpoint",
            "huaweicloud:endpoints must be a JSON object",
        ),
        (
            {"huaweicloud:endpoints": '["x"]'},
            {},
            "endpoint",
            "huaweicloud:endpoints must be a JSON object, not list",
        ),
        ({"huaweicloud:endpoints": '{"mrs": 1}'}, {}, "endpoint", "the 'mrs' entry must be a string URL"),
        (
            {"huaweicloud:endpoints": '{"mrs": "ftp://x"}'},
            {},
            "endpoint",
            "endpoint 'ftp://x' from stack config huaweicloud:endpoints (mrs entry) has the scheme 'ftp', "
            "not http or https",
        ),
        (
            _stack(region="cn_north_4"),
            {},
            "region",
            "region 'cn_north_4' from stack config huaweicloud:region must look like",
        ),
    ],
)
def test_invalid_values_name_key_and_source(stack, environ, setting, message):
    error = _config_error(stack_config=stack, environ={**BASE_ENV, **environ})
    assert error.setting == setting
    assert message in str(error)


def test_other_namespaces_are_ignored():
    stack = {"aws:region": "us-east-1", "myproject:region": "x", "huaweicloud:region": "cn-east-3"}
    assert resolve_settings(stack_config=stack, environ=BASE_ENV).region == "cn-east-3"


# -- secrecy -------------------------------------------------------------------------------------------


def test_repr_and_str_show_no_credentials():
    env = {**BASE_ENV, "HW_SECURITY_TOKEN": "STSVALUE"}
    settings = resolve_settings(environ=env)
    text = repr(settings) + str(settings) + settings.describe_sources()
    for secret in ("ENVAK", "ENVSK", "STSVALUE"):
        assert secret not in text
    assert "SecretStr('**********')" in repr(settings)


def test_describe_sources_names_places_not_values():
    settings = resolve_settings(stack_config=_stack(region="cn-east-3"), environ=BASE_ENV)
    assert settings.describe_sources() == (
        "access_key from environment variable HW_ACCESS_KEY, endpoint from the default for region cn-east-3, "
        "project_id from environment variable HW_PROJECT_ID, region from stack config huaweicloud:region, "
        "secret_key from environment variable HW_SECRET_KEY"
    )


def test_settings_are_frozen():
    settings = resolve_settings(environ=BASE_ENV)
    with pytest.raises(ValueError, match="frozen"):
        settings.region = "x"
    assert isinstance(settings, Settings)


# -- one endpoint rule, checked wherever the endpoint comes from ------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("mrs.example.com", "has no scheme: write https://mrs.example.com (or http:// for a local emulator)"),
        ("https://mrs.example.com/?x=1", "has a query string"),
        ("https://mrs.example.com/#top", "has a fragment"),
        ("https://my host.example.com", "contains a space or a control character"),
        ("https://mrs.example.com:70000", "has an invalid port '70000'"),
        ("https://", "has no valid host"),
        ("https://bad_host!", "has no valid host"),
    ],
)
def test_a_malformed_endpoint_is_refused_naming_the_rule(endpoint, reason):
    stack = {"huaweicloud:endpoints": json.dumps({"mrs": endpoint})}
    with pytest.raises(ConfigurationError) as raised:
        resolve_settings(stack_config=stack, environ=BASE_ENV)
    message = str(raised.value)
    assert f"from stack config huaweicloud:endpoints (mrs entry) {reason}" in message
    assert "a scheme (http:// or https://), a host, an optional :port and an optional path" in message
    assert raised.value.setting == "endpoint"


def test_a_password_in_an_endpoint_is_never_echoed():
    with pytest.raises(ConfigurationError) as raised:
        resolve_settings(stack_config=_pinned("https://user:hunter2@mrs.example.com"), environ=BASE_ENV)
    assert "hunter2" not in str(raised.value)
    assert "has a user name in it" in str(raised.value)


def test_the_sdk_region_variable_obeys_the_same_rule():
    env = {**BASE_ENV, "HUAWEICLOUD_SDK_REGION_MRS_CN_NORTH_4": "mrs-a.example.com"}
    with pytest.raises(ConfigurationError, match="HUAWEICLOUD_SDK_REGION_MRS_CN_NORTH_4 has no scheme"):
        resolve_settings(environ=env)


def test_a_malformed_variable_for_another_region_breaks_nothing():
    env = {**BASE_ENV, "HUAWEICLOUD_SDK_REGION_MRS_AP_SOUTHEAST_3": "ftp://mrs.example.com"}
    assert resolve_settings(environ=env).endpoint == "https://mrs.cn-north-4.myhuaweicloud.com"
    pinned = resolve_settings(stack_config=PINNED, environ=env)
    assert pinned.endpoint == "http://127.0.0.1:9"
    with pytest.raises(ConfigurationError, match="HUAWEICLOUD_SDK_REGION_MRS_AP_SOUTHEAST_3"):
        resolve_settings(environ=env).for_target(region="ap-southeast-3")
