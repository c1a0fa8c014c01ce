"""A backtest replays through the production detectors and ticket store in data time:
a door held open opens its ticket, a recording gap opens `offline` when the service's
tick would have, and a clean file opens nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facmon.cli import main
from facmon.cli.backtest import replay_database, run_csv
from ingest.backtest.csv_source import read_csv
from ingest.backtest.report import rfc3339_ms
from ingest.backtest.runner import Replay
from tests.ingest.backtest.synthetic import ACCESS_HEADER, START_MS, door_rows, write_csv


def test_a_door_held_open_opens_one_ticket_and_a_clean_door_none(tmp_path: Path) -> None:
    rows = door_rows("hq", "held", START_MS, 60, held_from=30)
    rows += door_rows("hq", "clean", START_MS, 60)
    result = run_csv(write_csv(tmp_path / "doors.csv", ACCESS_HEADER, rows))
    assert result["samples"] == 120
    assert result["devices"] == 2
    assert result["bad_rows"] == []
    tickets = result["tickets"]
    assert [(t["device_id"], t["fault_type"]) for t in tickets] == [("held", "door_held_open")]
    ticket = tickets[0]
    assert ticket["detectors"] == ["access_door_held_open"]
    # Opened in data time: the detector needs `persist` (2) readings over 60 s, the
    # 7th open reading (70 s) being the first over it.
    assert ticket["opened_at"] == rfc3339_ms(START_MS + (30 + 7) * 10_000)
    assert ticket["findings"] >= 1
    assert ticket["evidence"]["threshold"] == 60.0


def test_a_clean_file_opens_nothing(tmp_path: Path) -> None:
    rows = [r for i in range(5) for r in door_rows("hq", f"d{i}", START_MS + i, 90)]
    result = run_csv(write_csv(tmp_path / "clean.csv", ACCESS_HEADER, rows))
    assert result["samples"] == 450
    assert result["findings"] == []
    assert result["tickets"] == []


def test_a_gap_opens_offline_when_the_service_tick_would(tmp_path: Path) -> None:
    before = door_rows("hq", "gappy", START_MS, 10)
    last_ms = before[-1][0]
    after = door_rows("hq", "gappy", last_ms + 600_000, 10)  # ten minutes of silence
    steady = door_rows("hq", "steady", START_MS, 80)
    result = run_csv(write_csv(tmp_path / "gap.csv", ACCESS_HEADER, before + after + steady))
    offline = [t for t in result["tickets"] if t["fault_type"] == "offline"]
    assert [t["device_id"] for t in offline] == ["gappy"]
    # The service's default: offline after 120 s of silence, found by the 1 s tick.
    assert offline[0]["opened_at"] == rfc3339_ms(last_ms + 120_000)
    assert offline[0]["onset"] == rfc3339_ms(last_ms)
    assert [f["time"] for f in result["findings"]] == [rfc3339_ms(last_ms + 120_000)]


def test_json_output_is_one_object_with_every_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = door_rows("hq", "held", START_MS, 50, held_from=20)
    path = write_csv(tmp_path / "doors.csv", ACCESS_HEADER, rows)
    with path.open("a") as out:
        out.write("2027-01-02T00:00:00.000Z,hq,b1,access,held,perhaps,0.0,true,0\n")
    assert main(["backtest", "--input", str(path), "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert {"samples", "devices", "bad_rows", "findings", "tickets"} <= set(result)
    assert result["samples"] == 50
    assert result["bad_rows"] == [
        {"line": 52, "reason": "column door_open: 'perhaps' is not true or false"}
    ]
    assert "line 52" in captured.err
    finding = result["findings"][0]
    assert {"site", "device_id", "detector", "fault_type", "severity", "time"} <= set(finding)
    (ticket,) = result["tickets"]
    assert {
        "site",
        "device_id",
        "fault_type",
        "detectors",
        "opened_at",
        "findings",
        "severity",
        "repeat_count",
        "card",
        "evidence",
    } <= set(ticket)
    assert ticket["opened_at"].endswith("Z")
    assert (ticket["repeat_count"], ticket["card"]) == (1, "none")


def test_the_table_lists_the_tickets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = door_rows("hq", "held", START_MS, 50, held_from=20)
    path = write_csv(tmp_path / "doors.csv", ACCESS_HEADER, rows)
    assert main(["backtest", "--input", str(path)]) == 0
    out = capsys.readouterr().out
    assert "door_held_open" in out and "held" in out
    assert "50 samples from 1 device(s)" in out


def test_a_wrong_header_exits_2_naming_the_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("time,device,door_open\n2027-01-01T00:00:00.000Z,d1,true\n")
    assert main(["backtest", "--input", str(path)]) == 2
    err = capsys.readouterr().err
    assert "ts,site,building,kind,device_id" in err


def test_a_detector_config_file_changes_the_outcome(tmp_path: Path) -> None:
    rows = door_rows("hq", "held", START_MS, 50, held_from=20)
    path = write_csv(tmp_path / "doors.csv", ACCESS_HEADER, rows)
    config = tmp_path / "detectors.yaml"
    config.write_text("kinds: {access: {access_door_held_open: {limit_s: 3600}}}\n")
    assert run_csv(path)["tickets"]
    assert run_csv(path, config=config)["tickets"] == []


def test_a_ten_day_gap_costs_a_bounded_number_of_ticks(tmp_path: Path) -> None:
    before = door_rows("hq", "d1", START_MS, 10)
    last_ms = before[-1][0]
    after = door_rows("hq", "d1", last_ms + 10 * 86_400_000, 10)
    path = write_csv(tmp_path / "long-gap.csv", ACCESS_HEADER, before + after)
    replay = Replay(replay_database())
    with path.open(newline="") as stream:
        replay.feed(read_csv(stream))
    # Every second for the first hour of silence (offline is due at 120 s), then at most
    # 100 more; plus the ticks between the 10 s samples on either side.
    assert replay.stats.ticks <= 3_600 + 100 + 2 * 10 * 10
    (offline,) = [r for r in replay.findings if r.finding.fault_type == "offline"]
    assert offline.time_ms == last_ms + 120_000


def _service_database(tmp_path: Path, window: tuple[int, int] | None) -> str:
    """A service database (SQLite file, the product's schema) with door `held` in its
    ledger and, if given, a maintenance window over [from, to) epoch ms."""
    from datetime import UTC, datetime

    from facmon.schema import create_schema
    from quality.ledger.store import LedgerStore
    from quality.ledger.validation import EquipmentCreate
    from quality.maintenance.windows import WindowStore
    from storage.sql import make_engine

    url = f"sqlite:///{tmp_path / 'facmon.sqlite'}"
    engine = make_engine(url)
    create_schema(engine)
    LedgerStore(engine).create(
        EquipmentCreate.model_validate(
            {"site": "hq", "building": "b1", "kind": "access", "device_id": "held", "name": "d"}
        )
    )
    if window is not None:
        WindowStore(engine).create(
            {
                "site": "hq",
                "device_id": "held",
                "from": datetime.fromtimestamp(window[0] / 1000, UTC).isoformat(),
                "to": datetime.fromtimestamp(window[1] / 1000, UTC).isoformat(),
                "reason": "closer replaced",
            },
            "lead",
        )
    engine.dispose()
    return url


def test_findings_under_planned_maintenance_are_suppressed_as_the_service_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = door_rows("hq", "held", START_MS, 50, held_from=20)
    rows += door_rows("hq", "other", START_MS, 50, held_from=20)
    path = write_csv(tmp_path / "doors.csv", ACCESS_HEADER, rows)
    url = _service_database(tmp_path, (START_MS, START_MS + 3_600_000))

    assert main(["backtest", "--input", str(path), "--maintenance", url, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    # The door being serviced opens nothing; the same fault on the other door does.
    assert [t["device_id"] for t in result["tickets"]] == ["other"]
    held = [f for f in result["findings"] if f["device_id"] == "held"]
    assert held and all(f["suppressed"] and f["ticket_id"] is None for f in held)
    assert result["suppressed"] == len(held)
    assert not any(f["suppressed"] for f in result["findings"] if f["device_id"] == "other")

    # Without --maintenance, or with a window that had ended, both doors get a ticket.
    assert main(["backtest", "--input", str(path), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["tickets"]) == 2
    (tmp_path / "facmon.sqlite").unlink()
    ended = _service_database(tmp_path, (START_MS - 7_200_000, START_MS - 3_600_000))
    assert main(["backtest", "--input", str(path), "--maintenance", ended]) == 0
    out = capsys.readouterr().out
    assert "2 finding(s), 2 ticket(s)" in out and "suppressed" not in out


def test_a_maintenance_database_that_cannot_be_read_exits_2_saying_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "doors.csv", ACCESS_HEADER, door_rows("hq", "d", START_MS, 5))
    missing = tmp_path / "nowhere" / "facmon.sqlite"
    assert main(["backtest", "--input", str(path), "--maintenance", f"sqlite:///{missing}"]) == 2
    err = capsys.readouterr().err
    assert f"no database at {missing}" in err and "FACMON_DATABASE_URL" in err
    assert not missing.parent.exists()  # nothing created
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    assert main(["backtest", "--input", str(path), "--maintenance", f"sqlite:///{empty}"]) == 2
    assert "facmon db upgrade" in capsys.readouterr().err
    assert main(["backtest", "--input", str(path), "--maintenance", "nonsense://"]) == 2
    assert "is not a database URL" in capsys.readouterr().err
