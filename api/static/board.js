// The ticket board (工单看板): kanban and list views of GET /api/tickets/page with filters,
// search and sort kept in the address, paging with no cap, bulk dispatch, a detail panel
// beside the board, and tickets opened by hand with photos. Every text comes from the
// catalog (quality/i18n/catalog/board.yaml) in the chosen language.
import { formatTime, loadLanguage, mountLanguageSwitch, preferredLanguage, t, TOKEN_KEY } from "/static/app.js";
import { Detail } from "/static/board-detail.js";
import { ManualForm } from "/static/board-manual.js";
import { FILTERS, readView, writeView } from "/static/board-query.js";
import { call, messageOf, setLabels, showError, showStatus, stateLabel } from "/static/board-util.js";
import { loadColumns, Paged, renderKanban, renderList, STATES } from "/static/board-views.js";

const REFRESH_MS = 10000;
const $ = (id) => document.getElementById(id);

class Board {
  constructor() {
    const view = readView();
    this.filters = view.filters;
    this.view = view.view;
    this.openId = view.ticket;
    this.me = null;
    this.lifecycle = { transitions: [], labels: {} };
    this.categories = {};
    this.facets = null;
    this.columns = new Map();
    this.list = null;
    this.selected = new Set();
    this.detail = new Detail(this);
    this.manual = new ManualForm(this);
    this.busy = false;
  }

  phone() {
    return window.matchMedia("(max-width: 760px)").matches;
  }

  /** Who is signed in: the session (GET /api/session), or a token's caller (GET /api/me)
   *  where the service has no sign-in yet. A 401 goes to /login (board-util.call). */
  async whoAmI() {
    try {
      const session = await call("/api/session");
      return { name: session.display_name || session.username, role: session.role, contractor: session.contractor, via: session.via };
    } catch (error) {
      if (error.status !== 404 && error.status !== 405) throw error;
      const me = await call("/api/me");
      return { name: me.name, role: me.role, contractor: me.contractor, via: "token" };
    }
  }

  async start() {
    await loadLanguage(preferredLanguage());
    mountLanguageSwitch($("language"));
    try {
      this.me = await this.whoAmI();
    } catch (error) {
      if (error.status !== 401) showError(t("board.errors.load", { message: messageOf(error) }));
      return;
    }
    try {
      const [lifecycle, categories, facets] = await Promise.all([
        call("/api/lifecycle"), call("/api/inspections/categories"), call("/api/tickets/facets"),
      ]);
      this.lifecycle = lifecycle;
      this.categories = categories;
      this.facets = facets;
      setLabels(lifecycle, categories);
    } catch (error) {
      showError(t("board.errors.load", { message: messageOf(error) }));
    }
    if (this.phone() && !Object.keys(this.filters).length) $("filters-box").open = false;
    this.wire();
    this.header();
    this.fillFilters();
    await this.refresh();
    // Since navigation began: what `facmon bench board` reports as the time to first view.
    document.body.dataset.firstViewMs = String(Math.round(performance.now()));
    if (this.openId) await this.openTicket(this.openId);
    setInterval(() => this.refresh(true), REFRESH_MS);
    document.body.dataset.ready = "true";
  }

  header() {
    $("who").textContent = t("board.user.signed_in", { name: this.me.name, role: this.me.role });
    $("view-kanban").setAttribute("aria-pressed", String(this.view === "kanban"));
    $("view-list").setAttribute("aria-pressed", String(this.view === "list"));
    $("new-ticket").hidden = !["inspector", "engineer", "quality", "admin"].includes(this.me.role);
  }

