"""`facmon devices`: what it refuses, and what the real broker makes of what it writes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from facmon.cli import main
from facmon.dynsec import check_password, find_client
from tests.security.clients import NOT_AUTHORIZED, refusal
from tests.security.shipped_broker import SHIPPED_DIR, ShippedBroker


@pytest.fixture
def dynsec_file(tmp_path: Path) -> Path:
    path = tmp_path / "dynamic-security.json"
    shutil.copy(SHIPPED_DIR / "dynamic-security.json", path)
    return path


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("hq/b1/pump/facmon", "device_id 'facmon' is the name of a service account"),
        ("tickets/b1/pump/p1", "site 'tickets' is reserved for the service's own topics"),
        ("hq/b1/toaster/p1", "unknown device kind 'toaster'"),
        ("hq/b#/pump/p1", "building 'b#' is not a valid identifier"),
    ],
)
def test_provision_refuses_with_a_reason(
    dynsec_file: Path, device: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = dynsec_file.read_text()
    assert (
        main(["devices", "provision", "hq/b1/pump/ok-1", device, "--file", str(dynsec_file)]) == 2
    )
    err = capsys.readouterr().err
    assert message in err and "nothing was changed" in err
    assert dynsec_file.read_text() == before


def test_a_device_is_four_topic_levels(
    dynsec_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["devices", "provision", "hq/b1/pump", "--file", str(dynsec_file)])
    assert "must be site/building/kind/device_id" in capsys.readouterr().err


def test_missing_file_names_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["devices", "provision", "hq/b1/pump/p1", "--file", str(tmp_path / "nope.json")])
    assert code == 1
    assert "does not exist: pass --file" in capsys.readouterr().err


def test_provision_again_renews_the_password_and_prints_it_once(
    dynsec_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passwords = []
    for _ in range(2):
        assert main(["devices", "provision", "hq/b1/pump/p1", "--file", str(dynsec_file)]) == 0
        ((name, password),) = (line.split() for line in capsys.readouterr().out.splitlines())
        assert name == "p1"
        passwords.append(password)
    config = json.loads(dynsec_file.read_text())
    client = find_client(config, "p1")
    assert [check_password(client, password) for password in passwords] == [False, True]
    assert [c["username"] for c in config["clients"]].count("p1") == 1
    assert [r["rolename"] for r in config["roles"]].count("device-p1") == 1


def test_a_locked_account_is_refused_by_the_broker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broker = ShippedBroker(tmp_path / "broker")
    file = str(broker.dynsec_file)
    assert main(["devices", "provision", "hq/b1/pump/p1", "--file", file]) == 0
    ((_, password),) = (line.split() for line in capsys.readouterr().out.splitlines())
    broker.start()
    try:
        assert refusal(broker.port, "p1", password, "dev-p1") is None
        assert main(["devices", "lock", "p1", "--file", file]) == 0
        broker.stop()
        broker.start()
        assert refusal(broker.port, "p1", password, "dev-p1") == NOT_AUTHORIZED
    finally:
        broker.stop()


def test_a_passwords_file_is_never_overwritten(
    dynsec_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "devices.txt"
    args = ["devices", "provision", "--file", str(dynsec_file), "--passwords-out", str(out)]
    assert main([*args, "hq/b1/pump/p1"]) == 0
    first, config = out.read_text(), dynsec_file.read_text()
    assert main([*args, "hq/b1/pump/p2"]) == 2
    assert "exists and may hold passwords" in capsys.readouterr().err
    assert out.read_text() == first and dynsec_file.read_text() == config


def test_a_passwords_file_that_is_not_a_regular_file_is_refused_untouched(
    tmp_path: Path,
) -> None:
    """`--env-file /dev/null` once made /dev/null mode 0600 for the whole machine."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o666)
    folder = tmp_path / "folder"
    folder.mkdir()
    file = str(tmp_path / "dynamic-security.json")
    shutil.copy(SHIPPED_DIR / "dynamic-security.json", file)
    before = Path(file).read_bytes()
    for target in (fifo, folder):
        mode = target.stat().st_mode
        for argv in (
            ["devices", "service-passwords", "--file", file, "--env-file", str(target)],
            ["devices", "provision", "hq/t/pump/p-1", "--file", file, "--env-file", str(target)],
            [
                "devices",
                "provision",
                "hq/t/pump/p-1",
                "--file",
                file,
                "--passwords-out",
                str(target),
            ],
        ):
            assert main(argv) == 2, argv
            assert target.stat().st_mode == mode
    assert Path(file).read_bytes() == before


def test_an_id_with_an_account_in_another_site_is_refused(
    dynsec_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Accounts are named by device id: door-1 of a second site must not take the first's."""
    assert main(["devices", "provision", "north/b1/access/door-1", "--file", str(dynsec_file)]) == 0
    before = dynsec_file.read_text()
    moved = ["devices", "provision", "north/b2/access/door-1", "--file", str(dynsec_file)]
    assert main(moved) == 0  # the same site's device, now in building b2: updated
    assert dynsec_file.read_text() != before
    capsys.readouterr()
    before = dynsec_file.read_text()
    other = ["devices", "provision", "south/b1/access/door-1", "--file", str(dynsec_file)]
    assert main(other) == 2
    err = capsys.readouterr().err
    assert "already has a broker account at site 'north'" in err and "项目" in err
    assert "nothing was changed" in err and dynsec_file.read_text() == before
