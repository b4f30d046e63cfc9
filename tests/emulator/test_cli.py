"""The mrs-emulator command, run as a real process."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from kit.api import Api
from kit.demo import ANALYTICS, PROJECT, SECRETS, demo_auth, demo_seed
from kit.emulator import EmulatorProcess
from mrs_emulator.__main__ import build_parser, flag_values
from mrs_emulator.options import LIVE_SETTINGS, EmulatorOptions

from .helpers import unwritable

URL = re.compile(r"http://127\.0\.0\.1:(\d+)")
CONSOLE_SCRIPT = Path(sys.executable).parent / "mrs-emulator"
Start = Callable[..., EmulatorProcess]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """Start emulator processes, ready and listening on ``127.0.0.1`` unless ``wait=False``; each is
    killed at the end of the test."""
    started: list[EmulatorProcess] = []

    def run(*args: str, wait: bool = True, **kwargs: Any) -> EmulatorProcess:
        process = EmulatorProcess(*args, logs=tmp_path / f"process-{len(started)}", wait=False, **kwargs)
        started.append(process)
        if wait:
            assert URL.fullmatch(process.wait_ready()), process.url
        return process

    yield run
    for process in started:
        process.stop(signal.SIGKILL)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_cli_prints_one_line_serves_and_stops_cleanly(start, signum):
    process = start("--sync-seconds", "0")
    port = int(process.url.rsplit(":", 1)[1])
    assert port != 8470 and port > 0
    api = Api(httpx.Client(base_url=process.url, auth=demo_auth()))
    assert api.sync({"user_names": ["alice"]}).status_code == 202
    assert api.show().json() == {"user_names": ["alice"], "group_names": ["data-engineers"]}

    code, rest_of_stdout, stderr = process.stop(signum)
    assert (code, rest_of_stdout, stderr) == (0, "", "")


def test_the_console_script_is_installed_and_works(start):
    assert CONSOLE_SCRIPT.exists()
    process = start(command=[str(CONSOLE_SCRIPT)])
    assert process.ok("GET", "health") == {"status": "ok"}
    assert process.stop()[0] == 0


def test_a_broken_seed_exits_2_with_one_line_naming_file_field_and_reason(start, tmp_path):
    seed = demo_seed()
    seed["projects"][0]["iam"]["users"][0]["groups"] = ["wizards"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(seed))
    process = start("--seed", str(path), wait=False)

    code, out, err = process.finish()

    assert code == 2
    assert out == ""
    assert err == (
        f"mrs-emulator: {path}: projects[0].iam.users[0].groups[0]: "
        "unknown group 'wizards' (not in projects[0].iam.groups)\n"
    )


def test_a_bad_option_exits_2(start):
    process = start("--sync-seconds", "-1", port=None, wait=False)

    code, out, err = process.finish()

    assert (code, out) == (2, "")
    assert err == "mrs-emulator: sync_seconds: Input should be greater than or equal to 0\n"


def test_a_busy_port_exits_1_with_a_message(start):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = start(port=port, wait=False)

        code, out, err = process.finish()

    assert (code, out) == (1, "")
    assert err.startswith(f"mrs-emulator: cannot listen on 127.0.0.1:{port}: ")


def test_state_survives_a_restart(start, tmp_path):
    state = tmp_path / "state.json"
    first = start("--sync-seconds", "0", "--state", str(state))
    Api(httpx.Client(base_url=first.url, auth=demo_auth())).sync({"user_names": ["carol"]})
    assert first.stop()[0] == 0

    second = start("--state", str(state))
    shown = Api(httpx.Client(base_url=second.url, auth=demo_auth())).show().json()

    assert shown == {"user_names": ["carol"], "group_names": ["analysts", "platform-admins"]}
    assert second.stop()[0] == 0


def test_verbose_logs_requests_to_stderr_without_secrets(start):
    process = start("--verbose")
    api = Api(httpx.Client(base_url=process.url, auth=demo_auth()))
    api.status()
    api.http.get(f"/v2/{PROJECT}/clusters/nope/iam-sync", headers={"X-Auth-Token": "leaked?"}, auth=None)
    time.sleep(0.05)

    code, out, err = process.stop()

    assert (code, out) == (0, "")
    assert re.search(r"GET /v2/\w+/clusters/[\w-]+/iam-sync 200 - [\d.]+ms auth=aksk request_id=\w{32}", err)
    assert "401 APIGW.0301" in err
    for secret in (*SECRETS, "leaked?", "Signature="):
        assert secret not in err


def test_a_dropped_connection_leaves_no_trace_on_stderr(start):
    process = start()
    process.add_fault(kind="drop", count=2)
    api = Api(httpx.Client(base_url=process.url, auth=demo_auth()))

    calls: list[Callable[[], httpx.Response]] = [api.status, lambda: api.sync({"user_names": ["alice"]})]
    for call in calls:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            call()
    assert api.status().status_code == 200

    assert process.stop() == (0, "", "")


def test_help_lists_every_flag():
    result = subprocess.run(
        [sys.executable, "-m", "mrs_emulator", "--help"],
        check=True,
        capture_output=True,
        text=True,
        timeout=20,
    )

    for flag in (
        "--host",
        "--port",
        "--seed",
        "--state",
        "--sync-seconds",
        "--concurrent-sync",
        "--unknown-names",
        "--empty-sync",
        "--all-sync-with-names",
        "--missing-cluster-status",
        "--max-clock-skew",
        "--request-log-size",
        "--verbose",
    ):
        assert flag in result.stdout


def test_the_flags_take_their_defaults_from_the_options_declaration():
    values = flag_values(build_parser().parse_args([]))
    values.pop("verbose")

    assert EmulatorOptions.model_validate(values) == EmulatorOptions(port=8470)


def test_flags_reach_the_options_with_their_types():
    values = vars(build_parser().parse_args(["--missing-cluster-status", "404", "--max-clock-skew", "60"]))

    assert (values["missing_cluster_status"], values["max_clock_skew_seconds"]) == (404, 60.0)


def test_per_cluster_task_durations_are_json_on_the_command_line():
    values = vars(build_parser().parse_args(["--cluster-sync-seconds", '{"slow-0001": 30}']))

    assert EmulatorOptions(cluster_sync_seconds=values["cluster_sync_seconds"]).cluster_sync_seconds == {
        "slow-0001": 30.0
    }


def test_every_behaviour_switch_has_a_flag_and_is_a_setting():
    flags = {action.dest for action in build_parser()._actions}

    assert set(LIVE_SETTINGS) <= flags
    assert set(LIVE_SETTINGS) == set(EmulatorOptions().live_settings())


# -- the state file, checked at start and kept through failures -------------------------------------


def _refused_at_start(start: Start, state: Path) -> str:
    code, out, err = start("--state", str(state), wait=False).finish()
    assert (code, out) == (2, ""), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"mrs-emulator: {state}: "), err
    return err


def test_a_state_file_in_a_place_that_cannot_be_written_exits_2_naming_the_file(start, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")

    _refused_at_start(start, blocker / "state.json")


def test_an_unwritable_state_file_exits_2_naming_the_file(start, tmp_path):
    state = tmp_path / "state.json"
    first = start("--state", str(state))
    assert first.stop()[0] == 0

    with unwritable(state):
        err = _refused_at_start(start, state)

    assert "cannot be opened for reading and writing" in err


def test_a_state_file_that_is_not_utf8_exits_2_naming_the_file(start, tmp_path):
    state = tmp_path / "state.json"
    state.write_bytes(b'{"saved_at": "\xff"}')

    err = _refused_at_start(start, state)

    assert "(file): is not UTF-8" in err


def test_a_device_as_state_file_exits_2_without_reading_it(start):
    err = _refused_at_start(start, Path("/dev/zero"))

    assert err == "mrs-emulator: /dev/zero: (file): is not a regular file\n"


def test_a_state_file_held_by_a_running_emulator_exits_2_and_the_first_runs_on(start, tmp_path):
    state = tmp_path / "state.json"
    first = start("--state", str(state))

    err = _refused_at_start(start, state)

    assert "is in use by another emulator" in err
    assert first.ok("GET", "health") == {"status": "ok"}
    assert first.stop() == (0, "", "")


def test_writes_that_cannot_be_saved_fail_change_nothing_and_stopping_still_exits_0(start, tmp_path):
    directory = tmp_path / "state"
    directory.mkdir()
    state = directory / "state.json"
    process = start("--sync-seconds", "0", "--state", str(state))
    api = Api(httpx.Client(base_url=process.url, auth=demo_auth()))
    assert api.sync({"user_names": ["alice"]}).status_code == 202
    assert api.show().status_code == 200  # the completed task is saved

    with unwritable(directory):
        refused = api.sync({"user_names": ["bob"]})
        patched = process.control(
            "PATCH", f"projects/{PROJECT}/clusters/{ANALYTICS}", {"synced_users": ["x"]}
        )
        shown = api.show().json()
        code, out, err = process.stop()

    assert (refused.status_code, refused.json()["error_code"]) == (503, "APIGW.0201")
    assert (patched.status_code, patched.json()["error_code"]) == (503, "EMULATOR.0503")
    assert shown == {"user_names": ["alice"], "group_names": ["data-engineers"]}
    assert (code, out) == (0, "")
    assert "Traceback" not in err and "WARNING" in err
    restarted = start("--state", str(state))
    assert Api(httpx.Client(base_url=restarted.url, auth=demo_auth())).show().json() == shown
    assert restarted.stop()[0] == 0


def test_sigkill_during_100_concurrent_writes_loses_no_acknowledged_change(start, tmp_path):
    state = tmp_path / "state.json"
    process = start("--state", str(state))
    acknowledged: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()

    def create(index: int, client: httpx.Client) -> None:
        cluster_id = f"crash-{index:03d}"
        try:
            response = client.put(f"/_emulator/projects/{PROJECT}/clusters/{cluster_id}")
        except httpx.TransportError:
            return
        if response.status_code == 201:
            with lock:
                acknowledged.append(cluster_id)
                if len(acknowledged) >= 20:
                    enough.set()

    with (
        httpx.Client(base_url=process.url, timeout=10, limits=httpx.Limits(max_connections=16)) as client,
        ThreadPoolExecutor(max_workers=16) as pool,
    ):
        futures = [pool.submit(create, index, client) for index in range(100)]
        assert enough.wait(30), "the emulator never acknowledged 20 writes"
        process.stop(signal.SIGKILL)
        for future in futures:
            future.result(timeout=30)
    with lock:
        survivors = list(acknowledged)

    restarted = start("--state", str(state))
    projects = restarted.ok("GET", "state")["projects"]
    present = {cluster["cluster_id"] for project in projects for cluster in project["clusters"]}

    assert 20 <= len(survivors) < 100, "the kill did not land during the writes"
    assert set(survivors) <= present
    assert not list(tmp_path.glob(".state.json.*.tmp"))
    assert restarted.stop()[0] == 0
