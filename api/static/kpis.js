// The KPI page (/kpis): the equipment integrity rate (设备完好率) per site, building and kind
// against its target with a trend, the closed loop's KPIs, the heat map of problem spots
// (热力分析图) by building × floor × kind, repeat-fault equipment with its yellow and red
// cards, and the maintenance contractors' ranking. Every figure is the API's own
// (GET /api/kpis, /api/kpis/heatmap, /api/kpis/contractors, /api/cards,
// /api/equipment/chronic) over the period the page names in data-from / data-to.
// Filters (site, period) live in the URL, so a view can be shared.

import { api, ApiError, errorMessage, formatTime, language, loadLanguage, mountLanguageSwitch, t, tOptional } from "/static/app.js";
import { faultLabel, humanDuration, loadFaultLabels } from "/static/evidence.js";

const PERIOD_DAYS = { "7d": 7, "30d": 30, "90d": 90, "365d": 365 };
const LOOP_KPIS = [
  "timeliness_pct",
  "completion_pct",
  "response_time_s",
  "first_time_fix_pct",
  "mttr_s",
  "mtbf_s",
  "repeat_pct",
  "maintenance_execution_pct",
  "inspection_completion_pct",
];
const TREND_POINTS = 6;
const charts = new Map();
let data = null;

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-") || key === "role" || key === "aria-label" || key === "title") node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function fmt(value, digits = 1) {
  return new Intl.NumberFormat(language() === "en" ? "en" : "zh-CN", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  }).format(value);
}

/** A KPI value as a person reads it: "97.5 %", "2 h 5 min", or a dash when the API has none. */
function kpiText(name, value) {
  if (value === null || value === undefined) return t("kpis.no_value");
  if (name.endsWith("_pct")) return `${fmt(value)} %`;
  if (name.endsWith("_s")) return humanDuration(value);
  return fmt(value, 0);
}

function kindLabel(kind) {
  return tOptional(`kpis.kind.${kind}`) ?? kind;
}

function showError(error) {
  if (error instanceof ApiError && error.status === 401) {
    window.location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    return;
  }
  $("error-text").textContent = t("kpis.error", { message: errorMessage(error) });
  $("error").hidden = false;
}

// -- filters and the period -------------------------------------------------------------

function readFilters() {
  const params = new URLSearchParams(location.search);
  const from = params.get("from");
  const to = params.get("to");
  if (from && to) return { site: params.get("site") || "", period: "custom", from, to };
  const period = PERIOD_DAYS[params.get("period")] ? params.get("period") : "30d";
  const end = new Date();
  end.setSeconds(0, 0);
  const start = new Date(end.getTime() - PERIOD_DAYS[period] * 86_400_000);
  return { site: params.get("site") || "", period, from: start.toISOString(), to: end.toISOString() };
}

function writeFilters(filters) {
  const params = new URLSearchParams();
  if (filters.site) params.set("site", filters.site);
  if (filters.period === "custom") {
    params.set("from", filters.from);
    params.set("to", filters.to);
  } else {
    params.set("period", filters.period);
  }
  history.replaceState(null, "", `${location.pathname}?${params}`);
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) search.set(key, value);
  return search.toString();
}

function trendPeriods(from, to) {
  const start = new Date(from).getTime();
  const step = (new Date(to).getTime() - start) / TREND_POINTS;
  return Array.from({ length: TREND_POINTS }, (_, i) => ({
    from: new Date(start + i * step).toISOString(),
    to: new Date(start + (i + 1) * step).toISOString(),
  }));
}

async function fetchAll(filters) {
  const period = { from: filters.from, to: filters.to };
  const scoped = { site: filters.site, ...period };
  const [all, report, targets, heat, cards, chronic, scores, trend] = await Promise.all([
    loadFaultLabels().then(() => api(`/api/kpis?${query(period)}`)),
    filters.site ? api(`/api/kpis?${query(scoped)}`) : null,
    api("/api/kpis/targets"),
    api(`/api/kpis/heatmap?${query(scoped)}`),
    api(`/api/cards?${query({ by: "equipment", since: filters.from })}`),
    api("/api/equipment/chronic"),
    api(`/api/kpis/contractors?${query(scoped)}`),
    Promise.all(
      trendPeriods(filters.from, filters.to).map((p) =>
        api(`/api/kpis?${query({ site: filters.site, ...p })}`).then((r) => ({ ...p, report: r })),
      ),
    ),
  ]);
  return { filters, all, report: report ?? all, targets, heat, cards, chronic, scores, trend };
}

