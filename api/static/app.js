// Shared by every page the service serves (board, KPI page, reports, sign-in):
// translations from GET /api/i18n/{lang}, the language switch, times in 24-hour form
// with their zone, and fetch with the session's CSRF token and errors that name the fix.

const LANG_KEY = "facmon.lang";
const SUPPORTED = ["zh-CN", "en"];
let table = {};
let current = "zh-CN";

/** The language: the user's saved choice, else the browser's, else Chinese. */
export function preferredLanguage() {
  const saved = localStorage.getItem(LANG_KEY);
  if (SUPPORTED.includes(saved)) return saved;
  for (const tag of navigator.languages || [navigator.language || ""]) {
    const low = String(tag).toLowerCase();
    if (low.startsWith("zh")) return "zh-CN";
    if (low.startsWith("en")) return "en";
  }
  return "zh-CN";
}

export function language() {
  return current;
}

/** Loads `lang`'s table and translates the page (data-i18n, data-i18n-<attribute>). */
export async function loadLanguage(lang = preferredLanguage()) {
  const response = await fetch(`/api/i18n/${encodeURIComponent(lang)}`);
  const body = await response.json();
  table = body.texts;
  current = body.language;
  document.documentElement.lang = current;
  translatePage(document);
  return current;
}

/** Remembers the choice and re-translates. */
export async function setLanguage(lang) {
  localStorage.setItem(LANG_KEY, lang);
  await loadLanguage(lang);
  document.dispatchEvent(new CustomEvent("facmon:language", { detail: current }));
}

/** The text of `key`, `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  const template = table[key];
  if (template === undefined) {
    console.error(`missing translation: ${key}`);
    return key;
  }
  return template.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

/** A key's text if the catalog has it, else null (for codes such as fault types). */
export function tOptional(key, params = {}) {
  return key in table ? t(key, params) : null;
}

export function translatePage(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const attr of ["title", "placeholder", "aria-label", "alt"]) {
    const data = `data-i18n-${attr}`;
    for (const el of root.querySelectorAll(`[${data}]`)) {
      el.setAttribute(attr, t(el.getAttribute(data)));
    }
  }
}

const pad = (n) => String(n).padStart(2, "0");

/** "2026-12-07 14:05 UTC+08:00": 24-hour form, in the browser's zone, named. */
export function formatTime(value) {
  if (value === null || value === undefined || value === "") return "";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const zone = `UTC${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())} ${zone}`;
}

/** "3 h ago" / "3 小时前"; future times read "in 3 h" / "3 小时后". */
export function relativeAge(value, now = Date.now()) {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return "";
  const seconds = Math.round((now - d.getTime()) / 1000);
  const abs = Math.abs(seconds);
  let unit = "s";
  let amount = abs;
  if (abs >= 86400) { unit = "d"; amount = Math.floor(abs / 86400); }
  else if (abs >= 3600) { unit = "h"; amount = Math.floor(abs / 3600); }
  else if (abs >= 60) { unit = "min"; amount = Math.floor(abs / 60); }
  return t(seconds >= 0 ? `common.age.past.${unit}` : `common.age.future.${unit}`, { n: amount });
}

function cookie(name) {
  const found = document.cookie.split("; ").find((part) => part.startsWith(`${name}=`));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : null;
}

/** An error the API answered, with its text in the user's language when it sent one. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
  }
}

/** Where a machine's (or a test's) bearer token is kept for this tab, in sessionStorage. */
export const TOKEN_KEY = "facmon-token";

/** fetch() for the API: the session cookie goes along, writes carry the CSRF token
 *  (double submit: the readable `facmon_csrf` cookie echoed in X-CSRF-Token), the tab's
 *  bearer token when one is kept (every page and module alike: the evidence charts too),
 *  JSON in and out, and a non-2xx answer becomes an ApiError. */
export async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  headers.set("Accept-Language", current);
  const bearer = sessionStorage.getItem(TOKEN_KEY);
  if (bearer && !headers.has("Authorization")) headers.set("Authorization", `Bearer ${bearer}`);
  const method = (options.method || "GET").toUpperCase();
  if (!["GET", "HEAD", "OPTIONS"].includes(method)) {
    const token = cookie("facmon_csrf");
    if (token) headers.set("X-CSRF-Token", token);
  }
  let body = options.body;
  if (body !== undefined && !(body instanceof FormData) && typeof body !== "string") {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(body);
  }
  const response = await fetch(path, { ...options, method, headers, body, credentials: "same-origin" });
  const type = response.headers.get("Content-Type") || "";
  const payload = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    // Refusals carry `detail`, or (manual tickets) the two languages at the top level.
    const detail = payload && typeof payload === "object" && "detail" in payload ? payload.detail : payload;
    throw new ApiError(response.status, detail);
  }
  return payload;
}

/** The text of an error in the user's language: an ApiError's `detail` may be a string,
 *  a list of field errors, or an object with `message` and `en`/`zh` (both languages). */
export function errorMessage(error) {
  if (!(error instanceof ApiError)) return String(error && error.message ? error.message : error);
  const detail = error.detail;
  const zh = current === "zh-CN";
  const pick = (item) => (zh ? item.zh || item["zh-CN"] : item.en) || item.message || item.msg || "";
  const withField = (field, message) => (field ? t("common.errors.field", { field, message }) : message);
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((item) => {
      const field = item.field || (Array.isArray(item.loc) ? item.loc[item.loc.length - 1] : "");
      return withField(field, pick(item));
    }).join("; ");
  }
  if (detail && typeof detail === "object") {
    return withField(detail.field, pick(detail) || detail.detail || JSON.stringify(detail));
  }
  return String(error.message);
}

/** The language switch every page shows: <select data-language-switch>. */
export function mountLanguageSwitch(select) {
  select.innerHTML = "";
  for (const lang of SUPPORTED) {
    const option = document.createElement("option");
    option.value = lang;
    option.textContent = lang === "zh-CN" ? "中文" : "English";
    select.append(option);
  }
  select.value = current;
  select.addEventListener("change", () => setLanguage(select.value));
}
