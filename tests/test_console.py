"""The lines programs wait on reach the file whole, whatever else writes to it."""

from __future__ import annotations

import io

from facmon.console import announce


class _Writes(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def write(self, text: str) -> int:
        self.calls.append(text)
        return super().write(text)


def test_a_line_and_its_newline_are_one_write() -> None:
    stream = _Writes()
    announce("ingest worker w1 running", stream)
    assert stream.calls == ["ingest worker w1 running\n"]
