"""Notifications from real ticket events through the real dispatcher, on SQLite and
PostgreSQL, to local WeCom, DingTalk and Feishu stand-ins and a real SMTP server: routing
by site, building, kind, severity, event and contractor; languages per recipient; SLA
escalations to the people a rule names; a platform down then up (delivered once); rate
limits that hold and then deliver; quiet hours that hold what is not critical."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from contract.clock import ManualClock
from contract.finding import Severity
from contract.topics import DeviceRef
from facmon.embedded_broker import free_port
from quality.delivery.email_smtp import SmtpSettings
from quality.delivery.notify import NOTIFY_SINK, sink_of, validate_channel, validate_rule
from quality.tickets import Role
from quality.tickets.outbox import OutboxEvent
from tests.quality.delivery.conftest import outbox_rows
from tests.quality.delivery.notify_setup import Notify
from tests.quality.delivery.receiver import Receiver
from tests.quality.delivery.test_notify_email import Inbox, parts

HQ_LIFT = DeviceRef("hq", "b1", "elevator", "elevator-01")
HQ_PUMP = DeviceRef("hq", "b2", "pump", "pump-01")
PARK_LIFT = DeviceRef("park", "t1", "elevator", "elevator-09")
# 2027-01-01 03:00 UTC is 11:00 in Shanghai: not quiet.
MORNING = datetime(2027, 1, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture
def notify(engine: Engine, inbox: tuple[Inbox, int]) -> Iterator[Notify]:
    made = Notify(
        engine,
        ManualClock(MORNING),
        SmtpSettings("127.0.0.1", inbox[1], "none", sender="qa@facmon.test"),
    )
    yield made
    made.close()


def titles(platform_seen: list[dict[str, object]], path: tuple[str, ...]) -> list[str]:
    found = []
    for body in platform_seen:
        value: object = body
        for key in path:
            assert isinstance(value, dict)
            value = value[key]
        found.append(str(value).splitlines()[0])
    return found


def test_rules_pick_channels_by_site_kind_severity_event_and_contractor(
    notify: Notify, inbox: tuple[Inbox, int]
) -> None:
    wecom, _ = notify.wecom()
    ding, _ = notify.dingtalk()
    feishu, _ = notify.feishu()
    notify.channel({"name": "mail", "type": "email"})
    notify.rule(
        {"name": "hq-lifts-opened", "channels": ["wecom"],
         "match": {"sites": ["hq"], "kinds": ["elevator"], "events": ["opened"]}}
    )  # fmt: skip
    notify.rule(
        {"name": "critical", "channels": ["dingtalk"], "match": {"severities": ["critical"]}}
    )
    notify.rule(
        {"name": "otis-dispatch", "channels": ["feishu"], "language": "en",
         "match": {"events": ["dispatched"], "contractors": ["Otis"]}}
    )  # fmt: skip
    notify.rule(
        {"name": "b2-mail", "channels": ["mail"],
         "match": {"buildings": ["b2"], "events": ["dispatched"]},
         "recipients": [{"name": "王工", "email": "wang@example.com", "language": "zh-CN"}]}
    )  # fmt: skip
    lift = notify.open(HQ_LIFT)  # hq elevator, major: wecom only
    notify.open(PARK_LIFT)  # another site: nobody
    pump = notify.open(HQ_PUMP, Severity.CRITICAL)  # critical: dingtalk (opened)
    notify.dispatch(lift, contractor="Otis")  # Otis dispatch: feishu
    notify.dispatch(pump, contractor="Grundfos")  # critical: dingtalk; b2 dispatch: mail
    notify.run()

    assert titles([s.body for s in wecom.accepted()], ("markdown", "content")) == [
        f"### 新工单 #{lift}：elevator-01 电梯困人"
    ]
    assert titles([s.body for s in ding.accepted()], ("markdown", "title")) == [
        f"新工单 #{pump}：pump-01 电梯困人",
        f"已派单 #{pump}：pump-01 电梯困人",
    ]
    assert titles([s.body for s in feishu.accepted()], ("card", "header", "title", "content")) == [
        f"Dispatched #{lift}: elevator entrapment on elevator-01"
    ]
    box, _ = inbox
    assert [(to, mail["Subject"]) for to, mail in box.messages] == [
        (["wang@example.com"], f"已派单 #{pump}：pump-01 电梯困人")
    ]
    assert not wecom.refused() and not ding.refused() and not feishu.refused()
    assert notify.dispatcher.pending_count() == 0


def test_each_person_reads_their_language_and_is_mentioned(notify: Notify) -> None:
    wecom, _ = notify.wecom()
    notify.rule(
        {"name": "lifts", "channels": ["wecom"], "match": {"kinds": ["elevator"]},
         "recipients": [
             {"name": "王工", "language": "zh-CN", "mobile": "13800001111"},
             {"name": "Lee", "language": "en", "mobile": "13900002222"},
             {"name": "张工", "language": "zh-CN"},
         ]}
    )  # fmt: skip
    ticket = notify.open(HQ_LIFT)
    notify.run()
    by_language = {
        "zh" if "新工单" in s.body["text"]["content"] else "en": s.body["text"]
        for s in wecom.accepted()
    }
    assert set(by_language) == {"zh", "en"}
    assert by_language["zh"]["mentioned_mobile_list"] == ["13800001111"]
    assert "王工, 张工" in by_language["zh"]["content"]
    assert by_language["en"]["mentioned_mobile_list"] == ["13900002222"]
    assert by_language["en"]["content"].startswith(f"New ticket #{ticket}: elevator entrapment")


def test_sla_escalation_goes_to_the_people_the_rule_names(
    notify: Notify, inbox: tuple[Inbox, int]
) -> None:
    notify.channel({"name": "mail", "type": "email"})
    notify.rule(
        {"name": "escalate-dispatch", "channels": ["mail"],
         "match": {"events": ["escalated"], "stages": ["dispatch"]},
         "recipients": [
             {"name": "王经理", "email": "wang@example.com", "language": "zh-CN"},
             {"name": "Lee", "email": "lee@example.com", "language": "en"},
         ]}
    )  # fmt: skip
    ticket = notify.open(HQ_LIFT)
    notify.run()
    box, _ = inbox
    assert box.messages == []  # opened is not what this rule is for
    notify.clock.advance(hours=5)
    assert notify.tickets.escalate_overdue()
    notify.run()
    got = {to[0]: mail for to, mail in box.messages}
    assert set(got) == {"wang@example.com", "lee@example.com"}
    assert (
        got["wang@example.com"]["Subject"] == f"超时升级 #{ticket}：派单超时，elevator-01 电梯困人"
    )
    text, html = parts(got["lee@example.com"])
    assert f"Escalated #{ticket}: dispatch overdue" in got["lee@example.com"]["Subject"]
    assert "Overdue step: dispatch" in text and "critical" in text  # escalated major -> critical
    assert f"{notify.clock.now():%Y}" in text and "UTC+08:00" in text
    assert f"https://facmon.example.com/?ticket={ticket}" in html


def test_a_platform_down_then_up_gets_each_message_once(notify: Notify) -> None:
    wecom, channel = notify.wecom()
    notify.rule({"name": "all", "channels": ["wecom"]})
    notify.open(HQ_LIFT)
    wecom.stop()
    notify.run()
    (row,) = outbox_rows(notify.engine, sink_of(channel.id))
    assert (
        row.attempts == 1 and row.delivered_at is None and "ConnectError" in (row.last_error or "")
    )
    wecom.start()
    notify.run(timedelta(seconds=1))  # within the 2 s backoff: not yet
    assert wecom.accepted() == []
    notify.run(timedelta(seconds=2))
    assert len(wecom.accepted()) == 1
    # The router runs again over the same ticket event (as after a crash between writing the
    # messages and marking the event routed): the message is there, no second one is made.
    with Session(notify.engine) as session:
        session.execute(
            update(OutboxEvent).where(OutboxEvent.sink == NOTIFY_SINK).values(delivered_at=None)
        )
        session.commit()
    notify.run(timedelta(seconds=10))
    assert len(outbox_rows(notify.engine, sink_of(channel.id))) == 1
    assert len(wecom.accepted()) == 1
    assert "消息编号" in wecom.accepted()[0].body["markdown"]["content"]


def test_rate_limit_holds_messages_and_then_delivers_them(notify: Notify) -> None:
    wecom, channel = notify.wecom(rate_per_minute=6, burst=2)
    notify.rule({"name": "all", "channels": ["wecom"], "match": {"events": ["opened"]}})
    for n in range(5):
        notify.open(DeviceRef("hq", "b1", "elevator", f"elevator-{n:02d}"))
    notify.run()
    assert len(wecom.accepted()) == 2  # the burst
    held = [r for r in outbox_rows(notify.engine, sink_of(channel.id)) if r.delivered_at is None]
    assert len(held) == 3
    assert all(r.attempts == 0 and r.last_error is None for r in held)  # held, not failed
    notify.run(timedelta(seconds=9))
    assert len(wecom.accepted()) == 2
    notify.run(timedelta(seconds=1))  # 10 s: one more token at 6 a minute
    assert len(wecom.accepted()) == 3
    notify.run(timedelta(seconds=20))
    assert len(wecom.accepted()) == 5
    ids = [
        json.loads(r.payload)["message_id"] for r in outbox_rows(notify.engine, sink_of(channel.id))
    ]
    seen = [s.body["markdown"]["content"] for s in wecom.accepted()]
    assert len(set(ids)) == 5 and len(set(seen)) == 5


def test_quiet_hours_hold_what_is_not_critical(notify: Notify) -> None:
    # 15:00 UTC is 23:00 in Shanghai, inside 22:00-07:00.
    notify.clock.advance(hours=12)
    quiet = {"start": "22:00", "end": "07:00", "timezone": "Asia/Shanghai"}
    wecom, channel = notify.wecom(quiet_hours=quiet)
    notify.rule({"name": "all", "channels": ["wecom"]})
    major = notify.open(HQ_LIFT)
    critical = notify.open(HQ_PUMP, Severity.CRITICAL)
    notify.run()
    assert [s.body["markdown"]["content"].splitlines()[0] for s in wecom.accepted()] == [
        f"### 新工单 #{critical}：pump-01 电梯困人"
    ]
    (held,) = [r for r in outbox_rows(notify.engine, sink_of(channel.id)) if r.delivered_at is None]
    assert held.ticket_id == major
    assert held.next_attempt_at.replace(tzinfo=UTC) == datetime(2027, 1, 1, 23, 0, tzinfo=UTC)
    notify.run(timedelta(hours=7, minutes=59))  # 06:59 in Shanghai
    assert len(wecom.accepted()) == 1
    notify.run(timedelta(minutes=1))  # 07:00
    assert len(wecom.accepted()) == 2


def test_a_critical_message_takes_its_tickets_held_messages_along(notify: Notify) -> None:
    notify.clock.advance(hours=12)  # 15:00 UTC, 23:00 in Shanghai
    quiet = {"start": "22:00", "end": "07:00", "timezone": "Asia/Shanghai"}
    wecom, _ = notify.wecom()
    notify.rule({"name": "night", "channels": ["wecom"], "quiet_hours": quiet})
    ticket = notify.open(HQ_LIFT)  # major: held until 07:00
    notify.run()
    assert wecom.accepted() == []
    notify.clock.advance(hours=5)  # 04:00 in Shanghai: dispatch overdue, escalated to critical
    assert notify.tickets.escalate_overdue()
    notify.run()
    assert [s.body["markdown"]["content"].splitlines()[0] for s in wecom.accepted()] == [
        f"### 新工单 #{ticket}：elevator-01 电梯困人",
        f"### 超时升级 #{ticket}：派单超时，elevator-01 电梯困人",
    ]


def test_disabled_rules_and_channels_send_nothing(notify: Notify) -> None:
    wecom, channel = notify.wecom()
    rule = notify.rule({"name": "all", "channels": ["wecom"], "enabled": False})
    notify.open(HQ_LIFT)
    notify.run()
    assert wecom.seen == [] and outbox_rows(notify.engine, sink_of(channel.id)) == []
    enabled = validate_rule({"name": "all", "channels": ["wecom"]}, {"wecom": "wecom"})
    notify.store.replace_rule(rule.id, enabled)
    off = validate_channel({"name": "wecom", "type": "wecom", "url": wecom.url, "enabled": False})
    notify.store.replace_channel(channel.id, off)
    notify.open(HQ_PUMP)
    notify.run()
    assert wecom.seen == []  # the channel is off, so the rule's message is not even written
    on = validate_channel({"name": "wecom", "type": "wecom", "url": wecom.url})
    notify.store.replace_channel(channel.id, on)
    notify.open(PARK_LIFT)
    notify.run()
    assert len(wecom.accepted()) == 1


def test_a_repeat_fault_card_is_announced(notify: Notify) -> None:
    wecom, _ = notify.wecom()
    notify.rule({"name": "cards", "channels": ["wecom"], "match": {"events": ["card_issued"]}})
    first = notify.open(HQ_LIFT)
    notify.dispatch(first)
    for step in ("acknowledged", "rectified", "verified", "closed"):
        notify.tickets.transition(first, step, "ann", Role.ADMIN, note="checked on site")
    notify.clock.advance(days=2)  # past the reopen grace: the fault again is a repeat
    second = notify.open(HQ_LIFT)
    notify.run()
    assert second != first
    (seen,) = wecom.accepted()
    content = seen.body["markdown"]["content"]
    assert content.startswith(f"### 黄牌 #{second}：elevator-01 重复故障 电梯困人")
    assert "**重复次数**: 2" in content


def test_a_webhook_channel_is_signed_and_a_retry_keeps_its_id(notify: Notify) -> None:
    secret = "webhook-channel-secret-0123"
    receiver = Receiver(
        policy=lambda _id, n: 500 if n == 0 else 200, secret=secret, clock=notify.platform_clock
    )
    receiver.start()
    try:
        notify.channel({"name": "hook", "type": "webhook", "url": receiver.url, "secret": secret})
        notify.rule({"name": "all", "channels": ["hook"], "language": "en"})
        ticket = notify.open(HQ_LIFT)
        notify.run()
        notify.run(timedelta(seconds=2))
        first, second = receiver.snapshot()
        assert (first.status, second.status) == (500, 200)
        assert first.problem is None and second.problem is None  # signatures verified
        assert first.event_id == second.event_id  # the receiver sees a duplicate as one
        assert first.event_type == "opened"
        body = second.payload
        assert body["message_id"] == second.event_id and body["ticket"]["id"] == ticket
        assert body["title"] == f"New ticket #{ticket}: elevator entrapment on elevator-01"
        assert body["language"] == "en" and body["link"].endswith(f"?ticket={ticket}")
    finally:
        receiver.release.set()
        receiver.stop()
