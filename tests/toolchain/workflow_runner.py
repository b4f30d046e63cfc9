"""Runs the ``run:`` steps of a GitHub workflow on this machine, in order, as a runner would.

Only what the workflows in ``.github/workflows`` use is understood, and anything else fails the
test instead of being guessed at:

* expressions ``${{ ... }}`` and ``if:``: literals, context properties (``github``, ``secrets``,
  ``vars``, ``matrix``, ``steps``, ``needs``, ``env``), ``==``, ``!=``, ``!``, ``&&``, ``||``,
  parentheses, and the status functions ``success()``, ``failure()``, ``cancelled()``,
  ``always()``;
* a job's ``if:``, ``needs``, ``strategy.matrix`` (one list per key), ``env``;
* a step's ``if:`` (``success()`` unless it calls a status function), ``env``, ``id`` and its
  outputs written to ``$GITHUB_OUTPUT`` (``name=value`` lines);
* ``uses:`` only for the actions in :data:`ACTIONS`, each replaced by what it leaves behind here.

A run step is a script for ``bash --noprofile --norc -eo pipefail``, which is what ``shell: bash``
runs on GitHub; a step with another shell fails the test. Nothing may be written to
``$GITHUB_ENV``: the workflows pass values between steps by outputs only.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

BASH: Final = ("bash", "--noprofile", "--norc", "-eo", "pipefail")
"""GitHub's command for ``shell: bash``: pipefail included."""
STEP_TIMEOUT: Final = 300.0
STATUS_FUNCTIONS: Final = ("success", "failure", "cancelled", "always")


class Unsupported(AssertionError):
    """The workflow uses something this runner does not understand: the test fails on it."""


# -- expressions -------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||!|\(|\)|\.)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise Unsupported(f"cannot read the expression {text!r} at {text[position:]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _truthy(value: object) -> bool:
    return value not in (None, "", False, 0)


def _equal(left: object, right: object) -> bool:
    """GitHub compares strings ignoring case, and a missing property equals ''."""
    left, right = ("" if left is None else left), ("" if right is None else right)
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    return left == right


