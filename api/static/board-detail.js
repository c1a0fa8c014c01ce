// The detail panel: what the ticket is and why (evidence, photos, telemetry re-check), and
// what a person does with it: moves along the loop, dispatch and reassignment, severity
// override, comments. Verifying or closing while telemetry still shows the fault asks for
// confirmation, and the API records it.
import { ApiError, formatTime, language, relativeAge, t, tOptional } from "/static/app.js";
import {
  call, el, faultLabel, kindLabel, messageOf, severityLabel, showError, slaText, stateLabel, when,
} from "/static/board-util.js";

const RANK = { viewer: 0, inspector: 1, engineer: 2, quality: 3, admin: 4 };
const ASSIGNABLE = ["open", "reopened", "acknowledged", "dispatched"];

let evidenceModule; // the evidence charts (/static/evidence.js), when the service has them

async function evidenceRenderer() {
  if (evidenceModule === undefined) {
    try {
      evidenceModule = await import("/static/evidence.js");
    } catch {
      evidenceModule = null;
    }
  }
  return evidenceModule && typeof evidenceModule.renderEvidence === "function" ? evidenceModule.renderEvidence : null;
}

/** The evidence fields as a labelled table, when the charts cannot be drawn (the
 *  time-series answer failed): the same labels as the charts' field list. */
function plainEvidence(ticket) {
  const rows = Object.entries(ticket.evidence || {})
    .filter(([key, value]) => !["window", "joined", "photos"].includes(key) && value !== null)
    .map(([key, value]) => el("tr", {},
      el("th", { scope: "row" }, tOptional(`evidence.field.${key}`) ?? key.replaceAll("_", " ")),
      el("td", {}, typeof value === "object" ? JSON.stringify(value) : String(value))));
  return el("table", { "data-testid": "evidence-table" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, t("board.detail.evidence_key")),
      el("th", { scope: "col" }, t("board.detail.evidence_value")))),
    el("tbody", {}, ...rows));
}

async function drawEvidence(holder, ticket) {
  const render = await evidenceRenderer();
  if (!render) {
    holder.replaceChildren(plainEvidence(ticket));
    return;
  }
  try {
    await render(holder, ticket, language());
  } catch {
    holder.replaceChildren(plainEvidence(ticket));
  }
}

function recheckLine(ticket) {
  if (!["rectified", "verified"].includes(ticket.state) && !ticket.recheck) return null;
  const status = ticket.recheck;
  if (!status) return el("p", { class: "recheck", "data-testid": "recheck" }, t("board.detail.recheck_waiting"));
  const key = status.fault_present ? "board.detail.recheck_fault" : "board.detail.recheck_normal";
  return el("p", { class: `recheck ${status.fault_present ? "fault" : "normal"}`, "data-testid": "recheck" },
    t(key, { time: formatTime(status.observed_at), age: relativeAge(status.observed_at) }));
}

function verificationLine(ticket) {
  const v = ticket.verification;
  if (!v) return null;
  const text = v.method === "telemetry"
    ? t("board.detail.verified_telemetry", { samples: v.normal_samples ?? "?", seconds: v.window_s ?? "?" })
    : t("board.detail.verified_manual", { by: v.by || "" });
  return el("p", { "data-testid": "verification", "data-method": v.method || "" }, text);
}

function photos(ticket) {
  const ids = (ticket.evidence && Array.isArray(ticket.evidence.photos)) ? ticket.evidence.photos : [];
  if (!ids.length) return null;
  return el("div", {},
    el("h3", {}, t("board.detail.photos")),
    el("div", { class: "photos", "data-testid": "photos" }, ...ids.map((id, index) => el("a", { href: `/api/photos/${id}` },
      el("img", {
        src: `/api/photos/${id}/thumbnail`, loading: "lazy", width: "144", height: "108",
        alt: t("board.detail.photo_alt", { id: ticket.id, n: index + 1 }),
      })))));
}

