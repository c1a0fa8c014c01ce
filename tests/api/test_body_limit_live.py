"""A 300 MiB chunked upload against the API served by uvicorn in its own process: the answer
is 401 without a token and 413 with one, and the server's memory grows by less than 50 MB.

Before, the 64 KiB limit checked only `Content-Length` (a chunked upload has none) and the
token was checked after FastAPI had read the body: 300 MiB without a token was read whole
before the 401 (+506 MB resident).
"""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from facmon.embedded_broker import free_port
from facmon.service import Stores
from facmon.settings import Settings
from tests.conftest import wait_until

MiB = 1024 * 1024
UPLOAD_BYTES = 300 * MiB
CHUNK = 64 * 1024
MAX_GROWTH_BYTES = 50 * 1000 * 1000


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    sent_bytes: int  # body bytes the client got to send before the answer came


def upload_chunked(port: int, path: str, headers: dict[str, str], total: int) -> Answer:
    """POST `total` bytes as a chunked body, made as it is sent (one reused chunk), and stop
    sending at the first byte of an answer, as a careful client does."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
    head += "Content-Type: application/json\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    chunk = b"%x\r\n" % CHUNK + b"x" * CHUNK + b"\r\n"
    chunks = -(-total // CHUNK)  # the last chunk may carry a little more than asked
    queued = 0  # chunks handed to the socket, the closing "0" chunk included
    deadline = time.monotonic() + 50
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode("ascii"))
        sock.setblocking(False)
        pending = memoryview(b"")
        while time.monotonic() < deadline:
            more = bool(pending) or queued <= chunks
            readable, writable, _ = select.select([sock], [sock] if more else [], [], 1.0)
            if readable:
                break
            if not writable:
                continue
            if not pending:
                pending = memoryview(chunk if queued < chunks else b"0\r\n\r\n")
                queued += 1
            try:
                pending = pending[sock.send(pending) :]
            except (BrokenPipeError, ConnectionResetError):
                break
        else:
            pytest.fail(f"no answer within 50 s after sending {queued} chunks of {CHUNK} bytes")
        sock.setblocking(True)
        data = b""
        try:
            while b"\r\n\r\n" not in data or len(data) < _length(data):
                part = sock.recv(65536)
                if not part:
                    break
                data += part
        except ConnectionResetError:
            pass
    status = int(data.split(b" ", 2)[1])
    whole_chunks = min(queued - (1 if pending else 0), chunks)
    return Answer(status, data.partition(b"\r\n\r\n")[2], whole_chunks * CHUNK)


def _length(response: bytes) -> int:
    head, _, _ = response.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    return 0


def _proc_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


@dataclass(frozen=True, slots=True)
class ApiProcess:
    process: subprocess.Popen[bytes]
    port: int
    engineer: str

    def rss_bytes(self) -> int:
        return _proc_kib(self.process.pid, "VmRSS") * 1024

    def peak_rss_bytes(self) -> int:
        return _proc_kib(self.process.pid, "VmHWM") * 1024

    def reset_peak(self) -> None:
        """Start the peak (VmHWM) afresh from the resident size now."""
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")


@pytest.fixture(scope="module")
def api_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """One server for the module: its start (imports) took over 60 s on a busy two-core machine."""
    tmp_path = tmp_path_factory.mktemp("api")
    stores = Stores.open(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    engineer = stores.tokens.create("engineer", "engineer-user")[1]
    stores.close()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.api.api_process", str(tmp_path), str(port)]
    )
    try:

        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code > 0
            except httpx.HTTPError:
                return process.poll() is not None

        wait_until(up, timeout_s=120, what="the API process to answer /healthz")
        assert process.poll() is None, "the API process exited"
        yield ApiProcess(process, port, engineer)
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize(("token", "status"), [(False, 401), (True, 413)])
def test_a_300_mib_chunked_upload_is_refused_without_being_read(
    api_process: ApiProcess, token: bool, status: int
) -> None:
    headers = {"Authorization": f"Bearer {api_process.engineer}"} if token else {}
    path = "/api/tickets/1/comments"
    # Warm up the same route with a small body, so that what is measured is the upload.
    small = httpx.post(
        f"http://127.0.0.1:{api_process.port}{path}", json={"text": "x"}, headers=headers
    )
    assert small.status_code == (404 if token else 401), small.text
    api_process.reset_peak()
    before = api_process.rss_bytes()
    answer = upload_chunked(api_process.port, path, headers, UPLOAD_BYTES)
    growth = api_process.peak_rss_bytes() - before
    print(
        f"\n{'engineer' if token else 'no token'}: HTTP {answer.status} after "
        f"{answer.sent_bytes / MiB:.1f} MiB sent; peak RSS {growth / 1e6:+.1f} MB"
    )
    assert answer.status == status, answer.body
    detail = json.loads(answer.body)["detail"]
    assert ("65536 bytes" if token else "Authorization: Bearer") in detail, detail
    assert growth < MAX_GROWTH_BYTES, f"server peak RSS grew by {growth / 1e6:.0f} MB"
    assert answer.sent_bytes < UPLOAD_BYTES, "the whole body was sent before any answer"
    assert api_process.process.poll() is None