class _Parser:
    """Recursive descent over the token list; ``||`` binds loosest, then ``&&``, then ``==``/``!=``."""

    def __init__(self, text: str, contexts: Mapping[str, Any], status: Mapping[str, bool]) -> None:
        self.text, self.contexts, self.status = text, contexts, status
        self.tokens = _tokens(text)
        self.position = 0

    def parse(self) -> object:
        value = self._or()
        if self.position != len(self.tokens):
            raise Unsupported(f"unexpected {self.tokens[self.position][1]!r} in {self.text!r}")
        return value

    def _peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        if self.position >= len(self.tokens):
            raise Unsupported(f"the expression {self.text!r} ends too early")
        token = self.tokens[self.position]
        self.position += 1
        return token

    def _or(self) -> object:
        value = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            value = value if _truthy(value) else right
        return value

    def _and(self) -> object:
        value = self._comparison()
        while self._peek() == "&&":
            self._take()
            right = self._comparison()
            value = right if _truthy(value) else value
        return value

    def _comparison(self) -> object:
        value = self._unary()
        while self._peek() in ("==", "!="):
            operator = self._take()[1]
            right = self._unary()
            value = _equal(value, right) if operator == "==" else not _equal(value, right)
        return value

    def _unary(self) -> object:
        if self._peek() == "!":
            self._take()
            return not _truthy(self._unary())
        return self._primary()

    def _primary(self) -> object:
        kind, text = self._take()
        if text == "(":
            inner = self._or()
            if self._take()[1] != ")":
                raise Unsupported(f"unbalanced parentheses in {self.text!r}")
            return inner
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind != "name":
            raise Unsupported(f"unexpected {text!r} in {self.text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self._peek() == "(":
            self._take()
            if self._take()[1] != ")" or text not in STATUS_FUNCTIONS:
                raise Unsupported(f"the function {text}() in {self.text!r} is not supported")
            return self.status[text]
        if text not in self.contexts:
            raise Unsupported(f"the context {text!r} in {self.text!r} is not supported")
        value: object = self.contexts[text]
        while self._peek() == ".":
            self._take()
            kind, name = self._take()
            if kind != "name":
                raise Unsupported(f"unexpected {name!r} after '.' in {self.text!r}")
            value = value.get(name) if isinstance(value, Mapping) else None
        return value


def evaluate(text: str, contexts: Mapping[str, Any], status: Mapping[str, bool] | None = None) -> object:
    return _Parser(text, contexts, status or _status("success")).parse()


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_EMBEDDED = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def substitute(text: str, contexts: Mapping[str, Any]) -> str:
    """Every ``${{ ... }}`` in ``text`` replaced by its value, as GitHub renders it into a string."""
    return _EMBEDDED.sub(lambda match: _as_text(evaluate(match[1], contexts)), text)


def condition(text: object, contexts: Mapping[str, Any], status: Mapping[str, bool]) -> bool:
    """An ``if:``: with or without ``${{ }}``, and ``success() &&`` in front unless it calls a status function."""
    if isinstance(text, bool):
        return text and status["success"]
    expression = str(text).strip()
    if expression.startswith("${{") and expression.endswith("}}"):
        expression = expression[3:-2]
    if not any(re.search(rf"\b{name}\s*\(", expression) for name in STATUS_FUNCTIONS):
        expression = f"success() && ({expression})"
    return _truthy(evaluate(expression, contexts, status))


def _status(job_status: str) -> dict[str, bool]:
    return {
        "success": job_status == "success",
        "failure": job_status == "failure",
        "cancelled": False,
        "always": True,
    }


# -- runs --------------------------------------------------------------------------------------------


@dataclass
class StepRun:
    name: str
    ran: bool
    returncode: int = 0
    output: str = ""


@dataclass
class JobRun:
    job: str
    matrix: dict[str, str]
    status: str
    """success, failure, or skipped."""
    steps: list[StepRun] = field(default_factory=list)
    summary: str = ""
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def log(self) -> str:
        return "\n".join(f"--- {step.name} (exit {step.returncode})\n{step.output}" for step in self.steps if step.ran)

    def annotations(self, kind: str) -> list[str]:
        """The ``::error``/``::warning``/``::notice`` lines the steps printed, without the prefix."""
        prefix = f"::{kind} "
        return [line.removeprefix(prefix) for line in self.log.splitlines() if line.startswith(prefix)]

    def step(self, name: str) -> StepRun:
        return next(step for step in self.steps if step.name == name)


Action = Callable[[Mapping[str, Any], Path, Path], None]
"""What a ``uses:`` step leaves behind: (its ``with``, the workspace, the run's artifact directory)."""


def _nothing(inputs: Mapping[str, Any], workspace: Path, artifacts: Path) -> None:
    """The checkout is the workspace; Python, Go and pulumi are the runner's own, on its PATH."""


def _upload(inputs: Mapping[str, Any], workspace: Path, artifacts: Path) -> None:
    source = workspace / str(inputs["path"])
    if not source.exists():
        raise AssertionError(f"upload-artifact: {inputs['path']} does not exist")
    (artifacts / str(inputs["name"])).mkdir(parents=True)
    shutil.copy(source, artifacts / str(inputs["name"]) / source.name)


def _download(inputs: Mapping[str, Any], workspace: Path, artifacts: Path) -> None:
    shutil.copytree(artifacts / str(inputs["name"]), workspace / str(inputs.get("path", ".")), dirs_exist_ok=True)


ACTIONS: Final[Mapping[str, Action]] = {
    "actions/checkout@v4": _nothing,
    "actions/setup-python@v5": _nothing,
    "actions/setup-go@v5": _nothing,
    "pulumi/actions@v6": _nothing,
    "actions/upload-artifact@v4": _upload,
    "actions/download-artifact@v4": _download,
}


@dataclass
class Runner:
    """One workflow's runs on this machine: ``machine_env`` is the runner's environment (PATH and all),
    ``make_workspace`` lays out a fresh checkout for each job, as every GitHub job gets one."""

    workflow_file: Path
    machine_env: dict[str, str]
    make_workspace: Callable[[str], Path]
    github: dict[str, Any]
    secrets: dict[str, str]
    variables: dict[str, str]
    before_job: Callable[[str], None] | None = None
    """Called with a job's name before it starts: the world may change while a job waits for approval."""

    def __post_init__(self) -> None:
        self.workflow: dict[str, Any] = yaml.safe_load(self.workflow_file.read_text())
        shell = self.workflow.get("defaults", {}).get("run", {}).get("shell")
        if shell != "bash":
            raise Unsupported(f"{self.workflow_file.name}: defaults.run.shell is {shell!r}, not bash")

    def run(self, matrix_filter: Mapping[str, list[str]] | None = None) -> list[JobRun]:
        """Every job, ``needs`` first; ``matrix_filter`` keeps only some values of a matrix key."""
        artifacts = self.make_workspace("artifacts")
        runs: list[JobRun] = []
        results: dict[str, str] = {}
        pending = list(self.workflow["jobs"])
        while pending:
            ready = [name for name in pending if all(need in results for need in self._needs(name))]
            if not ready:
                raise Unsupported(f"the needs of {pending} cannot be met")
            for name in ready:
                pending.remove(name)
                job_runs = self._run_job(name, results, artifacts, matrix_filter or {})
                runs += job_runs
                results[name] = "failure" if any(run.status == "failure" for run in job_runs) else (
                    "success" if any(run.status == "success" for run in job_runs) else "skipped"
                )
        return runs

    def _needs(self, name: str) -> list[str]:
        needs = self.workflow["jobs"][name].get("needs", [])
        return [needs] if isinstance(needs, str) else list(needs)

    def _matrices(self, job: Mapping[str, Any], matrix_filter: Mapping[str, list[str]]) -> list[dict[str, str]]:
        matrix = job.get("strategy", {}).get("matrix")
        if matrix is None:
            return [{}]
        keys = list(matrix)
        if any(not isinstance(matrix[key], list) for key in keys):
            raise Unsupported(f"only plain matrix lists are supported: {matrix}")
        combos = [dict(zip(keys, values, strict=True)) for values in itertools.product(*(matrix[key] for key in keys))]
        return [
            combo for combo in combos if all(combo[key] in matrix_filter.get(key, [combo[key]]) for key in keys)
        ]

    def _run_job(
        self, name: str, results: Mapping[str, str], artifacts: Path, matrix_filter: Mapping[str, list[str]]
    ) -> list[JobRun]:
        job = self.workflow["jobs"][name]
        unknown = set(job) - {
            "if", "needs", "runs-on", "timeout-minutes", "strategy", "concurrency", "env", "steps", "environment",
        }
        if unknown:
            raise Unsupported(f"job {name}: {sorted(unknown)} not supported")
        needs_context = {need: {"result": results[need]} for need in self._needs(name)}
        runs = []
        for matrix in self._matrices(job, matrix_filter):
            contexts = self._contexts(matrix=matrix, needs=needs_context)
            needs_met = all(results[need] == "success" for need in self._needs(name))
            if not needs_met or not condition(job.get("if", True), contexts, _status("success")):
                runs.append(JobRun(name, matrix, "skipped"))
                continue
            if self.before_job is not None:
                self.before_job(name)
            runs.append(self._run_steps(name, job, matrix, contexts, artifacts))
        return runs

    def _contexts(self, **extra: Any) -> dict[str, Any]:
        return {"github": self.github, "secrets": self.secrets, "vars": self.variables, "steps": {}, "env": {}, **extra}

    def _env(self, block: Mapping[str, Any] | None, contexts: Mapping[str, Any]) -> dict[str, str]:
        return {key: substitute(_as_text(value), contexts) for key, value in (block or {}).items()}

    def _run_steps(
        self, name: str, job: Mapping[str, Any], matrix: dict[str, str], contexts: dict[str, Any], artifacts: Path
    ) -> JobRun:
        workspace = self.make_workspace(name)
        files = workspace.parent / f"{workspace.name}-files"
        files.mkdir()
        summary, github_env = files / "summary.md", files / "github_env"
        summary.touch()
        github_env.touch()
        env = self._env(self.workflow.get("env"), contexts)
        contexts["env"] = env
        env = {**env, **self._env(job.get("env"), contexts)}
        run = JobRun(name, matrix, "success")
        steps: dict[str, Any] = {}
        contexts["steps"] = steps
        for index, step in enumerate(job["steps"]):
            label = str(step.get("name") or step.get("uses") or step.get("run", "").splitlines()[0])
            unknown = set(step) - {"name", "id", "if", "env", "run", "uses", "with", "shell"}
            if unknown:
                raise Unsupported(f"step {label!r}: {sorted(unknown)} not supported")
            contexts["env"] = env
            if not condition(step.get("if", True), contexts, _status(run.status)):
                run.steps.append(StepRun(label, ran=False))
                continue
            step_env = {**env, **self._env(step.get("env"), contexts)}
            if "uses" in step:
                action = ACTIONS.get(step["uses"])
                if action is None:
                    raise Unsupported(f"step {label!r}: the action {step['uses']} is not supported")
                action({key: substitute(_as_text(value), contexts) for key, value in (step.get("with") or {}).items()},
                       workspace, artifacts)
                run.steps.append(StepRun(label, ran=True))
                continue
            if step.get("shell", "bash") != "bash":
                raise Unsupported(f"step {label!r}: shell {step['shell']!r} is not bash")
            output_file = files / f"output-{index}"
            output_file.touch()
            script = files / f"step-{index}.sh"
            script.write_text(substitute(step["run"], contexts))
            process = subprocess.run(
                [*BASH, str(script)],
                cwd=workspace,
                env={
                    **self.machine_env,
                    **step_env,
                    "CI": "true",
                    "GITHUB_ACTIONS": "true",
                    "GITHUB_SHA": str(self.github["sha"]),
                    "GITHUB_REPOSITORY": str(self.github["repository"]),
                    "GITHUB_WORKSPACE": str(workspace),
                    "GITHUB_OUTPUT": str(output_file),
                    "GITHUB_STEP_SUMMARY": str(summary),
                    "GITHUB_ENV": str(github_env),
                },
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=STEP_TIMEOUT,
                check=False,
            )
            run.steps.append(StepRun(label, True, process.returncode, process.stdout + process.stderr))
            if "id" in step:
                steps[step["id"]] = {"outputs": _outputs(output_file), "outcome": "success" if process.returncode == 0 else "failure"}
            if process.returncode != 0:
                run.status = "failure"
            if github_env.read_text():
                raise AssertionError(f"step {label!r} wrote to $GITHUB_ENV: {github_env.read_text()!r}")
        run.summary = summary.read_text()
        run.outputs = {key: value["outputs"] for key, value in steps.items()}
        return run


def _outputs(path: Path) -> dict[str, str]:
    outputs = {}
    for line in path.read_text().splitlines():
        key, equals, value = line.partition("=")
        if not equals or "<<" in key:
            raise Unsupported(f"only name=value lines are supported in $GITHUB_OUTPUT, not {line!r}")
        outputs[key] = value
    return outputs


def dump(runs: list[JobRun]) -> str:
    """Every job's steps and output, for an assertion message."""
    return "\n".join(
        f"=== {run.job} {json.dumps(run.matrix)}: {run.status}\n{run.log}\n--- summary\n{run.summary}" for run in runs
    )
