"""Case 8: one slow cluster among quick ones must not delay them.

Five clusters, four resources each, at the Makefile's PULUMI_PARALLEL: the first cluster's tasks take
30 s, the others' 3 s. Each resource finishes against its own cluster's floor: when the trivial
dynamic resource of the same position finished in the same kind of run, plus one task of its cluster.
"""

from __future__ import annotations

from collections import defaultdict
from functools import partial
from typing import Final

from common import CLUSTERS, Row, median, rotated
from stacks import MAKEFILE, PARALLEL, spread, workspace

from kit.emulator import EmulatorProcess

SLOW_SECONDS: Final = 30.0
QUICK_SECONDS: Final = 3.0
PER_CLUSTER: Final = 4
LAYOUT: Final = spread(5 * PER_CLUSTER, 5, grouped=True)
SLOW: Final = CLUSTERS[0]
FLOOR: Final = "floor: trivial's finish, same position, + its cluster's task"


def run(emulator: EmulatorProcess, bin_dir: str, *, repeats: int = 2) -> list[Row]:
    env = PARALLEL[MAKEFILE]
    task_of = {cluster: SLOW_SECONDS if cluster == SLOW else QUICK_SECONDS for cluster, _ in LAYOUT}
    samples: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    with workspace(bin_dir, emulator) as new_stack:
        stacks = {kind: new_stack(f"slow-{kind}", kind, LAYOUT) for kind in ("ours", "trivial")}
        for turn in range(repeats):
            for kind in rotated(list(stacks), turn):
                emulator.reset(sync_seconds=QUICK_SECONDS, cluster_sync_seconds={SLOW: SLOW_SECONDS})
                for step in ("up", "destroy"):
                    for name, seconds in stacks[kind].finish_times(step, env).items():
                        samples[kind, step, name].append(seconds)
    figures = {key: median(values) for key, values in samples.items()}
    case = f"8 one slow cluster ({SLOW_SECONDS:g} s) and four quick ({QUICK_SECONDS:g} s)"
    row, rows = partial(Row, case), []
    for step in ("up", "destroy"):
        for index, (cluster, _) in enumerate(LAYOUT):
            name = f"r{index:03d}"
            floor = figures["trivial", step, name] + task_of[cluster]
            speed = "slow" if cluster == SLOW else "quick"
            measure = f"pulumi {step}, {MAKEFILE}: {name} on a {speed} cluster done (median of {repeats})"
            rows.append(row(measure, "s", figures["ours", step, name], FLOOR, floor))
    return rows
