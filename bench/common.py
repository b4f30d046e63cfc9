"""What every benchmark case shares: the emulator process, the bench world, the result rows.

The emulator runs as a separate process (``python -m mrs_emulator``), not in a thread of the
benchmark: a thread would share the GIL with the code being timed, so the client's and the server's
Python would slow each other down in a way no real deployment sees.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx

BENCH_DIR: Final = Path(__file__).resolve().parent
REPO: Final = BENCH_DIR.parent
SEED: Final = BENCH_DIR / "seed.yaml"

# Identifiers and credentials of bench/seed.yaml: public demo values that only open the emulator.
PROJECT_ID: Final = "be7c0000000000000000000000000001"
REGION: Final = "cn-north-4"
ACCESS_KEY: Final = "EMULATORDEMOAK000001"
SECRET_KEY: Final = "emulator-demo-secret-key--not-a-real-secret"
CLUSTER_COUNT: Final = 10
USER_COUNT: Final = 60
ENDPOINT_ENV: Final = "HUAWEICLOUD_SDK_REGION_MRS_CN_NORTH_4"


def cluster_id(index: int) -> str:
    """Resource ``index`` of a stack lives on cluster ``index % 10``: stacks spread over all clusters."""
    return f"bench-cluster-{index % CLUSTER_COUNT:02d}"


def user_name(index: int) -> str:
    """Each resource declares its own user, so resources sharing a cluster never share a principal."""
    return f"u{index:03d}"


def provider_env(endpoint: str) -> dict[str, str]:
    """The provider settings as environment variables, the way a user without stack config sets them."""
    return {
        "HW_REGION_NAME": REGION,
        "HW_PROJECT_ID": PROJECT_ID,
        "HW_ACCESS_KEY": ACCESS_KEY,
        "HW_SECRET_KEY": SECRET_KEY,
        ENDPOINT_ENV: endpoint,
    }


class Emulator:
    """One stock ``mrs-emulator`` process on a free port (it keeps connections alive), driven through
    its control API (``/_emulator/``)."""

    def __init__(self, *, sync_seconds: float = 0.0) -> None:
        program = ["-m", "mrs_emulator", "--port", "0"]
        # stderr goes to a file, not a pipe: nobody reads it while the bench runs, and a full pipe blocks.
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives as long as the process
        self._process = subprocess.Popen(
            [sys.executable, *program, "--seed", str(SEED), "--sync-seconds", str(sync_seconds)],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        _, found, url = line.partition(" listening on ")
        if not found:
            self._process.kill()
            self._process.wait(timeout=10)
            self._stderr.seek(0)
            raise RuntimeError(f"the emulator did not start: {line!r} {self._stderr.read().strip()!r}")
        self.url = url
        self._control = httpx.Client(base_url=f"{self.url}/_emulator", timeout=30.0)

    @property
    def pid(self) -> int:
        return self._process.pid

    def reset(self, *, sync_seconds: float = 0.0) -> None:
        """Back to the seed, an empty request log and the given task duration: every case starts alike."""
        self._call("POST", "/reset")
        self._call("DELETE", "/requests")
        self.set_sync_seconds(sync_seconds)

    def set_sync_seconds(self, seconds: float) -> None:
        self._call("PUT", "/settings", json={"sync_seconds": seconds})

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def requests(self) -> list[dict[str, Any]]:
        """The API requests since the last clear (control calls are never logged)."""
        entries: list[dict[str, Any]] = self._call("GET", "/requests")["requests"]
        return entries

    def cluster(self, cluster: str) -> dict[str, Any]:
        state: dict[str, Any] = self._call("GET", f"/projects/{PROJECT_ID}/clusters/{cluster}")
        return state

    def _call(self, method: str, path: str, *, json: Any = None) -> Any:
        response = self._control.request(method, path, json=json)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        """Stop the process we started (by its own handle, never by name)."""
        self._control.close()
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._stderr.close()


@dataclass(frozen=True)
class Row:
    """One line of the results table: our figure, the baseline it is compared with, and their ratio.

    ``ratio`` is ours / baseline, so 1.0 means "as cheap as the baseline" whatever the unit. It is
    None when a figure has no meaningful baseline (for example an absolute lag).
    """

    case: str
    measure: str
    unit: str
    ours: float
    baseline_name: str
    baseline: float | None
    ratio: float | None = None

    @classmethod
    def compare(
        cls, case: str, measure: str, unit: str, ours: float, baseline_name: str, baseline: float
    ) -> Row:
        return cls(case, measure, unit, ours, baseline_name, baseline, ours / baseline if baseline else None)


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def fmt(value: float | None, unit: str = "") -> str:
    """Three significant figures at most: the noise on a shared 2-core machine allows no more."""
    if value is None:
        return "-"
    if unit in {"requests", "bytes", "polls"} and float(value).is_integer():
        return f"{int(value):,}"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def render_table(rows: Iterable[Row]) -> str:
    header = "| case | measure | unit | ours | baseline | baseline value | ours / baseline |"
    lines = [header, "|---|---|---|---:|---|---:|---:|"]
    for row in rows:
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
        lines.append(
            f"| {row.case} | {row.measure} | {row.unit} | {fmt(row.ours, row.unit)} | {row.baseline_name} "
            f"| {fmt(row.baseline, row.unit)} | {ratio} |"
        )
    return "\n".join(lines)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment minus anything that could aim Pulumi or the provider elsewhere."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("HW_", "HUAWEICLOUD_SDK_", "PULUMI_", "OS_"))
    }
    env.update(extra or {})
    return env


class Stopwatch:
    """``with Stopwatch() as watch: ...`` then ``watch.seconds``: wall time with perf_counter."""

    seconds: float = 0.0

    def __enter__(self) -> Stopwatch:
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._started


@contextlib.contextmanager
def private_home() -> Iterator[None]:
    """Keep ``~/.huaweicloud/application_id``, which the SDK writes when a client is built, out of $HOME."""
    saved = os.environ.get("HOME")
    with tempfile.TemporaryDirectory(prefix="bench-sdk-home-") as home:
        os.environ["HOME"] = home
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop("HOME", None)
            else:
                os.environ["HOME"] = saved
