"""`facmon demo` as a new user runs it: the same every time, and clear when it cannot start."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from facmon.embedded_broker import free_port
from tests.test_readme import DEMO_TICKETS


@dataclass
class DemoRun:
    process: subprocess.Popen[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def wait_for(self, pattern: str, timeout_s: float = 60.0) -> re.Match[str]:
        """The first line (seen or to come) matching `pattern`."""
        regex = re.compile(pattern)
        for line in self.seen:
            if found := regex.search(line):
                return found
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if found := regex.search(line):
                return found
        pytest.fail(f"no line matching {pattern!r}; the demo printed:\n" + "".join(self.seen))


def demo_env(data_dir: Path, api_port: int) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FACMON_")}
    return {
        **clean,
        "FACMON_DATA_DIR": str(data_dir),
        "FACMON_API_PORT": str(api_port),
        "FACMON_EMBEDDED_BROKER_PORT": "0",
    }


@contextmanager
def demo(cwd: Path, env: dict[str, str]) -> Iterator[DemoRun]:
    process = subprocess.Popen(
        [sys.executable, "-m", "facmon.cli", "demo"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    run = DemoRun(process)

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            run.lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        yield run
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def opened_total(base: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("facmon_tickets_opened_total{")
    )


def test_make_demo_twice_does_the_same_each_time(tmp_path: Path) -> None:
    """A second run over the same data folder imports the ledger, opens its tickets afresh
    and walks the loop."""
    port = free_port()
    env = demo_env(tmp_path / "data", port)
    base = f"http://127.0.0.1:{port}"
    outcomes = []
    for _run in range(2):
        started = time.time()
        with demo(tmp_path, env) as run:
            data_line = run.wait_for(r"data: +(\S+) \((.*)\)").group(2)
            ledger = run.wait_for(r"equipment ledger: (imported .*?) / ").group(1)
            token = run.wait_for(r"token of role quality: (fm_\S+)").group(1)
            run.wait_for(r"maintenance: window #1 opened for demo/elevator-04 ")
            door = run.wait_for(r"ticket #(\d+) \[\w+\] riverside/door-1 door_held_open").group(1)
            dispatched = run.wait_for(
                r"quality lead: dispatching ticket #(\d+) \(riverside/door-1 door_held_open\) "
                r"to (\S+), the door's contractor in the ledger"
            )
            acknowledged = run.wait_for(r"technician \((\S+)\): acknowledged #(\d+) ")
            run.wait_for(r"quality lead: #\d+ rectified")
            headers = {"Authorization": f"Bearer {token}"}
            tickets = httpx.get(
                f"{base}/api/tickets",
                params={"site": "riverside", "device_id": "door-1"},
                headers=headers,
                timeout=10,
            ).json()
            if _run == 1:  # once: every ticket the README promises and no more, the
                # suppressed finding, the loop closed and the KPIs naming the silent device
                run.wait_for(r"maintenance: demo/elevator-04 offline suppressed under window #1")
                run.wait_for(rf"ticket #{DEMO_TICKETS} \[")
                run.wait_for(r"quality lead: #\d+ closed\.", timeout_s=180)
                kpis = run.wait_for(
                    r"KPIs of demo over the demo's first minute \(GET /api/kpis\): equipment "
                    r"integrity rate \d+ % over (\d+) devices .* never reported: 1 \(pump-03\)"
                )
                assert kpis.group(1) == "13"  # 14 in service, elevator-04 under maintenance
                run.wait_for(
                    r"KPIs of riverside since the demo started: response time \(dispatch to "
                    r"acknowledge\) \d+ s, first-time fix rate 100 %"
                )
                every = httpx.get(f"{base}/api/tickets", headers=headers, timeout=10).json()
                assert len(every) == DEMO_TICKETS
                assert ("demo", "elevator-04") not in {(t["site"], t["device_id"]) for t in every}
                assert {t["site"] for t in every if t["device_id"] == "door-1"} == {"riverside"}
            opened = opened_total(base)
            run.process.send_signal(signal.SIGINT)
            assert run.process.wait(30) == 130  # as after Ctrl-C
            run.wait_for(r"^stopped\.")
        assert dispatched.group(1) == door == acknowledged.group(2)
        assert dispatched.group(2) == acknowledged.group(1) == tickets[0]["contractor"]
        assert [t["state"] for t in tickets] == ["rectified"]
        assert tickets[0]["acknowledged_at"] is not None
        assert all(
            time.mktime(time.strptime(t["opened_at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
            >= started - 1
            for t in tickets
        ), "a ticket from an earlier run"
        assert opened > 0, "facmon_tickets_opened_total stayed 0"
        outcomes.append((data_line, ledger, door, [t["fault_type"] for t in tickets]))
    first, second = outcomes
    assert first[0] == "fresh"
    assert second[0] == "fresh: the previous demo run's data were removed"
    assert first[1] == (
        "imported 18 of 18 rows (18 new) from demo_ledger.csv: 2 properties "
        "(demo 14, riverside 4), 4 contractors"
    )
    assert first[1:] == second[1:]


def run_with_the_api_port_taken(
    tmp_path: Path, command: str
) -> tuple[int, subprocess.CompletedProcess[str]]:
    """`facmon <command>` while another socket holds the API port: (port, result)."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "facmon.cli", command],
            cwd=tmp_path,
            env=demo_env(tmp_path / "data", port),
            capture_output=True,
            text=True,
            timeout=60,
        )
    return port, result


