"""Print an HTML file to PDF in headless Chromium, once its charts have drawn.

Why Chromium and not WeasyPrint: the report's charts are drawn by ECharts, in JavaScript.
WeasyPrint lays out HTML and CSS but runs no JavaScript, so the charts would need a second
renderer (and a second look) just for the PDF. Chromium prints the very page a person opens,
charts included, and Chinese text prints with any installed CJK font (Debian's
`fonts-noto-cjk`).

Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: file
descriptors 3 and 4, messages of JSON ended by a NUL byte), so no port is opened and no
WebSocket library is needed. The page sets `window.reportReady` once every chart's
`finished` event has fired (animation off); printing waits for it, with a deadline.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Final

FLAGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--remote-debugging-pipe",
)
READY_EXPRESSION: Final = "window.reportReady === true"


class PrintError(RuntimeError):
    """Chromium is missing, failed, or the page's charts did not finish in time."""


def chromium_binary() -> str:
    """The Chromium on this machine (`FACMON_CHROMIUM` names another)."""
    chosen = os.environ.get("FACMON_CHROMIUM")
    for candidate in (chosen, "chromium", "chromium-browser", "google-chrome"):
        if candidate and (found := shutil.which(candidate)):
            return found
    raise PrintError(
        "no Chromium found: install the Debian package chromium or set FACMON_CHROMIUM"
    )


class _Pipe:
    """One DevTools session over Chromium's pipe."""

    def __init__(self, process: subprocess.Popen[bytes], write_fd: int, read_fd: int) -> None:
        self.process = process
        self.write_fd, self.read_fd = write_fd, read_fd
        self.buffer = b""
        self.next_id = 0

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        deadline: float | None = None,
    ) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise PrintError(f"{method}: {reply['error'].get('message')}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def _read(self, deadline: float | None) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            if deadline is not None and time.monotonic() > deadline:
                raise PrintError("Chromium did not answer in time")
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                raise PrintError(f"Chromium closed its pipe (exit {self.process.poll()})")
            self.buffer += chunk
        raw, _, self.buffer = self.buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(raw)
        return parsed


def print_pdf(html: Path, *, timeout_s: float = 60.0) -> bytes:
    """The PDF of `html` (A4, backgrounds printed), once `window.reportReady` is true."""
    deadline = time.monotonic() + timeout_s
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()
    with tempfile.TemporaryDirectory(prefix="facmon-chromium-") as profile:
        # Chromium reads commands on fd 3 and writes answers on fd 4.
        def _fds() -> None:
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        process = subprocess.Popen(
            [chromium_binary(), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),  # kept open after `_fds` placed the pipes there
            preexec_fn=_fds,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        pipe = _Pipe(process, to_browser_w, from_browser_r)
        try:
            return _print(pipe, html, deadline)
        finally:
            with contextlib.suppress(PrintError, OSError):
                pipe.call("Browser.close", deadline=time.monotonic() + 5)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            os.close(to_browser_w)
            os.close(from_browser_r)


def _print(pipe: _Pipe, html: Path, deadline: float) -> bytes:
    target = pipe.call("Target.createTarget", {"url": "about:blank"}, deadline=deadline)
    attached = pipe.call(
        "Target.attachToTarget",
        {"targetId": target["targetId"], "flatten": True},
        deadline=deadline,
    )
    session = attached["sessionId"]
    pipe.call("Page.enable", session=session, deadline=deadline)
    pipe.call("Page.navigate", {"url": html.resolve().as_uri()}, session, deadline)
    while True:
        answer = pipe.call(
            "Runtime.evaluate",
            {"expression": READY_EXPRESSION, "returnByValue": True},
            session,
            deadline,
        )
        if answer.get("result", {}).get("value") is True:
            break
        if time.monotonic() > deadline:
            raise PrintError("the report's charts did not finish drawing in time")
        time.sleep(0.05)
    printed = pipe.call(
        "Page.printToPDF",
        {"printBackground": True, "preferCSSPageSize": True},
        session,
        deadline,
    )
    return base64.b64decode(printed["data"])
