"""Feishu / Lark (飞书) custom bots with signature verification (签名校验):
`POST https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN`.

The body carries `timestamp` (seconds, as a string) and `sign` = base64(HMAC-SHA256(
key=f"{timestamp}\\n{secret}", msg=b"")): note the key is the joined string and the message
empty, unlike DingTalk. Feishu refuses a timestamp more than an hour from its clock (code
19021). Messages go as `msg_type` `interactive` (a card: coloured header, the lines as
Markdown, a button to the board), `post` (rich text) or `text`. Feishu answers
`{"code": 0, "msg": "success"}` (older hooks `{"StatusCode": 0}`); a bot takes 100 messages
a minute, 5 a second.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, Final

from contract.clock import Clock, SystemClock
from quality.delivery.base import PendingEvent, SendResult
from quality.delivery.robots import RobotClient, message_of

MSGTYPES: Final = ("interactive", "post", "text")
_POST_LANGUAGE = {"zh-CN": "zh_cn", "en": "en_us"}


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """The `sign` field (checked against openssl and Node's crypto).

    >>> feishu_sign("example-secret", 1700000000)
    'Gs3YRutIJpVN2FvEXKXHU6bEj2pVdSriQ0niig9EbUk='
    """
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def _card(message: dict[str, Any], critical: bool) -> dict[str, Any]:
    lines = "\n".join(f"**{label}**: {value}" for label, value in message["lines"])
    elements: list[dict[str, Any]] = [{"tag": "markdown", "content": lines}]
    if message.get("link"):
        elements.append(
            {
                "tag": "action",
                "actions": [
                    {
                        "tag": "button",
                        "text": {"tag": "plain_text", "content": message["link_label"]},
                        "url": message["link"],
                        "type": "primary",
                    }
                ],
            }
        )
    elements.append({"tag": "note", "elements": [{"tag": "plain_text", "content": message["ref"]}]})
    return {
        "config": {"wide_screen_mode": True},
        "header": {
            "title": {"tag": "plain_text", "content": message["title"]},
            "template": "red" if critical else "blue",
        },
        "elements": elements,
    }


def _post(message: dict[str, Any]) -> dict[str, Any]:
    rows: list[list[dict[str, Any]]] = [
        [{"tag": "text", "text": f"{label}: {value}"}] for label, value in message["lines"]
    ]
    if message.get("link"):
        rows.append([{"tag": "a", "text": message["link_label"], "href": message["link"]}])
    rows.append([{"tag": "text", "text": message["ref"]}])
    language = _POST_LANGUAGE.get(message.get("language", ""), "zh_cn")
    return {"post": {language: {"title": message["title"], "content": rows}}}


def feishu_body(
    message: dict[str, Any],
    msgtype: str,
    secret: str | None,
    timestamp_s: int,
    critical: bool = False,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if secret:
        body["timestamp"] = str(timestamp_s)
        body["sign"] = feishu_sign(secret, timestamp_s)
    if msgtype == "text":
        body.update(msg_type="text", content={"text": message["text"]})
    elif msgtype == "post":
        body.update(msg_type="post", content=_post(message))
    else:
        body.update(msg_type="interactive", card=_card(message, critical))
    return body


class FeishuSender:
    def __init__(
        self,
        url: str,
        secret: str | None,
        msgtype: str = "interactive",
        timeout_s: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        self.url = url
        self.msgtype = msgtype
        self._secret = secret
        self._clock = clock or SystemClock()
        self._client = RobotClient(timeout_s)

    def send(self, event: PendingEvent) -> SendResult:
        message = message_of(event)
        body = feishu_body(
            message,
            self.msgtype,
            self._secret,
            int(self._clock.now().timestamp()),
            bool(message.get("critical")),
        )
        return self._client.post(self.url, body, ("code", "StatusCode"))

    def close(self) -> None:
        self._client.close()
