"""Each channel's sender against a local stand-in of its platform that checks the payload
schema and the signature as the platform does (tests/quality/delivery/platforms.py): the
documented body is accepted, a wrong secret or an hour-old timestamp is refused, and a
refusal is a failure the outbox retries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from contract.clock import ManualClock
from quality.delivery import PendingEvent
from quality.delivery.dingtalk import DingTalkSender
from quality.delivery.feishu import FeishuSender
from quality.delivery.notify.events import Notice
from quality.delivery.notify.render import render
from quality.delivery.wecom import WeComSender
from tests.quality.delivery.platforms import DingTalkRobot, FeishuBot, Platform, WeComRobot

DING_SECRET = "SEC0123456789abcdef0123456789abcdef"
FEISHU_SECRET = "feishu-secret-0123456789"
TICKET: dict[str, Any] = {
    "id": 42,
    "site": "hq",
    "building": "b1",
    "kind": "elevator",
    "device_id": "elevator-03",
    "fault_type": "entrapment",
    "severity": "critical",
    "state": "dispatched",
    "assignee": "lift-team",
    "contractor": "Otis",
    "summary": "car stopped between floors 3 and 4 with the door shut",
    "acknowledge_due_at": "2027-01-01T00:15:00+00:00",
    "card": "none",
    "repeat_count": 1,
}


def message_event(
    language: str = "zh-CN", mentions: list[dict[str, str]] | None = None, n: int = 1
) -> PendingEvent:
    notice = Notice("dispatched", f"evt-{n}", TICKET, "2027-01-01T00:00:00+00:00", actor="ann")
    message_id = f"00000000-0000-0000-0000-{n:012d}"
    rendered = render(
        notice, language, message_id, "https://facmon.example.com", ZoneInfo("Asia/Shanghai"),
        mentions,
    )  # fmt: skip
    body = {**rendered.as_json(), "critical": True, "to": [], "message_id": message_id}
    return PendingEvent(n, message_id, "n:1", "dispatched", 42, json.dumps(body), 0)


def now_clock(offset: timedelta = timedelta()) -> ManualClock:
    return ManualClock(datetime.now(UTC) + offset)


@pytest.fixture
def started() -> Iterator[list[Platform]]:
    platforms: list[Platform] = []
    yield platforms
    for platform in platforms:
        platform.stop()


def start(platforms: list[Platform], platform: Platform) -> Any:
    platform.start()
    platforms.append(platform)
    return platform


def test_wecom_markdown_in_the_recipients_language(started: list[Platform]) -> None:
    robot = start(started, WeComRobot("wecom-key-1"))
    sender = WeComSender(robot.url)
    assert sender.send(message_event("zh-CN")).ok
    assert sender.send(message_event("en", n=2)).ok
    zh, en = (seen.body for seen in robot.accepted())
    assert zh["msgtype"] == "markdown"
    assert "已派单 #42" in zh["markdown"]["content"]
    assert "电梯困人" in zh["markdown"]["content"]  # the fault type's name, not its code
    assert "2027-01-01 08:00 (Asia/Shanghai, UTC+08:00)" in zh["markdown"]["content"]
    assert "[在看板中查看工单](https://facmon.example.com/?ticket=42)" in zh["markdown"]["content"]
    assert "Dispatched #42: elevator entrapment on elevator-03" in en["markdown"]["content"]
    assert "维保单位" not in en["markdown"]["content"]
    sender.close()


def test_wecom_mentions_people_by_mobile_as_text(started: list[Platform]) -> None:
    robot = start(started, WeComRobot("wecom-key-2"))
    sender = WeComSender(robot.url)
    wang = {"name": "王工", "mobile": "13800001111"}
    assert sender.send(message_event("zh-CN", [wang])).ok
    (seen,) = robot.accepted()
    assert seen.body["msgtype"] == "text"
    assert seen.body["text"]["mentioned_mobile_list"] == ["13800001111"]
    assert "王工" in seen.body["text"]["content"]
    sender.close()


def test_wecom_wrong_key_is_a_failure(started: list[Platform]) -> None:
    robot = start(started, WeComRobot("right-key"))
    result = WeComSender(f"{robot.base}/cgi-bin/webhook/send?key=wrong").send(message_event())
    assert not result.ok and "93000" in result.reason


def test_dingtalk_signed_markdown_with_mentions(started: list[Platform]) -> None:
    robot = start(started, DingTalkRobot("ding-token", DING_SECRET))
    sender = DingTalkSender(robot.url, DING_SECRET, clock=now_clock())
    li = {"name": "李工", "mobile": "13900002222"}
    assert sender.send(message_event("zh-CN", [li])).ok, robot.refused()
    (seen,) = robot.accepted()
    assert set(seen.query) == {"access_token", "timestamp", "sign"}
    raw_sign = seen.raw_query.split("sign=")[1].split("&")[0]
    assert raw_sign.endswith("%3D")  # base64's padding, URL-encoded as DingTalk requires
    assert seen.body["msgtype"] == "markdown"
    assert seen.body["markdown"]["title"].startswith("已派单 #42")
    assert seen.body["at"] == {"atMobiles": ["13900002222"], "isAtAll": False}
    assert "@13900002222" in seen.body["markdown"]["text"]  # what makes DingTalk notify
    sender.close()


def test_dingtalk_refuses_a_wrong_secret_and_an_old_timestamp(started: list[Platform]) -> None:
    robot = start(started, DingTalkRobot("ding-token", DING_SECRET))
    wrong = DingTalkSender(robot.url, "SECnot-the-secret-at-all", clock=now_clock())
    result = wrong.send(message_event())
    assert not result.ok and "sign not match" in result.reason
    stale = DingTalkSender(robot.url, DING_SECRET, clock=now_clock(-timedelta(minutes=61)))
    result = stale.send(message_event())
    assert not result.ok and "invalid timestamp" in result.reason
    fresh = DingTalkSender(robot.url, DING_SECRET, clock=now_clock(-timedelta(minutes=59)))
    assert fresh.send(message_event()).ok
    assert len(robot.accepted()) == 1


@pytest.mark.parametrize("msgtype", ["interactive", "post", "text"])
def test_feishu_signed_in_the_body(started: list[Platform], msgtype: str) -> None:
    bot = start(started, FeishuBot("hook-token-1", FEISHU_SECRET))
    sender = FeishuSender(bot.url, FEISHU_SECRET, msgtype, clock=now_clock())
    assert sender.send(message_event("en")).ok, bot.refused()
    (seen,) = bot.accepted()
    assert seen.body["msg_type"] == msgtype
    assert seen.body["timestamp"].isdigit()
    flat = json.dumps(seen.body, ensure_ascii=False)
    assert "Dispatched #42" in flat and "https://facmon.example.com/?ticket=42" in flat
    if msgtype == "interactive":
        assert seen.body["card"]["header"]["template"] == "red"  # a critical ticket
    if msgtype == "post":
        assert "en_us" in seen.body["content"]["post"]
    sender.close()


def test_feishu_refuses_a_wrong_secret_and_an_old_timestamp(started: list[Platform]) -> None:
    bot = start(started, FeishuBot("hook-token-2", FEISHU_SECRET))
    result = FeishuSender(bot.url, "another-secret-entirely", clock=now_clock()).send(
        message_event()
    )
    assert not result.ok and "19021" in result.reason
    stale = FeishuSender(bot.url, FEISHU_SECRET, clock=now_clock(-timedelta(hours=2)))
    result = stale.send(message_event())
    assert not result.ok and "19021" in result.reason
    assert bot.accepted() == []


def test_a_platform_down_is_a_failure_not_an_exception(started: list[Platform]) -> None:
    robot = start(started, WeComRobot("k"))
    robot.stop()
    result = WeComSender(robot.url, timeout_s=2).send(message_event())
    assert not result.ok and "ConnectError" in result.reason
