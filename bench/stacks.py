"""Real Pulumi projects run by the real CLI: N resources, each a (cluster, user) pair, of ours or of the
trivial dynamic resource (``trivial_provider.py``), in a temporary workspace of their own."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, Final

from common import BENCH_DIR, CLUSTERS, REPO, USERS, median, provider_env, rotated

from kit.emulator import EmulatorProcess
from kit.pulumi import project_environment

COMMANDS: Final = {
    "preview": ("preview", "--non-interactive"),
    "up": ("up", "--yes", "--skip-preview", "--non-interactive"),
    "destroy": ("destroy", "--yes", "--skip-preview", "--non-interactive"),
}
MAKEFILE_PARALLEL: Final = os.environ.get("PULUMI_PARALLEL", "")
"""What ``make bench`` exports (the Makefile's value): the setting a user of this repository runs."""
MAKEFILE: Final = f"PULUMI_PARALLEL={MAKEFILE_PARALLEL} (Makefile)"
DEFAULT: Final = "engine default --parallel"
PARALLEL: Final[dict[str, dict[str, str]]] = {MAKEFILE: {"PULUMI_PARALLEL": MAKEFILE_PARALLEL}, DEFAULT: {}}
"""The engine runs at most this many resource operations at once (four per CPU unless set): each
setting is the environment of a command; the stacks' own environment has no PULUMI_PARALLEL."""
FINISHED: Final = re.compile(r"\s(r\d{3}) (?:created|deleted)\b")
"""A resource's row in the non-interactive display once its step is done (resources are r000...)."""
PROGRAMS: Final = {
    "ours": "from mrs_iam_sync import ClusterIamSync as Resource\nEXTRA = {}\n",
    # The inputs ClusterIamSync stores after check, so the engine moves and stores the same bags.
    "trivial": "from trivial_provider import TrivialResource as Resource\n"
    "EXTRA = dict(group_names=[], is_all_sync=False, wait=True, timeout_seconds=600.0)\n",
}
DECLARE: Final = """
for index, (cluster, user) in enumerate({targets!r}):
    Resource(f"r{{index:03d}}", cluster_id=cluster, user_names=[user], **EXTRA)
"""

HISTORY: Final = 20
"""Completed tasks the emulator keeps per cluster: the task counts are exact below that."""
_run = partial(subprocess.run, capture_output=True, text=True, timeout=600, check=False)
Targets = Sequence[tuple[str, str]]
Plan = Mapping[Any, tuple["Stack", Mapping[str, str]]]  # a key of the caller's: (stack, environment)
Figures = dict[Any, dict[str, float]]


def spread(size: int, clusters: int = len(CLUSTERS), *, grouped: bool = False) -> list[tuple[str, str]]:
    """``size`` resources, each with its own user, on the first ``clusters`` clusters: interleaved
    (resource i on cluster i % clusters) or grouped (each cluster's resources declared together)."""
    per_cluster = -(-size // clusters)
    return [(CLUSTERS[i // per_cluster if grouped else i % clusters], USERS[i]) for i in range(size)]


class Stack:
    """One project with one stack; ``run`` returns a command's wall seconds."""

    def __init__(self, directory: Path, kind: str, targets: Targets, env: dict[str, str]) -> None:
        self.directory, self.size, self.env = directory, len(targets), env
        self.clusters = sorted({cluster for cluster, _ in targets})
        self.export: str | None = None  # `pulumi stack export` after the first `up` in `cycles`
        directory.mkdir()
        python = "runtime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: .venv\n"
        (directory / "Pulumi.yaml").write_text(f"name: bench-{directory.name}\n{python}")
        (directory / "__main__.py").write_text(PROGRAMS[kind] + DECLARE.format(targets=list(targets)))
        (directory / ".venv").symlink_to(REPO / ".venv")
        self.pulumi("stack", "init", "b", "--non-interactive")

    def pulumi(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        done = _run(["pulumi", *args], cwd=self.directory, env={**self.env, **(env or {})})
        if done.returncode != 0:
            raise RuntimeError(
                f"pulumi {' '.join(args)} failed in {self.directory}:\n{done.stdout}\n{done.stderr}"
            )
        return done.stdout

    def run(self, command: str, env: Mapping[str, str]) -> float:
        started = time.perf_counter()
        self.pulumi(*COMMANDS[command], env=env)
        return time.perf_counter() - started

    def finish_times(self, command: str, env: Mapping[str, str]) -> dict[str, float]:
        """Seconds from the command's start until each resource's row said it was done, read from the
        display as it streams (the CLI writes each row at once when not on a terminal)."""
        started, finished = time.perf_counter(), {}
        with subprocess.Popen(
            ["pulumi", *COMMANDS[command]],
            cwd=self.directory,
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as process:
            assert process.stdout is not None
            output = []
            for line in process.stdout:
                output.append(line)
                if (found := FINISHED.search(line)) and found[1] not in finished:
                    finished[found[1]] = time.perf_counter() - started
        if process.returncode != 0 or len(finished) != self.size:
            raise RuntimeError(f"pulumi {command} in {self.directory} failed:\n{''.join(output)}")
        return finished


@contextmanager
def workspace(bin_dir: str, emulator: EmulatorProcess) -> Iterator[Callable[[str, str, Targets], Stack]]:
    """Yields a stack factory, ``(name, kind, targets) -> Stack``, for stacks sharing one file backend,
    one ``PULUMI_HOME`` and one emulator; ``bench/`` is on their ``PYTHONPATH`` so the provider process
    can unpickle ``trivial_provider.TrivialProvider``."""
    with tempfile.TemporaryDirectory(prefix="bench-stacks-") as root:
        env = project_environment(
            bin_dir,
            Path(root),
            passphrase="bench-state-passphrase-not-a-secret",
            PYTHONPATH=os.pathsep.join(filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH")])),
            **provider_env(emulator.url),
        )
        yield lambda name, kind, targets: Stack(Path(root, name), kind, targets, env)


def cycles(
    emulator: EmulatorProcess, plan: Plan, commands: Sequence[str], *, repeats: int, task: float
) -> Figures:
    """Run ``commands`` on every stack of the plan, ``repeats`` times in a rotating order, each time from
    the emulator's seed with tasks of ``task`` seconds; medians per key of each command's wall, the
    requests it made, and the sync and cancel tasks started (from the clusters' task history)."""
    samples: dict[Any, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for turn in range(repeats):
        for key in rotated(list(plan), turn):
            (stack, env), figures = plan[key], samples[key]
            emulator.reset(sync_seconds=task)
            for command in commands:
                emulator.clear_log()
                figures[command].append(stack.run(command, env))
                figures[f"{command} requests"].append(len(emulator.log()))
                if command == "up" and stack.export is None:
                    stack.export = stack.pulumi("stack", "export")
            histories = [emulator.cluster(cluster)["tasks"] for cluster in stack.clusters]
            if any(len(history) >= HISTORY for history in histories):
                raise RuntimeError(
                    f"a cluster of {stack.directory.name} ran more tasks than the history keeps"
                )
            kinds = [each["kind"] for history in histories for each in history]
            figures["sync tasks"].append(kinds.count("sync"))
            figures["cancel tasks"].append(kinds.count("cancel"))
    return {key: {name: median(values) for name, values in each.items()} for key, each in samples.items()}
