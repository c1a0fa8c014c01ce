"""The backtest CSV reader: every bad row is reported with its line and reason and the
reading goes on; a wrong header is refused naming the expected columns."""

from __future__ import annotations

import io

import pytest

from contract.payload import Sample
from ingest.backtest.csv_source import HeaderError, read_csv
from ingest.backtest.records import BadRow

HEADER = "ts,site,building,kind,device_id,door_open,held_open_s,accelerometer1_rms_g"


def _read(lines: list[str], header: str = HEADER) -> list[Sample | BadRow]:
    return list(read_csv(io.StringIO("\n".join([header, *lines]) + "\n")))


def test_good_rows_become_samples_with_typed_metrics() -> None:
    records = _read(
        [
            "2027-01-01T00:00:00.000Z,hq,b1,access,d1,true,12.5,",
            "2027-01-01T00:00:00.000Z,hq,b1,pump,p1,,,0.216",
            "2027-01-01T00:00:10.000Z,hq,b1,access,d1,false,,",
        ]
    )
    assert all(isinstance(r, Sample) for r in records)
    door, pump, door_again = records
    assert isinstance(door, Sample) and isinstance(pump, Sample)
    assert isinstance(door_again, Sample)
    assert door.metrics == {"door_open": True, "held_open_s": 12.5}
    assert pump.metrics == {"accelerometer1_rms_g": 0.216}
    assert door.ts_ms == 1_798_761_600_000
    assert (door.seq, door_again.seq) == (0, 1)  # numbered per device, as a device would


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (
            "2027-01-01T00:00:01.000Z,hq,b1,access,d2,maybe,,",
            "door_open: 'maybe' is not true or false",
        ),
        (
            "2027-01-01T00:00:01.000Z,hq,b1,access,d2,true,abc,",
            "held_open_s: 'abc' is not a number",
        ),
        ("2027-01-01T00:00:01.000Z,hq,b1,access,d2,true,-5,", "below the valid range"),
        ("2027-01-01T00:00:01.000Z,hq,b1,access,d2,true,inf,", "held_open_s"),
        ("2027-01-01T00:00:01.000Z,hq,b1,access,d2,,,0.3", "unknown metric 'accelerometer1_rms_g'"),
        ("2027-01-01T00:00:01.000Z,hq,b1,escalator,d2,true,1,", "unknown device kind"),
        ("2027-01-01T00:00:01.000Z,hq,b/1,access,d2,true,1,", "building"),
        ("2027-01-01T00:00:01.000Z,hq,b1,access,d2,,,", "'metrics' is empty"),
        ("yesterday,hq,b1,access,d2,true,1,", "not RFC 3339"),
        ("2027-01-01T00:00:01.000Z,hq,b1,access,d2,true", "6 cells, the header has 8"),
    ],
)
def test_a_bad_row_is_reported_with_its_line_and_the_reading_goes_on(row: str, reason: str) -> None:
    records = _read(
        [
            "2027-01-01T00:00:00.000Z,hq,b1,access,d1,false,0,",
            row,
            "2027-01-01T00:00:02.000Z,hq,b1,access,d1,false,0,",
        ]
    )
    assert isinstance(records[0], Sample)
    bad = records[1]
    assert isinstance(bad, BadRow), bad
    assert bad.line == 3  # the header is line 1
    assert reason in bad.reason
    assert isinstance(records[2], Sample)  # the run goes on
    assert len(records) == 3


def test_rows_out_of_time_order_and_repeated_instants_are_bad_rows() -> None:
    records = _read(
        [
            "2027-01-01T00:00:10.000Z,hq,b1,access,d1,false,0,",
            "2027-01-01T00:00:05.000Z,hq,b1,access,d2,false,0,",  # earlier than line 2
            "2027-01-01T00:00:10.000Z,hq,b1,access,d1,true,1,",  # d1 again at one instant
            "2027-01-01T00:00:10.000Z,hq,b1,access,d2,false,0,",  # another device: fine
            "2027-01-01T00:00:11.000Z,hq,b1,access,d1,false,0,",
        ]
    )
    kinds = [type(r).__name__ for r in records]
    assert kinds == ["Sample", "BadRow", "BadRow", "Sample", "Sample"]
    unsorted, duplicate = records[1], records[2]
    assert isinstance(unsorted, BadRow) and isinstance(duplicate, BadRow)
    assert (unsorted.line, duplicate.line) == (3, 4)
    assert "sorted by ts" in unsorted.reason
    assert "duplicate timestamp" in duplicate.reason


def test_an_integer_metric_takes_a_whole_float_and_refuses_a_fraction() -> None:
    header = "ts,site,building,kind,device_id,valid_credentials"
    records = _read(
        [
            "2027-01-01T00:00:00.000Z,hq,b1,access,d1,3",
            "2027-01-01T00:00:01.000Z,hq,b1,access,d1,4.0",
            "2027-01-01T00:00:02.000Z,hq,b1,access,d1,4.5",
        ],
        header,
    )
    first, second, third = records
    assert isinstance(first, Sample) and first.metrics == {"valid_credentials": 3}
    assert isinstance(second, Sample) and second.metrics == {"valid_credentials": 4}
    assert isinstance(third, BadRow) and "must be an integer" in third.reason


@pytest.mark.parametrize(
    ("header", "complaint"),
    [
        ("time,site,building,kind,device_id,door_open", "header starts with"),
        ("ts,site,building,kind,device_id,door_opened", "unknown column(s) 'door_opened'"),
        ("ts,site,building,kind,device_id", "no metric column"),
        ("ts,site,building,kind,device_id,door_open,door_open", "duplicate column(s) door_open"),
    ],
)
def test_a_wrong_header_names_the_expected_columns(header: str, complaint: str) -> None:
    with pytest.raises(HeaderError) as caught:
        _read(["2027-01-01T00:00:00.000Z,hq,b1,access,d1,true"], header)
    text = str(caught.value)
    assert complaint in text
    assert "ts,site,building,kind,device_id" in text
    assert "accelerometer1_rms_g" in text and "held_open_s" in text


def test_an_empty_file_is_a_header_error() -> None:
    with pytest.raises(HeaderError, match="empty"):
        list(read_csv(io.StringIO("")))
