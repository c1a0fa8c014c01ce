"""`facmon notify`: the notification channels and rules, and a test message to a channel."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from typing import Any


def _store() -> Any:
    from facmon.schema import create_schema
    from facmon.settings import Settings
    from quality.delivery.notify import NotificationStore
    from storage.sql import make_engine

    settings = Settings()
    engine = make_engine(settings.ticket_database_url)
    create_schema(engine)
    return settings, NotificationStore(engine)


def cmd_notify_test(args: argparse.Namespace) -> int:
    """Send the test message to one channel now, outside the outbox, and say what the
    platform answered."""
    from contract.clock import SystemClock
    from quality.delivery import PendingEvent
    from quality.delivery.notify import build_sender
    from quality.delivery.notify.render import render_test

    settings, store = _store()
    try:
        channel = store.channel_named(args.channel)
        if channel is None:
            known = ", ".join(c.name for c in store.channels()) or "none yet"
            print(f"error: no channel {args.channel!r} (channels: {known})", file=sys.stderr)
            return 2
        if channel.type == "email" and not args.to:
            print("error: an e-mail channel needs --to ADDRESS", file=sys.stderr)
            return 2
        message_id = str(uuid.uuid4())
        rendered = render_test(channel.name, args.lang, message_id)
        people = [{"name": args.mobile, "mobile": args.mobile}] if args.mobile else []
        body = {
            **rendered.as_json(),
            "mentions": people,
            "message_id": message_id,
            "event": "test",
            "critical": False,
            "channel": channel.name,
            "channel_type": channel.type,
            "to": [args.to] if args.to else [],
            "ticket": {},
        }
        sender = build_sender(
            channel, settings.smtp_settings(), SystemClock(), settings.notify_timeout_s
        )
        event = PendingEvent(0, message_id, f"n:{channel.id}", "test", 0, json.dumps(body), 0)
        try:
            result = sender.send(event)
        finally:
            sender.close()
    finally:
        store.engine.dispose()
    if result.ok:
        print(f"sent to {channel.name} ({channel.type}): message {message_id[:8]}")
        return 0
    print(
        f"error: {channel.name} ({channel.type}) refused the test: {result.reason}", file=sys.stderr
    )
    return 1


def cmd_notify_list(args: argparse.Namespace) -> int:
    from quality.delivery.notify import channel_public, rule_public

    _, store = _store()
    try:
        pending = store.pending()
        for channel in store.channels():
            shown = channel_public(channel)
            state = "on" if channel.enabled else "off"
            print(
                f"channel {channel.name:<20} {channel.type:<9} {state:<3} "
                f"{channel.rate_per_minute:g}/min  pending {pending.get(channel.name, 0)}"
                + (f"  {shown['url']}" if "url" in shown else "")
            )
        for rule in store.rules():
            shown = rule_public(rule)
            people = ", ".join(f"{p['name']} ({p['language']})" for p in rule.recipients) or "-"
            print(
                f"rule    {rule.name:<20} -> {', '.join(rule.channels)}  "
                f"match {json.dumps(shown['match'], ensure_ascii=False)}  people {people}"
            )
    finally:
        store.engine.dispose()
    return 0


def add_notify_commands(sub: Any) -> None:
    """Add `notify test` and `notify list`."""
    notify = sub.add_parser("notify", help="notification channels and rules; test messages")
    notify_sub = notify.add_subparsers(dest="notify_command", required=True)
    test = notify_sub.add_parser("test", help="send a test message to a channel now")
    test.add_argument("--channel", required=True, help="the channel's name")
    test.add_argument("--lang", default="zh-CN", choices=("zh-CN", "en"), help="its language")
    test.add_argument("--to", help="the address, for an e-mail channel")
    test.add_argument("--mobile", help="a mobile number to @-mention (WeCom, DingTalk)")
    test.set_defaults(func=cmd_notify_test)
    listing = notify_sub.add_parser("list", help="the channels and rules, with pending counts")
    listing.set_defaults(func=cmd_notify_list)
