// The reports page: the reports made (周报, 月报) with their downloads, and a form to make
// one now. Errors stay until dismissed.
import { api, errorMessage, formatTime, loadLanguage, mountLanguageSwitch, t } from "/static/app.js";

const list = document.getElementById("reports");
const empty = document.getElementById("empty");
const form = document.getElementById("generate");
const notice = document.getElementById("notice");
let reports = [];

function show(kind, message) {
  notice.className = `notice shown ${kind}`;
  notice.querySelector("span").textContent = message;
}

function errorText(error) {
  if (error && error.status === 401) { window.location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`; }
  return errorMessage(error);
}

function bytes(n) {
  if (!n) return "";
  return n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${Math.round(n / 1024)} KB`;
}

function render() {
  list.innerHTML = "";
  empty.hidden = reports.length > 0;
  for (const report of reports) {
    const item = document.createElement("li");
    item.dataset.testid = "report";
    const what = document.createElement("span");
    what.className = "what";
    const scope = report.site || t("reports.portfolio");
    what.textContent = `${t(`reports.title.${report.kind}`)} · ${scope} · ${report.period} · ${t(`reports.lang.${report.language}`)}`;
    const meta = document.createElement("span");
    meta.className = "meta";
    const status = report.status === "ready" ? "" : ` · ${t(`reports.page.status.${report.status}`)}`;
    meta.textContent = `${t("reports.page.created")} ${formatTime(report.created_at)} · ` +
      `${t("reports.page.trigger")} ${t(`reports.trigger.${report.trigger}`)}${status}`;
    item.append(what, meta);
    if (report.pdf_url) {
      const links = document.createElement("span");
      for (const [url, label, size] of [[report.pdf_url, "PDF", report.pdf_bytes], [report.html_url, "HTML", report.html_bytes]]) {
        const link = document.createElement("a");
        link.href = url;
        link.download = "";
        link.dataset.testid = `download-${label.toLowerCase()}`;
        link.textContent = `${t("reports.page.download")} ${label} (${bytes(size)})`;
        links.append(link);
      }
      item.append(links);
    }
    list.append(item);
  }
}

async function refresh() {
  try {
    reports = await api("/api/reports");
    render();
  } catch (error) {
    show("error", t("reports.page.error", { message: errorText(error) }));
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const body = { kind: data.get("kind"), language: data.get("language") };
  const site = String(data.get("site") || "").trim();
  const period = String(data.get("period") || "").trim();
  if (site) body.site = site;
  if (period) body.period = period;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  show("info", t("reports.page.working"));
  try {
    const made = await api("/api/reports", { method: "POST", body });
    show("info", t("reports.page.done", { name: `${made.site || t("reports.portfolio")} ${made.period}` }));
    await refresh();
  } catch (error) {
    show("error", t("reports.page.error", { message: errorText(error) }));
  } finally {
    button.disabled = false;
  }
});

notice.querySelector("button").addEventListener("click", () => { notice.className = "notice"; });
document.addEventListener("facmon:language", render);

await loadLanguage();
mountLanguageSwitch(document.querySelector("[data-language-switch]"));
await refresh();
document.body.dataset.ready = "true";
