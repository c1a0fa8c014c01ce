"""`facmon dead-letters list|replay`: look at refused messages, and replay them after a fix."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from contract.clock import aware
from contract.payload import TimeLimits
from facmon.cli.kpi import parse_instant
from facmon.settings import Settings
from gateway.connection import parse_mqtt_url
from ingest.dead_letter_replay import NO_BROKER_HELP, MqttRepublisher, Publisher, replay
from storage.dead_letters import DeadLetter, DeadLetterStore


def _limits(settings: Settings) -> TimeLimits:
    return TimeLimits(
        settings.max_payload_bytes, settings.max_future_s * 1000, settings.max_past_s * 1000
    )


def _open_store(settings: Settings) -> DeadLetterStore | None:
    """The service's database; None (with a message) when the default SQLite file is missing,
    which means a different FACMON_DATA_DIR than the service's rather than no dead letters."""
    from facmon.schema import create_schema
    from storage.sql import make_engine

    url = settings.ticket_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        print(
            f"error: no database at {url.removeprefix('sqlite:///')}: run this with the "
            "service's FACMON_DATA_DIR or FACMON_DATABASE_URL",
            file=sys.stderr,
        )
        return None
    engine = make_engine(url)
    create_schema(engine)
    return DeadLetterStore(engine, settings.dead_letter_payload_bytes)


def _redacted_db(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


def _row(letter: DeadLetter) -> dict[str, Any]:
    received = aware(letter.received_at)
    replayed = aware(letter.replayed_at)
    return {
        "id": letter.id,
        "received_at": received.isoformat() if received else None,
        "topic": letter.topic,
        "size": letter.payload_size,
        "truncated": letter.truncated,
        "reason": letter.reason,
        "replayed_at": replayed.isoformat() if replayed else None,
        "payload": letter.payload,
        "payload_encoding": letter.payload_encoding,
    }


def _state(letter: DeadLetter) -> str:
    if letter.replayed_at is not None:
        return "replayed"
    return "truncated" if letter.truncated else "pending"


def cmd_list(args: argparse.Namespace) -> int:
    settings = Settings()
    store = _open_store(settings)
    if store is None:
        return 2
    try:
        letters = store.find(
            reason=args.reason,
            since=args.since,
            limit=args.limit,
            include_replayed=args.all,
            newest_first=True,
        )
    finally:
        store.engine.dispose()
    if args.json:
        print(json.dumps([_row(letter) for letter in letters], indent=2))
        return 0
    if not letters:
        print(f"no dead letters match in {_redacted_db(settings.ticket_database_url)}")
        return 0
    print(f"{'ID':>7}  {'RECEIVED (UTC)':<20}  {'SIZE':>7}  {'STATE':<9}  TOPIC  REASON")
    for letter in letters:
        received = aware(letter.received_at)
        when = received.strftime("%Y-%m-%dT%H:%M:%SZ") if received else "-"
        print(
            f"{letter.id:>7}  {when:<20}  {letter.payload_size:>7}  {_state(letter):<9}  "
            f"{letter.topic}  {letter.reason}"
        )
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    settings = Settings()
    url = args.broker or settings.mqtt_url
    if not url and not args.dry_run:
        print(f"error: {NO_BROKER_HELP}", file=sys.stderr)
        return 2
    try:
        address = parse_mqtt_url(url) if url else None
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    store = _open_store(settings)
    if store is None:
        return 2
    try:
        letters = store.find(
            ids=args.ids or (),
            reason=args.reason,
            since=args.since,
            limit=args.limit,
            include_replayed=bool(args.ids),
        )
        missing = sorted(set(args.ids or ()) - {letter.id for letter in letters})
        if missing and not (args.reason or args.since or args.limit):
            print(f"error: no dead letter with id {', '.join(map(str, missing))}", file=sys.stderr)
            return 2
        target = "nothing (dry run)" if args.dry_run or address is None else address.redacted()
        print(
            f"{len(letters)} dead letters from {_redacted_db(settings.ticket_database_url)}; "
            f"publishing to {target}",
            file=sys.stderr,
        )

        def connect() -> Publisher:
            assert address is not None
            publisher = MqttRepublisher(address, settings.mqtt_protocol, settings.mqtt_tls())
            publisher.connect()
            if publisher.version != "5":
                print(
                    "note: MQTT 3.1.1 broker: a PUBACK only says the broker received the "
                    "message, not that ingest is subscribed",
                    file=sys.stderr,
                )
            return publisher

        summary = replay(
            letters,
            store,
            _limits(settings),
            None if args.dry_run else connect,
            sys.stdout,
            dry_run=args.dry_run,
        )
    finally:
        store.engine.dispose()
    print(summary.line(args.dry_run))
    if summary.failure:
        print(
            f"error: {summary.failure}; {summary.not_attempted} dead letters left as they were",
            file=sys.stderr,
        )
        return 1
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def add_dead_letter_commands(subparsers: Any) -> None:
    """Add `dead-letters list` and `dead-letters replay` to the `facmon` parser."""
    letters = subparsers.add_parser(
        "dead-letters", help="messages ingest refused: list them, replay them after a fix"
    )
    letters_sub = letters.add_subparsers(dest="dead_letters_command", required=True)

    def filters(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--reason", help="only reasons containing this text (any case)")
        parser.add_argument(
            "--since", type=parse_instant, help="received at or after (ISO 8601; no zone = UTC)"
        )

    listing = letters_sub.add_parser("list", help="stored dead letters, newest first")
    filters(listing)
    listing.add_argument("--limit", type=_positive, default=50, help="at most N (default 50)")
    listing.add_argument("--all", action="store_true", help="include replayed ones")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(func=cmd_list)

    replaying = letters_sub.add_parser(
        "replay",
        help="re-validate with the current contract and publish the ones that now pass",
        description="Re-validate dead letters, oldest first, with the current contract; "
        "publish those that pass to the broker (QoS 1) and mark each replayed once the "
        "broker acknowledges it. Exit 1 if the broker fails, 2 on a usage error.",
    )
    replaying.add_argument(
        "--id", dest="ids", type=int, nargs="+", action="extend", metavar="N", help="these ids"
    )
    filters(replaying)
    replaying.add_argument("--limit", type=_positive, help="at most N, oldest first")
    replaying.add_argument(
        "--dry-run", action="store_true", help="say what would happen; publish and mark nothing"
    )
    replaying.add_argument("--broker", help="mqtt://user:pass@host:port (default: FACMON_MQTT_URL)")
    replaying.set_defaults(func=cmd_replay)
