"""Notification routing (通知): channels and the rules that send ticket events to them.

- `/api/notifications/channels`: WeCom (企业微信), DingTalk (钉钉) and Feishu (飞书) group
  robots, e-mail and signed webhooks, each with its rate limit and quiet hours. Secrets are
  written, never shown back (`secret_set`); robot keys in URLs are shown cut short.
- `/api/notifications/rules`: which events (by site, building, kind, severity, event,
  contractor and SLA stage) go to which channels and people, each person in a language.
- `/api/notifications/vocabulary`: the events, match fields and channel types a rule may use.

The quality role reads, an admin writes. A refused request answers 4xx with `field`, the
fix in `en` and `zh`, and `detail` holding both; nothing is stored from a refused body.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response
from pydantic import BaseModel

from api.deps import MAX_ID, AdminDep, QualityDep, StoresDep
from api.routes.ledger import LedgerRoute
from quality.delivery.notify import (
    EVENTS,
    NotificationStore,
    NotifyError,
    channel_public,
    rule_public,
    validate_channel,
    validate_rule,
)
from quality.delivery.notify.spec import CHANNEL_TYPES, DEFAULT_RATES, MATCH_VALUES, MSGTYPES


class NotificationRefusal(BaseModel):
    """An error in both languages: `field` names what to fix."""

    detail: str | list[dict[str, Any]]
    field: str | None = None
    en: str | None = None
    zh: str | None = None


router = APIRouter(prefix="/api/notifications", tags=["notifications"], route_class=LedgerRoute)

ItemId = Annotated[int, Path(ge=1, le=MAX_ID, description="id, as listed")]
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": NotificationRefusal, "description": "no such channel or rule"},
    409: {"model": NotificationRefusal, "description": "the name is taken, or still in use"},
    422: {"model": NotificationRefusal, "description": "a field is wrong; `field` names it"},
}


def _refused(error: NotifyError) -> Response:
    en, zh = error.messages["en"], error.messages["zh-CN"]
    body = {"detail": f"{en} / {zh}", "field": error.field, "en": en, "zh": zh}
    # ASCII-escaped: a message may echo input holding an unpaired surrogate.
    return Response(
        json.dumps(body, separators=(",", ":")).encode("ascii"),
        error.status,
        media_type="application/json",
    )


def _store(stores: Any) -> NotificationStore:
    return NotificationStore(stores.engine, stores.tickets.clock)


@router.get("/vocabulary")
def vocabulary(_: QualityDep) -> dict[str, Any]:
    """What rules and channels may say."""
    return {
        "events": list(EVENTS),
        "match": {key: list(values) if values else None for key, values in MATCH_VALUES.items()},
        "channel_types": list(CHANNEL_TYPES),
        "msgtypes": {key: list(values) for key, values in MSGTYPES.items()},
        "default_rates": {
            key: {"rate_per_minute": rate, "burst": burst}
            for key, (rate, burst) in DEFAULT_RATES.items()
        },
    }


@router.get("/channels")
def list_channels(stores: StoresDep, _: QualityDep) -> list[dict[str, Any]]:
    store = _store(stores)
    pending = store.pending()
    return [
        {**channel_public(channel), "pending": pending.get(channel.name, 0)}
        for channel in store.channels()
    ]


@router.post("/channels", status_code=201, responses=ERRORS)
def create_channel(stores: StoresDep, _: AdminDep, body: Annotated[Any, Body()] = None) -> Any:
    store = _store(stores)
    try:
        return channel_public(store.add_channel(validate_channel(body)))
    except NotifyError as error:
        return _refused(error)


@router.get("/channels/{channel_id}", responses=ERRORS)
def get_channel(stores: StoresDep, _: QualityDep, channel_id: ItemId) -> Any:
    try:
        return channel_public(_store(stores).channel(channel_id))
    except NotifyError as error:
        return _refused(error)


@router.put("/channels/{channel_id}", responses=ERRORS)
def replace_channel(
    stores: StoresDep, _: AdminDep, channel_id: ItemId, body: Annotated[Any, Body()] = None
) -> Any:
    """Replace a channel; leaving `secret` out keeps the stored one."""
    store = _store(stores)
    try:
        current = store.channel(channel_id)
        spec = validate_channel(body, current.config)
        return channel_public(store.replace_channel(channel_id, spec))
    except NotifyError as error:
        return _refused(error)


@router.delete("/channels/{channel_id}", responses=ERRORS)
def delete_channel(stores: StoresDep, _: AdminDep, channel_id: ItemId) -> Any:
    """Remove a channel that no rule names; its unsent messages are dropped and counted."""
    try:
        dropped = _store(stores).remove_channel(channel_id)
    except NotifyError as error:
        return _refused(error)
    return {"deleted": channel_id, "dropped_messages": dropped}


@router.get("/rules")
def list_rules(stores: StoresDep, _: QualityDep) -> list[dict[str, Any]]:
    return [rule_public(rule) for rule in _store(stores).rules()]


@router.post("/rules", status_code=201, responses=ERRORS)
def create_rule(stores: StoresDep, _: AdminDep, body: Annotated[Any, Body()] = None) -> Any:
    store = _store(stores)
    try:
        return rule_public(store.add_rule(validate_rule(body, store.channel_types())))
    except NotifyError as error:
        return _refused(error)


@router.get("/rules/{rule_id}", responses=ERRORS)
def get_rule(stores: StoresDep, _: QualityDep, rule_id: ItemId) -> Any:
    try:
        return rule_public(_store(stores).rule(rule_id))
    except NotifyError as error:
        return _refused(error)


@router.put("/rules/{rule_id}", responses=ERRORS)
def replace_rule(
    stores: StoresDep, _: AdminDep, rule_id: ItemId, body: Annotated[Any, Body()] = None
) -> Any:
    store = _store(stores)
    try:
        store.rule(rule_id)
        return rule_public(store.replace_rule(rule_id, validate_rule(body, store.channel_types())))
    except NotifyError as error:
        return _refused(error)


@router.delete("/rules/{rule_id}", responses=ERRORS)
def delete_rule(stores: StoresDep, _: AdminDep, rule_id: ItemId) -> Any:
    try:
        _store(stores).remove_rule(rule_id)
    except NotifyError as error:
        return _refused(error)
    return {"deleted": rule_id}
