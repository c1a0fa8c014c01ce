"""The notifications as the service runs them, and `facmon notify`: a ticket event recorded
through the service's own ticket store reaches a channel added while the service runs,
through the service's dispatcher thread; the command line lists and tests channels."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from contract.finding import Severity
from contract.topics import DeviceRef
from facmon.cli import main
from facmon.embedded_broker import free_port
from facmon.service import Service
from quality.delivery.notify import NotificationStore, validate_channel, validate_rule
from tests.conftest import wait_until
from tests.e2e.helpers import service_settings
from tests.quality.delivery.notify_setup import finding
from tests.quality.delivery.platforms import WeComRobot
from tests.quality.delivery.test_notify_email import Inbox, parts


@pytest.fixture
def robot() -> Iterator[WeComRobot]:
    made = WeComRobot("service-key")
    made.start()
    yield made
    made.stop()


def test_the_service_routes_a_ticket_event_to_a_channel_added_while_it_runs(
    tmp_path: Path, robot: WeComRobot
) -> None:
    settings = service_settings(
        tmp_path,
        ticket_events_mqtt=False,
        notify_board_url="https://board.example.com",
        notify_timezone="Europe/London",
    )
    service = Service(settings, ingest=False)
    service.start()
    try:
        assert "notify" in service.stores.tickets.sinks
        store = NotificationStore(service.stores.engine)
        store.add_channel(validate_channel({"name": "qa", "type": "wecom", "url": robot.url}))
        store.add_rule(
            validate_rule({"name": "all", "channels": ["qa"], "language": "en"}, {"qa": "wecom"})
        )
        ticket = service.stores.tickets.record(
            finding(DeviceRef("hq", "b1", "pump", "pump-07"), Severity.MAJOR, "dry_running")
        ).ticket_id
        assert service.dispatcher is not None
        service.dispatcher.wake()
        (seen,) = wait_until(robot.accepted, what="the WeCom message")
        content = seen.body["markdown"]["content"]
        assert content.startswith(f"### New ticket #{ticket}: pump dry running on pump-07")
        assert "(Europe/London, UTC+00:00)" in content
        assert f"https://board.example.com/?ticket={ticket}" in content
    finally:
        service.stop()


def test_facmon_notify_test_and_list(
    tmp_path: Path,
    robot: WeComRobot,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        monkeypatch.setenv("FACMON_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("FACMON_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("FACMON_SMTP_PORT", str(smtp.port))
        monkeypatch.setenv("FACMON_SMTP_SECURITY", "none")
        monkeypatch.setenv("FACMON_SMTP_SENDER", "qa@facmon.test")
        from facmon.schema import create_schema
        from storage.sql import make_engine

        engine = make_engine(f"sqlite:///{tmp_path / 'facmon.sqlite'}")
        create_schema(engine)
        store = NotificationStore(engine)
        store.add_channel(validate_channel({"name": "qa", "type": "wecom", "url": robot.url}))
        store.add_channel(validate_channel({"name": "mail", "type": "email"}))
        engine.dispose()

        assert main(["notify", "test", "--channel", "qa", "--lang", "en"]) == 0
        (seen,) = robot.accepted()
        assert seen.body["markdown"]["content"].startswith("### Test message: qa")
        assert main(["notify", "test", "--channel", "mail", "--to", "wang@example.com"]) == 0
        ((to, mail),) = inbox.messages
        assert to == ["wang@example.com"] and mail["Subject"] == "测试消息：mail"
        assert "渠道配置正确" in parts(mail)[0]
        assert main(["notify", "test", "--channel", "nope"]) == 2
        robot.stop()
        assert main(["notify", "test", "--channel", "qa"]) == 1
        assert main(["notify", "list"]) == 0
        out = capsys.readouterr()
        assert "refused the test" in out.err and "no channel 'nope'" in out.err
        assert "channel qa" in out.out and "channel mail" in out.out and "key=serv…" in out.out
    finally:
        smtp.stop()
