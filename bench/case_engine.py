"""Case 3, engine overhead: ``pulumi preview``, ``up`` and ``destroy`` of N ClusterIamSync vs N trivial.

Both stacks are real Pulumi projects run by the real CLI (the language host, the Python program and
the dynamic provider process included): the only difference is the resource class. The trivial
resource (``bench/trivial_provider.py``) takes the same inputs and makes no HTTP call, so it is the
floor the engine itself imposes on a Python dynamic resource; ours / trivial is what our provider
adds. Resource i targets cluster ``i % 10`` with its own user, so a stack of 50 puts 5 resources on
each cluster.

Every command is repeated (``repeats``) with the kinds and sizes interleaved, and the median is kept.
The preview runs on a fresh stack (every resource to be created: ``check`` only); ``up`` creates them
all; ``destroy`` deletes them all, which also resets the stack for the next repetition. After the first
``up`` of each stack the state is exported for case 5, and the emulator's request log gives the API
calls each command made (case 4 cross-check).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import (
    BENCH_DIR,
    REPO,
    Emulator,
    Row,
    Stopwatch,
    clean_env,
    cluster_id,
    median,
    provider_env,
    user_name,
)

CASE = "3 engine"
KINDS = ("trivial", "ours")
SIZES = (1, 10, 50)
COMMANDS = ("preview", "up", "destroy")
CLI_TIMEOUT = 300.0
PASSPHRASE = "bench-state-passphrase-not-a-secret"

PROGRAMS = {
    "ours": '''"""Bench stack: {n} ClusterIamSync resources spread over the bench clusters."""

from mrs_iam_sync import ClusterIamSync

for index, (cluster, user) in enumerate({targets!r}):
    ClusterIamSync(f"r{{index:03d}}", cluster_id=cluster, user_names=[user])
''',
    "trivial": '''"""Bench stack: {n} trivial dynamic resources with the inputs ClusterIamSync would store."""

from trivial_provider import TrivialResource

for index, (cluster, user) in enumerate({targets!r}):
    TrivialResource(
        f"r{{index:03d}}",
        cluster_id=cluster,
        user_names=[user],
        group_names=[],
        is_all_sync=False,
        wait=True,
        timeout_seconds=600.0,
    )
''',
}


class CliError(RuntimeError):
    pass


@dataclass
class Stack:
    """One temporary Pulumi project with one stack ``b``, driven through the CLI."""

    kind: str
    size: int
    root: Path
    env: dict[str, str]
    targets: list[tuple[str, str]] | None = None
    """(cluster, user) per resource; by default resource i goes to cluster i % 10 with user i."""
    times: dict[str, list[float]] = field(default_factory=lambda: {command: [] for command in COMMANDS})
    requests: dict[str, list[int]] = field(default_factory=lambda: {command: [] for command in COMMANDS})
    export: dict[str, Any] | None = None
    export_text: str | None = None

    @property
    def directory(self) -> Path:
        return self.root / f"{self.kind}-{self.size}"

    def create(self) -> None:
        self.directory.mkdir(parents=True)
        (self.directory / "Pulumi.yaml").write_text(
            f"name: bench-{self.kind}-{self.size}\n"
            "runtime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: .venv\n"
        )
        targets = self.targets or [(cluster_id(index), user_name(index)) for index in range(self.size)]
        program = PROGRAMS[self.kind.split("-")[0]]
        (self.directory / "__main__.py").write_text(program.format(n=self.size, targets=targets))
        (self.directory / ".venv").symlink_to(REPO / ".venv")
        self.pulumi("stack", "init", "b", "--non-interactive")

    def pulumi(self, *args: str) -> str:
        completed = subprocess.run(
            ["pulumi", *args],
            cwd=self.directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
        if completed.returncode != 0:
            raise CliError(
                f"pulumi {' '.join(args)} failed in {self.directory} (exit {completed.returncode}):\n"
                f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
            )
        return completed.stdout

    def timed(self, command: str, emulator: Emulator) -> None:
        args = {
            "preview": ("preview", "--non-interactive"),
            "up": ("up", "--yes", "--skip-preview", "--non-interactive"),
            "destroy": ("destroy", "--yes", "--skip-preview", "--non-interactive"),
        }[command]
        emulator.clear_requests()
        with Stopwatch() as watch:
            self.pulumi(*args)
        self.times[command].append(watch.seconds)
        self.requests[command].append(len(emulator.requests()))

    def take_export(self) -> None:
        self.export_text = self.pulumi("stack", "export")
        self.export = json.loads(self.export_text)


@dataclass
class EngineResult:
    stacks: dict[tuple[str, int], Stack]
    repeats: int
    imports: dict[str, float]

    def median(self, kind: str, size: int, command: str) -> float:
        return median(self.stacks[kind, size].times[command])

    def requests(self, kind: str, size: int, command: str) -> float:
        return median(self.stacks[kind, size].requests[command])


def environment(
    bin_dir: str, root: Path, emulator: Emulator, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """What every bench ``pulumi`` command sees: its own backend and home, the provider settings,
    and ``bench/`` on PYTHONPATH so the provider process can unpickle ``trivial_provider``."""
    python_path = os.pathsep.join(filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH")]))
    return clean_env(
        {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "PULUMI_BACKEND_URL": f"file://{root / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_HOME": str(root / "home"),
            "PYTHONPATH": python_path,
            **provider_env(emulator.url),
            **(extra or {}),
        }
    )


IMPORT_PROBE = (
    "import time, pulumi.dynamic\n"
    "started = time.perf_counter()\n"
    "import {module}\n"
    "print(time.perf_counter() - started)\n"
)


def import_cost(env: dict[str, str], *, repeats: int = 7) -> dict[str, float]:
    """Median seconds to import each resource's module in a fresh Python that already has pulumi.

    Every ``pulumi`` command pays this twice on its critical path: in the program process (to declare
    the resources) and, once the first resource is registered, in the dynamic provider's process.
    """
    modules = {"trivial": "trivial_provider", "ours": "mrs_iam_sync.resource"}
    samples: dict[str, list[float]] = {kind: [] for kind in modules}
    for repeat in range(repeats):
        kinds = list(modules)
        for kind in kinds[repeat % 2 :] + kinds[: repeat % 2]:
            completed = subprocess.run(
                [str(REPO / ".venv" / "bin" / "python"), "-c", IMPORT_PROBE.format(module=modules[kind])],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            samples[kind].append(float(completed.stdout.strip()))
    return {kind: median(values) for kind, values in samples.items()}


def run(
    emulator: Emulator, bin_dir: str, *, repeats: int = 3, sizes: tuple[int, ...] = SIZES
) -> tuple[list[Row], EngineResult]:
    emulator.reset(sync_seconds=0)
    root = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    try:
        (root / "state").mkdir()
        env = environment(bin_dir, root, emulator)
        stacks = {(kind, size): Stack(kind, size, root, env) for size in sizes for kind in KINDS}
        for stack in stacks.values():
            stack.create()
        for repeat in range(repeats):
            shift = repeat % 2  # alternate which kind goes first at each size
            for size in sizes:
                kinds = KINDS[shift:] + KINDS[:shift]
                for kind in kinds:
                    stack = stacks[kind, size]
                    stack.timed("preview", emulator)
                    stack.timed("up", emulator)
                    if repeat == 0:
                        stack.take_export()
                    stack.timed("destroy", emulator)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result = EngineResult(stacks, repeats, import_cost(env))
    rows: list[Row] = [
        Row.compare(
            CASE,
            "import of the resource's module in a fresh Python with pulumi loaded (program and provider "
            "process each pay it)",
            "ms",
            result.imports["ours"] * 1000,
            "trivial_provider",
            result.imports["trivial"] * 1000,
        )
    ]
    for command in COMMANDS:
        for size in sizes:
            rows.append(
                Row.compare(
                    CASE,
                    f"pulumi {command}, N={size}: wall (median of {repeats})",
                    "s",
                    result.median("ours", size, command),
                    "trivial dynamic resource, same N",
                    result.median("trivial", size, command),
                )
            )
    for command in ("up", "destroy"):
        first, last = sizes[0], sizes[-1]
        ours_step = (result.median("ours", last, command) - result.median("ours", first, command)) / (
            last - first
        )
        trivial_step = (
            result.median("trivial", last, command) - result.median("trivial", first, command)
        ) / (last - first)
        rows.append(
            Row.compare(
                CASE,
                f"pulumi {command}: marginal wall per extra resource (N={first} to {last})",
                "ms",
                ours_step * 1000,
                "trivial dynamic resource",
                trivial_step * 1000,
            )
        )
    return rows, result


PARALLEL_TASK_SECONDS = 0.6
PARALLEL_SIZE = 16


def run_parallel(emulator: Emulator, bin_dir: str, *, repeats: int = 2) -> tuple[list[Row], dict[str, Any]]:
    """Case 3b: 16 ClusterIamSync on 2 clusters with 0.6 s tasks, declared interleaved vs grouped.

    The API runs one task per cluster, so either way each cluster runs 8 tasks in sequence and the
    two clusters can run side by side: the floor is 8 task times. Our provider serializes a cluster's
    calls with a lock that a gRPC worker thread holds *while it waits*, and Pulumi's Python
    dynamic-provider server has 4 worker threads, served in the order the engine sends the calls.
    Declared grouped by cluster, the first calls are all for cluster A: 1 thread works and 3 wait on
    A's lock, and every thread that frees up takes A's next resource and waits too, until A's last
    resources are in the pool; B's first task starts only after 8 - 3 = 5 of A's. Expected: 13 task
    times instead of 8. The declaration order is the only difference between the two stacks.
    """
    emulator.reset(sync_seconds=PARALLEL_TASK_SECONDS)
    root = Path(tempfile.mkdtemp(prefix="bench-parallel-"))
    half = PARALLEL_SIZE // 2
    layouts = {
        "ours-interleaved": [(cluster_id(i % 2), user_name(i)) for i in range(PARALLEL_SIZE)],
        "ours-grouped": [(cluster_id(i // half), user_name(i)) for i in range(PARALLEL_SIZE)],
    }
    try:
        (root / "state").mkdir()
        env = environment(bin_dir, root, emulator)
        stacks = {
            kind: Stack(kind, PARALLEL_SIZE, root, env, targets=targets) for kind, targets in layouts.items()
        }
        for stack in stacks.values():
            stack.create()
        for repeat in range(repeats):
            kinds = list(stacks)
            for kind in kinds[repeat % 2 :] + kinds[: repeat % 2]:
                stacks[kind].timed("up", emulator)
                stacks[kind].timed("destroy", emulator)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        emulator.reset(sync_seconds=0)
    figures = {
        kind: {command: median(stack.times[command]) for command in ("up", "destroy")}
        for kind, stack in stacks.items()
    }
    rows = [
        Row.compare(
            "3b engine, slow tasks",
            f"pulumi {command}, {PARALLEL_SIZE} resources on 2 clusters, {PARALLEL_TASK_SECONDS:g} s tasks, "
            f"declared grouped by cluster (median of {repeats})",
            "s",
            figures["ours-grouped"][command],
            "same, declared interleaved",
            figures["ours-interleaved"][command],
        )
        for command in ("up", "destroy")
    ]
    return rows, figures
