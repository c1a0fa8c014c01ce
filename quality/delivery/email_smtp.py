"""E-mail over SMTP: one message per person, in that person's language, with a plain-text
and an HTML alternative (`multipart/alternative`), through the service's mail relay.

The connection is `ssl` (implicit TLS, port 465), `starttls` (port 587, upgraded before
logging in) or `none` (a relay on the local network); a username logs in with AUTH. The
message's `Message-ID` is built from the notification's stable id, so a mail client
shows a retried message as the same one, and `X-Facmon-Event-Id` carries the id itself.
A 4xx or 5xx answer, a refused recipient or a dropped connection is a failure the outbox
retries.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Final

from quality.delivery.base import PendingEvent, SendResult
from quality.delivery.robots import message_of

SECURITY: Final = ("starttls", "ssl", "none")


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    password: str | None = None
    sender: str = "facmon@localhost"
    timeout_s: float = 15.0
    ca_file: str | None = None  # a private CA's certificate (default: the system's)

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


def build_email(message: dict[str, Any], sender: str, message_id: str) -> EmailMessage:
    """The e-mail for one rendered message: text first, HTML as the preferred alternative."""
    # Lines up to RFC 5322's 998 characters: folding a long subject onto its own line is legal
    # but leaves some readers a leading space.
    mail = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))
    mail["Subject"] = message["title"]
    mail["From"] = sender
    mail["To"] = ", ".join(message["to"])
    mail["Date"] = formatdate(localtime=False)
    domain = sender.rpartition("@")[2] or "facmon"
    mail["Message-ID"] = f"<{message_id}@{domain}>"
    mail["X-Facmon-Event-Id"] = message_id
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies back
    mail.set_content(message["text"])
    mail.add_alternative(message["html"], subtype="html")
    mail["Content-Language"] = message["language"]  # after the parts: set_content drops it
    return mail


class EmailSender:
    def __init__(self, settings: SmtpSettings) -> None:
        if settings.security not in SECURITY:
            raise ValueError(f"SMTP security must be one of {', '.join(SECURITY)}")
        self.settings = settings

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.security == "ssl":
            return smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=s.tls_context())
        client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
        if s.security == "starttls":
            client.starttls(context=s.tls_context())
        return client

    def send(self, event: PendingEvent) -> SendResult:
        message = message_of(event)
        if not message.get("to"):
            return SendResult.failed("the message names no e-mail address")
        mail = build_email(message, self.settings.sender, event.event_id)
        try:
            with self._connect() as client:
                if self.settings.username:
                    client.login(self.settings.username, self.settings.password or "")
                refused = client.send_message(mail)
        except (smtplib.SMTPException, OSError) as exc:
            return SendResult.failed(f"SMTP {self.settings.host}:{self.settings.port}: {exc}")
        if refused:
            return SendResult.failed(f"recipients refused: {refused}")
        return SendResult.delivered()

    def close(self) -> None:
        pass
