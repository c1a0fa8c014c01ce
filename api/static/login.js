// The sign-in page: name and password to a session cookie, then on to `?next=` (a path
// of this site only) or the board. Errors stay until dismissed. A one-time password set
// by an administrator is changed here before anything else.
import { api, ApiError, language, loadLanguage, mountLanguageSwitch, t, translatePage } from "/static/app.js";

const $ = (id) => document.getElementById(id);
let signedIn = null; // GET /api/session's answer
let languageChosenHere = false;

/** Where to go after signing in: `?next=` when it is a path on this site, else the board. */
export function nextPath(search = location.search, origin = location.origin) {
  const raw = new URLSearchParams(search).get("next");
  if (!raw || !raw.startsWith("/") || raw.startsWith("//") || raw.startsWith("/\\")) return "/";
  let url;
  try {
    url = new URL(raw, origin);
  } catch {
    return "/";
  }
  if (url.origin !== origin || url.pathname === "/login") return "/";
  return url.pathname + url.search + url.hash;
}

/** An error that stays until its button dismisses it; `key` errors follow the language. */
function showError({ key = null, message = "" }) {
  const list = $("errors");
  const text = key ? t(key) : message;
  for (const item of list.children) {
    if (item.querySelector("span").textContent === text) return; // said already
  }
  const item = $("error-item").content.firstElementChild.cloneNode(true);
  const span = item.querySelector("span");
  if (key) span.dataset.i18n = key;
  span.textContent = text;
  translatePage(item);
  item.querySelector("button").addEventListener("click", () => item.remove());
  list.append(item);
}

function showApiError(error) {
  if (error instanceof ApiError) {
    const detail = typeof error.detail === "string" ? error.detail : JSON.stringify(error.detail);
    showError({ message: detail });
  } else {
    showError({ key: "accounts.login.network" });
  }
}

function showStatus(key) {
  const status = $("status");
  status.dataset.i18n = key;
  status.textContent = t(key);
  status.hidden = false;
}

function roleName(role) {
  const key = `accounts.role.${role}`;
  return ["viewer", "inspector", "engineer", "quality", "admin"].includes(role) ? t(key) : role;
}

function render() {
  const who = signedIn && signedIn.via === "session" ? signedIn : null;
  $("sign-in").hidden = who !== null;
  $("change").hidden = !(who && who.must_change_password);
  $("signed-in").hidden = !(who && !who.must_change_password);
  $("continue-hint").hidden = who !== null || !new URLSearchParams(location.search).has("next");
  if (who) {
    $("who").textContent = t("accounts.login.signed_in_as", { name: who.display_name, role: roleName(who.role) });
    $("who-contractor").textContent = who.contractor ? t("accounts.login.contractor", { contractor: who.contractor }) : "";
    $("open-board").href = nextPath();
  }
}

async function afterSignIn(who) {
  signedIn = who;
  if (languageChosenHere && who.language !== language()) {
    signedIn = await api("/api/session", { method: "PATCH", body: { language: language() } });
  } else if (!languageChosenHere && who.language && who.language !== language()) {
    localStorage.setItem("facmon.lang", who.language);
    await loadLanguage(who.language);
    $("language").value = language();
  }
  if (signedIn.must_change_password) {
    render();
    $("current").focus();
    return;
  }
  location.assign(nextPath());
}

async function signIn(event) {
  event.preventDefault();
  const username = $("username").value.trim();
  const password = $("password").value;
  if (!username || !password) {
    showError({ key: "accounts.login.empty" });
    return;
  }
  const button = $("submit");
  button.disabled = true;
  button.textContent = t("accounts.login.signing_in");
  try {
    const who = await api("/api/session", { method: "POST", body: { username, password } });
    $("password").value = "";
    await afterSignIn(who);
  } catch (error) {
    showApiError(error);
    $("password").select();
  } finally {
    button.disabled = false;
    button.textContent = t("accounts.login.submit");
  }
}

async function signOut() {
  try {
    await api("/api/session", { method: "DELETE" });
  } catch (error) {
    showApiError(error);
    return;
  }
  signedIn = null;
  render();
  showStatus("accounts.login.signed_out");
  $("username").focus();
}

async function changePassword(event) {
  event.preventDefault();
  const current = $("current").value;
  const fresh = $("new").value;
  if (fresh !== $("repeat").value) {
    showError({ key: "accounts.login.change.mismatch" });
    return;
  }
  try {
    await api("/api/session/password", {
      method: "POST",
      body: { current_password: current, new_password: fresh },
    });
  } catch (error) {
    showApiError(error);
    return;
  }
  for (const id of ["current", "new", "repeat"]) $(id).value = "";
  signedIn = await api("/api/session");
  showStatus("accounts.login.change.done");
  render();
}

async function start() {
  await loadLanguage();
  const select = document.querySelector("[data-language-switch]");
  select.id = "language";
  mountLanguageSwitch(select);
  select.addEventListener("change", () => { languageChosenHere = true; });
  document.addEventListener("facmon:language", render);
  try {
    signedIn = await api("/api/session");
  } catch (error) {
    signedIn = null;
    if (!(error instanceof ApiError && error.status === 401)) showApiError(error);
  }
  $("sign-in").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("change").addEventListener("submit", changePassword);
  render();
  if (!signedIn) $("username").focus();
  document.body.dataset.ready = "true";
}

start();
