"""WeCom (企业微信) group robots: `POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY`.

The key in the URL is the robot's only credential (WeCom robots have no signature). The
body is `{"msgtype": "markdown", "markdown": {"content": ...}}` (at most 4096 bytes), or
`{"msgtype": "text", "text": {"content": ..., "mentioned_mobile_list": [...]}}` (at most
2048 bytes): WeCom's Markdown cannot @-mention by mobile number, so a message that names
people with mobiles goes as text. WeCom answers `{"errcode": 0, "errmsg": "ok"}`; a robot
takes at most 20 messages a minute.
"""

from __future__ import annotations

from typing import Any, Final

from quality.delivery.base import PendingEvent, SendResult
from quality.delivery.robots import RobotClient, clip_utf8, message_of

MARKDOWN_MAX_BYTES: Final = 4096
TEXT_MAX_BYTES: Final = 2048
MSGTYPES: Final = ("markdown", "text")


def wecom_body(message: dict[str, Any], msgtype: str = "markdown") -> dict[str, Any]:
    """The documented body for a rendered message.

    >>> wecom_body({"markdown": "### hi", "text": "hi", "mentions": []})
    {'msgtype': 'markdown', 'markdown': {'content': '### hi'}}
    >>> wang = {"name": "Wang", "mobile": "13800001111"}
    >>> wecom_body({"markdown": "", "text": "hi", "mentions": [wang]})
    {'msgtype': 'text', 'text': {'content': 'hi', 'mentioned_mobile_list': ['13800001111']}}
    """
    mobiles = [m["mobile"] for m in message.get("mentions", []) if m.get("mobile")]
    if msgtype == "text" or mobiles:
        text: dict[str, Any] = {"content": clip_utf8(message["text"], TEXT_MAX_BYTES)}
        if mobiles:
            text["mentioned_mobile_list"] = mobiles
        return {"msgtype": "text", "text": text}
    return {
        "msgtype": "markdown",
        "markdown": {"content": clip_utf8(message["markdown"], MARKDOWN_MAX_BYTES)},
    }


class WeComSender:
    def __init__(self, url: str, msgtype: str = "markdown", timeout_s: float = 10.0) -> None:
        self.url = url
        self.msgtype = msgtype
        self._client = RobotClient(timeout_s)

    def send(self, event: PendingEvent) -> SendResult:
        return self._client.post(
            self.url, wecom_body(message_of(event), self.msgtype), ("errcode",)
        )

    def close(self) -> None:
        self._client.close()
