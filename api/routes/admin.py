"""Who am I, API tokens and the effective ticket configuration."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException

from api.deps import AdminDep, StoresDep, TokenId, ViewerDep
from api.routing import AuthenticatedRoute
from api.schemas import Me, TokenCreate, TokenCreated, TokenPublic
from quality.accounts import HUMAN_ROLES
from quality.tickets.labels import all_labels
from quality.tickets.lifecycle import NOTE_REQUIRED, TRANSITIONS, State

router = APIRouter(prefix="/api", tags=["admin"], route_class=AuthenticatedRoute)


@router.get("/me", response_model=Me)
def me(who: ViewerDep) -> Me:
    return Me(name=who.name, role=who.role.value, contractor=who.contractor)


@router.get("/lifecycle")
def lifecycle(_who: ViewerDep) -> dict[str, Any]:
    """The legal transitions and the least role for each, so clients show only what works."""
    return {
        "states": [state.value for state in State],
        "transitions": [
            {
                "from": frm.value,
                "to": to.value,
                "role": role.value,
                "note_required": (frm, to) in NOTE_REQUIRED,
            }
            for (frm, to), role in TRANSITIONS.items()
        ],
        "roles": [role.value for role in HUMAN_ROLES],
        "labels": all_labels(),
    }


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(body: TokenCreate, stores: StoresDep, _who: AdminDep) -> TokenCreated:
    token_id, token = stores.tokens.create(body.role, body.name, body.contractor)
    return TokenCreated(
        id=token_id, role=body.role, name=body.name, contractor=body.contractor, token=token
    )


@router.get("/tokens", response_model=list[TokenPublic])
def list_tokens(stores: StoresDep, _who: AdminDep) -> list[TokenPublic]:
    return [TokenPublic.model_validate(t) for t in stores.tokens.list()]


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: TokenId, stores: StoresDep, _who: AdminDep) -> None:
    if not stores.tokens.revoke(token_id):
        raise HTTPException(404, f"no token {token_id}")


@router.get("/config")
def config(stores: StoresDep, _who: AdminDep) -> dict[str, Any]:
    """Effective ticket settings; secrets are never shown."""
    policy = stores.tickets.policy
    return {
        "sla": {
            severity: {
                "dispatch_s": d.dispatch.total_seconds(),
                "rectify_s": d.rectify.total_seconds(),
                "acknowledge_s": d.acknowledge.total_seconds(),
                "recheck_s": d.recheck.total_seconds(),
            }
            for severity, d in policy.sla.items()
        },
        "repeat_window_s": policy.repeat_window.total_seconds(),
        "reopen_grace_s": policy.reopen_grace.total_seconds(),
        "verification_window_s": policy.verification_window.total_seconds(),
        "auto_close_verified": policy.auto_close_verified,
        "event_sinks": list(stores.tickets.sinks),
        "webhook_url": redacted_url(stores.settings.webhook_url),
    }


def redacted_url(url: str | None) -> str | None:
    """Where webhooks go, not how to forge one: receivers such as chat webhooks carry
    their secret in the path or the query, and some URLs carry a password.

    >>> redacted_url("https://user:pw@hooks.example.com:8443/services/T0/B1/XyZ?token=abc")
    'https://hooks.example.com:8443/***'
    >>> redacted_url("http://127.0.0.1:9000")
    'http://127.0.0.1:9000'
    """
    if not url:
        return url
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    hidden = "/***" if parts.path.strip("/") or parts.query or parts.fragment else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{hidden}"
