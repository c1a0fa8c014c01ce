"""The API alone, served by uvicorn as `facmon run` serves it, in a process of its own, so
that a test can measure that process's memory.

    python -m tests.api.api_process DATA_DIR PORT
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from api.app import create_app
from facmon.service import Stores
from facmon.settings import Settings


def main(argv: list[str]) -> None:
    data_dir, port = Path(argv[1]), int(argv[2])
    stores = Stores.open(Settings(_env_file=None, data_dir=data_dir))  # type: ignore[call-arg]
    config = uvicorn.Config(
        create_app(stores), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main(sys.argv)
