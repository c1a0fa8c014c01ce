"""Real Mosquitto and InfluxDB processes on free ports, for tests and benchmarks.

Each server gets a temporary directory and loopback-only listeners, and can be
stopped and restarted on the same port and data, so that tests can inject
outages. Nothing here touches the machine's own services.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from facmon.embedded_broker import free_port


class ServerError(RuntimeError):
    """A server binary is missing or did not come up; the text says how to fix it."""


def _find_binary(name: str, package: str) -> str:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and Path(candidate).exists():
            return candidate
    raise ServerError(f"{name} not found: install the Debian package '{package}' (make test does)")


def _wait_for_port(
    port: int, timeout_s: float, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"server exited with {process.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise ServerError(f"server did not listen on port {port} within {timeout_s} s")


class _Process:
    def __init__(self, workdir: Path | None) -> None:
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix=f"facmon-{type(self).__name__}-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "server.log"
        # Graceful stops that ran out of time and ended in SIGKILL: a broker stopped
        # that way loses what it acknowledged since its last autosave.
        self.forced_stops = 0

    def _spawn(self, argv: list[str]) -> subprocess.Popen[bytes]:
        log = self.log_path.open("ab")
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.forced_stops += 1
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> _Process:
        self.start()  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


class MosquittoServer(_Process):
    """Mosquitto 2 with persistence and queue limits raised for persistent sessions."""

    def __init__(self, workdir: Path | None = None, extra_config: str = "") -> None:
        super().__init__(workdir)
        self.binary = _find_binary("mosquitto", "mosquitto")
        self.port = free_port()
        self.extra_config = extra_config

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def config_text(self) -> str:
        # As root, Mosquitto drops to the `mosquitto` user and could not write its
        # persistence file into our temporary directory.
        user = "user root\n" if os.geteuid() == 0 else ""
        return (
            user + f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.workdir}/\n"
            "max_queued_messages 1000000\n"
            "max_queued_bytes 1073741824\n"
            "max_inflight_messages 0\n"
            "autosave_interval 1\n"
            f"{self.extra_config}"
        )

    def start(self, timeout_s: float = 15.0) -> None:
        config = self.workdir / "mosquitto.conf"
        config.write_text(self.config_text())
        self.process = self._spawn([self.binary, "-c", str(config)])
        _wait_for_port(self.port, timeout_s, self.process, self.log_path)


class InfluxServer(_Process):
    """InfluxDB 1.x (`influxd`) with its HTTP API on a free loopback port."""

    def __init__(self, workdir: Path | None = None) -> None:
        super().__init__(workdir)
        self.binary = _find_binary("influxd", "influxdb")
        self.http_port = free_port()
        self.rpc_port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def config_text(self) -> str:
        root = self.workdir
        return (
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{self.rpc_port}"\n'
            "[meta]\n"
            f'  dir = "{root}/meta"\n'
            "[data]\n"
            f'  dir = "{root}/data"\n'
            f'  wal-dir = "{root}/wal"\n'
            '  wal-fsync-delay = "0s"\n'
            "  query-log-enabled = false\n"
            '  index-version = "inmem"\n'
            "[monitor]\n"
            "  store-enabled = false\n"
            "[http]\n"
            f'  bind-address = "127.0.0.1:{self.http_port}"\n'
            "  log-enabled = false\n"
            "[continuous_queries]\n"
            "  enabled = false\n"
        )

    def start(self, timeout_s: float = 30.0) -> None:
        config = self.workdir / "influxdb.conf"
        config.write_text(self.config_text())
        self.process = self._spawn([self.binary, "-config", str(config)])
        _wait_for_port(self.http_port, timeout_s, self.process, self.log_path)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/ping", timeout=1).status_code == 204:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise ServerError(f"influxd did not answer /ping within {timeout_s} s")