// -- rendering --------------------------------------------------------------------------

function targetOf(targets, kind) {
  return targets.integrity_pct_by_kind[kind] ?? targets.integrity_pct;
}

function chart(container, option) {
  let instance = charts.get(container);
  if (!instance) {
    instance = window.echarts.init(container, null, { renderer: "canvas", locale: language() === "en" ? "EN" : "ZH" });
    charts.set(container, instance);
  }
  instance.setOption(option, true);
  return instance;
}

function disposeCharts() {
  for (const instance of charts.values()) instance.dispose();
  charts.clear();
}

function integrityTile(group, target) {
  const value = group.integrity_pct;
  const met = value !== null && value >= target;
  return el(
    "div",
    { class: "tile", "data-testid": "integrity-tile" },
    el("div", { class: "label", text: t("kpis.integrity.title") }),
    el("div", {
      class: `value ${value === null ? "" : met ? "met" : "missed"}`,
      "data-testid": "integrity-value",
      "data-value": value ?? "",
      text: kpiText("integrity_pct", value),
    }),
    el("div", { class: "sub", text: `${t("kpis.integrity.target", { target: `${fmt(target)} %` })} · ` +
      (value === null ? t("kpis.no_value") : t(met ? "kpis.integrity.met" : "kpis.integrity.missed")) }),
    el("div", { class: "sub", text: t("kpis.integrity.devices", { n: group.devices }) }),
  );
}

function groupTable(groups, scope, targets) {
  const nameOf = (g) => (scope === "kind" ? kindLabel(g.kind) : g.building);
  const headers = [t(`kpis.scope.${scope}`), t("kpis.integrity.title"), t("kpis.integrity.target", { target: "" }).trim(), t("kpis.integrity.devices", { n: "" }).trim()];
  const table = el("table", { class: "stack", "data-testid": `integrity-by-${scope}` });
  table.append(el("thead", {}, el("tr", {}, ...headers.map((h, i) => el("th", { class: i ? "num" : "", text: h, scope: "col" })))));
  const body = el("tbody");
  for (const g of groups) {
    const target = targetOf(targets, g.kind);
    const value = g.integrity_pct;
    body.append(el(
      "tr",
      { "data-testid": `integrity-row-${scope}`, "data-key": scope === "kind" ? g.kind : g.building },
      el("td", { "data-label": headers[0], text: nameOf(g) }),
      el("td", {
        class: `num ${value === null ? "" : value >= target ? "met" : "missed"}`,
        "data-label": headers[1],
        "data-value": value ?? "",
        text: kpiText("integrity_pct", value),
      }),
      el("td", { class: "num", "data-label": headers[2], text: `${fmt(target)} %` }),
      el("td", { class: "num", "data-label": headers[3], text: String(g.devices) }),
    ));
  }
  table.append(body);
  return table;
}

function trendOption(site, trend, target) {
  const points = trend.map((p) => {
    const group = p.report.groups.find((g) => g.scope === "site" && g.site === site);
    return [new Date(p.to).getTime(), group ? group.integrity_pct : null];
  });
  return {
    aria: { enabled: true },
    animation: false,
    grid: { left: 8, right: 16, top: 24, bottom: 8, containLabel: true },
    tooltip: { trigger: "axis", valueFormatter: (v) => (v === null ? t("kpis.no_value") : `${fmt(v)} %`) },
    xAxis: { type: "time", axisLabel: { hideOverlap: true, formatter: { day: "{MM}-{dd}", hour: "{HH}:{mm}" } } },
    yAxis: { type: "value", name: "%", scale: true, max: 100, axisLabel: { formatter: (v) => fmt(v, 0) } },
    series: [{
      name: t("kpis.integrity.title"),
      type: "line",
      data: points,
      connectNulls: false,
      markLine: {
        symbol: "none",
        silent: true,
        data: [{ yAxis: target, name: t("kpis.integrity.target", { target: `${fmt(target)} %` }) }],
        label: { formatter: t("kpis.integrity.target", { target: `${fmt(target)} %` }), position: "insideEndTop" },
        lineStyle: { color: "#b42318", type: "dashed" },
      },
    }],
  };
}