/** Ask before a move the API refused because telemetry still shows the fault. */
function confirmDespiteFault(detail, target) {
  const dialog = document.getElementById("confirm");
  const seen = detail.telemetry && detail.telemetry.observed_at;
  document.getElementById("confirm-body").textContent = t("board.confirm.body", {
    time: formatTime(seen), age: relativeAge(seen), state: stateLabel(target),
  });
  return new Promise((resolve) => {
    const yes = document.getElementById("confirm-yes");
    const no = document.getElementById("confirm-no");
    const done = (answer) => {
      yes.onclick = null; no.onclick = null; dialog.onclose = null;
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    yes.onclick = () => done(true);
    no.onclick = () => done(false);
    dialog.onclose = () => done(false);
    dialog.showModal();
    no.focus();
  });
}

export class Detail {
  constructor(board) {
    this.board = board;
    this.panel = document.getElementById("detail");
    this.ticket = null;
    this.stamp = null;
    this.force = false;
  }

  get id() {
    return this.ticket ? this.ticket.id : null;
  }

  /** Is the user typing or choosing in the panel? A refresh then leaves it alone. */
  editing() {
    const active = document.activeElement;
    if (active && this.panel.contains(active) && ["INPUT", "TEXTAREA", "SELECT"].includes(active.tagName)) return true;
    return [...this.panel.querySelectorAll("input, textarea")].some((field) => field.value !== field.defaultValue);
  }

  close() {
    this.ticket = null;
    this.stamp = null;
    this.panel.hidden = true;
    this.panel.replaceChildren();
    document.getElementById("workspace").classList.remove("with-detail");
  }

  /** Shows ticket `id`; `quiet` (a refresh) leaves an unchanged ticket alone, so what the
   *  user is typing stays. */
  async show(id, quiet = false) {
    let ticket;
    try {
      ticket = await call(`/api/tickets/${id}`);
    } catch (error) {
      if (!quiet) showError(t("board.errors.load", { message: messageOf(error) }));
      if (error instanceof ApiError && error.status === 404) this.board.closeTicket();
      return;
    }
    const stamp = [ticket.id, ticket.state, ticket.updated_at, ticket.history.length, ticket.comments.length,
      ticket.device_online, JSON.stringify(ticket.recheck), language()].join("|");
    if (quiet && !this.force && (stamp === this.stamp || this.editing())) return;
    this.force = false;
    this.stamp = stamp;
    this.ticket = ticket;
    this.render();
  }

  render() {
    const ticket = this.ticket;
    if (!ticket) return;
    const me = this.board.me;
    const rank = RANK[me.role] ?? 0;
    const evidence = el("div", { class: "evidence", "data-testid": "evidence-holder" }, t("board.detail.loading"));
    const sla = slaText(ticket);
    const onlineKey = ticket.device_online === true ? "board.card.online"
      : ticket.device_online === false ? "board.card.offline" : "board.card.unknown";
    this.panel.replaceChildren(...[
      el("div", { class: "head" },
        el("h2", { "data-testid": "detail-title", id: "detail-title", tabindex: "-1" },
          `#${ticket.id} ${faultLabel(ticket.fault_type)} · ${stateLabel(ticket.state)}`),
        el("button", { type: "button", "data-testid": "detail-close", onclick: () => this.board.closeTicket() },
          this.board.phone() ? t("board.detail.back") : t("board.detail.close"))),
      el("p", { "data-testid": "summary" }, (ticket.summary_labels || {})[language()] || ticket.summary),
      el("div", { class: "badges" },
        el("span", { class: `badge ${ticket.severity}`, "data-testid": "detail-severity" }, severityLabel(ticket.severity))),
      sla ? el("p", { class: `sla${sla.late ? " late" : ""}` }, sla.text) : null,
      ticket.state === "rectified" ? el("p", { class: "waiting" }, t("board.card.waiting_recheck")) : null,
      recheckLine(ticket),
      verificationLine(ticket),
      el("dl", {},
        el("dt", {}, t("board.detail.device")), el("dd", {}, `${kindLabel(ticket.kind)} ${ticket.device_id}`),
        el("dt", {}, t("board.detail.status")), el("dd", { "data-testid": "detail-online" }, t(onlineKey)),
        el("dt", {}, t("board.detail.location")), el("dd", {}, `${ticket.site} / ${ticket.building}`),
        el("dt", {}, t("board.detail.detector")), el("dd", {}, `${ticket.detector} v${ticket.detector_version}`),
        el("dt", {}, t("board.detail.onset")), el("dd", {}, when(ticket.onset_ms)),
        el("dt", {}, t("board.detail.opened")), el("dd", {}, when(ticket.opened_at)),
        el("dt", {}, t("board.detail.party")), el("dd", { "data-testid": "detail-party" },
          [ticket.assignee, ticket.contractor, ticket.team].filter(Boolean).join(" · ") || "—")),
      el("h3", {}, t("board.detail.actions")),
      this.actions(ticket, rank),
      el("h3", {}, t("board.detail.evidence")),
      evidence,
      photos(ticket),
      el("h3", {}, t("board.detail.comments")),
      this.comments(ticket, rank),
      el("h3", {}, t("board.detail.history")),
      this.history(ticket),
    ].filter(Boolean));
    this.panel.hidden = false;
    document.getElementById("workspace").classList.add("with-detail");
    drawEvidence(evidence, ticket);
  }

  actions(ticket, rank) {
    const box = el("div", { "data-testid": "actions" });
    const moves = this.board.lifecycle.transitions.filter((tr) =>
      tr.from === ticket.state && tr.to !== "dispatched" && rank >= (RANK[tr.role] ?? 9));
    const canAssign = ASSIGNABLE.includes(ticket.state) && rank >= RANK.engineer;
    if (!moves.length && !canAssign && rank < RANK.quality) {
      box.append(el("p", { class: "muted" }, t("board.detail.no_actions")));
      return box;
    }
    if (canAssign) {
      const reassign = ticket.state === "dispatched";
      const form = el("form", { "data-testid": "assign-form", onsubmit: (event) => { event.preventDefault(); this.assign(form); } },
        el("label", {}, t("board.detail.assignee"),
          el("input", { name: "assignee", "data-testid": "assignee", maxlength: "128", value: ticket.assignee || "" })),
        el("label", {}, t("board.detail.contractor"),
          el("input", { name: "contractor", "data-testid": "contractor", maxlength: "128", value: ticket.contractor || "" })),
        el("label", {}, t("board.detail.team"),
          el("input", { name: "team", "data-testid": "team", maxlength: "128", value: ticket.team || "" })),
        el("button", { type: "submit", "data-testid": reassign ? "reassign" : "to-dispatched" },
          reassign ? t("board.detail.reassign") : t("board.detail.dispatch")));
      box.append(el("h4", { class: "muted" }, t("board.detail.assign")), form);
    }
    if (moves.length) {
      box.append(el("label", { class: "field" }, t("board.detail.note"),
        el("textarea", { id: "action-note", "data-testid": "note", rows: "2", maxlength: "4000" })));
      box.append(el("div", { class: "moves" }, ...moves.map((tr) => el("button", {
        type: "button", "data-testid": `to-${tr.to}`, onclick: () => this.move(tr),
      }, t("board.detail.move_to", { state: stateLabel(tr.to) })))));
    }
    if (rank >= RANK.quality && ticket.state !== "closed") {
      const select = el("select", { name: "severity", "data-testid": "severity-select" },
        ...["critical", "major", "minor"].map((s) => el("option", { value: s, selected: s === ticket.severity }, severityLabel(s))));
      const form = el("form", { "data-testid": "severity-form", onsubmit: (event) => { event.preventDefault(); this.severity(select.value); } },
        el("label", {}, t("board.detail.severity"), select),
        el("button", { type: "submit", "data-testid": "severity-save" }, t("board.detail.severity_save")));
      box.append(form);
    }
    return box;
  }

  comments(ticket, rank) {
    const list = ticket.comments.length
      ? el("ol", { class: "comments", "data-testid": "comments" }, ...ticket.comments.map((c) => el("li", { "data-testid": "comment" },
        el("div", {}, c.text),
        el("div", { class: "muted" }, `${c.author} · ${when(c.at)}`))))
      : el("p", { class: "muted", "data-testid": "comments" }, t("board.detail.no_comments"));
    if (rank < RANK.engineer) return list;
    const text = el("textarea", { name: "text", "data-testid": "comment-text", rows: "2", maxlength: "4000" });
    const form = el("form", { "data-testid": "comment-form", onsubmit: (event) => { event.preventDefault(); this.comment(text.value); } },
      el("label", {}, t("board.detail.comment_text"), text),
      el("button", { type: "submit", "data-testid": "comment-add" }, t("board.detail.comment_add")));
    return el("div", {}, list, form);
  }

  history(ticket) {
    return el("ol", { class: "comments", "data-testid": "history" }, ...ticket.history.map((h) => {
      const confirmed = (h.note || "").startsWith("confirmed despite telemetry");
      return el("li", { "data-testid": "history-entry", "data-confirmed": confirmed ? "true" : null },
        el("div", {}, t("board.detail.history_entry", {
          from: h.from_state ? stateLabel(h.from_state) : "—", to: stateLabel(h.to_state),
        }), ` · ${h.actor}`),
        confirmed ? el("div", { class: "recheck fault" }, t("board.detail.confirmed_mark")) : null,
        h.note ? el("div", { class: "muted" }, h.note) : null,
        el("div", { class: "muted" }, when(h.at)));
    }));
  }

  async act(request) {
    try {
      await request();
      this.force = true; // the user's own change: show it, typed values and all
      await this.board.refresh();
      return true;
    } catch (error) {
      showError(t("board.errors.action", { message: messageOf(error) }));
      return false;
    }
  }

  async move(transition) {
    const note = (document.getElementById("action-note")?.value || "").trim() || null;
    if (transition.note_required && !note) {
      showError(t("board.errors.note_missing", { state: stateLabel(transition.to) }));
      return;
    }
    const path = `/api/tickets/${this.ticket.id}/transitions`;
    try {
      await call(path, { method: "POST", body: { to: transition.to, note } });
    } catch (error) {
      const detail = error instanceof ApiError && error.status === 409 ? error.detail : null;
      if (!(detail && detail.code === "fault_still_present")) {
        showError(t("board.errors.action", { message: messageOf(error) }));
        return;
      }
      if (!(await confirmDespiteFault(detail, transition.to))) return;
      await this.act(() => call(path, { method: "POST", body: { to: transition.to, note, confirm_despite_fault: true } }));
      return;
    }
    this.force = true;
    await this.board.refresh();
  }

  async assign(form) {
    const data = new FormData(form);
    const assignee = String(data.get("assignee") || "").trim();
    if (!assignee) {
      showError(t("board.errors.assignee_missing"));
      return;
    }
    const optional = (name) => String(data.get(name) || "").trim() || null;
    const note = (document.getElementById("action-note")?.value || "").trim() || null;
    await this.act(() => call(`/api/tickets/${this.ticket.id}/assign`, {
      method: "POST", body: { assignee, contractor: optional("contractor"), team: optional("team"), note },
    }));
  }

  async severity(value) {
    const note = (document.getElementById("action-note")?.value || "").trim() || null;
    await this.act(() => call(`/api/tickets/${this.ticket.id}/severity`, { method: "PATCH", body: { severity: value, note } }));
  }

  async comment(text) {
    if (!text.trim()) {
      showError(t("board.errors.comment_empty"));
      return;
    }
    await this.act(() => call(`/api/tickets/${this.ticket.id}/comments`, { method: "POST", body: { text: text.trim() } }));
  }
}
