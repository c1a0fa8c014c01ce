"""Keeps the detector configuration file in force current: re-read on change and on SIGHUP.

The file is polled (read and hashed every `interval_s`) rather than watched with inotify:
watchdog is not a dependency, a few hundred bytes read every two seconds cost nothing,
and polling also sees edits that inotify misses (a ConfigMap's symlink swap, a network
file system, an editor that keeps the modification time). A file with errors is refused:
the error is logged once with its line and reason, the configuration in force stays, and
`error` says why until the file is fixed.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

from detectors.base import DetectorConfig
from detectors.config_file import (
    EMPTY,
    DetectorConfigError,
    DetectorConfigFile,
    content_version,
    parse_detector_config,
)

log = logging.getLogger(__name__)

POLL_S = 2.0


class DetectorConfigSource:
    """The configuration in force, from `path` (None: the built-in defaults, no file).
    `defaults` are the parameters the service sets under the file's (`bank_defaults`)."""

    def __init__(
        self,
        path: str | Path | None,
        defaults: Mapping[str, DetectorConfig] | None = None,
        interval_s: float | None = None,
    ) -> None:
        self.path = Path(path) if path else None
        self.defaults: Mapping[str, DetectorConfig] = defaults or {}
        self.interval_s = POLL_S if interval_s is None else interval_s
        self.error: str | None = None
        self._lock = threading.Lock()
        self._listeners: list[Callable[[DetectorConfigFile], None]] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._previous_sighup: Any = None
        self._forced = False  # SIGHUP: re-read even if the content looks the same
        self._seen: str | None = None  # hash of the content last read, good or bad
        self.current: DetectorConfigFile = EMPTY
        if self.path is not None:
            text = self._read()  # a bad file at start is an error the caller reports
            self.current = parse_detector_config(text, str(self.path))
            self._seen = content_version(text)

    def _read(self) -> bytes:
        assert self.path is not None
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise DetectorConfigError(
                f"{self.path}: cannot read the detector configuration "
                f"(FACMON_DETECTORS_CONFIG): {exc.strerror or exc}"
            ) from None

    @property
    def running(self) -> bool:
        """Is the reload thread keeping `current` up to date?"""
        return self._thread is not None

    def subscribe(self, listener: Callable[[DetectorConfigFile], None]) -> None:
        """Call `listener` with each configuration that comes into force."""
        self._listeners.append(listener)

    def poll(self, force: bool = False) -> bool:
        """Re-read the file; True when a new configuration came into force. Thread-safe."""
        if self.path is None:
            return False
        with self._lock:
            try:
                text = self._read()
            except DetectorConfigError as exc:
                return self._refuse(str(exc), None)
            hashed = content_version(text)
            if hashed == self._seen and not force:
                return False
            self._seen = hashed
            try:
                loaded = parse_detector_config(text, str(self.path))
            except DetectorConfigError as exc:
                return self._refuse(str(exc), hashed)
            self.error = None
            if loaded == self.current:
                log.info("detector configuration %s unchanged", loaded.version)
                return False
            log.info(
                "detector configuration %s loaded from %s (was %s)",
                loaded.version,
                self.path,
                self.current.version,
            )
            self.current = loaded
            listeners = list(self._listeners)
        for listener in listeners:
            listener(loaded)
        return True

    def _refuse(self, error: str, hashed: str | None) -> bool:
        if error != self.error:  # once per distinct problem, not every poll
            log.error(
                "detector configuration refused, version %s stays in force:\n%s",
                self.current.version,
                error,
            )
        self.error = error
        self._seen = hashed
        return False

    def start(self) -> None:
        """Poll on a daemon thread, and re-read at once on SIGHUP (when called from the main
        thread, which alone may set signal handlers)."""
        if self.path is None or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="detector-config", daemon=True)
        self._thread.start()
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGHUP"):
            self._previous_sighup = signal.signal(signal.SIGHUP, self._on_sighup)

    def _on_sighup(self, _signum: int, _frame: FrameType | None) -> None:
        log.info("SIGHUP: re-reading the detector configuration %s", self.path)
        self._forced = True
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            forced, self._forced = self._forced, False
            try:
                self.poll(force=forced)
            except Exception:  # the service must outlive any surprise here
                log.exception("detector configuration: reload failed")

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self._thread = None
        if self._previous_sighup is not None and (
            threading.current_thread() is threading.main_thread()
        ):
            signal.signal(signal.SIGHUP, self._previous_sighup)
            self._previous_sighup = None
