"""The stand-in language host finds a program's interpreter from Pulumi.yaml as the official host does."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from google.protobuf import struct_pb2
from pulumi.runtime.proto import language_pb2

HOST = Path(__file__).resolve().parents[2] / "toolchain" / "pulumi_language_python.py"


@pytest.fixture(scope="module")
def host() -> ModuleType:
    spec = importlib.util.spec_from_file_location("standin_language_host", HOST)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _venv(path: Path) -> Path:
    (path / "bin").mkdir(parents=True)
    (path / "bin" / "python").symlink_to(sys.executable)
    return path


def _info(root: Path, program: Path | None = None, **options: str) -> language_pb2.ProgramInfo:
    struct = struct_pb2.Struct()
    struct.update(options)
    return language_pb2.ProgramInfo(
        root_directory=str(root), program_directory=str(program or root), options=struct
    )


def test_pip_takes_any_virtualenv_name_relative_to_the_project(host: ModuleType, tmp_path: Path):
    venv = _venv(tmp_path / "venv-infra")

    python, env = host._program_python(_info(tmp_path, virtualenv="venv-infra", toolchain="pip"))

    assert python == str(venv / "bin" / "python")
    assert env["VIRTUAL_ENV"] == str(venv) and env["PATH"].startswith(f"{venv / 'bin'}:")


def test_pip_without_a_virtualenv_uses_the_python_the_environment_names(
    host: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PULUMI_PYTHON_CMD", "python3.11")

    assert host._program_python(_info(tmp_path))[0] == "python3.11"


def test_uv_puts_the_virtualenv_beside_the_nearest_lock_then_pyproject(host: ModuleType, tmp_path: Path):
    project = tmp_path / "repo" / "infra"
    project.mkdir(parents=True)
    (tmp_path / "repo" / "pyproject.toml").write_text("")
    assert host._virtualenv({"toolchain": "uv"}, project, project) == tmp_path / "repo" / ".venv"

    (project / "uv.lock").write_text("")
    assert host._virtualenv({"toolchain": "uv"}, project, project) == project / ".venv"
    assert host._virtualenv({"toolchain": "uv", "virtualenv": "env"}, project, project) == project / "env"


def test_uv_without_lock_or_pyproject_uses_dot_venv_in_the_project(host: ModuleType, tmp_path: Path):
    assert host._virtualenv({"toolchain": "uv"}, tmp_path, tmp_path) == tmp_path / ".venv"


def test_poetry_asks_poetry_in_the_program_directory(
    host: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    venv = _venv(tmp_path / "cache" / "infra-py3.11")
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "poetry").write_text(f'#!/bin/sh\n[ "$*" = "env info --path" ] && pwd > "{tmp_path}/asked-in" && echo {venv}\n')
    (tools / "poetry").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:/usr/bin:/bin")
    program = tmp_path / "project" / "src"
    program.mkdir(parents=True)

    python, _ = host._program_python(_info(tmp_path / "project", program, toolchain="poetry"))

    assert python == str(venv / "bin" / "python")
    assert (tmp_path / "asked-in").read_text().strip() == str(program)


def test_poetry_missing_or_without_an_environment_is_named(
    host: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(host.NoInterpreter, match="'toolchain: poetry', but `poetry` is not on PATH"):
        host._program_python(_info(tmp_path, toolchain="poetry"))

    (tmp_path / "poetry").write_text("#!/bin/sh\necho 'no environment' >&2\nexit 1\n")
    (tmp_path / "poetry").chmod(0o755)
    with pytest.raises(host.NoInterpreter, match=r"found no virtualenv .* no environment"):
        host._program_python(_info(tmp_path, toolchain="poetry"))


def test_a_missing_virtualenv_or_an_unknown_toolchain_is_refused_with_a_reason(host: ModuleType, tmp_path: Path):
    with pytest.raises(host.NoInterpreter, match=r"venv-infra \(from the runtime options in Pulumi.yaml\) has no"):
        host._program_python(_info(tmp_path, virtualenv="venv-infra"))
    with pytest.raises(host.NoInterpreter, match="'toolchain: conda'; known toolchains: pip, uv, poetry"):
        host._program_python(_info(tmp_path, toolchain="conda"))
