"""Ledger files in and out: CSV and .xlsx round trips, Chinese headers and words, the
row-by-row error report, all-or-nothing imports, skip_errors, and upserts by (site, device_id)."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from sqlalchemy import Engine

from contract.clock import ManualClock
from quality.ledger import (
    Decommission,
    EquipmentFilter,
    LedgerFileError,
    LedgerStore,
    export_bytes,
    import_file,
)
from quality.ledger.columns import COLUMNS
from tests.quality.ledger.conftest import T0

HEADER = (
    "site,building,floor,location,kind,device_id,name,contractor,contractor_phone,"
    "reporting_interval_s,criticality,status,install_date"
)
GOOD = [
    "hq,tower-a,1,Lobby,access,door-1,Lobby door,Secure Doors,021-5555 0104,30,B,in_service,"
    "2021-04-12",
    "riverside,block-1,1,Gate,access,door-1,Gate door,Secure Doors,,30,C,pending,",
    "hq,plant,B2,Pump room,pump,pump-01,Feed pump 1,Clear Water,021-5555 0103,10,A,in_service,"
    "2018-11-05",
]


def csv_bytes(*lines: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def everything(store: LedgerStore) -> list[tuple[object, ...]]:
    items, _ = store.search(EquipmentFilter(), limit=1000)
    return [
        (
            d.site,
            d.device_id,
            d.building,
            d.floor,
            d.location,
            d.kind,
            d.name,
            d.contractor,
            d.reporting_interval_s,
            d.criticality,
            d.status,
            d.install_date,
        )
        for d in items
    ]


def test_csv_import_creates_devices_and_contractors(engine: Engine, store: LedgerStore) -> None:
    report = import_file(engine, csv_bytes(*GOOD), "csv")
    assert (report.rows, report.imported, report.created, report.updated) == (3, 3, 3, 0)
    assert report.applied and report.problems == []
    assert sorted(report.contractors_created) == ["Clear Water", "Secure Doors"]
    door = store.get("hq", "door-1")
    assert door is not None and (door.contractor, door.install_date) == (
        "Secure Doors",
        date(2021, 4, 12),
    )
    assert store.get("riverside", "door-1").status == "pending"  # type: ignore[union-attr]
    doors = {c.name: c for c in store.contractors()}["Secure Doors"]
    assert (doors.kinds, doors.phone) == (["access"], "021-5555 0104")
    again = import_file(engine, csv_bytes(*GOOD), "csv")
    assert (again.created, again.updated, again.contractors_created) == (0, 3, [])
    assert len(everything(store)) == 3


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_is_a_round_trip(engine: Engine, store: LedgerStore, fmt: str) -> None:
    import_file(engine, csv_bytes(*GOOD), "csv")
    store.decommission("hq", "pump-01", Decommission(reason="flooded"))
    before = everything(store)
    exported = export_bytes(engine, fmt)  # type: ignore[arg-type]
    report = import_file(engine, exported, fmt)  # type: ignore[arg-type]
    assert (report.problems, report.updated, report.created) == ([], 3, 0)
    assert everything(store) == before
    pump = store.get("hq", "pump-01")
    assert pump is not None and pump.decommission_reason == "flooded"
    assert pump.decommissioned_at == T0  # the time it left service survives a re-import
    if fmt == "csv":
        assert export_bytes(engine, "csv") == exported


def test_export_columns_are_the_documented_english_ones(engine: Engine) -> None:
    import_file(engine, csv_bytes(*GOOD), "csv")
    text = export_bytes(engine, "csv").decode("utf-8-sig")
    assert text.splitlines()[0] == ",".join(COLUMNS)
    sheet = load_workbook(io.BytesIO(export_bytes(engine, "xlsx", site="riverside"))).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == list(COLUMNS) and len(rows) == 2 and rows[1][0] == "riverside"


def test_chinese_headers_and_words_in_a_gb18030_csv(engine: Engine, store: LedgerStore) -> None:
    data = (
        "项目,楼栋,楼层,安装位置,设备类型,设备编号,设备名称,维保单位,设备等级,设备状态,上报间隔(秒),备注\n"
        "hq,tower-a,1,大堂,门禁,door-1,大堂门禁,安盾智能,A类,在用,30,新装\n"
        "hq,plant,B2,水泵房,水泵,pump-01,1号给水泵,,重要,待启用,,\n"
    ).encode("gb18030")
    report = import_file(engine, data, "csv")
    assert report.problems == [] and report.ignored_columns == ["备注"]
    door = store.get("hq", "door-1")
    assert door is not None
    assert (door.kind, door.criticality, door.status, door.location, door.contractor) == (
        "access",
        "A",
        "in_service",
        "大堂",
        "安盾智能",
    )
    pump = store.get("hq", "pump-01")
    assert pump is not None and (pump.kind, pump.criticality, pump.status) == (
        "pump",
        "B",
        "pending",
    )


def test_xlsx_cells_of_numbers_and_dates(engine: Engine, store: LedgerStore) -> None:
    data = xlsx_bytes(
        [
            [
                "设备编号",
                "项目",
                "楼栋",
                "设备类型",
                "设备名称",
                "安装日期",
                "上报间隔(秒)",
                "楼层",
            ],
            [101, "hq", "t1", "elevator", "1号梯", date(2020, 1, 2), 60, -1],
            [None, None, None, None, None, None, None, None],
            ["102", "hq", "t1", "elevator", "2号梯", "2020/01/03", 60.0, "B1"],
        ]
    )
    report = import_file(engine, data, "xlsx")
    assert report.problems == [] and report.rows == 2
    one, two = store.get("hq", "101"), store.get("hq", "102")
    assert one is not None and two is not None
    assert (one.install_date, one.reporting_interval_s, one.floor) == (date(2020, 1, 2), 60, "-1")
    assert two.install_date == date(2020, 1, 3)


def test_a_file_with_errors_imports_nothing_and_reports_line_column_problem(
    engine: Engine, store: LedgerStore
) -> None:
    data = csv_bytes(
        GOOD[0],
        "hq,tower-a,1,Lobby,lift,door/2,,Secure Doors,call me,-5,Z,broken,2999-01-01",
        GOOD[2],
        "hq,tower-b,,,access,door-1,Again,,,,,,",
    )
    report = import_file(engine, data, "csv")
    assert not report.applied and report.imported == 0 and report.skipped == 2
    found = {(p.line, p.column) for p in report.problems}
    assert found == {
        (3, "kind"),
        (3, "device_id"),
        (3, "name"),
        (3, "contractor_phone"),
        (3, "reporting_interval_s"),
        (3, "criticality"),
        (3, "status"),
        (3, "install_date"),
        (5, "device_id"),
    }
    by_place = {(p.line, p.column): p.message for p in report.problems}
    assert "elevator, lighting, pump, access" in by_place[(3, "kind")].en
    assert "设备类型" in by_place[(3, "kind")].zh
    assert "line 2" in by_place[(5, "device_id")].en and "第 2 行" in by_place[(5, "device_id")].zh
    assert "YYYY-MM-DD" not in by_place[(3, "install_date")].en  # a real date, just impossible
    assert everything(store) == [] and store.contractors() == []


def test_skip_errors_imports_the_good_rows_and_still_reports(
    engine: Engine, store: LedgerStore
) -> None:
    data = csv_bytes(GOOD[0], "hq,tower-a,1,x,access,door-2,,,,,,,", GOOD[2])
    report = import_file(engine, data, "csv", skip_errors=True)
    assert report.applied and (report.imported, report.skipped, report.rows) == (2, 1, 3)
    assert [(p.line, p.column) for p in report.problems] == [(3, "name")]
    assert sorted(str(row[1]) for row in everything(store)) == ["door-1", "pump-01"]


def test_columns_missing_from_the_file_are_left_as_they_are(
    engine: Engine, store: LedgerStore, clock: ManualClock
) -> None:
    import_file(engine, csv_bytes(*GOOD), "csv")
    store.decommission("hq", "door-1", Decommission(reason="moved"))
    clock.advance(hours=1)
    slim = "site,building,kind,device_id,name\nhq,tower-c,access,door-1,Renamed door\n"
    report = import_file(engine, slim.encode(), "csv", clock=clock)
    assert (report.updated, report.created) == (1, 0)
    door = store.get("hq", "door-1")
    assert door is not None
    assert (door.building, door.name, door.contractor, door.status, door.criticality) == (
        "tower-c",
        "Renamed door",
        "Secure Doors",
        "decommissioned",
        "B",
    )
    assert door.updated_at == T0 + timedelta(hours=1)
    # Present but empty: cleared, or back to the default.
    cleared = "site,building,kind,device_id,name,contractor,status\nhq,tower-c,access,door-1,D,,\n"
    import_file(engine, cleared.encode(), "csv")
    door = store.get("hq", "door-1")
    assert door is not None and (door.contractor, door.status, door.decommissioned_at) == (
        None,
        "in_service",
        None,
    )


@pytest.mark.parametrize(
    ("data", "fmt", "words"),
    [
        (b"", "csv", "no header row"),
        (b"\n\n", "csv", "no header row"),
        (b"site,building,kind\nhq,b,pump\n", "csv", "device_id, name"),
        (
            b"site,building,kind,device_id,name,\xe8\xae\xbe\xe5\xa4\x87\xe7\xbc\x96\xe5\x8f\xb7\n",
            "csv",
            "keep one",
        ),
        (b"PK\x03\x04 not really", "xlsx", "not an Excel .xlsx workbook"),
        (b"site,building\n", "xlsx", "not a zip archive"),
        (b"\x00\x01binary", "csv", "not a text CSV"),
    ],
)
def test_files_that_are_not_ledgers_are_refused_whole(
    engine: Engine, store: LedgerStore, data: bytes, fmt: str, words: str
) -> None:
    with pytest.raises(LedgerFileError) as refused:
        import_file(engine, data, fmt)  # type: ignore[arg-type]
    assert words in refused.value.message.en and refused.value.message.zh
    assert everything(store) == []


def test_an_empty_workbook_is_refused(engine: Engine) -> None:
    with pytest.raises(LedgerFileError) as refused:
        import_file(engine, xlsx_bytes([]), "xlsx")
    assert "no header row" in refused.value.message.en


def test_a_header_only_file_imports_nothing_without_error(engine: Engine) -> None:
    report = import_file(engine, csv_bytes(), "csv")
    assert (report.rows, report.imported, report.problems, report.applied) == (0, 0, [], True)


def test_xlsx_as_excel_writes_it_shared_strings_rich_text_chinese_dates_sparse_cells(
    engine: Engine, store: LedgerStore
) -> None:
    book = Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "说明"
    ledger = book.create_sheet("台账", 0)  # the first sheet is read, whatever its name
    ledger.append(["项目", "楼栋", "设备类型", "设备编号", "设备名称", "安装日期", "安装位置"])
    ledger.append(
        [
            "hq",
            "t1",
            "水泵",
            "pump-01",
            CellRichText("1号", TextBlock(InlineFont(b=True), "给水泵")),
            datetime(2020, 5, 6, 7, 8),
            "B2 & <泵房>",
        ]
    )
    ledger["F2"].number_format = "yyyy年m月d日"
    ledger["A4"], ledger["B4"], ledger["C4"], ledger["D4"], ledger["E4"] = (
        "hq",
        "t1",
        "pump",
        "pump-02",
        "2号",
    )
    notes.append(["device_id"])
    out = io.BytesIO()
    book.save(out)
    report = import_file(engine, out.getvalue(), "xlsx")
    assert report.problems == [] and report.rows == 2
    one = store.get("hq", "pump-01")
    assert one is not None
    assert (one.name, one.install_date, one.location) == (
        "1号给水泵",
        date(2020, 5, 6),
        "B2 & <泵房>",
    )
    assert store.get("hq", "pump-02") is not None


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_title_rows_above_the_header_are_skipped(
    engine: Engine, store: LedgerStore, fmt: str
) -> None:
    rows: list[list[object]] = [
        ["滨江花园项目设备台账"],
        ["更新日期：2027-03-01"],
        ["项目", "楼栋", "设备类型", "设备编号", "设备名称"],
        ["hq", "t1", "电梯", "lift-1", "1号梯"],
        ["hq", "t1", "电梯", "lift/2", "2号梯"],
    ]
    if fmt == "csv":
        data = "\n".join(",".join(str(c) for c in row) for row in rows).encode()
    else:
        data = xlsx_bytes(rows)
    report = import_file(engine, data, fmt, skip_errors=True)  # type: ignore[arg-type]
    assert [(p.line, p.column) for p in report.problems] == [(5, "设备编号")]
    assert report.imported == 1 and store.get("hq", "lift-1") is not None
