"""The notification endpoints on SQLite and PostgreSQL: channels and rules created,
replaced, listed and removed (the quality role reads, an admin writes); secrets never shown
back; refusals naming the field and the fix in English and Chinese, storing nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from facmon.service import Stores
from tests.databases import BACKENDS, fresh_stores

WECOM = {
    "name": "qa-wecom",
    "type": "wecom",
    "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0",
}
DING = {
    "name": "lift-ding",
    "type": "dingtalk",
    "url": "https://oapi.dingtalk.com/robot/send?access_token=abcdef0123456789",
    "secret": "SECabcdef0123456789abcdef",
    "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Asia/Shanghai"},
}
RULE: dict[str, Any] = {
    "name": "lift-escalations",
    "match": {"kinds": ["elevator"], "events": ["escalated"], "severities": ["critical"]},
    "channels": ["qa-wecom", "lift-ding"],
    "recipients": [
        {"name": "王经理", "language": "zh-CN", "mobile": "13800001111"},
        {"name": "Lee", "language": "en", "email": "lee@example.com"},
    ],
}


@pytest.fixture(params=BACKENDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    with fresh_stores(request.param, tmp_path, "notify_api") as opened:
        yield opened


def client_as(stores: Stores, role: str, language: str = "en") -> TestClient:
    token = stores.tokens.create(role, f"{role}-test")[1]
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": language}
    return TestClient(create_app(stores), headers=headers)


def _cjk(value: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in value)


def test_channels_and_rules_crud_by_role(stores: Stores) -> None:
    admin, quality, viewer = (client_as(stores, r) for r in ("admin", "quality", "viewer"))
    assert quality.post("/api/notifications/channels", json=WECOM).status_code == 403
    assert viewer.get("/api/notifications/channels").status_code == 403
    wecom = admin.post("/api/notifications/channels", json=WECOM)
    assert wecom.status_code == 201, wecom.text
    ding = admin.post("/api/notifications/channels", json=DING).json()
    assert wecom.json()["url"].endswith("key=693a…")  # the key cut short
    assert "secret" not in ding and ding["secret_set"] is True
    assert (ding["rate_per_minute"], ding["burst"]) == (20.0, 5)  # DingTalk's 20 a minute
    listed = quality.get("/api/notifications/channels").json()
    assert [(c["name"], c["pending"], c["sink"]) for c in listed] == [
        ("qa-wecom", 0, f"n:{wecom.json()['id']}"),
        ("lift-ding", 0, f"n:{ding['id']}"),
    ]
    rule = admin.post("/api/notifications/rules", json=RULE)
    assert rule.status_code == 201, rule.text
    assert (
        quality.get(f"/api/notifications/rules/{rule.json()['id']}").json()["recipients"]
        == (RULE["recipients"])
    )
    # A channel a rule names cannot go; renaming it carries the rule along.
    refused = admin.delete(f"/api/notifications/channels/{ding['id']}")
    assert refused.status_code == 409 and "lift-escalations" in refused.json()["en"]
    renamed = admin.put(
        f"/api/notifications/channels/{ding['id']}", json={**DING, "name": "lifts", "secret": None}
    )
    assert renamed.status_code == 200, renamed.text  # the stored secret is kept
    assert quality.get("/api/notifications/rules").json()[0]["channels"] == ["qa-wecom", "lifts"]
    assert admin.delete(f"/api/notifications/rules/{rule.json()['id']}").json() == {
        "deleted": rule.json()["id"]
    }
    gone = admin.delete(f"/api/notifications/channels/{ding['id']}")
    assert gone.json() == {"deleted": ding["id"], "dropped_messages": 0}
    assert quality.get(f"/api/notifications/channels/{ding['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "en_words"),
    [
        ({**WECOM, "type": "slack"}, "type", "must be one of: wecom, dingtalk, feishu"),
        ({**WECOM, "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}, "url", "key"),
        ({**DING, "secret": None}, "secret", "is required"),
        ({**DING, "secret": "short"}, "secret", "16 characters"),
        ({**WECOM, "rate_per_minute": 0}, "rate_per_minute", "from 0.1 to"),
        ({**WECOM, "quiet_hours": {"start": "25:00", "end": "07:00"}}, "quiet_hours", "HH:MM"),
        ({**WECOM, "msgtype": "card"}, "msgtype", "markdown, text"),
        ({**WECOM, "colour": "red"}, "colour", "not a field"),
        ({**WECOM, "name": "two words"}, "name", "1 to 64 characters"),
    ],
)
def test_a_bad_channel_names_the_field_and_the_fix(
    stores: Stores, body: dict[str, Any], field: str, en_words: str
) -> None:
    admin = client_as(stores, "admin")
    answer = admin.post("/api/notifications/channels", json=body)
    assert answer.status_code == 422, answer.text
    refusal = answer.json()
    assert refusal["field"] == field
    assert field in refusal["en"] and en_words in refusal["en"]
    assert _cjk(refusal["zh"]) and field in refusal["zh"]
    assert refusal["detail"] == f"{refusal['en']} / {refusal['zh']}"
    assert admin.get("/api/notifications/channels").json() == []  # nothing stored


@pytest.mark.parametrize(
    ("change", "field", "en_words"),
    [
        ({"channels": ["nope"]}, "channels", "there is no channel nope"),
        ({"channels": []}, "channels", "at least one existing channel"),
        ({"match": {"events": ["exploded"]}}, "match.events", "exploded is not allowed"),
        ({"match": {"severities": ["urgent"]}}, "match.severities", "critical, major, minor"),
        ({"match": {"floors": ["3"]}}, "match.floors", "not a field"),
        (
            {"recipients": [{"name": "Lee", "language": "fr"}]},
            "recipients[0].language",
            "zh-CN or en",
        ),
        (
            {"recipients": [{"name": "Lee", "email": "lee"}]},
            "recipients[0].email",
            "e-mail address",
        ),
        ({"recipients": [{"name": "Lee", "mobile": "call me"}]}, "recipients[0].mobile", "mobile"),
        ({"language": "de"}, "language", "zh-CN or en"),
    ],
)
def test_a_bad_rule_names_the_field_and_the_fix(
    stores: Stores, change: dict[str, Any], field: str, en_words: str
) -> None:
    admin = client_as(stores, "admin")
    admin.post("/api/notifications/channels", json=WECOM)
    admin.post("/api/notifications/channels", json=DING)
    answer = admin.post("/api/notifications/rules", json={**RULE, **change})
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field
    assert en_words in answer.json()["en"] and _cjk(answer.json()["zh"])
    assert admin.get("/api/notifications/rules").json() == []


def test_an_email_rule_needs_someone_with_an_address(stores: Stores) -> None:
    admin = client_as(stores, "admin")
    admin.post("/api/notifications/channels", json={"name": "mail", "type": "email"})
    answer = admin.post(
        "/api/notifications/rules",
        json={"name": "m", "channels": ["mail"], "recipients": [{"name": "王工"}]},
    )
    assert answer.status_code == 422 and answer.json()["field"] == "recipients"
    assert "电子邮件渠道 mail" in answer.json()["zh"]


def test_names_are_unique_and_unknown_ids_answer_404(stores: Stores) -> None:
    admin = client_as(stores, "admin")
    assert admin.post("/api/notifications/channels", json=WECOM).status_code == 201
    taken = admin.post("/api/notifications/channels", json=WECOM)
    assert taken.status_code == 409 and taken.json()["field"] == "name"
    assert "qa-wecom" in taken.json()["zh"]
    missing = admin.get("/api/notifications/rules/99")
    assert missing.status_code == 404
    assert missing.json()["en"] == "no notification rule with id 99"
    assert missing.json()["zh"] == "没有编号为 99 的通知规则"
    malformed = admin.post(
        "/api/notifications/rules",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert malformed.status_code == 422


def test_the_vocabulary_lists_events_and_fields(stores: Stores) -> None:
    vocabulary = client_as(stores, "quality").get("/api/notifications/vocabulary").json()
    assert "card_issued" in vocabulary["events"] and "escalated" in vocabulary["events"]
    assert vocabulary["match"]["stages"] == ["dispatch", "acknowledge", "rectify", "recheck"]
    assert vocabulary["match"]["sites"] is None  # free text
    assert vocabulary["msgtypes"]["feishu"] == ["interactive", "post", "text"]
