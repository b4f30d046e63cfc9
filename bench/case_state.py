"""Case 5, state size: bytes per resource in ``pulumi stack export``, ClusterIamSync vs the trivial resource.

It reads the exports case 3 took after its first ``up`` of each stack, so it costs no extra CLI run.
Three figures per kind:

* the marginal size: (export of the N=50 stack - export of the N=1 stack) / 49, in the bytes the CLI
  prints (indented JSON): what one more resource costs in a state file;
* one resource's entry as compact JSON, alone on its cluster (N=1) and on average at N=50, where five
  resources share each cluster: our outputs echo *everything* the cluster reports as synced, so a
  resource's state grows with its neighbours;
* the ``__provider`` value (the pickled provider Pulumi stores in inputs and again in outputs).
"""

from __future__ import annotations

import json
from typing import Any

from case_engine import EngineResult
from common import Row

CASE = "5 state"


def _entries(export: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    suffix = ":ClusterIamSync" if kind == "ours" else ":Trivial"
    return [r for r in export["deployment"].get("resources", []) if r["type"].endswith(suffix)]


def _compact(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def run(engine: EngineResult) -> tuple[list[Row], dict[str, Any]]:
    sizes = sorted({size for _, size in engine.stacks})
    small, large = sizes[0], sizes[-1]
    figures: dict[str, dict[str, float]] = {}
    for kind in ("ours", "trivial"):
        exports = {size: engine.stacks[kind, size] for size in (small, large)}
        texts = {size: (stack.export_text or "").encode("utf-8") for size, stack in exports.items()}
        entries = {size: _entries(stack.export or {}, kind) for size, stack in exports.items()}
        if len(entries[small]) != small or len(entries[large]) != large:
            raise RuntimeError(f"{kind}: the exports do not hold {small} and {large} resources")
        one = entries[small][0]
        figures[kind] = {
            "marginal": (len(texts[large]) - len(texts[small])) / (large - small),
            "entry_alone": _compact(one),
            "entry_shared": sum(_compact(entry) for entry in entries[large]) / large,
            "provider": len(one["inputs"]["__provider"]),
            "outputs": _compact({k: v for k, v in one["outputs"].items() if k != "__provider"}),
        }
    ours, trivial = figures["ours"], figures["trivial"]
    base = "trivial dynamic resource"
    rows = [
        Row.compare(
            CASE,
            f"stack export, marginal bytes per resource (N={small} to {large})",
            "bytes",
            round(ours["marginal"]),
            base,
            round(trivial["marginal"]),
        ),
        Row.compare(
            CASE,
            f"one resource's state entry, compact JSON, alone on its cluster (N={small})",
            "bytes",
            ours["entry_alone"],
            base,
            trivial["entry_alone"],
        ),
        Row.compare(
            CASE,
            f"one resource's state entry, compact JSON, mean at N={large} (5 per cluster)",
            "bytes",
            round(ours["entry_shared"]),
            base,
            round(trivial["entry_shared"]),
        ),
        Row.compare(
            CASE,
            "__provider value (stored in inputs and in outputs)",
            "bytes",
            ours["provider"],
            base,
            trivial["provider"],
        ),
    ]
    return rows, figures
