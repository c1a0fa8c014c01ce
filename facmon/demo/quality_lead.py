"""One ticket walked round the loop through the real API (派单-接单-整改-复核-销项).

The demo quality lead dispatches the door-held-open ticket to the door's maintenance
contractor (维保单位) as the ledger names it; the contractor's technician, whose token
sees only that contractor's tickets, acknowledges it (接单), fixes the door (the
simulator's fault clears) and marks it rectified; telemetry verifies it; the lead closes
it and reads the KPIs. The other tickets stay open on the board.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from facmon.demo.client import DemoClient
from facmon.demo.kpis import report_kpis
from facmon.demo.properties import WALKED_FAULT, DeviceKey
from facmon.demo.words import line
from quality.ledger.messages import Text
from simulators.fleet import Fleet

FIX_TAKES_S = 5.0


class DemoQualityLead(threading.Thread):
    def __init__(
        self,
        lead: DemoClient,
        technician: DemoClient,
        contractor: str,
        door: DeviceKey,
        fleet: Fleet,
        sites: list[str],
        since: datetime,
        printed: Callable[[int], bool],
        say: Callable[[str], None],
    ) -> None:
        super().__init__(name="demo-quality-lead", daemon=True)
        self.lead, self.technician = lead, technician
        self.contractor = contractor
        self.door = door
        self.fleet = fleet
        self.sites, self.since = sites, since
        self.printed = printed
        self.say = say

    def _ticket(self, state: str) -> dict[str, Any] | None:
        tickets: list[dict[str, Any]] = self.lead.get(
            "/api/tickets",
            site=self.door.site,
            device_id=self.door.device_id,
            fault_type=WALKED_FAULT,
            state=state,
        )
        return tickets[0] if tickets else None

    def _shown_open(self) -> dict[str, Any] | None:
        ticket = self._ticket("open")
        return ticket if ticket is not None and self.printed(int(ticket["id"])) else None

    def _dispatch(self, ticket_id: int) -> None:
        try:
            equipment = self.lead.get(
                f"/api/ledger/equipment/{self.door.site}/{self.door.device_id}"
            )
        except httpx.HTTPStatusError:  # a scenario of your own: a door the ledger lacks
            equipment = {}
        contractor = equipment.get("contractor")
        whose = Text("the door's contractor in the ledger", "台账登记的维保单位")
        if not contractor:
            contractor = self.contractor
            whose = Text("the ledger names none for the door", "台账未登记该门的维保单位")
        self.say(
            line(
                f"quality lead: dispatching ticket #{ticket_id} ({self.door} {WALKED_FAULT}) "
                f"to {contractor}, {whose.en}",
                f"品质主管：派单 #{ticket_id}（{self.door} 门长时间未关）给 {contractor}"
                f"（{whose.zh}）",
            )
        )
        self.lead.post(
            f"/api/tickets/{ticket_id}/assign",
            {"assignee": contractor, "contractor": contractor, "note": "please check the door"},
        )

    def _acknowledge(self, ticket_id: int) -> bool:
        mine = self.technician.wait_for(
            lambda: [
                t
                for t in self.technician.get("/api/tickets", state="dispatched")
                if t["id"] == ticket_id
            ],
            timeout_s=60,
        )
        if not mine:
            return False
        self.technician.post(
            f"/api/tickets/{ticket_id}/acknowledge", {"note": "on my way (马上到场)"}
        )
        self.say(
            line(
                f"technician ({self.contractor}): acknowledged #{ticket_id} (this token "
                "sees only its contractor's tickets)",
                f"维保技术员（{self.contractor}）：已接单 #{ticket_id}"
                "（此令牌只能查看本维保单位的工单）",
            )
        )
        return True

    def _rectify(self, ticket_id: int) -> None:
        self.fleet.clear_fault(self.door.device_id, WALKED_FAULT)
        self.technician.post(
            f"/api/tickets/{ticket_id}/transitions",
            {"to": "rectified", "note": "door closer adjusted"},
        )
        self.say(
            line(
                f"technician: door closer on {self.door} adjusted; door closes again",
                f"维保技术员：{self.door} 闭门器已调整，门可正常关闭",
            )
        )
        self.say(
            line(
                f"quality lead: #{ticket_id} rectified; waiting for telemetry to verify it",
                f"品质主管：#{ticket_id} 已整改，等待遥测复核",
            )
        )

    def run(self) -> None:
        ticket = self.lead.wait_for(self._shown_open, 180, 0.5)
        if ticket is None:
            return
        ticket_id = int(ticket["id"])
        self._dispatch(ticket_id)
        if not self._acknowledge(ticket_id) or self.lead.stop.wait(FIX_TAKES_S):
            return
        self._rectify(ticket_id)
        if self.lead.wait_for(lambda: self._ticket("verified"), 300) is None:
            return
        detail = self.lead.get(f"/api/tickets/{ticket_id}")
        window = (detail.get("verification") or {}).get("window_s")
        self.say(
            line(
                f"telemetry: #{ticket_id} verified after {window} s of normal door behaviour",
                f"遥测复核：门正常运行 {window} 秒，#{ticket_id} 已复核",
            )
        )
        self.lead.post(
            f"/api/tickets/{ticket_id}/transitions",
            {"to": "closed", "note": "re-checked by telemetry"},
        )
        self.say(
            line(
                f"quality lead: #{ticket_id} closed. The loop is complete.",
                f"品质主管：#{ticket_id} 已销项，闭环完成。",
            )
        )
        for site in self.sites:
            report_kpis(self.lead, site, self.since, self.say)
