"""Lines the service prints for people and for the programs that wait on them."""

from __future__ import annotations

import sys
from typing import TextIO


def announce(text: str, stream: TextIO | None = None) -> None:
    """Write `text` and its newline in one call, then flush.

    `print` writes the text and the newline separately; unbuffered (`PYTHONUNBUFFERED`,
    `python -u`) each is its own write to the file, and a log line from another thread
    sharing the file can land between them (`... running15:34:00 WARNING ...`), so a
    supervisor or test waiting for the whole line never sees it.
    """
    out = stream if stream is not None else sys.stdout
    out.write(text + "\n")
    out.flush()
