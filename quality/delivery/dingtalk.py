"""DingTalk (钉钉) custom robots with signing (加签):
`POST https://oapi.dingtalk.com/robot/send?access_token=TOKEN&timestamp=T&sign=S`.

`T` is the time in milliseconds and `S` = urlencode(base64(HMAC-SHA256(key=secret,
msg=f"{T}\\n{secret}"))); DingTalk refuses a timestamp more than an hour from its clock, so
each attempt is signed afresh. The body is `{"msgtype": "markdown", "markdown": {"title",
"text"}, "at": {"atMobiles": [...], "isAtAll": false}}`; a person is @-mentioned when the
text also holds `@<mobile>`. DingTalk answers `{"errcode": 0, "errmsg": "ok"}` (310000 for a
bad signature); a robot takes at most 20 messages a minute and is muted 10 minutes past that.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, Final
from urllib.parse import quote_plus

from contract.clock import Clock, SystemClock
from quality.delivery.base import PendingEvent, SendResult
from quality.delivery.robots import RobotClient, clip_utf8, message_of

MSGTYPES: Final = ("markdown", "text")
TEXT_MAX_BYTES: Final = 20_000  # DingTalk's documented limit is 20,000 bytes


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The `sign` parameter, URL-encoded as DingTalk documents (checked against openssl).

    >>> dingtalk_sign("SECexample", 1700000000000)
    'uroalHrWHORz59talE1o26b8HuX2kOp8WlAN91F9Pj0%3D'
    """
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


def signed_url(url: str, secret: str | None, timestamp_ms: int) -> str:
    if not secret:
        return url
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"


def dingtalk_body(message: dict[str, Any], msgtype: str = "markdown") -> dict[str, Any]:
    """The documented body for a rendered message; mentioned mobiles are also @-named in
    the text, which is what makes DingTalk notify them."""
    mobiles = [m["mobile"] for m in message.get("mentions", []) if m.get("mobile")]
    at_line = " ".join(f"@{mobile}" for mobile in mobiles)
    at = {"atMobiles": mobiles, "isAtAll": False}
    if msgtype == "text":
        content = message["text"] + (f"\n{at_line}" if at_line else "")
        return {
            "msgtype": "text",
            "text": {"content": clip_utf8(content, TEXT_MAX_BYTES)},
            "at": at,
        }
    content = message["markdown"] + (f"\n\n{at_line}" if at_line else "")
    return {
        "msgtype": "markdown",
        "markdown": {"title": message["title"], "text": clip_utf8(content, TEXT_MAX_BYTES)},
        "at": at,
    }


class DingTalkSender:
    def __init__(
        self,
        url: str,
        secret: str | None,
        msgtype: str = "markdown",
        timeout_s: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        self.url = url
        self.msgtype = msgtype
        self._secret = secret
        self._clock = clock or SystemClock()
        self._client = RobotClient(timeout_s)

    def send(self, event: PendingEvent) -> SendResult:
        timestamp_ms = int(self._clock.now().timestamp() * 1000)
        url = signed_url(self.url, self._secret, timestamp_ms)
        return self._client.post(url, dingtalk_body(message_of(event), self.msgtype), ("errcode",))

    def close(self) -> None:
        self._client.close()
