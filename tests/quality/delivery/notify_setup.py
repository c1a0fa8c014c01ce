"""A notification set-up over a real database: the ticket store writing `notify` events,
the real dispatcher with the router and the channels, and local platforms whose clock is
the test's ManualClock (so signatures made at a manual time are fresh to them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from contract.clock import ManualClock
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from quality.delivery import OutboxDispatcher
from quality.delivery.email_smtp import SmtpSettings
from quality.delivery.notify import (
    NOTIFY_SINK,
    ChannelSenders,
    NotificationRouter,
    NotificationStore,
    validate_channel,
    validate_rule,
)
from quality.delivery.notify.models import NotificationChannel, NotificationRule
from quality.tickets import Role, TicketStore
from tests.quality.delivery.platforms import DingTalkRobot, FeishuBot, Platform, WeComRobot

BOARD = "https://facmon.example.com"
DING_SECRET = "SECding-secret-0123456789"
FEISHU_SECRET = "feishu-secret-0123456789"


def finding(
    device: DeviceRef, severity: Severity = Severity.MAJOR, fault_type: str = "entrapment"
) -> Finding:
    return Finding(
        device=device,
        fault_type=fault_type,
        severity=severity,
        detector="test",
        detector_version="1",
        onset_ms=1_000,
        summary="a test finding",
        evidence={},
    )


@dataclass
class Notify:
    engine: Engine
    clock: ManualClock
    smtp: SmtpSettings | None = None
    platforms: list[Platform] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.store = NotificationStore(self.engine, self.clock)
        self.tickets = TicketStore(self.engine, clock=self.clock, sinks=(NOTIFY_SINK,))
        self.channels = ChannelSenders(self.engine, self.smtp, self.clock, timeout_s=3)
        self.dispatcher = OutboxDispatcher(
            self.engine,
            {NOTIFY_SINK: NotificationRouter(self.store, BOARD, "Asia/Shanghai", self.clock)},
            self.clock,
            directory=self.channels,
        )

    def platform_clock(self) -> float:
        return self.clock.now().timestamp()

    def wecom(self, name: str = "wecom", **extra: Any) -> tuple[WeComRobot, NotificationChannel]:
        robot = WeComRobot(f"key-{name}", self.platform_clock)
        robot.start()
        self.platforms.append(robot)
        return robot, self.channel({"name": name, "type": "wecom", "url": robot.url, **extra})

    def dingtalk(self, name: str = "dingtalk") -> tuple[DingTalkRobot, NotificationChannel]:
        robot = DingTalkRobot(f"token-{name}", DING_SECRET, self.platform_clock)
        robot.start()
        self.platforms.append(robot)
        spec = {"name": name, "type": "dingtalk", "url": robot.url, "secret": DING_SECRET}
        return robot, self.channel(spec)

    def feishu(self, name: str = "feishu") -> tuple[FeishuBot, NotificationChannel]:
        bot = FeishuBot(f"hook-{name}", FEISHU_SECRET, self.platform_clock)
        bot.start()
        self.platforms.append(bot)
        spec = {"name": name, "type": "feishu", "url": bot.url, "secret": FEISHU_SECRET}
        return bot, self.channel(spec)

    def channel(self, body: dict[str, Any]) -> NotificationChannel:
        return self.store.add_channel(validate_channel(body))

    def rule(self, body: dict[str, Any]) -> NotificationRule:
        return self.store.add_rule(validate_rule(body, self.store.channel_types()))

    def open(self, device: DeviceRef, severity: Severity = Severity.MAJOR) -> int:
        return self.tickets.record(finding(device, severity)).ticket_id

    def dispatch(self, ticket_id: int, contractor: str | None = None) -> None:
        self.tickets.transition(
            ticket_id, "dispatched", "ann", Role.ENGINEER, assignee="team-a", contractor=contractor
        )

    def run(self, advance: timedelta = timedelta()) -> int:
        self.clock.advance(seconds=advance.total_seconds())
        return self.dispatcher.run_once()

    def close(self) -> None:
        self.dispatcher.stop()
        for platform in self.platforms:
            platform.stop()
