"""Cases 3 (engine overhead) and 5 (state size): N ClusterIamSync vs N trivial dynamic resources, 0 s
tasks; the requests of each command feed case 4's cross-check."""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from functools import partial
from typing import Any, Final

from common import BENCH_DIR, CLUSTERS, REPO, Row, median, rotated
from stacks import COMMANDS, DEFAULT, PARALLEL, Figures, cycles, spread, workspace

from kit.emulator import EmulatorProcess
from kit.environment import subprocess_environment

SIZES: Final = (1, 10, 50)
KINDS: Final = ("trivial", "ours")
TRIVIAL: Final = "trivial dynamic resource"
SAME_N: Final = f"{TRIVIAL}, same N"
IMPORT: Final = (
    "import of the resource's module in a fresh Python with pulumi loaded "
    "(program and provider process each pay it)"
)
IMPORT_PROBE: Final = (
    "import time, pulumi.dynamic\nt = time.perf_counter()\nimport {}\nprint(time.perf_counter() - t)"
)
MODULES: Final = {"trivial": "trivial_provider", "ours": "mrs_iam_sync.resource"}


def _import_ms(repeats: int = 7) -> dict[str, float]:
    """What the program process and, at its first call, the provider process each pay to import the
    resource's module, in a fresh Python that already loaded pulumi."""
    samples: dict[str, list[float]] = defaultdict(list)
    for turn in range(repeats):
        for kind in rotated(list(KINDS), turn):
            probe = [str(REPO / ".venv/bin/python"), "-c", IMPORT_PROBE.format(MODULES[kind])]
            env = subprocess_environment(PYTHONPATH=str(BENCH_DIR))
            out = subprocess.run(probe, env=env, capture_output=True, text=True, check=True).stdout
            samples[kind].append(float(out) * 1000)
    return {kind: median(values) for kind, values in samples.items()}


def run(
    emulator: EmulatorProcess, bin_dir: str, *, repeats: int = 3
) -> tuple[list[Row], Figures, dict[Any, str]]:
    """Rows of case 3; the figures per (kind, N, --parallel setting): every N at the engine's default,
    the largest at the other settings too; each stack's export after its first ``up``."""
    first, last = SIZES[0], SIZES[-1]
    with workspace(bin_dir, emulator) as new_stack:
        stacks = {(kind, n): new_stack(f"{kind}-{n}", kind, spread(n)) for n in SIZES for kind in KINDS}
        plan = {
            (kind, n, setting): (stack, env)
            for (kind, n), stack in stacks.items()
            for setting, env in PARALLEL.items()
            if setting == DEFAULT or n == last
        }
        fig = cycles(emulator, plan, list(COMMANDS), repeats=repeats, task=0)  # preview of a fresh stack
        exports = {key: stack.export or "" for key, stack in stacks.items()}
    ms = _import_ms()
    row = partial(Row, "3 engine")
    rows = [row(IMPORT, "ms", ms["ours"], "trivial_provider", ms["trivial"])]
    for command in COMMANDS:
        for n in SIZES:
            ours, trivial = fig["ours", n, DEFAULT][command], fig["trivial", n, DEFAULT][command]
            rows.append(
                row(f"pulumi {command}, N={n}: wall (median of {repeats})", "s", ours, SAME_N, trivial)
            )
    for command in ("up", "destroy"):
        per_extra = {
            k: (fig[k, last, DEFAULT][command] - fig[k, first, DEFAULT][command]) / (last - first) * 1000
            for k in KINDS
        }
        measure = f"pulumi {command}: marginal wall per extra resource (N={first} to {last})"
        rows.append(row(measure, "ms", per_extra["ours"], TRIVIAL, per_extra["trivial"]))
    for setting in PARALLEL:
        mine, floor = fig["ours", last, setting], fig["trivial", last, setting]
        if setting != DEFAULT:
            for command in ("up", "destroy"):
                measure = f"pulumi {command}, N={last}, {setting}: wall (median of {repeats})"
                rows.append(row(measure, "s", mine[command], f"{SAME_N} and --parallel", floor[command]))
        for tasks, step in (("sync tasks", "up"), ("cancel tasks", "destroy")):
            measure = f"pulumi {step}, N={last}, {setting}: {tasks} started"
            rows.append(row(measure, "tasks", mine[tasks], "API minimum: one per cluster", len(CLUSTERS)))
    return rows, fig, exports


def _entries(export: str) -> list[dict[str, Any]]:
    resources = json.loads(export)["deployment"]["resources"]
    return [r for r in resources if r["type"].endswith((":ClusterIamSync", ":Trivial"))]


def _compact(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def state_rows(exports: dict[Any, str]) -> list[Row]:
    """Case 5, from the exports case 3 took after its first ``up`` of each stack."""
    small, large = SIZES[0], SIZES[-1]
    labels = {
        "marginal": f"stack export, marginal bytes per resource (N={small} to {large})",
        "alone": f"one resource's state entry, compact JSON, alone on its cluster (N={small})",
        "shared": f"one resource's state entry, compact JSON, mean at N={large} (5 per cluster)",
        "provider": "__provider value (stored in inputs and in outputs)",
    }
    figures: dict[str, dict[str, float]] = {}
    for kind in KINDS:
        few, many = exports[kind, small], exports[kind, large]
        alone = _entries(few)[0]
        figures[kind] = {
            "marginal": round((len(many.encode()) - len(few.encode())) / (large - small)),
            "alone": _compact(alone),
            "shared": round(sum(map(_compact, _entries(many))) / large),
            "provider": len(alone["inputs"]["__provider"]),
        }
    return [
        Row("5 state", label, "bytes", figures["ours"][key], TRIVIAL, figures["trivial"][key])
        for key, label in labels.items()
    ]
