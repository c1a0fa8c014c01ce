// The two views of the ticket list: kanban (a column per state, each paged on its own) and
// a list (one table, paged). Both read GET /api/tickets/page with the board's filters and
// reach every ticket with "load more" (keyset paging, no cap).
import { formatTime, language, relativeAge, t } from "/static/app.js";
import { pageParams } from "/static/board-query.js";
import {
  call, el, faultLabel, isOverdue, kindLabel, severityLabel, slaText, stateLabel,
} from "/static/board-util.js";

export const STATES = ["open", "reopened", "dispatched", "acknowledged", "rectified", "verified", "closed"];
export const PAGE = 25;

/** One paged list: the tickets shown, the cursor to the next page, the total. */
export class Paged {
  constructor(filters, state = null) {
    this.filters = filters;
    this.state = state;
    this.items = [];
    this.cursor = null;
    this.total = 0;
    this.lowerBound = false;
    this.loaded = false;
  }

  async first(limit = PAGE) {
    const page = await call(`/api/tickets/page?${pageParams(this.filters, { state: this.state, limit })}`);
    this.items = page.items;
    this.cursor = page.next_cursor;
    this.total = page.total;
    this.lowerBound = page.total_is_lower_bound;
    this.loaded = true;
  }

  async more() {
    if (!this.cursor) return;
    const page = await call(`/api/tickets/page?${pageParams(this.filters, { state: this.state, limit: PAGE, cursor: this.cursor })}`);
    this.items = this.items.concat(page.items);
    this.cursor = page.next_cursor;
  }

  /** Reload as many as are shown (at most the API's 500), keeping the reader's place. */
  async reload() {
    await this.first(Math.min(500, Math.max(PAGE, this.items.length)));
  }
}

/** The kanban's columns in one request (GET /api/tickets/columns): each column shows at
 *  least a page, or as many as it showed before a refresh (at most the API's 500). */
export async function loadColumns(filters, states, columns) {
  const shown = Math.max(PAGE, ...[...columns.values()].map((paged) => paged.items.length));
  const params = pageParams({ ...filters, state: states.join(",") }, { limit: Math.min(500, shown) });
  const answer = await call(`/api/tickets/columns?${params}`);
  const fresh = new Map();
  for (const column of answer.columns) {
    const paged = new Paged(filters, column.state);
    paged.items = column.items;
    paged.cursor = column.next_cursor;
    paged.total = column.total;
    paged.lowerBound = column.total_is_lower_bound;
    paged.loaded = true;
    fresh.set(column.state, paged);
  }
  return fresh;
}

function online(ticket) {
  if (ticket.device_online === true) return el("span", { class: "online up", "data-testid": "online" }, t("board.card.online"));
  if (ticket.device_online === false) return el("span", { class: "online down", "data-testid": "online" }, t("board.card.offline"));
  return el("span", { class: "online unknown", "data-testid": "online" }, t("board.card.unknown"));
}

function badges(ticket) {
  const box = el("div", { class: "badges" },
    el("span", { class: `badge ${ticket.severity}`, "data-testid": "severity" }, severityLabel(ticket.severity)));
  if (ticket.card === "yellow" || ticket.card === "red") {
    const name = ticket.card === "red" ? t("board.red") : t("board.yellow");
    box.append(el("span", { class: `badge ${ticket.card}`, "data-testid": "repeat-card" },
      t("board.card.repeat", { card: name, count: ticket.repeat_count })));
  }
  if (ticket.false_alarm) box.append(el("span", { class: "badge", "data-testid": "false-alarm" }, t("board.card.false_alarm")));
  if (ticket.escalation_level) {
    box.append(el("span", { class: "badge critical" }, t("board.card.escalated", { level: ticket.escalation_level })));
  }
  return box;
}

function party(ticket) {
  return [ticket.assignee, ticket.contractor, ticket.team].filter(Boolean).join(" · ");
}

function where(ticket) {
  return `${kindLabel(ticket.kind)} ${ticket.device_id} · ${ticket.site}/${ticket.building}`;
}

function picker(ticket, board) {
  return el("input", {
    type: "checkbox", class: "pick", "data-testid": `pick-${ticket.id}`,
    "aria-label": t("board.list.select_ticket", { id: ticket.id }),
    checked: board.selected.has(ticket.id),
    onchange: (event) => board.select(ticket.id, event.target.checked),
  });
}

