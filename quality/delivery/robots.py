"""What the group robots share: one POST of a JSON body, and the platform's answer read.

The platforms answer HTTP 200 for refusals too (a bad signature, a muted robot) and say
so in the body: WeCom and DingTalk with `errcode`, Feishu with `code` (older hooks:
`StatusCode`); only 0 means the group got the message. Anything else is a failure the
outbox keeps (`last_error`) and retries.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from quality.delivery.base import PendingEvent, SendResult


def message_of(event: PendingEvent) -> dict[str, Any]:
    """The rendered message a notification row carries (`quality.delivery.notify.router`)."""
    message: dict[str, Any] = json.loads(event.payload)
    return message


def clip_utf8(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes, on a character boundary.

    >>> clip_utf8("派单派单", 7)
    '派单'
    """
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


class RobotClient:
    """POSTs JSON to a robot and reads its verdict."""

    def __init__(self, timeout_s: float = 10.0, user_agent: str = "facmon-notify/1") -> None:
        self.timeout_s = timeout_s
        self._client = httpx.Client(
            timeout=timeout_s, follow_redirects=False, headers={"User-Agent": user_agent}
        )

    def post(self, url: str, body: dict[str, Any], code_fields: tuple[str, ...]) -> SendResult:
        try:
            response = self._client.post(
                url,
                content=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
        except httpx.TimeoutException as exc:
            return SendResult.failed(f"timeout after {self.timeout_s} s ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return SendResult.failed(f"{type(exc).__name__}: {exc}")
        if not response.is_success:
            return SendResult.failed(f"HTTP {response.status_code}: {response.text[:200]}")
        try:
            answer = response.json()
        except ValueError:
            return SendResult.failed(f"not a JSON answer: {response.text[:200]}")
        for name in code_fields:
            if isinstance(answer, dict) and name in answer:
                if answer[name] == 0:
                    return SendResult.delivered()
                return SendResult.failed(f"refused: {json.dumps(answer, ensure_ascii=False)[:300]}")
        return SendResult.failed(f"no {'/'.join(code_fields)} in the answer: {response.text[:200]}")

    def close(self) -> None:
        self._client.close()
