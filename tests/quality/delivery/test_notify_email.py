"""E-mail notifications against a real SMTP server (aiosmtpd) on a loopback port: plain,
STARTTLS with a login, and implicit TLS, each with a certificate made for the test. The
message has a plain-text and an HTML part in the recipient's language, and a Message-ID
built from the notification's stable id."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from facmon.embedded_broker import free_port
from quality.delivery import PendingEvent
from quality.delivery.email_smtp import EmailSender, SmtpSettings
from quality.delivery.notify.events import Notice
from quality.delivery.notify.render import render
from tests.quality.delivery.test_notify_channels import TICKET

USER, PASSWORD = "facmon", "smtp-password-1"


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def authenticator(
    server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("smtp-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def server_context(cert: Path, key: Path) -> Any:
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def plain_server(inbox: Inbox) -> Iterator[int]:
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port
    controller.stop()


def mail_event(language: str, to: str, n: int = 1) -> PendingEvent:
    notice = Notice(
        "escalated", f"evt-{n}", TICKET, "2027-01-01T00:20:00+00:00", stage="acknowledge"
    )
    message_id = f"11111111-2222-3333-4444-{n:012d}"
    rendered = render(
        notice, language, message_id, "https://facmon.example.com", ZoneInfo("Asia/Shanghai")
    )
    body = {**rendered.as_json(), "to": [to], "critical": True}
    return PendingEvent(n, message_id, "n:3", "escalated", 42, json.dumps(body), 0)


def parts(message: EmailMessage) -> tuple[str, str]:
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert text_part is not None and html_part is not None
    return text_part.get_content(), html_part.get_content()


def test_each_person_gets_text_and_html_in_their_language(plain_server: int, inbox: Inbox) -> None:
    sender = EmailSender(SmtpSettings("127.0.0.1", plain_server, "none", sender="qa@facmon.test"))
    assert sender.send(mail_event("zh-CN", "wang@example.com", 1)).ok
    assert sender.send(mail_event("en", "lee@example.com", 2)).ok
    (zh_to, zh), (en_to, en) = inbox.messages
    assert zh_to == ["wang@example.com"] and en_to == ["lee@example.com"]
    assert zh.get_content_type() == "multipart/alternative"
    assert zh["Subject"] == "超时升级 #42：接单超时，elevator-03 电梯困人"
    assert zh["Content-Language"] == "zh-CN" and en["Content-Language"] == "en"
    assert zh["Message-ID"] == "<11111111-2222-3333-4444-000000000001@facmon.test>"
    assert zh["X-Facmon-Event-Id"] == "11111111-2222-3333-4444-000000000001"
    assert zh["Auto-Submitted"] == "auto-generated"
    text, html = parts(zh)
    assert (
        "维保单位: Otis" in text
        and "接单截止时间: 2027-01-01 08:15 (Asia/Shanghai, UTC+08:00)" in text
    )
    assert '<html lang="zh-CN">' in html and "<th" in html and "维保单位" in html
    assert 'href="https://facmon.example.com/?ticket=42"' in html
    en_text, en_html = parts(en)
    assert en["Subject"] == "Escalated #42: acknowledge overdue, elevator entrapment on elevator-03"
    assert "Maintenance contractor: Otis" in en_text and "维保" not in en_text
    assert '<html lang="en">' in en_html


def test_starttls_with_a_login(inbox: Inbox, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), tls_context=server_context(cert, key),
        require_starttls=True, authenticator=authenticator, auth_require_tls=True,
    )  # fmt: skip
    controller.start()
    try:
        settings = SmtpSettings(
            "127.0.0.1", controller.port, "starttls", USER, PASSWORD, "qa@facmon.test",
            ca_file=str(cert),
        )  # fmt: skip
        assert EmailSender(settings).send(mail_event("zh-CN", "wang@example.com")).ok
        wrong = SmtpSettings(
            "127.0.0.1", controller.port, "starttls", USER, "wrong", "qa@facmon.test",
            ca_file=str(cert),
        )  # fmt: skip
        refused = EmailSender(wrong).send(mail_event("zh-CN", "wang@example.com", 2))
        assert not refused.ok and "535" in refused.reason
        untrusted = SmtpSettings("127.0.0.1", controller.port, "starttls", USER, PASSWORD)
        result = EmailSender(untrusted).send(mail_event("zh-CN", "wang@example.com", 3))
        assert not result.ok and "CERTIFICATE_VERIFY_FAILED" in result.reason
    finally:
        controller.stop()
    assert len(inbox.messages) == 1


def test_implicit_tls(inbox: Inbox, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), ssl_context=server_context(cert, key)
    )
    controller.start()
    try:
        settings = SmtpSettings(
            "127.0.0.1", controller.port, "ssl", sender="qa@facmon.test", ca_file=str(cert)
        )
        assert EmailSender(settings).send(mail_event("en", "lee@example.com")).ok
    finally:
        controller.stop()
    assert [to for to, _ in inbox.messages] == [["lee@example.com"]]


def test_no_server_is_a_failure(inbox: Inbox) -> None:
    port = free_port()
    result = EmailSender(SmtpSettings("127.0.0.1", port, "none", timeout_s=2)).send(
        mail_event("en", "lee@example.com")
    )
    assert not result.ok and f"127.0.0.1:{port}" in result.reason
