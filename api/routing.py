"""Routes that check the caller before a byte of the request body is read.

FastAPI reads and parses the body before it solves any dependency, so a caller checked by
a dependency alone comes too late: an unknown caller's body was received first. Every
route of a router built with `route_class=AuthenticatedRoute` whose dependencies need a
caller (`api.deps.current_principal`) authenticates from the headers first (a bearer
token, or the session cookie with its CSRF header on writes) and answers 401 or 403
before reading on.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from api.deps import PRINCIPAL_STATE, authenticate, current_principal, get_stores

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def needs_principal(dependant: Dependant) -> bool:
    """Does this route (or any dependency it has) ask who the caller is?"""
    return any(
        sub.call is current_principal or needs_principal(sub) for sub in dependant.dependencies
    )


class AuthenticatedRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if not needs_principal(self.dependant):
            return handler

        async def authenticate_first(request: Request) -> Response:
            principal = await run_in_threadpool(authenticate, get_stores(request), request)
            setattr(request.state, PRINCIPAL_STATE, principal)
            return await handler(request)

        return authenticate_first
