"""The broker exactly as deploy/mosquitto ships it, on a free port with a temporary directory.

Only what ties the configuration to the container changes: the listener, the
plugin's path (Debian's package puts it under /usr/lib/<arch>/), and where the
dynamic-security file, persistence and the log go. Accounts, bindings and
roles are the shipped ones, plus whatever a test provisions with the real CLI.
"""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

from tools.servers import MosquittoServer, ServerError

REPO = Path(__file__).resolve().parents[2]
SHIPPED_DIR = REPO / "deploy" / "mosquitto"
DYNSEC_FILE = "dynamic-security.json"
ADAPTED = {"listener", "plugin", "plugin_opt_config_file", "persistence_location", "log_dest"}


def dynsec_plugin() -> str:
    """Where this machine's Mosquitto keeps the dynamic-security plugin."""
    for pattern in (
        "/usr/lib/*/mosquitto_dynamic_security.so",
        "/usr/lib/mosquitto_dynamic_security.so",
    ):
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    raise ServerError(
        "mosquitto_dynamic_security.so not found: install the Debian package 'mosquitto'"
    )


class ShippedBroker(MosquittoServer):
    """`dynsec_file` starts as a copy of the shipped one; provision into it, then `start()`."""

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__(workdir)
        self.dynsec_file = workdir / DYNSEC_FILE
        shutil.copy(SHIPPED_DIR / DYNSEC_FILE, self.dynsec_file)

    def url_for(self, user: str, password: str) -> str:
        return f"mqtt://{user}:{password}@127.0.0.1:{self.port}"

    def config_text(self) -> str:
        shipped = (SHIPPED_DIR / "mosquitto.conf").read_text(encoding="utf-8").splitlines()
        kept = [line for line in shipped if line.split(" ", 1)[0] not in ADAPTED]
        # As root, Mosquitto drops to the `mosquitto` user, who cannot read our temporary files.
        user = ["user root"] if os.geteuid() == 0 else []
        return (
            "\n".join(
                kept
                + user
                + [
                    f"listener {self.port} 127.0.0.1",
                    f"plugin {dynsec_plugin()}",
                    f"plugin_opt_config_file {self.dynsec_file}",
                    f"persistence_location {self.workdir}/",
                    f"log_dest file {self.log_path}",
                ]
            )
            + "\n"
        )
