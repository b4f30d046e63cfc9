"""Cases 3b and 7: ``pulumi up`` and ``destroy`` while the emulator's tasks take real time.

The API floor of a step is the trivial dynamic resource's wall for the same N and ``--parallel``,
plus one task: one sync (up) or cancel (destroy) task per cluster, clusters in parallel.
"""

from __future__ import annotations

from functools import partial
from typing import Final

from case_waiting import expected_polls
from common import Row
from stacks import DEFAULT, PARALLEL, Targets, cycles, spread, workspace

from kit.emulator import EmulatorProcess

TASK_SECONDS: Final = 3.0
GROUPED: Final = "20 on 5 clusters, grouped"
INTERLEAVED: Final = "20 on 5 clusters, interleaved"
LAYOUTS: Final[dict[str, Targets]] = {
    "20 on 1 cluster": spread(20, 1),
    GROUPED: spread(20, 5, grouped=True),
    INTERLEAVED: spread(20, 5),
    "50 on 10 clusters": spread(50, 10),
}
FLOOR: Final = f"API floor: trivial, same N and --parallel, + {TASK_SECONDS:g} s"
ONE_PER_CLUSTER: Final = "API minimum: one per cluster"


def run_grouping(emulator: EmulatorProcess, bin_dir: str, *, repeats: int = 2) -> list[Row]:
    """Case 3b: 16 resources on 2 clusters, 0.6 s tasks, declared grouped vs interleaved."""
    layouts = {"grouped": spread(16, 2, grouped=True), "interleaved": spread(16, 2)}
    with workspace(bin_dir, emulator) as new_stack:
        plan = {
            name: (new_stack(name, "ours", targets), PARALLEL[DEFAULT]) for name, targets in layouts.items()
        }
        fig = cycles(emulator, plan, ["up", "destroy"], repeats=repeats, task=0.6)
    label = "pulumi {}, 16 resources on 2 clusters, 0.6 s tasks, declared grouped by cluster (median of {})"
    grouped, interleaved = fig["grouped"], fig["interleaved"]
    row = partial(Row, "3b engine, slow tasks")
    return [
        row(label.format(step, repeats), "s", grouped[step], "same, declared interleaved", interleaved[step])
        for step in ("up", "destroy")
    ]


def run(emulator: EmulatorProcess, bin_dir: str, *, repeats: int = 3) -> list[Row]:
    """Case 7: the four layouts with 3 s tasks, at the Makefile's PULUMI_PARALLEL and the engine's default."""
    with workspace(bin_dir, emulator) as new_stack:
        stacks = {name: new_stack(f"ours-{i}", "ours", t) for i, (name, t) in enumerate(LAYOUTS.items())}
        for n in sorted({stack.size for stack in stacks.values()}):
            stacks[f"trivial {n}"] = new_stack(f"trivial-{n}", "trivial", spread(n))
        plan = {
            (name, setting): (stack, env)
            for name, stack in stacks.items()
            for setting, env in PARALLEL.items()
        }
        fig = cycles(emulator, plan, ["up", "destroy"], repeats=repeats, task=TASK_SECONDS)
    polls = expected_polls(TASK_SECONDS)
    row, rows = partial(Row, f"7 real tasks ({TASK_SECONDS:g} s)"), []
    for setting in PARALLEL:
        layouts = [name for name in LAYOUTS if (name, setting) in plan]
        for step in ("up", "destroy"):
            for name in layouts:
                floor = fig[f"trivial {stacks[name].size}", setting][step] + TASK_SECONDS
                wall = f"pulumi {step}, {name}, {setting}: wall (median of {repeats})"
                rows.append(row(wall, "s", fig[name, setting][step], FLOOR, floor))
            if GROUPED in layouts:
                ours, same = fig[GROUPED, setting][step], fig[INTERLEAVED, setting][step]
                rows.append(row(f"pulumi {step}, {GROUPED}, {setting}", "s", ours, "same, interleaved", same))
        for name in layouts:
            mine, clusters, size = fig[name, setting], len(stacks[name].clusters), stacks[name].size
            for tasks, step in (("sync tasks", "up"), ("cancel tasks", "destroy")):
                measure = f"{name}, {setting}: {tasks} started by {step}"
                rows.append(row(measure, "tasks", mine[tasks], ONE_PER_CLUSTER, clusters))
            # The fewest requests for one task per cluster: the write, the polls our schedule makes for
            # such a task (case 6), and for up the read-back that verifies the principals arrived.
            for step, least in (("up", 2 + polls), ("destroy", 1 + polls)):
                measure = f"{name}, {setting}: requests per resource, {step}"
                ours, minimum = mine[f"{step} requests"] / size, clusters * least / size
                rows.append(row(measure, "requests", ours, f"API minimum ({polls} polls per task)", minimum))
    return rows
