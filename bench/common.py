"""What every case shares: the seed's identities, the emulator process, the environment, result rows.

The emulator process, its control API and the environments of processes come from the test kit
(``tests/kit``), which this module puts on the path."""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from unittest import mock

import yaml

BENCH_DIR: Final = Path(__file__).resolve().parent
REPO: Final = BENCH_DIR.parent
SEED: Final = BENCH_DIR / "seed.yaml"
sys.path.append(str(REPO / "tests"))

from kit.emulator import EmulatorProcess  # noqa: E402
from kit.environment import subprocess_environment  # noqa: E402

if TYPE_CHECKING:
    from mrs_iam_sync.provider import ClusterIamSyncProvider

# The seed's public demo identities, read from it rather than copied.
_seed = yaml.safe_load(SEED.read_text())
_project, _keys = _seed["projects"][0], _seed["credentials"]["access_keys"][0]
PROJECT_ID: Final[str] = _project["id"]
REGION: Final[str] = _project["region"]
CLUSTERS: Final[list[str]] = [cluster["id"] for cluster in _project["clusters"]]
USERS: Final[list[str]] = [user["name"] for user in _project["iam"]["users"]]
ACCESS_KEY: Final[str] = _keys["access_key"]
SECRET_KEY: Final[str] = _keys["secret_key"]


def provider_env(endpoint: str) -> dict[str, str]:
    """The provider's settings as environment variables, as a user without stack config sets them."""
    return {
        "HW_REGION_NAME": REGION,
        "HW_PROJECT_ID": PROJECT_ID,
        "HW_ACCESS_KEY": ACCESS_KEY,
        "HW_SECRET_KEY": SECRET_KEY,
        f"HUAWEICLOUD_SDK_REGION_MRS_{REGION.upper().replace('-', '_')}": endpoint,
    }


@contextlib.contextmanager
def provider_in_process(endpoint: str) -> Iterator[ClusterIamSyncProvider]:
    """The provider, called directly, as a fresh provider process would run it: its settings in the
    environment, where it reads them, and none of the declarations or clients an earlier case left."""
    from kit.process import fresh_process  # noqa: PLC0415 - loads pulumi: only where needed
    from mrs_iam_sync.provider import ClusterIamSyncProvider  # noqa: PLC0415

    with (
        mock.patch.dict(os.environ, subprocess_environment(**provider_env(endpoint)), clear=True),
        fresh_process(),
    ):
        yield ClusterIamSyncProvider()


@contextlib.contextmanager
def private_home() -> Iterator[None]:
    """The Huawei SDK writes ``~/.huaweicloud/application_id``: keep it out of the real $HOME."""
    with tempfile.TemporaryDirectory(prefix="bench-home-") as home, mock.patch.dict(os.environ, HOME=home):
        yield


@contextlib.contextmanager
def emulator_process() -> Iterator[EmulatorProcess]:
    """One ``python -m mrs_emulator`` process on a free port, from the bench's seed, driven through its
    control API.  A process, not a thread of the bench: a thread would share the GIL with the code
    being timed."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-emulator-") as logs,
        EmulatorProcess("--seed", str(SEED), logs=Path(logs), project_id=PROJECT_ID) as emulator,
    ):
        yield emulator


@dataclass(frozen=True)
class Row:
    """One line of the results table; the ratio is ours / baseline, so 1.0x is "as cheap as it"."""

    case: str
    measure: str
    unit: str
    ours: float
    baseline_name: str
    baseline: float

    def cells(self) -> list[str]:
        ratio = f"{self.ours / self.baseline:.2f}x" if self.baseline else "-"
        figures = [_fmt(self.ours, self.unit), self.baseline_name, _fmt(self.baseline, self.unit), ratio]
        return [self.case, self.measure, self.unit, *figures]


def _fmt(value: float, unit: str) -> str:
    """At most three significant figures: a shared 2-core machine's noise allows no more."""
    if unit in {"requests", "bytes", "polls", "tasks"} and float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


HEADER: Final = """| case | measure | unit | ours | baseline | baseline value | ours / baseline |
|---|---|---|---:|---|---:|---:|"""


def render_table(rows: Iterable[Row]) -> str:
    return "\n".join([HEADER, *("| " + " | ".join(row.cells()) + " |" for row in rows)])


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def rotated(items: list[Any], turn: int) -> list[Any]:
    """``items`` starting at ``turn``: alternating who goes first spreads drift over all variants."""
    shift = turn % len(items)
    return items[shift:] + items[:shift]
