// Opening a ticket by hand (发现问题) with photos: POST /api/tickets/manual as a multipart
// form. The photo input lets a phone's camera take the picture (capture="environment").
// A refused field is named in the user's language and nothing is stored.
import { language, t } from "/static/app.js";
import { call, el, faultLabel, messageOf, showStatus } from "/static/board-util.js";

export class ManualForm {
  constructor(board) {
    this.board = board;
    this.dialog = document.getElementById("manual");
    this.form = document.getElementById("manual-form");
    this.errors = document.getElementById("manual-errors");
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    document.getElementById("manual-cancel").addEventListener("click", () => this.dialog.close());
  }

  /** The categories (fault types) and sites the form offers, in the current language. */
  fill(categories, sites) {
    const select = this.form.elements.category;
    const chosen = select.value;
    select.replaceChildren(...Object.keys(categories).map((code) => el("option", { value: code }, faultLabel(code))));
    if (chosen) select.value = chosen;
    document.getElementById("sites-list").replaceChildren(...sites.map((site) => el("option", { value: site })));
  }

  open() {
    this.errors.replaceChildren();
    this.dialog.showModal();
    this.form.elements.site.focus();
  }

  problem(text) {
    this.errors.append(el("p", { "data-testid": "manual-error" }, text));
  }

  async submit() {
    this.errors.replaceChildren();
    const value = (name) => String(this.form.elements[name].value || "").trim();
    if (!value("site")) this.problem(t("board.manual.site_missing"));
    if (!value("description")) this.problem(t("board.manual.description_missing"));
    if (!value("device_id") && !(value("building") && value("place"))) this.problem(t("board.manual.where_missing"));
    if (this.errors.children.length) return;
    const body = new FormData();
    for (const name of ["site", "device_id", "building", "floor", "place", "category", "severity", "description"]) {
      if (value(name)) body.set(name, value(name));
    }
    for (const file of this.form.elements.photos.files) body.append("photos", file, file.name);
    const button = this.form.querySelector("[type=submit]");
    button.disabled = true;
    showStatus(t("board.manual.sending"));
    try {
      const result = await call("/api/tickets/manual", { method: "POST", body, headers: { "Accept-Language": language() } });
      const key = result.opened ? "board.manual.opened" : "board.manual.joined";
      showStatus(t(key, { id: result.ticket_id, photos: result.photos.length }));
      this.form.reset();
      this.dialog.close();
      await this.board.refresh();
      await this.board.openTicket(result.ticket_id);
    } catch (error) {
      showStatus("");
      this.problem(messageOf(error));
    } finally {
      button.disabled = false;
    }
  }
}
