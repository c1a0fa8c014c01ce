"""The replay's outcome for people (a table and a summary) and machines (one JSON object).

JSON fields: `samples`, `devices`, `bad_rows` (`line`, `reason`), `findings` (`site`,
`device_id`, `detector`, `fault_type`, `severity`, `time`, `onset`, `ticket_id`,
`suppressed`: under planned maintenance, no ticket opened), `suppressed` (their count), and
`tickets` (`id`, `site`, `building`, `kind`, `device_id`, `fault_type`, `detectors`,
`severity`, `state`, `opened_at`, `onset`, `findings`, `repeat_count`, `card`,
`summary`, `evidence`), plus `start`, `end` and `timing`. Times are RFC 3339 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contract.clock import aware
from ingest.backtest.runner import Replay


def rfc3339_ms(ms: int | None) -> str | None:
    """`2004-02-12T10:32:39.000Z` for epoch milliseconds (None stays None)."""
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def rfc3339(moment: datetime | None) -> str | None:
    moment = aware(moment)
    return None if moment is None else rfc3339_ms(round(moment.timestamp() * 1000))


def report(replay: Replay) -> dict[str, Any]:
    """The whole outcome as one JSON-ready object."""
    stats = replay.stats
    findings = [
        {
            "site": r.finding.device.site,
            "device_id": r.finding.device.device_id,
            "detector": r.finding.detector,
            "fault_type": r.finding.fault_type,
            "severity": r.finding.severity.value,
            "time": rfc3339_ms(r.time_ms),
            "onset": rfc3339_ms(r.finding.onset_ms),
            "ticket_id": r.ticket_id,
            "suppressed": r.suppressed,
            "summary": r.finding.summary,
        }
        for r in replay.findings
    ]
    tickets = []
    for row in replay.ticket_rows():
        ticket = row["ticket"]
        tickets.append(
            {
                "id": ticket.id,
                "site": ticket.site,
                "building": ticket.building,
                "kind": ticket.kind,
                "device_id": ticket.device_id,
                "fault_type": ticket.fault_type,
                "detectors": row["detectors"],
                "severity": ticket.severity,
                "state": ticket.state,
                "opened_at": rfc3339(ticket.opened_at),
                "onset": rfc3339_ms(row["first_onset_ms"]),
                "findings": ticket.occurrences,
                "repeat_count": ticket.repeat_count,
                "card": ticket.card,
                "reopen_count": ticket.reopen_count,
                "summary": ticket.summary,
                "evidence": ticket.evidence,
            }
        )
    return {
        "samples": stats.samples,
        "devices": len(stats.devices),
        "start": rfc3339_ms(stats.first_ms),
        "end": rfc3339_ms(stats.last_ms),
        "bad_rows": [{"line": b.line, "reason": b.reason} for b in replay.bad_rows],
        "findings": findings,
        "suppressed": sum(1 for f in findings if f["suppressed"]),
        "tickets": tickets,
        "timing": {
            "seconds": round(stats.total_s, 3),
            "ticks": stats.ticks,
            "tick_seconds": round(stats.tick_s, 3),
            "ticket_seconds": round(stats.ticket_s, 3),
            "samples_per_s": round(stats.samples / stats.total_s) if stats.total_s else None,
        },
    }


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(result: dict[str, Any]) -> str:
    """The tickets as a table, then a summary of what was replayed."""
    lines: list[str] = []
    tickets = result["tickets"]
    if tickets:
        lines.append(
            f"{'opened at':<24} {'site':<12} {'device':<14} {'fault type':<18} "
            f"{'severity':<8} {'n':>4} {'card':<6} detectors"
        )
        for t in tickets:
            lines.append(
                f"{t['opened_at']:<24} {_cut(t['site'], 12):<12} {_cut(t['device_id'], 14):<14} "
                f"{_cut(t['fault_type'], 18):<18} {t['severity']:<8} {t['findings']:>4} "
                f"{t['card']:<6} {', '.join(t['detectors'])}"
            )
        lines.append("")
    by_type: dict[str, int] = {}
    for t in tickets:
        by_type[t["fault_type"]] = by_type.get(t["fault_type"], 0) + 1
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(by_type.items())) or "none"
    timing = result["timing"]
    lines.append(
        f"{result['samples']:,} samples from {result['devices']} device(s), "
        f"{result['start'] or '-'} .. {result['end'] or '-'}; "
        f"{len(result['bad_rows'])} bad row(s)"
    )
    suppressed = result.get("suppressed") or 0
    held = f" ({suppressed} suppressed by planned maintenance)" if suppressed else ""
    lines.append(f"{len(result['findings'])} finding(s){held}, {len(tickets)} ticket(s): {kinds}")
    if timing["samples_per_s"]:
        lines.append(
            f"replayed in {timing['seconds']:.2f} s ({timing['samples_per_s']:,} samples/s)"
        )
    return "\n".join(lines)