def test_demo_with_the_api_port_taken_says_which_variable_to_change(tmp_path: Path) -> None:
    port, result = run_with_the_api_port_taken(tmp_path, "demo")
    assert result.returncode == 2
    assert f"the API port {port} on 127.0.0.1 is not available" in result.stderr
    assert "FACMON_API_PORT=" in result.stderr and "make demo" in result.stderr
    # Nothing was printed or started before the check: no banner, no token, no traceback.
    assert "facility-monitor demo" not in result.stdout and "fm_" not in result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "data" / "demo").exists()


def test_facmon_run_with_the_api_port_taken_fails_before_announcing_it(tmp_path: Path) -> None:
    port, result = run_with_the_api_port_taken(tmp_path, "run")
    assert result.returncode == 2
    assert "API on" not in result.stdout
    assert f"the API port {port} on 127.0.0.1 is not available" in result.stderr
    assert "FACMON_API_PORT=" in result.stderr and "facmon run" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_second_demo_on_the_same_folder_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    env = demo_env(tmp_path / "data", free_port())
    with demo(tmp_path, env) as first:
        first.wait_for(r"token of role quality")
        second = subprocess.run(
            [sys.executable, "-m", "facmon.cli", "demo"],
            cwd=tmp_path,
            env={**env, "FACMON_API_PORT": str(free_port())},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2
        assert "another demo" in second.stderr and "FACMON_DATA_DIR" in second.stderr
        assert first.process.poll() is None
        assert (tmp_path / "data" / "demo" / "facmon.sqlite").exists()


def test_demo_with_a_scenario_dated_in_the_future_says_how_to_run_it(tmp_path: Path) -> None:
    library = Path(__file__).resolve().parents[2] / "simulators/scenarios/library"
    env = demo_env(tmp_path / "data", free_port())
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "facmon.cli",
            "demo",
            "--scenario",
            str(library / "pump-cavitation.yaml"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "scenario 'pump-cavitation' starts at 2027-01-15 09:00 UTC" in result.stderr
    assert "'start: -1h' in the file" in result.stderr
    assert "facility-monitor demo" not in result.stdout and "Traceback" not in result.stderr


def test_an_api_host_that_is_not_an_address_is_named(tmp_path: Path) -> None:
    env = {**demo_env(tmp_path / "data", free_port()), "FACMON_API_HOST": "no-such-host.invalid"}
    result = subprocess.run(
        [sys.executable, "-m", "facmon.cli", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "FACMON_API_HOST=no-such-host.invalid is not an address" in result.stderr
    assert "API on" not in result.stdout and "Traceback" not in result.stderr