function renderIntegrity() {
  const { report, targets, trend } = data;
  const root = $("integrity");
  const what = report.denominator === "ledger" ? t("kpis.denominator.ledger") : t("kpis.denominator.reporting");
  $("denominator").textContent = t("kpis.integrity.denominator", { what });
  const sites = report.groups.filter((g) => g.scope === "site");
  if (!sites.length) {
    root.replaceChildren(el("p", { text: t("kpis.none") }));
    return;
  }
  root.replaceChildren(...sites.map((site) => {
    const target = targets.integrity_pct;
    const trendBox = el("div", { class: "trend", "data-testid": "integrity-trend", role: "img",
      "aria-label": `${t("kpis.integrity.trend")} · ${site.site}` });
    const block = el(
      "div",
      { class: "site-block", "data-testid": `integrity-${site.site}` },
      el("h3", { text: site.site }),
      el("div", { class: "tiles" }, integrityTile(site, target)),
      el("h3", { text: t("kpis.integrity.trend") }),
      trendBox,
      el("h3", { text: t("kpis.integrity.by_building") }),
      groupTable(report.groups.filter((g) => g.scope === "building" && g.site === site.site), "building", targets),
      el("h3", { text: t("kpis.integrity.by_kind") }),
      // a kind with no equipment in the ledger (a place an inspector reported) has no rate
      groupTable(report.groups.filter((g) => g.scope === "kind" && g.site === site.site &&
        (g.devices > 0 || g.integrity_pct !== null)), "kind", targets),
    );
    requestAnimationFrame(() => chart(trendBox, trendOption(site.site, trend, target)));
    return block;
  }));
}

function renderLoop() {
  const sites = data.report.groups.filter((g) => g.scope === "site");
  $("loop").replaceChildren(...(sites.length ? sites.map((site) => el(
    "div",
    { class: "site-block", "data-testid": `loop-${site.site}` },
    el("h3", { text: site.site }),
    el("div", { class: "tiles" }, ...LOOP_KPIS.map((name) => el(
      "div",
      { class: "tile" },
      el("div", { class: "label", text: t(`kpis.kpi.${name}`) }),
      el("div", {
        class: "value",
        "data-testid": `kpi-${name}`,
        "data-value": site[name] ?? "",
        text: kpiText(name, site[name]),
        title: site[name] === null ? data.report.unavailable[name]?.[language()] : undefined,
      }),
    ))),
  )) : [el("p", { text: t("kpis.none") })]));
}

function rowName(cell, manySites) {
  const floor = cell.floor ?? t("kpis.floor.unknown");
  return `${manySites ? `${cell.site} / ` : ""}${cell.building} · ${floor}`;
}

