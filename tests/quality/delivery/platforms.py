"""Local stand-ins for the WeCom, DingTalk and Feishu robot endpoints.

Each checks a request as its platform documents it, written here from the platforms'
documentation and not from the senders' code, so a sender that signs or shapes a message
wrongly is refused here as it would be there:

- WeCom: `POST /cgi-bin/webhook/send?key=KEY`; `msgtype` text (content at most 2048
  bytes, optional `mentioned_list` / `mentioned_mobile_list`) or markdown (content at most
  4096 bytes); answers `{"errcode": 0, "errmsg": "ok"}`, 93000 for a wrong key.
- DingTalk: `POST /robot/send?access_token=T&timestamp=MS&sign=S`, S = urlencode(base64(
  HMAC-SHA256(key=secret, msg=f"{MS}\\n{secret}"))), the timestamp within an hour of the
  server's clock; `msgtype` text or markdown (`title` and `text`), `at.atMobiles`; answers
  errcode 0, or 310000 for a bad signature or timestamp.
- Feishu: `POST /open-apis/bot/v2/hook/TOKEN` with `timestamp` (seconds, a string) and
  `sign` = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")) in the body, within
  an hour; `msg_type` text, post or interactive; answers `{"code": 0, "msg": "success"}`,
  19021 for a bad signature or timestamp, 9499 for a malformed body.

They can be stopped and started again on the same port (a platform outage).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ONE_HOUR_S = 3600


@dataclass(frozen=True, slots=True)
class Seen:
    path: str
    query: dict[str, str]
    raw_query: str
    body: dict[str, Any]
    answer: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.answer.get("errcode", self.answer.get("code")) == 0


class Platform:
    """A robot endpoint on a loopback port; `check(path, query, body)` gives the answer."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.seen: list[Seen] = []
        self.port = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def check(self, path: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                try:
                    body = json.loads(raw.decode("utf-8"))
                    answer = platform.check(parts.path, query, body)
                except (ValueError, UnicodeDecodeError):
                    body, answer = {}, platform.malformed()
                with platform._lock:
                    platform.seen.append(Seen(parts.path, query, parts.query, body, answer))
                data = json.dumps(answer).encode()
                self.send_response(200)  # the platforms answer 200 and put the verdict inside
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def malformed(self) -> dict[str, Any]:
        return {"errcode": 40000, "errmsg": "invalid json"}

    def accepted(self) -> list[Seen]:
        with self._lock:
            return [seen for seen in self.seen if seen.ok]

    def refused(self) -> list[Seen]:
        with self._lock:
            return [seen for seen in self.seen if not seen.ok]


def _utf8_len(value: Any) -> int:
    return len(str(value).encode("utf-8"))


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


class WeComRobot(Platform):
    def __init__(self, key: str, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.key = key

    @property
    def url(self) -> str:
        return f"{self.base}/cgi-bin/webhook/send?key={self.key}"

    def check(self, path: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        if path != "/cgi-bin/webhook/send" or query.get("key") != self.key:
            return {"errcode": 93000, "errmsg": "invalid webhook url"}
        msgtype = body.get("msgtype")
        if msgtype == "text":
            text = body.get("text")
            if not isinstance(text, dict) or not isinstance(text.get("content"), str):
                return {"errcode": 44004, "errmsg": "empty content"}
            if _utf8_len(text["content"]) > 2048:
                return {"errcode": 40058, "errmsg": "content exceed max length"}
            for field in ("mentioned_list", "mentioned_mobile_list"):
                if field in text and not _strings(text[field]):
                    return {"errcode": 40058, "errmsg": f"invalid {field}"}
            if set(text) - {"content", "mentioned_list", "mentioned_mobile_list"}:
                return {"errcode": 40058, "errmsg": "unknown field in text"}
        elif msgtype == "markdown":
            markdown = body.get("markdown")
            if not isinstance(markdown, dict) or not isinstance(markdown.get("content"), str):
                return {"errcode": 44004, "errmsg": "empty content"}
            if _utf8_len(markdown["content"]) > 4096:
                return {"errcode": 40058, "errmsg": "content exceed max length"}
        else:
            return {"errcode": 40008, "errmsg": "invalid message type"}
        return {"errcode": 0, "errmsg": "ok"}


class DingTalkRobot(Platform):
    def __init__(self, token: str, secret: str, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.token = token
        self.secret = secret

    @property
    def url(self) -> str:
        return f"{self.base}/robot/send?access_token={self.token}"

    def expected_sign(self, timestamp: str) -> str:
        string_to_sign = f"{timestamp}\n{self.secret}".encode()
        digest = hmac.new(self.secret.encode(), string_to_sign, hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    def check(self, path: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        if path != "/robot/send" or query.get("access_token") != self.token:
            return {"errcode": 300001, "errmsg": "token is not exist"}
        timestamp, sign = query.get("timestamp", ""), query.get("sign", "")
        if not timestamp.isdigit() or abs(self.clock() * 1000 - int(timestamp)) > ONE_HOUR_S * 1000:
            return {"errcode": 310000, "errmsg": "invalid timestamp"}
        # parse_qs has decoded the URL encoding, as DingTalk's server does.
        if not hmac.compare_digest(sign, self.expected_sign(timestamp)):
            return {"errcode": 310000, "errmsg": "sign not match"}
        msgtype = body.get("msgtype")
        if msgtype == "markdown":
            markdown = body.get("markdown")
            if not (
                isinstance(markdown, dict)
                and isinstance(markdown.get("title"), str)
                and isinstance(markdown.get("text"), str)
                and markdown["title"]
                and markdown["text"]
            ):
                return {"errcode": 40035, "errmsg": "缺少参数 markdown.title/text"}
        elif msgtype == "text":
            text = body.get("text")
            if not isinstance(text, dict) or not isinstance(text.get("content"), str):
                return {"errcode": 40035, "errmsg": "缺少参数 text.content"}
        else:
            return {"errcode": 40035, "errmsg": "不支持的消息类型"}
        at = body.get("at", {})
        if not isinstance(at, dict) or not _strings(at.get("atMobiles", [])):
            return {"errcode": 40035, "errmsg": "at.atMobiles must be a list of strings"}
        if not isinstance(at.get("isAtAll", False), bool):
            return {"errcode": 40035, "errmsg": "at.isAtAll must be a boolean"}
        return {"errcode": 0, "errmsg": "ok"}


class FeishuBot(Platform):
    def __init__(self, token: str, secret: str, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.token = token
        self.secret = secret

    @property
    def url(self) -> str:
        return f"{self.base}/open-apis/bot/v2/hook/{self.token}"

    def malformed(self) -> dict[str, Any]:
        return {"code": 9499, "msg": "Bad Request", "data": {}}

    def expected_sign(self, timestamp: str) -> str:
        key = f"{timestamp}\n{self.secret}".encode()
        return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()

    def check(self, path: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        if path != f"/open-apis/bot/v2/hook/{self.token}":
            return {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}
        timestamp, sign = body.get("timestamp"), body.get("sign")
        bad_sign = {
            "code": 19021,
            "msg": "sign match fail or timestamp is not within one hour from current time",
        }
        if not isinstance(timestamp, str) or not timestamp.isdigit() or not isinstance(sign, str):
            return bad_sign
        if abs(self.clock() - int(timestamp)) > ONE_HOUR_S:
            return bad_sign
        if not hmac.compare_digest(sign, self.expected_sign(timestamp)):
            return bad_sign
        msg_type = body.get("msg_type")
        if msg_type == "text":
            content = body.get("content")
            if not isinstance(content, dict) or not isinstance(content.get("text"), str):
                return self.malformed()
        elif msg_type == "post":
            post = (body.get("content") or {}).get("post")
            if not isinstance(post, dict) or not post:
                return self.malformed()
            for language in post.values():
                rows = language.get("content")
                if not isinstance(language.get("title"), str) or not isinstance(rows, list):
                    return self.malformed()
                for row in rows:
                    if not isinstance(row, list) or not all(
                        isinstance(item, dict) and item.get("tag") in ("text", "a", "at", "img")
                        for item in row
                    ):
                        return self.malformed()
        elif msg_type == "interactive":
            card = body.get("card")
            if not isinstance(card, dict) or not isinstance(card.get("elements"), list):
                return self.malformed()
            header = card.get("header", {})
            title = header.get("title", {})
            if title.get("tag") != "plain_text" or not isinstance(title.get("content"), str):
                return self.malformed()
            for element in card["elements"]:
                if element.get("tag") not in ("markdown", "div", "action", "note", "hr", "img"):
                    return self.malformed()
        else:
            return {"code": 9499, "msg": "Bad Request: unknown msg_type", "data": {}}
        return {"code": 0, "msg": "success", "data": {}}