  wire() {
    $("filters").addEventListener("submit", (event) => {
      event.preventDefault();
      this.applyForm();
    });
    $("filters").addEventListener("change", (event) => {
      if (event.target.name !== "q") this.applyForm();
    });
    $("filters-clear").addEventListener("click", () => {
      this.filters = {};
      this.fillFilters();
      this.changed();
    });
    $("view-kanban").addEventListener("click", () => this.setView("kanban"));
    $("view-list").addEventListener("click", () => this.setView("list"));
    $("refresh").addEventListener("click", () => this.refresh());
    $("share").addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(location.href);
        showStatus(t("board.toolbar.copied"));
      } catch {
        showStatus(location.href);
      }
    });
    $("new-ticket").addEventListener("click", () => this.manual.open());
    $("sign-out").addEventListener("click", async () => {
      sessionStorage.removeItem(TOKEN_KEY);
      try { await call("/api/session", { method: "DELETE" }); } catch { /* signed out either way */ }
      location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    });
    $("bulk-dispatch").addEventListener("click", () => this.bulkDispatch());
    $("bulk-clear").addEventListener("click", () => {
      this.selected.clear();
      this.render();
    });
    document.addEventListener("facmon:language", () => {
      this.header();
      this.fillFilters();
      this.render();
      if (this.detail.ticket) this.detail.render();
    });
    window.addEventListener("popstate", async () => {
      const view = readView();
      this.filters = view.filters;
      this.view = view.view;
      this.fillFilters();
      await this.refresh();
      if (view.ticket) await this.openTicket(view.ticket, false);
      else this.closeTicket(false);
    });
  }

  /** The filter form shows the view's filters; the selects offer the facets' values. */
  fillFilters() {
    const form = $("filters");
    const facets = this.facets || {};
    const options = { site: facets.sites, building: facets.buildings, floor: facets.floors, assignee: facets.assignees, contractor: facets.contractors };
    for (const [name, values] of Object.entries(options)) {
      const select = form.elements[name];
      const any = select.options[0];
      const wanted = this.filters[name];
      const all = [...new Set([...(values || []), ...(wanted ? [wanted] : [])])];
      select.replaceChildren(any, ...all.map((value) => new Option(value, value)));
    }
    const state = form.elements.state;
    const several = this.filters.state && this.filters.state.includes(",") ? [this.filters.state] : [];
    state.replaceChildren(state.options[0], ...STATES.map((s) => new Option(stateLabel(s), s)),
      ...several.map((value) => new Option(value.split(",").map(stateLabel).join(" + "), value)));
    for (const name of FILTERS) {
      const field = form.elements[name];
      if (!field) continue;
      if (field.type === "checkbox") field.checked = this.filters[name] === "true";
      else field.value = this.filters[name] || (name === "sort" ? "opened_at" : name === "order" ? "desc" : "");
    }
    this.manual.fill(this.categories, facets.sites || []);
  }

  applyForm() {
    const form = $("filters");
    const filters = {};
    for (const name of FILTERS) {
      const field = form.elements[name];
      if (!field) continue;
      const value = field.type === "checkbox" ? (field.checked ? "true" : "") : String(field.value).trim();
      if (value) filters[name] = value;
    }
    this.filters = filters;
    this.changed();
  }

  setView(view) {
    this.view = view;
    this.header();
    this.changed();
  }

  /** The filters or the view changed: the address says so (a new history entry), and the
   *  lists load afresh from their first page. */
  changed() {
    history.pushState(null, "", writeView({ filters: this.filters, view: this.view, ticket: this.openId }));
    this.columns.clear();
    this.list = null;
    this.refresh();
  }

  async refresh(background = false) {
    if (this.busy && background) return;
    this.busy = true;
    const started = performance.now();
    try {
      if (this.view === "kanban") {
        const wanted = this.filters.state ? this.filters.state.split(",") : STATES;
        this.columns = await loadColumns(this.filters, wanted, this.columns);
      } else {
        this.list = this.list || new Paged(this.filters);
        await (this.list.loaded ? this.list.reload() : this.list.first());
      }
      this.render();
      $("updated").textContent = t("board.toolbar.updated", { time: formatTime(Date.now()) });
      document.body.dataset.renderMs = String(Math.round(performance.now() - started));
      document.body.dataset.rendered = String(Number(document.body.dataset.rendered || 0) + 1);
      if (this.detail.id !== null) await this.detail.show(this.detail.id, true);
    } catch (error) {
      showError(t("board.errors.load", { message: messageOf(error) }));
    } finally {
      this.busy = false;
    }
  }

  render() {
    const views = $("views");
    views.replaceChildren(this.view === "kanban" ? renderKanban(this.columns, this) : renderList(this.list || new Paged({}), this));
    $("bulk").hidden = this.selected.size === 0;
    $("bulk-count").textContent = t("board.bulk.selected", { count: this.selected.size });
  }

  select(id, on) {
    if (on) this.selected.add(id); else this.selected.delete(id);
    $("bulk").hidden = this.selected.size === 0;
    $("bulk-count").textContent = t("board.bulk.selected", { count: this.selected.size });
  }

  async bulkDispatch() {
    const assignee = $("bulk-assignee").value.trim();
    if (!this.selected.size) { showError(t("board.errors.nothing_selected")); return; }
    if (!assignee) { showError(t("board.errors.assignee_missing")); return; }
    const contractor = $("bulk-contractor").value.trim() || null;
    try {
      const answer = await call("/api/tickets/dispatch", {
        method: "POST", body: { ticket_ids: [...this.selected], assignee, contractor },
      });
      for (const result of answer.results) {
        if (result.ok) this.selected.delete(result.ticket_id);
        else showError(t("board.errors.bulk_failed", { id: result.ticket_id, message: result.error }));
      }
      showStatus(t("board.bulk.done", { done: answer.dispatched, failed: answer.failed }));
    } catch (error) {
      showError(t("board.errors.action", { message: messageOf(error) }));
    }
    await this.refresh();
  }

  async openTicket(id, push = true) {
    this.openId = id;
    if (push) history.pushState(null, "", writeView({ filters: this.filters, view: this.view, ticket: this.openId }));
    await this.detail.show(id);
    document.body.classList.toggle("detail-open", this.detail.id !== null);
    this.render();
    if (this.phone()) window.scrollTo(0, 0);
    document.getElementById("detail-title")?.focus();
  }

  closeTicket(push = true) {
    this.openId = null;
    this.detail.close();
    document.body.classList.remove("detail-open");
    if (push) history.pushState(null, "", writeView({ filters: this.filters, view: this.view, ticket: this.openId }));
    this.render();
  }
}

new Board().start();
