"""``make bench``: every case against one emulator process, then ``bench/RESULTS.md`` filled in.

RESULTS.md is written by hand; this script replaces only what lies between its ``<!-- bench:NAME -->``
and ``<!-- /bench:NAME -->`` markers: the run, the machine and the results table."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import TypeVar

import case_calls
import case_client
import case_engine
import case_signing
import case_slow
import case_tasks
import case_waiting
from common import BENCH_DIR, Row, emulator_process, render_table
from stacks import MAKEFILE_PARALLEL

from kit.pulumi import find_bin_dir

RESULTS = BENCH_DIR / "RESULTS.md"
T = TypeVar("T")


def _output(*command: str) -> str:
    env = {**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False).stdout.strip()


def _pytest_processes() -> int:
    """Other engineers' test runs share this machine: the results say how busy it was."""
    count = 0
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):  # a process that ended meanwhile
            count += b"pytest" in path.read_bytes()
    return count


def machine(bin_dir: str) -> dict[str, str]:
    pulumi, host = str(Path(bin_dir) / "pulumi"), Path(bin_dir) / "pulumi-language-python"
    cpu = re.search(r"model name\s*: (.*)", Path("/proc/cpuinfo").read_text())
    stand_in = "Stand-in" in host.read_text(errors="replace")[:400]
    parallel = re.search(r"--parallel int32 .*\(default (\d+)\)", _output(pulumi, "up", "--help"))
    return {
        "CPU": cpu[1] if cpu else platform.machine(),
        "cores": str(os.cpu_count()),
        "RAM": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB",
        "OS": f"{platform.freedesktop_os_release()['PRETTY_NAME']}, kernel {platform.release()}",
        "Python": platform.python_version(),
        "pulumi CLI": _output(pulumi, "version"),
        "pulumi's default --parallel": parallel[1] if parallel else "unknown",
        "pulumi Python SDK": version("pulumi"),
        "language host": "stand-in (toolchain/pulumi_language_python.py)" if stand_in else "official",
        "httpx / huaweicloudsdkmrs": f"{version('httpx')} / {version('huaweicloudsdkmrs')}",
    }


def case(name: str, step: Callable[[], T]) -> T:
    print(f"case {name} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    result = step()
    print(f"case {name}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return result


def fill(text: str, block: str, content: str) -> str:
    pattern = re.compile(rf"(<!-- bench:{block} -->\n).*?(<!-- /bench:{block} -->)", re.DOTALL)
    if not pattern.search(text):
        raise RuntimeError(f"{RESULTS} has no <!-- bench:{block} --> block to fill in")
    return pattern.sub(lambda found: f"{found[1]}{content}\n{found[2]}", text)


def main() -> int:
    if not MAKEFILE_PARALLEL:
        sys.exit("bench/run.py: run it with `make bench`, which sets PULUMI_PARALLEL as for `make up`")
    started = time.monotonic()
    bin_dir = str(find_bin_dir())
    host, load, busy = machine(bin_dir), os.getloadavg()[0], _pytest_processes()
    results: dict[str, list[Row]] = {}
    with emulator_process() as emulator:
        results["2"] = case("2 signing", case_signing.run)
        results["1"] = case("1 client", lambda: case_client.run(emulator))
        results["6"] = case("6 waiting", lambda: case_waiting.run(emulator))
        results["3"], engine, exports = case("3 engine", lambda: case_engine.run(emulator, bin_dir))
        results["5"] = case_engine.state_rows(exports)
        results["4"], requests = case("4 API calls", lambda: case_calls.run(emulator, engine))
        results["3b"] = case("3b slow tasks", lambda: case_tasks.run_grouping(emulator, bin_dir))
        results["7"] = case("7 real tasks", lambda: case_tasks.run(emulator, bin_dir))
        results["8"] = case("8 one slow cluster", lambda: case_slow.run(emulator, bin_dir))
    machine_table = [
        "| machine | |\n|---|---|",
        *(f"| {name} | {value} |" for name, value in host.items()),
        f"| load average (1 min) | {load:.2f} at start, {os.getloadavg()[0]:.2f} at end |",
        f"| pytest processes on the machine | {busy} at start, {_pytest_processes()} at end |",
    ]
    blocks = {
        "run": f"Latest real run of `make bench` (`bench/run.py`): {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"bench wall time {time.monotonic() - started:.0f} s.",
        "machine": "\n".join(machine_table),
        "results": render_table(row for key in sorted(results) for row in results[key]),
    }
    print("\n\n".join(blocks.values()))
    text = RESULTS.read_text()
    for block, content in blocks.items():
        text = fill(text, block, content)
    RESULTS.write_text(text)
    for step, sequence in requests.items():  # RESULTS.md quotes these sequences
        print(f"case 4, {step}: {' -> '.join(sequence)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