function renderHeatmap() {
  const { heat } = data;
  const manySites = new Set(heat.cells.map((c) => c.site)).size > 1;
  const rows = [...new Set(heat.cells.map((c) => rowName(c, manySites)))];
  const kinds = [...new Set(heat.cells.map((c) => c.kind))].sort();
  const box = $("heatmap-chart");
  box.setAttribute("aria-label", t("kpis.heatmap.aria", { n: heat.tickets }));
  box.dataset.tickets = heat.tickets;
  box.style.height = `${Math.max(220, 90 + rows.length * 34)}px`;
  const max = Math.max(1, ...heat.cells.map((c) => c.tickets));
  const points = heat.cells.map((c) => [kinds.indexOf(c.kind), rows.indexOf(rowName(c, manySites)), c.tickets]);
  chart(box, {
    aria: { enabled: true },
    animation: false,
    grid: { left: 8, right: 8, top: 8, bottom: 64, containLabel: true },
    tooltip: {
      formatter: (p) => {
        const c = heat.cells.find((x) => kinds.indexOf(x.kind) === p.value[0] && rows.indexOf(rowName(x, manySites)) === p.value[1]);
        return `${rows[p.value[1]]}<br>${kindLabel(kinds[p.value[0]])}: ${c.tickets} ${t("kpis.heatmap.tickets")}` +
          `<br>${t("kpis.heatmap.active")}: ${c.active} · ${t("kpis.heatmap.critical")}: ${c.critical} · ${t("kpis.heatmap.repeats")}: ${c.repeats}`;
      },
    },
    xAxis: { type: "category", data: kinds.map(kindLabel), splitArea: { show: true }, axisLabel: { interval: 0, rotate: box.clientWidth < 500 ? 35 : 0 } },
    yAxis: { type: "category", data: rows, inverse: true, splitArea: { show: true }, axisLabel: { width: 150, overflow: "truncate" } },
    visualMap: {
      min: 0, max, calculable: false, orient: "horizontal", left: "center", bottom: 0,
      inRange: { color: ["#fff7ed", "#fdba74", "#ea580c", "#9a3412"] },
      text: [String(max), "0"],
    },
    series: [{
      name: t("kpis.heatmap.tickets"),
      type: "heatmap",
      data: points,
      label: { show: true },
      emphasis: { itemStyle: { borderColor: "#1d2330", borderWidth: 1 } },
    }],
  });
  const headers = [t("kpis.heatmap.place"), t("kpis.scope.kind"), t("kpis.heatmap.tickets"), t("kpis.heatmap.active"), t("kpis.heatmap.critical"), t("kpis.heatmap.repeats")];
  const table = el("table", { class: "stack", "data-testid": "heatmap-table" },
    el("thead", {}, el("tr", {}, ...headers.map((h, i) => el("th", { class: i > 1 ? "num" : "", text: h, scope: "col" })))));
  const body = el("tbody");
  for (const c of heat.cells) {
    body.append(el("tr", { "data-testid": "heatmap-row" },
      el("td", { "data-label": headers[0], text: rowName(c, manySites) }),
      el("td", { "data-label": headers[1], text: kindLabel(c.kind) }),
      ...[c.tickets, c.active, c.critical, c.repeats].map((n, i) => el("td", { class: "num", "data-label": headers[i + 2], text: String(n) }))));
  }
  table.append(body);
  $("heatmap-table").replaceChildren(heat.cells.length ? table : el("p", { text: t("kpis.none") }));
}

function renderChronic() {
  const site = data.filters.site;
  const chronic = new Map(data.chronic.map((c) => [`${c.site}\u0000${c.device_id}`, c]));
  const rows = data.cards.filter((c) => !site || c.site === site);
  const headers = [t("kpis.chronic.device"), t("kpis.chronic.fault"), t("kpis.chronic.yellow"), t("kpis.chronic.red"), t("kpis.chronic.tickets")];
  if (!rows.length) {
    $("chronic").replaceChildren(el("p", { text: t("kpis.none") }));
    return;
  }
  const table = el("table", { class: "stack", "data-testid": "chronic-table" },
    el("thead", {}, el("tr", {}, ...headers.map((h, i) => el("th", { class: i > 1 && i < 4 ? "num" : "", text: h, scope: "col" })))));
  const body = el("tbody");
  for (const row of rows) {
    const known = chronic.get(`${row.site}\u0000${row.device_id}`);
    const fault = known ? faultLabel(known.fault_type, language()) : "";
    body.append(el("tr", { "data-testid": "chronic-row", "data-device": row.device_id, "data-site": row.site },
      el("td", { "data-label": headers[0] }, `${row.site} / ${row.device_id}`,
        known ? el("span", { class: "card-red", text: ` · ${t("kpis.chronic.chronic")}` }) : null),
      el("td", { "data-label": headers[1], text: fault || t("kpis.no_value") }),
      el("td", { class: "num card-yellow", "data-label": headers[2], "data-value": row.yellow, text: String(row.yellow) }),
      el("td", { class: "num card-red", "data-label": headers[3], "data-value": row.red, text: String(row.red) }),
      el("td", { "data-label": headers[4], text: row.ticket_ids.map((id) => `#${id}`).join(" ") })));
  }
  table.append(body);
  $("chronic").replaceChildren(table);
}

