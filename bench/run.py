"""``make bench``: run every case against the emulator, print one table, write ``bench/RESULTS.md``.

Every figure is a ratio to a baseline measured side by side in this same run (interleaved where the
case allows), never a timing compared with a number from elsewhere: the machine is shared, and load
slows both sides of a ratio alike. Each case lives in its own module (``case_*.py``); this file only
starts the emulators, calls the cases, and renders the results.

Needs the bench extra (``pip install -e '.[bench]'``, which ``make bench`` does) and the Pulumi CLI
directory in ``PULUMI_BIN_DIR`` (else it asks ``toolchain/get-pulumi.sh``).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import case_calls
import case_client
import case_engine
import case_signing
import case_state
import case_waiting
import notes
from common import BENCH_DIR, REPO, Emulator, Row, render_table

RESULTS = BENCH_DIR / "RESULTS.md"


def _pulumi_bin_dir() -> str:
    configured = os.environ.get("PULUMI_BIN_DIR")
    if configured:
        return configured
    completed = subprocess.run(
        ["bash", str(REPO / "toolchain" / "get-pulumi.sh")], capture_output=True, text=True, check=True
    )
    return completed.stdout.strip()


def _first_line_with(path: str, prefix: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip() if ":" in line else line.split("=", 1)[1].strip('"')
    except OSError:
        return None
    return None


def _pytest_processes() -> int:
    """Other engineers' test runs share this machine; count them so the results say how busy it was."""
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if b"pytest" in command:
                count += 1
    return count


def machine(bin_dir: str) -> dict[str, str]:
    pulumi = subprocess.run(
        [str(Path(bin_dir) / "pulumi"), "version"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"},
    ).stdout.strip()
    host_script = Path(bin_dir) / "pulumi-language-python"
    stand_in = host_script.exists() and "Stand-in" in host_script.read_text(errors="replace")[:400]
    mem_kb = _first_line_with("/proc/meminfo", "MemTotal")
    ram = f"{int(mem_kb.split()[0]) / 1024 / 1024:.1f} GiB" if mem_kb else "unknown"
    return {
        "CPU": _first_line_with("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": str(os.cpu_count()),
        "RAM": ram,
        "OS": f"{_first_line_with('/etc/os-release', 'PRETTY_NAME=') or platform.system()}, "
        f"kernel {platform.release()}",
        "Python": platform.python_version(),
        "pulumi CLI": pulumi or "unknown",
        "pulumi Python SDK": version("pulumi"),
        "language host": "stand-in (toolchain/pulumi_language_python.py)" if stand_in else "official",
        "httpx / huaweicloudsdkmrs": f"{version('httpx')} / {version('huaweicloudsdkmrs')}",
    }


def main() -> int:
    started = time.monotonic()
    bin_dir = _pulumi_bin_dir()
    host = machine(bin_dir)
    busy_before = _pytest_processes()
    load_before = os.getloadavg()
    print("mrs-iam-sync benchmarks: starting emulators", file=sys.stderr)
    stock = Emulator()
    rows: dict[str, list[Row]] = {}
    details: dict[str, Any] = {}
    try:
        steps: list[tuple[str, str, Callable[[], tuple[list[Row], Any]]]] = [
            ("2", "signing", case_signing.run),
            ("1", "client overhead", lambda: case_client.run(stock, stock)),
            ("6", "waiting", lambda: case_waiting.run(stock)),
            ("3", "engine overhead", lambda: case_engine.run(stock, bin_dir)),
            ("3b", "engine, slow tasks", lambda: case_engine.run_parallel(stock, bin_dir)),
            ("5", "state size", lambda: case_state.run(details["3"])),
            ("4", "API calls", lambda: case_calls.run(stock, details["3"])),
        ]
        for key, title, step in steps:
            print(f"case {key}: {title} ...", file=sys.stderr, flush=True)
            case_started = time.monotonic()
            rows[key], details[key] = step()
            print(f"case {key}: {time.monotonic() - case_started:.0f} s", file=sys.stderr, flush=True)
    finally:
        stock.stop()
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()
    run_info: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "wall": elapsed,
        "pytest_before": busy_before,
        "pytest_after": _pytest_processes(),
        "load_before": load_before,
        "load_after": load_after,
    }
    ordered = [row for key in ("1", "2", "3", "3b", "4", "5", "6") for row in rows[key]]
    header = "\n".join(f"- **{name}**: {value}" for name, value in host.items())
    table = render_table(ordered)
    print()
    print(header)
    print(
        f"- **load**: {load_before[0]:.2f} at start, {load_after[0]:.2f} at end; "
        f"pytest processes: {run_info['pytest_before']} at start, {run_info['pytest_after']} at end"
    )
    print()
    print(table)
    print()
    print(f"bench wall time: {elapsed:.0f} s; details and explanations in {RESULTS.relative_to(REPO)}")
    RESULTS.write_text(notes.render(host=host, run=run_info, table=table, details=details))
    return 0


if __name__ == "__main__":
    sys.exit(main())
