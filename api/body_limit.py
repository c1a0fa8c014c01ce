"""A cap on request bodies that counts the bytes as they arrive, not what the client announces.

A chunked upload carries no `Content-Length`, so a check of that header alone let any size
through to FastAPI, which reads a JSON body whole before it validates it. This middleware
wraps `receive`: an announced length over the cap is refused before a byte is read, and a
streamed body is refused as soon as the bytes received pass the cap, so no request holds
more than the cap (plus one chunk) in memory.

FastAPI's own `max_body_size` counts too, but answers a plain-text "Content Too Large"
(in place of any answer, a 401 included) whenever the announced length is over the cap;
clients of this API get a JSON `detail` that says the limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def too_large_message(max_bytes: int) -> str:
    return f"request body over the limit of {max_bytes} bytes: send a smaller body"


class BodyTooLarge(HTTPException):
    """Raised from `receive`: FastAPI passes HTTP errors raised while it reads the body on
    to the app's handlers, which answer 413 with `detail`."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, too_large_message(max_bytes))


# A request an outer middleware marks with a cap of its own (a photo upload) gets that cap.
SCOPE_MAX_BYTES = "facmon.max_body_bytes"


class RouteCap:
    """Outer ASGI middleware: POSTs to the paths `pattern` matches get the body cap `cap()`
    (uploads: photos, a ledger file); every other request keeps `BodyLimit`'s small one."""

    def __init__(self, app: ASGIApp, pattern: re.Pattern[str], cap: Callable[[], int]) -> None:
        self.app = app
        self.pattern = pattern
        self.cap = cap

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope.get("method") == "POST"
            and self.pattern.match(scope.get("path", ""))
        ):
            scope[SCOPE_MAX_BYTES] = self.cap()
        await self.app(scope, receive, send)


class BodyLimit:
    """Pure ASGI middleware: at most `max_bytes` of request body per HTTP request, or the
    cap found in the scope under `SCOPE_MAX_BYTES`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes: int = scope.get(SCOPE_MAX_BYTES, self.max_bytes)
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_bytes):
            await self._refuse(scope, receive, send, max_bytes)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLarge(max_bytes)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            # Read outside a route (no handler turned it into an answer): answer here.
            if started:
                raise
            await self._refuse(scope, receive, send, max_bytes)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        response = JSONResponse({"detail": too_large_message(max_bytes)}, status_code=413)
        await response(scope, receive, send)
