"""Response time (响应时间: dispatch to acknowledgement), the acknowledged state in integrity,
and false alarms left out of the repeat rate, on hand-built histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contract.clock import to_ms
from quality.kpi import GroupKey, LivenessChange, Period, TicketRecord, Transition, compute_kpis
from quality.kpi.compute import unresolved_intervals


def at(hh_mm: str) -> datetime:
    hours, minutes = (int(part) for part in hh_mm.split(":"))
    return datetime(2027, 3, 1, hours, minutes, tzinfo=UTC)


PERIOD = Period(at("10:00"), at("12:00"))
SITE = GroupKey("site", "hq")


def ticket(
    ticket_id: int, opened: str, moves: list[tuple[str, str]], **extra: object
) -> TicketRecord:
    history = [Transition(at(opened), "open", None)]
    for hh_mm, state in moves:
        history.append(Transition(at(hh_mm), state, history[-1].to_state))
    return TicketRecord(
        id=ticket_id,
        device_id=f"lift-{ticket_id}",
        site="hq",
        building="tower",
        kind="elevator",
        fault_type="door_slowing",
        severity="major",
        opened_at=at(opened),
        dispatch_due_at=at(opened) + timedelta(hours=4),
        rectify_due_at=at(opened) + timedelta(hours=72),
        history=tuple(history),
        **extra,  # type: ignore[arg-type]
    )


def test_response_time_is_dispatch_to_acknowledge_in_the_period() -> None:
    tickets = [
        # dispatched 10:10, acknowledged 10:40: 1,800 s
        ticket(1, "10:00", [("10:10", "dispatched"), ("10:40", "acknowledged")]),
        # an old client: dispatched 10:20, rectified 11:00 without acknowledging: 2,400 s
        ticket(2, "10:05", [("10:20", "dispatched"), ("11:00", "rectified")]),
        # acknowledged after the period: not this period's
        ticket(3, "11:00", [("11:50", "dispatched"), ("12:10", "acknowledged")]),
        # re-dispatched after acknowledging: two responses, 600 s and 300 s
        ticket(
            4,
            "10:00",
            [
                ("10:00", "dispatched"),
                ("10:10", "acknowledged"),
                ("11:00", "dispatched"),
                ("11:05", "acknowledged"),
            ],
        ),
        # never acknowledged: dismissed while dispatched
        ticket(5, "10:00", [("10:30", "dispatched"), ("10:50", "closed")]),
    ]
    site = compute_kpis(PERIOD, tickets, [])[SITE]
    assert (site.acknowledged, site.response_s) == (4, 1_800 + 2_400 + 600 + 300)
    assert site.response_time_s == 1_275.0
    fields = site.fields()
    assert (fields["acknowledged"], fields["response_time_s"]) == (4, 1_275.0)
    quiet = compute_kpis(PERIOD, [ticket(6, "10:00", [])], [])[SITE].fields()
    assert "response_time_s" not in quiet and "acknowledged" not in quiet


def test_an_acknowledged_ticket_still_holds_its_device_out_of_good_condition() -> None:
    acknowledged = ticket(1, "10:00", [("10:10", "dispatched"), ("10:20", "acknowledged")])
    ((start, end),) = unresolved_intervals(acknowledged)
    assert start == to_ms(at("10:00")) and end > to_ms(at("12:00"))  # unresolved to this day
    online = LivenessChange("lift-1", "hq", "tower", "elevator", to_ms(at("09:00")), True)
    site = compute_kpis(PERIOD, [acknowledged], [online])[SITE]
    assert site.good_s == 0 and site.open_major == 1


def test_false_alarms_are_no_repeats() -> None:
    repeat = ticket(1, "10:00", [], repeat_count=2, card="yellow")
    dismissed = ticket(
        2, "10:00", [("10:30", "closed")], repeat_count=2, card="none", false_alarm=True
    )
    site = compute_kpis(PERIOD, [repeat, dismissed], [])[SITE]
    assert (site.opened, site.repeats, site.repeat_pct) == (2, 1, 50.0)
