"""`facmon ledger import|export|list` on a SQLite file: messages per locale, the error table,
exit code 2 on errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from facmon.cli import main
from tests.quality.ledger.test_demo_ledger import DEMO_LEDGER

BAD = "设备编号,项目,楼栋,设备类型,设备名称\ndoor-1,hq,t1,门禁,大堂门\ndoor/2,hq,t1,lift,侧门\n"


@pytest.fixture
def database(tmp_path: Path) -> list[str]:
    return ["--database-url", f"sqlite:///{tmp_path / 'facmon.sqlite'}"]


def test_import_list_export_in_english(
    database: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    assert main(["ledger", "import", str(DEMO_LEDGER), *database]) == 0
    out = capsys.readouterr().out
    assert "imported 18 of 18 rows (18 new, 0 updated, 0 skipped)" in out

    assert main(["ledger", "list", "--site", "riverside", "--kind", "access", *database]) == 0
    listed = capsys.readouterr()
    assert "door-1" in listed.out and "device id" in listed.out and "elevator" not in listed.out
    assert "1 of 1 devices" in listed.err

    exported = tmp_path / "out.xlsx"
    assert main(["ledger", "export", str(exported), *database]) == 0
    assert exported.read_bytes()[:2] == b"PK"
    assert main(["ledger", "import", str(exported), *database]) == 0
    assert "0 new, 18 updated" in capsys.readouterr().out


def test_errors_are_a_table_in_chinese_and_exit_2(
    database: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD, encoding="utf-8")
    assert main(["ledger", "import", str(bad), *database]) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0].split() == ["行", "列", "问题"]
    assert any(
        line.startswith("3 ") and "设备编号" in line and "不是有效的编号" in line for line in lines
    )
    assert any(line.startswith("3 ") and "设备类型" in line for line in lines)
    assert "未导入任何数据" in err
    assert main(["ledger", "list", *database]) == 0
    assert "共 0 台设备" in capsys.readouterr().err

    assert main(["ledger", "import", str(bad), "--skip-errors", *database]) == 2
    captured = capsys.readouterr()
    assert "导入 2 行中的 1 行" in captured.out and "跳过 1" in captured.out


def test_files_that_cannot_be_imported_exit_2(
    database: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LANG", "C")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    fake = tmp_path / "ledger.xlsx"
    fake.write_text("site,building\n")
    assert main(["ledger", "import", str(fake), *database]) == 2
    assert "not an Excel .xlsx workbook" in capsys.readouterr().err
    assert main(["ledger", "import", str(tmp_path / "ledger.xls"), *database]) == 2
    assert "save the sheet as Excel .xlsx" in capsys.readouterr().err
    assert main(["ledger", "import", str(tmp_path / "missing.csv"), *database]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["ledger", "export", str(tmp_path / "ledger.txt"), *database]) == 2
    assert "name it .csv or .xlsx" in capsys.readouterr().err


def test_a_long_file_shows_progress_on_stderr(
    database: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    long = tmp_path / "long.csv"
    rows = [f"hq,b{i % 5},pump,p-{i:05d},Pump {i}" for i in range(10_000)]
    long.write_text("site,building,kind,device_id,name\n" + "\n".join(rows) + "\n")
    assert main(["ledger", "import", str(long), *database]) == 0
    captured = capsys.readouterr()
    assert "checked 10,000 rows" in captured.err
    assert "written 10,000 of 10,000 rows" in captured.err
    assert "imported 10,000 of 10,000 rows (10,000 new" in captured.out
