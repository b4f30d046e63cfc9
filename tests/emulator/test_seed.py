"""Seed files: the demo values, YAML and JSON loading, and refusals naming file, field and reason."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit.demo import (
    ANALYTICS,
    AUTH_TOKEN,
    DEMO_AK,
    DEMO_SK,
    PROJECT,
    SANDBOX,
    STREAMING,
    TEMP_AK,
    TEMP_SK,
    TEMP_TOKEN,
    demo_seed,
)
from mrs_emulator import SeedError, create_app, start_emulator
from mrs_emulator.seed import load_seed

DEV_STACK = Path(__file__).parents[2] / "stacks" / "Pulumi.dev.yaml"


def test_the_demo_seed_has_exactly_the_values_the_dev_stack_uses():
    """The test kit reads the demo values from the seed; the dev stack holds them as written."""
    dev = yaml.safe_load(DEV_STACK.read_text())["config"]
    seed = load_seed(None)

    [project] = seed.projects
    assert (project.id, project.region) == (dev["huaweicloud:project_id"], dev["huaweicloud:region"])
    assert (project.id, project.region) == (PROJECT, "cn-north-4")
    assert [c.id for c in project.clusters] == [entry["cluster_id"] for entry in dev["mrs-iam-sync:clusters"]]
    assert (dev["huaweicloud:access_key"], dev["huaweicloud:secret_key"]) == (DEMO_AK, DEMO_SK)
    assert [(c.id, c.name) for c in project.clusters] == [
        (ANALYTICS, "analytics"),
        (STREAMING, "streaming"),
        (SANDBOX, "sandbox"),
    ]
    assert [(c.synced.users, c.synced.groups, c.is_synchronous) for c in project.clusters] == [
        ([], [], False),
        ([], [], False),
        (["erin"], ["data-engineers"], False),
    ]
    assert project.iam.groups == ["data-engineers", "analysts", "platform-admins", "auditors"]
    assert [(u.name, u.groups, u.mrs_policy) for u in project.iam.users] == [
        ("alice", ["data-engineers"], True),
        ("bob", ["analysts"], True),
        ("carol", ["platform-admins", "analysts"], True),
        ("dave", ["auditors"], False),
        ("erin", ["data-engineers"], True),
        ("frank", [], True),
    ]
    keys = [
        (
            k.access_key,
            k.secret_key.get_secret_value(),
            k.security_token and k.security_token.get_secret_value(),
        )
        for k in seed.credentials.access_keys
    ]
    assert keys == [(DEMO_AK, DEMO_SK, None), (TEMP_AK, TEMP_SK, TEMP_TOKEN)]
    assert [t.token.get_secret_value() for t in seed.credentials.tokens] == [AUTH_TOKEN]
    assert all(entry.projects is None for entry in seed.credentials.access_keys)


def test_the_demo_seed_says_its_values_are_public():
    text = resources.files("mrs_emulator").joinpath("demo-seed.yaml").read_text()

    assert "PUBLIC, NON-SECRET DEMO VALUE" in text


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_a_seed_file_is_read_by_its_extension(tmp_path, suffix):
    path = tmp_path / f"seed{suffix}"
    document = demo_seed()
    path.write_text(json.dumps(document) if suffix == ".json" else yaml.safe_dump(document))

    assert load_seed(path) == load_seed(None)
    assert load_seed(str(path)) == load_seed(None)


def _broken(change) -> dict[str, Any]:
    document = copy.deepcopy(demo_seed())
    change(document)
    return document


def _project(document: dict[str, Any]) -> dict[str, Any]:
    project: dict[str, Any] = document["projects"][0]
    return project


BROKEN = [
    (
        lambda d: _project(d).update(id="not-hex!"),
        "projects[0].id",
        "must be 1 to 64 characters, letters and digits only",
    ),
    (
        lambda d: _project(d)["clusters"][1].update(id="a b"),
        "projects[0].clusters[1].id",
        "must be 1 to 64 characters: letters, digits, '_' and '-' only",
    ),
    (
        lambda d: _project(d)["clusters"].append({"id": ANALYTICS}),
        "projects[0].clusters[3].id",
        "duplicate of projects[0].clusters[0].id",
    ),
    (
        lambda d: _project(d)["iam"]["users"][2]["groups"].append("wizards"),
        "projects[0].iam.users[2].groups[2]",
        "unknown group 'wizards' (not in projects[0].iam.groups)",
    ),
    (
        lambda d: _project(d)["iam"]["users"].append({"name": "bob", "mrs_policy": True}),
        "projects[0].iam.users[6].name",
        "duplicate of projects[0].iam.users[1].name",
    ),
    (
        lambda d: _project(d)["iam"]["groups"].append("analysts"),
        "projects[0].iam.groups[4]",
        "duplicate of projects[0].iam.groups[1]",
    ),
    (
        lambda d: _project(d)["iam"]["users"][0].pop("mrs_policy"),
        "projects[0].iam.users[0].mrs_policy",
        "Field required",
    ),
    (
        lambda d: _project(d)["iam"]["users"][0].update(mrs_policy="yes"),
        "projects[0].iam.users[0].mrs_policy",
        "Input should be a valid boolean",
    ),
    (
        lambda d: _project(d)["iam"]["users"][0].update(name=""),
        "projects[0].iam.users[0].name",
        "must be a non-empty string",
    ),
    (
        lambda d: _project(d)["clusters"][2]["synced"]["users"].append("zed"),
        "projects[0].clusters[2].synced.users[1]",
        "unknown user 'zed' (not in projects[0].iam.users)",
    ),
    (
        lambda d: _project(d)["clusters"][0].update(colour="red"),
        "projects[0].clusters[0].colour",
        "Extra inputs are not permitted",
    ),
    (lambda d: d.update(projects=[]), "projects", "List should have at least 1 item after validation, not 0"),
    (
        lambda d: d["credentials"]["access_keys"].append({"access_key": DEMO_AK, "secret_key": "other"}),
        "credentials.access_keys[2].access_key",
        "duplicate of credentials.access_keys[0].access_key",
    ),
    (
        lambda d: d["credentials"]["access_keys"][0].update(projects=["ffff"]),
        "credentials.access_keys[0].projects[0]",
        "unknown project 'ffff' (not in projects)",
    ),
    (
        lambda d: d["credentials"]["access_keys"][0].update(access_key="AK, WITH COMMA"),
        "credentials.access_keys[0].access_key",
        "must be 1 to 128 characters: letters, digits, '.', '_' and '-' only",
    ),
    (
        lambda d: d["credentials"]["tokens"].append({"token": AUTH_TOKEN}),
        "credentials.tokens[1].token",
        "duplicate of credentials.tokens[0].token",
    ),
    (
        lambda d: d["credentials"]["access_keys"][0].update(secret_key=""),
        "credentials.access_keys[0].secret_key",
        "must be a non-empty string",
    ),
]


@pytest.mark.parametrize(("change", "field", "reason"), BROKEN, ids=[field for _, field, _ in BROKEN])
def test_a_broken_seed_is_refused_naming_file_field_and_reason(tmp_path, change, field, reason):
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(_broken(change)))

    with pytest.raises(SeedError) as caught:
        load_seed(path)

    assert str(caught.value) == f"{path}: {field}: {reason}"
    assert "\n" not in str(caught.value)
    for secret in (DEMO_SK, TEMP_SK, TEMP_TOKEN, AUTH_TOKEN):
        assert secret not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("seed.toml", "x = 1", "unsupported extension: use .yaml, .yml or .json"),
        ("seed.yaml", "projects: [", "is not valid YAML: "),
        ("seed.json", "{", "is not valid JSON: "),
        ("seed.json", "[" * 100_000, "nests arrays or objects deeper than 64 levels"),
        ("seed.json", '{"projects": NaN}', "is not valid JSON: NaN is not a JSON value"),
        ("seed.yaml", "[" * 5000 + "]" * 5000, "is not valid YAML: maximum recursion depth exceeded"),
        ("seed.yaml", "- just a list", None),
    ],
)
def test_an_unreadable_seed_file_is_refused(tmp_path, name, text, reason):
    path = tmp_path / name
    path.write_text(text)

    with pytest.raises(SeedError) as caught:
        load_seed(path)

    if reason is None:
        assert str(caught.value) == f"{path}: (root): must be a mapping with 'projects' and 'credentials'"
    else:
        assert str(caught.value).startswith(f"{path}: (file): {reason}")


def test_a_missing_seed_file_is_refused(tmp_path):
    with pytest.raises(SeedError, match=r"seed\.yaml: \(file\): cannot be read: "):
        load_seed(tmp_path / "seed.yaml")


def test_a_seed_mapping_is_accepted_and_reported_as_such():
    with pytest.raises(SeedError) as caught:
        create_app(seed={"projects": "nope"})

    assert str(caught.value) == "<seed mapping>: projects: Input should be a valid list"


def test_start_emulator_refuses_a_broken_seed_before_listening(tmp_path):
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({"projects": [{"id": PROJECT}]}))

    with pytest.raises(SeedError, match=r"projects\[0\]\.region: Field required"):
        start_emulator(seed=path)
