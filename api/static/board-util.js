// What every part of the board shares: element building, the API call (the session
// cookie, or a machine's bearer token kept for this tab), errors that stay until
// dismissed, and the loop's labels in the chosen language.
import { api, ApiError, errorMessage, formatTime, language, relativeAge, t } from "/static/app.js";

/** document.createElement with attributes, listeners (`on…`) and children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined && child !== "") node.append(child);
  return node;
}

/** The API through app.js's api(): with the session cookie (and CSRF for writes), plus a
 *  bearer token when a machine or a test put one in this tab's sessionStorage. A 401 sends
 *  the browser to the sign-in page, to come back here. */
export async function call(path, options = {}) {
  try {
    return await api(path, options);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      const next = location.pathname + location.search;
      location.assign(`/login?next=${encodeURIComponent(next)}`);
    }
    throw error;
  }
}

/** The text of an API error in the user's language (see app.js). */
export const messageOf = errorMessage;

/** Errors stay until their button dismisses them: no refresh clears them. */
export function showError(text) {
  const list = document.getElementById("errors");
  for (const item of list.children) if (item.dataset.text === text) return;
  const item = el("div", { class: "error", "data-testid": "error", "data-text": text },
    el("span", { text }),
    el("button", { type: "button", "data-testid": "error-dismiss", onclick: () => item.remove() },
      t("board.errors.dismiss")));
  list.append(item);
}

export function showStatus(text) {
  document.getElementById("status").textContent = text;
}

// -- labels from the API (GET /api/lifecycle, GET /api/inspections/categories) ----------

const labels = { states: {}, stages: {}, cards: {}, faults: {} };

export function setLabels(lifecycle, categories) {
  labels.states = (lifecycle && lifecycle.labels && lifecycle.labels.states) || {};
  labels.stages = (lifecycle && lifecycle.labels && lifecycle.labels.stages) || {};
  labels.cards = (lifecycle && lifecycle.labels && lifecycle.labels.cards) || {};
  labels.faults = categories || {};
}

function pick(group, key) {
  const found = labels[group][key];
  return found ? found[language()] || found.en : null;
}

export const stateLabel = (state) => pick("states", state) || state;
export const stageLabel = (stage) => pick("stages", stage) || stage;
export const faultLabel = (fault) => pick("faults", fault) || String(fault).replaceAll("_", " ");
export const severityLabel = (severity) => t(`board.severity.${severity}`);
export const kindLabel = (kind) => {
  const key = `board.kind.${kind}`;
  const known = ["elevator", "lighting", "pump", "access", "place"];
  return known.includes(kind) ? t(key) : kind;
};

/** "2026-12-07 14:05 UTC+08:00 (3 h ago)". */
export function when(value) {
  if (!value) return "";
  return `${formatTime(value)} (${relativeAge(value)})`;
}

// The SLA clock that runs in each state (quality/tickets/store.py CLOCK_STATES), in order.
const CLOCKS = [
  ["dispatch", ["open", "reopened"]],
  ["acknowledge", ["dispatched"]],
  ["rectify", ["open", "reopened", "dispatched", "acknowledged"]],
  ["recheck", ["rectified"]],
];

/** The running deadline a card shows: the earliest clock that runs in the ticket's state. */
export function runningClock(ticket, now = Date.now()) {
  for (const [stage, states] of CLOCKS) {
    const due = ticket[`${stage}_due_at`];
    if (states.includes(ticket.state) && due) {
      return { stage, due, late: Date.parse(due) < now };
    }
  }
  return null;
}

export function slaText(ticket) {
  const clock = runningClock(ticket);
  if (!clock) return null;
  const stage = stageLabel(clock.stage);
  return clock.late
    ? { text: t("board.sla.late", { stage, age: relativeAge(clock.due) }), late: true }
    : { text: t("board.sla.due", { stage, time: formatTime(clock.due), age: relativeAge(clock.due) }), late: false };
}

export function isOverdue(ticket) {
  const clock = runningClock(ticket);
  return Boolean((clock && clock.late) || ticket.dispatch_breached || ticket.acknowledge_breached
    || ticket.rectify_breached || ticket.recheck_breached);
}
