// The board's view as a query string: filters, sort, view and the open ticket live in the
// address, so a view can be shared and a reload restores it. The same filters become the
// parameters of GET /api/tickets/page.

export const FILTERS = ["q", "site", "building", "floor", "kind", "severity", "state", "assignee",
  "contractor", "from", "to", "overdue", "sort", "order"];
const DEFAULTS = { sort: "opened_at", order: "desc" };

/** The view the address describes. */
export function readView(search = location.search) {
  const params = new URLSearchParams(search);
  const filters = {};
  for (const name of FILTERS) {
    const value = params.get(name);
    if (value) filters[name] = value;
  }
  const view = params.get("view") === "list" ? "list" : "kanban";
  const ticket = Number.parseInt(params.get("ticket") || "", 10);
  return { filters, view, ticket: Number.isFinite(ticket) && ticket > 0 ? ticket : null };
}

/** The address of a view: defaults left out, so a plain board is a plain "/". */
export function writeView({ filters, view, ticket }) {
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    const value = filters[name];
    if (value && DEFAULTS[name] !== value) params.set(name, value);
  }
  if (view === "list") params.set("view", "list");
  if (ticket) params.set("ticket", String(ticket));
  const text = params.toString();
  return text ? `?${text}` : location.pathname;
}

/** A local calendar day as the RFC 3339 moment it starts (with the browser's offset). */
export function dayStart(day, addDays = 0) {
  const [y, m, d] = day.split("-").map(Number);
  const moment = new Date(y, m - 1, d + addDays, 0, 0, 0);
  const offset = -moment.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const pad = (n) => String(Math.abs(n)).padStart(2, "0");
  return `${y}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())}T00:00:00` +
    `${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`;
}

/** GET /api/tickets/page's parameters for the filters (and a state, a limit, a cursor). */
export function pageParams(filters, { state = null, limit = 25, cursor = null } = {}) {
  const params = new URLSearchParams();
  for (const name of ["q", "site", "building", "floor", "kind", "severity", "assignee", "contractor", "sort", "order"]) {
    if (filters[name]) params.set(name, filters[name]);
  }
  const states = state || filters.state;
  if (states) params.set("state", states);
  if (filters.overdue === "true") params.set("overdue", "true");
  if (filters.from) params.set("opened_from", dayStart(filters.from));
  if (filters.to) params.set("opened_to", dayStart(filters.to, 1)); // the whole last day
  params.set("limit", String(limit));
  if (cursor) params.set("cursor", cursor);
  return params;
}