/** A ticket's card: fault, severity, device and its online status, deadline, party. */
export function card(ticket, board) {
  const sla = slaText(ticket);
  const classes = ["card", ticket.severity];
  if (isOverdue(ticket)) classes.push("overdue");
  if (board.openId === ticket.id) classes.push("selected-ticket");
  return el("article", { class: classes.join(" "), "data-testid": `ticket-${ticket.id}`, "data-state": ticket.state },
    picker(ticket, board),
    el("button", {
      type: "button", class: "title", "data-testid": "open-ticket",
      "aria-label": t("board.card.open", { id: ticket.id }) + ` ${faultLabel(ticket.fault_type)}`,
      onclick: () => board.openTicket(ticket.id),
    }, `#${ticket.id} ${faultLabel(ticket.fault_type)}`),
    el("div", { class: "meta" }, where(ticket)),
    el("div", {}, online(ticket)),
    badges(ticket),
    ticket.state === "rectified" ? el("div", { class: "waiting", "data-testid": "waiting-recheck" }, t("board.card.waiting_recheck")) : null,
    sla ? el("div", { class: `sla${sla.late ? " late" : ""}`, "data-testid": "sla" }, sla.text) : null,
    party(ticket) ? el("div", { class: "meta" }, t("board.card.assigned", { who: party(ticket) })) : null,
    el("div", { class: "meta" }, t("board.card.opened", { time: formatTime(ticket.opened_at), age: relativeAge(ticket.opened_at) })),
  );
}

function moreButton(paged, board, testid) {
  if (!paged.cursor) return null;
  return el("button", {
    type: "button", class: "more", "data-testid": testid,
    onclick: async (event) => {
      event.target.disabled = true;
      try { await paged.more(); } catch (error) { board.fail(error); }
      board.render();
    },
  }, t("board.paging.more"));
}

export function renderKanban(columns, board) {
  const grid = el("div", { class: "kanban", "data-testid": "kanban" });
  for (const [state, paged] of columns) {
    const heading = paged.lowerBound ? "board.column.count_more" : "board.column.count";
    const title = t(heading, { state: stateLabel(state), shown: paged.items.length, total: paged.total });
    grid.append(el("section", { class: "column", "data-testid": `column-${state}`, "aria-label": stateLabel(state) },
      el("h2", {}, title),
      ...(paged.items.length ? paged.items.map((ticket) => card(ticket, board))
        : [el("p", { class: "empty" }, t("board.column.empty"))]),
      moreButton(paged, board, `more-${state}`)));
  }
  return grid;
}

export function renderList(paged, board) {
  const head = el("tr", {},
    el("th", { scope: "col" }, t("board.list.select")),
    el("th", { scope: "col" }, t("board.list.id")),
    el("th", { scope: "col" }, t("board.list.fault")),
    el("th", { scope: "col" }, t("board.list.device")),
    el("th", { scope: "col" }, t("board.list.severity")),
    el("th", { scope: "col" }, t("board.list.state")),
    el("th", { scope: "col" }, t("board.list.assignee")),
    el("th", { scope: "col" }, t("board.list.opened")),
    el("th", { scope: "col" }, t("board.list.due")));
  const rows = paged.items.map((ticket) => {
    const sla = slaText(ticket);
    return el("tr", { class: isOverdue(ticket) ? "overdue" : "", "data-testid": `row-${ticket.id}`, "data-state": ticket.state },
      el("td", {}, picker(ticket, board)),
      el("td", {}, el("button", {
        type: "button", class: "link", "data-testid": "open-ticket",
        "aria-label": t("board.card.open", { id: ticket.id }), onclick: () => board.openTicket(ticket.id),
      }, `#${ticket.id}`)),
      el("td", {}, faultLabel(ticket.fault_type), el("div", { class: "row-meta" }, (ticket.summary_labels || {})[language()] || ticket.summary)),
      el("td", {}, where(ticket), el("div", {}, online(ticket))),
      el("td", {}, el("span", { class: `badge ${ticket.severity}` }, severityLabel(ticket.severity))),
      el("td", {}, stateLabel(ticket.state),
        ticket.state === "rectified" ? el("div", { class: "waiting" }, t("board.card.waiting_recheck")) : null),
      el("td", {}, party(ticket)),
      el("td", {}, formatTime(ticket.opened_at), el("div", { class: "row-meta" }, relativeAge(ticket.opened_at))),
      el("td", {}, sla ? el("span", { class: `sla${sla.late ? " late" : ""}` }, sla.text) : ""));
  });
  const summary = paged.lowerBound ? "board.paging.summary_more" : "board.paging.summary";
  return el("div", { "data-testid": "list" },
    el("table", { class: "tickets" },
      el("caption", {}, t("board.list.caption")),
      el("thead", {}, head),
      el("tbody", {}, ...rows)),
    el("div", { class: "paging" },
      el("span", { "data-testid": "paging-summary" }, t(summary, { shown: paged.items.length, total: paged.total })),
      moreButton(paged, board, "more-list")));
}
