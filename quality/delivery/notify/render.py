"""A notice as a person reads it, in that person's language: a title, labelled lines, a
link to the ticket on the board and the message's number, rendered once as plain text,
Markdown and HTML, so each channel sends the form its platform shows best.

Words come from the catalog (`notifications.*`), the loop's labels
(`quality.tickets.labels`) and the fault types' names (`quality.inspections.categories`);
times are 24-hour with the zone, e.g. `2027-01-01 08:00 (Asia/Shanghai, UTC+08:00)`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from quality.delivery.notify.events import Notice
from quality.i18n import parse_language, text
from quality.inspections.categories import CATEGORIES
from quality.tickets.labels import CARD_LABELS, STAGE_LABELS, STATE_LABELS

# The deadline a notice is about, by event: what the reader must do next, and by when.
_NEXT_STAGE = {
    "opened": "dispatch",
    "reopened": "dispatch",
    "dispatched": "acknowledge",
    "acknowledged": "rectify",
    "rectified": "recheck",
    "severity_raised": "rectify",
    "card_issued": "dispatch",
}


def format_time(value: datetime | str | None, zone: ZoneInfo) -> str | None:
    """24-hour time with its zone.

    >>> format_time("2027-01-01T00:00:00+00:00", ZoneInfo("Asia/Shanghai"))
    '2027-01-01 08:00 (Asia/Shanghai, UTC+08:00)'
    """
    if value is None or value == "":
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} ({zone.key}, UTC{offset[:3]}:{offset[3:]})"


def fault_name(fault_type: object, lang: str) -> str:
    """A fault type's name as the rest of the product says it (the inspection categories,
    which name every detector's fault type), planned maintenance from this catalog.

    >>> fault_name("entrapment", "zh-CN"), fault_name("maintenance", "en")
    ('电梯困人', 'planned maintenance')
    """
    label = CATEGORIES.get(str(fault_type))
    return label[parse_language(lang)] if label else _label("fault", fault_type, lang)


def _label(group: str, code: object, lang: str) -> str:
    """A catalog word for a code (a kind, a fault type, a severity), or the code itself."""
    try:
        return text(f"notifications.{group}.{code}", lang)
    except KeyError:
        return str(code)


@dataclass(frozen=True, slots=True)
class Rendered:
    """One message in one language, in every form a channel may send."""

    language: str
    title: str
    lines: list[tuple[str, str]]
    link: str | None
    link_label: str
    ref: str
    mentions: list[dict[str, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        body = [self.title, *(f"{label}: {value}" for label, value in self.lines)]
        if self.link:
            body.append(f"{self.link_label}: {self.link}")
        body.append(self.ref)
        return "\n".join(body)

    @property
    def markdown(self) -> str:
        body = [f"### {self.title}", *(f"- **{label}**: {value}" for label, value in self.lines)]
        if self.link:
            body.append(f"\n[{self.link_label}]({self.link})")
        body.append(f"\n> {self.ref}")
        return "\n".join(body)

    @property
    def html(self) -> str:
        rows = "".join(
            f'<tr><th align="left" style="padding:2px 12px 2px 0">{html.escape(label)}</th>'
            f"<td>{html.escape(value)}</td></tr>"
            for label, value in self.lines
        )
        link = ""
        if self.link:
            href = html.escape(self.link, quote=True)
            link = f'<p><a href="{href}">{html.escape(self.link_label)}</a></p>'

        lang = html.escape(self.language, quote=True)
        return (
            f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title></head><body>"
            f"<h2>{html.escape(self.title)}</h2><table>{rows}</table>{link}"
            f'<p style="color:#666">{html.escape(self.ref)}</p></body></html>'
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "title": self.title,
            "lines": [list(line) for line in self.lines],
            "link": self.link,
            "link_label": self.link_label,
            "ref": self.ref,
            "text": self.text,
            "markdown": self.markdown,
            "html": self.html,
            "mentions": self.mentions,
        }


def ticket_link(board_url: str | None, ticket_id: int) -> str | None:
    """The ticket on the board.

    >>> ticket_link("https://facmon.example.com/", 42)
    'https://facmon.example.com/?ticket=42'
    """
    if not board_url:
        return None
    return f"{board_url.rstrip('/')}/?ticket={ticket_id}"


def render(
    notice: Notice,
    language: str,
    message_id: str,
    board_url: str | None,
    zone: ZoneInfo,
    people: list[dict[str, str]] | None = None,
) -> Rendered:
    lang = parse_language(language)
    ticket = notice.ticket
    fault = fault_name(ticket.get("fault_type"), lang)
    stage = notice.stage or ""
    stage_word = STAGE_LABELS.get(stage, {}).get(lang, stage)
    card = CARD_LABELS.get(str(ticket.get("card")), CARD_LABELS["none"])[lang]
    title = text(
        f"notifications.title.{notice.event}",
        lang,
        id=ticket.get("id"),
        device=ticket.get("device_id"),
        fault=fault,
        stage=stage_word,
        card=card,
    )
    none = text("notifications.none", lang)
    lines: list[tuple[str, str]] = [
        (text("notifications.field.site", lang), str(ticket.get("site"))),
        (text("notifications.field.building", lang), str(ticket.get("building"))),
        (
            text("notifications.field.device", lang),
            f"{ticket.get('device_id')} ({_label('kind', ticket.get('kind'), lang)})",
        ),
        (text("notifications.field.fault", lang), fault),
        (
            text("notifications.field.severity", lang),
            _label("severity", ticket.get("severity"), lang),
        ),
        (
            text("notifications.field.state", lang),
            STATE_LABELS.get(str(ticket.get("state")), {}).get(lang, str(ticket.get("state"))),
        ),
        (text("notifications.field.contractor", lang), str(ticket.get("contractor") or none)),
        (text("notifications.field.assignee", lang), str(ticket.get("assignee") or none)),
    ]
    if notice.event == "severity_raised" and notice.severity_from:
        before = _label("severity", notice.severity_from, lang)
        after = _label("severity", ticket.get("severity"), lang)
        lines.append((text("notifications.field.severity_change", lang), f"{before} → {after}"))
    if notice.event == "card_issued":
        lines.append((text("notifications.field.card", lang), card))
        lines.append((text("notifications.field.repeats", lang), str(ticket.get("repeat_count"))))
    if notice.event == "escalated" and stage:
        lines.append((text("notifications.field.stage", lang), stage_word))
    due_stage = stage if notice.event == "escalated" else _NEXT_STAGE.get(notice.event)
    due = format_time(ticket.get(f"{due_stage}_due_at"), zone) if due_stage else None
    if due and due_stage:
        stage_name = STAGE_LABELS[due_stage][lang]
        lines.append((text("notifications.field.due", lang, stage=stage_name), due))
    # the detector's message in the reader's language (the stored text for older events)
    summary = (ticket.get("summary_labels") or {}).get(lang) or ticket.get("summary")
    if summary:
        lines.append((text("notifications.field.summary", lang), str(summary)))
    if notice.actor:
        lines.append((text("notifications.field.by", lang), notice.actor))
    if notice.note:
        lines.append((text("notifications.field.note", lang), notice.note))
    when = format_time(notice.occurred_at, zone)
    if when:
        lines.append((text("notifications.field.time", lang), when))
    mentions = list(people or [])
    if mentions:
        names = ", ".join(person["name"] for person in mentions)
        lines.append((text("notifications.field.people", lang), names))
    return Rendered(
        language=lang,
        title=title,
        lines=lines,
        link=ticket_link(board_url, notice.ticket_id),
        link_label=text("notifications.link", lang),
        ref=text("notifications.ref", lang, ref=message_id[:8]),
        mentions=mentions,
    )


def render_test(channel: str, language: str, message_id: str) -> Rendered:
    """The message `facmon notify test` sends."""
    lang = parse_language(language)
    return Rendered(
        language=lang,
        title=text("notifications.test.title", lang, channel=channel),
        lines=[(text("notifications.field.note", lang), text("notifications.test.body", lang))],
        link=None,
        link_label=text("notifications.link", lang),
        ref=text("notifications.ref", lang, ref=message_id[:8]),
    )