function rankKey(a, b) {
  const desc = (x, y) => (y ?? -1) - (x ?? -1);
  return a.red_cards - b.red_cards || a.yellow_cards - b.yellow_cards ||
    desc(a.on_time_rectification_pct, b.on_time_rectification_pct) ||
    desc(a.first_time_fix_pct, b.first_time_fix_pct) || b.tickets - a.tickets ||
    a.contractor.localeCompare(b.contractor);
}

function renderRanking() {
  const ranked = [...data.scores.contractors].sort(rankKey);
  if (!ranked.length) {
    $("ranking").replaceChildren(el("p", { text: t("kpis.none") }));
    return;
  }
  const columns = ["tickets", "response_time_s", "on_time_rectification_pct", "first_time_fix_pct", "repeats", "yellow_cards", "red_cards"];
  const headers = [t("kpis.ranking.rank"), t("kpis.ranking.contractor"), ...columns.map((c) => t(`kpis.ranking.${c}`))];
  const table = el("table", { class: "stack", "data-testid": "ranking-table" },
    el("thead", {}, el("tr", {}, ...headers.map((h, i) => el("th", { class: i === 1 ? "" : "num", text: h, scope: "col" })))));
  const body = el("tbody");
  ranked.forEach((card, index) => {
    body.append(el("tr", { "data-testid": "ranking-row", "data-contractor": card.contractor },
      el("td", { class: "num", "data-label": headers[0], text: String(index + 1) }),
      el("td", { "data-label": headers[1], text: card.contractor }),
      ...columns.map((c, i) => el("td", {
        class: `num${c === "red_cards" && card[c] ? " card-red" : c === "yellow_cards" && card[c] ? " card-yellow" : ""}`,
        "data-label": headers[i + 2],
        "data-column": c,
        "data-value": card[c] ?? "",
        text: ["tickets", "repeats", "yellow_cards", "red_cards"].includes(c) ? String(card[c]) : kpiText(c, card[c]),
      }))));
  });
  table.append(body);
  $("ranking").replaceChildren(table);
}

function renderAll() {
  const { filters } = data;
  const main = $("main");
  main.dataset.from = filters.from;
  main.dataset.to = filters.to;
  main.dataset.site = filters.site;
  $("period-text").textContent = t("kpis.period", { from: formatTime(filters.from), to: formatTime(filters.to) });
  disposeCharts();
  renderIntegrity();
  renderLoop();
  renderHeatmap();
  renderChronic();
  renderRanking();
}

function renderSiteOptions(all, chosen) {
  const select = $("site");
  const sites = [...new Set(all.groups.filter((g) => g.scope === "site").map((g) => g.site))].sort();
  if (chosen && !sites.includes(chosen)) sites.push(chosen);
  select.replaceChildren(
    el("option", { value: "", text: t("kpis.filters.all_sites") }),
    ...sites.map((s) => el("option", { value: s, text: s })),
  );
  select.value = chosen;
}

async function refresh() {
  const filters = readFilters();
  $("period").value = filters.period;
  $("period").querySelector("option[value=custom]").hidden = filters.period !== "custom";
  const main = $("main");
  main.setAttribute("aria-busy", "true");
  main.dataset.ready = "false";
  try {
    data = await fetchAll(filters);
    renderSiteOptions(data.all, filters.site);
    renderAll();
    main.dataset.ready = "true";
  } catch (error) {
    showError(error);
  } finally {
    main.setAttribute("aria-busy", "false");
  }
}

async function start() {
  await loadLanguage();
  mountLanguageSwitch(document.querySelector("[data-language-switch]"));
  $("error-dismiss").addEventListener("click", () => { $("error").hidden = true; });
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  $("site").addEventListener("change", () => {
    writeFilters({ ...readFilters(), site: $("site").value });
    refresh();
  });
  $("period").addEventListener("change", () => {
    const period = $("period").value;
    if (period === "custom") return;
    writeFilters({ site: $("site").value, period });
    refresh();
  });
  document.addEventListener("facmon:language", () => {
    if (!data) return;
    renderSiteOptions(data.all, data.filters.site);
    renderAll();
  });
  window.addEventListener("resize", () => { for (const instance of charts.values()) instance.resize(); });
  await refresh();
}

start().catch(showError);
